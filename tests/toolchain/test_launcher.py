"""lind-cc's output runs as ./a.out: a #! launcher line before the module, which every loader
skips (never follows)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from lind_async.abi.executable import split_launcher
from lind_async.toolchain.wasmstrip import custom_sections
from lind_async.wasm.binary import read_interface

from .test_driver import lind, lind_cc, ok, write
from .wasm_runner import run

SHOW = ('#include <stdio.h>\n#include <stdlib.h>\n'
        'int main(int argc, char **argv) {\n'
        '  FILE *f = fopen("made.txt", "w"); fputs("in cwd\\n", f); fclose(f);\n'
        '  printf("%s %d %s\\n", argv[0], argc, getenv("LIND_T") ? getenv("LIND_T") : "-");\n'
        '  return 7;\n}\n')


def test_a_out_runs_on_the_host_with_the_cwd_as_root(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "show.c", SHOW)
    ok(lind_cc("-o", "show", "show.c", cwd=tmp_path))
    line, module = split_launcher((tmp_path / "show").read_bytes())
    assert line.startswith(b"#!/") and line.endswith(b" exec\n") and module[:4] == b"\0asm"
    assert os.stat(tmp_path / "show").st_mode & 0o111 == 0o111
    env = {**os.environ, "LIND_T": "inherited"}
    proc = subprocess.run(["./show", "a", "b"], cwd=tmp_path, capture_output=True, env=env,
                          timeout=120)
    assert (proc.returncode, proc.stdout) == (7, b"./show 3 inherited\n"), proc.stderr
    assert (tmp_path / "made.txt").read_text() == "in cwd\n"


def test_wasm_name_or_flag_writes_the_module_alone(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "show.c", SHOW)
    ok(lind_cc("-o", "show.wasm", "show.c", cwd=tmp_path))
    ok(lind_cc("--no-launcher", "-o", "plain", "show.c", cwd=tmp_path))
    for name in ("show.wasm", "plain"):
        assert (tmp_path / name).read_bytes()[:4] == b"\0asm"
    assert run(tmp_path / "plain", ["plain"]).exit_code == 7


def test_strip_validation_and_run_handle_the_line(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "show.c", SHOW)
    ok(lind_cc("-g", "-o", "show", "show.c", cwd=tmp_path))
    assert "name" in custom_sections((tmp_path / "show").read_bytes())
    ok(lind("lind-strip", "show", cwd=tmp_path))
    data = (tmp_path / "show").read_bytes()
    line, module = split_launcher(data)
    assert line and custom_sections(module) == [] and read_interface(data) == read_interface(module)
    assert os.access(tmp_path / "show", os.X_OK)
    result = run(tmp_path / "show", ["show", "x"])
    assert (result.exit_code, result.stdout) == (7, f"{tmp_path / 'show'} 2 -\n".encode())


EXEC = ('#include <stdio.h>\n#include <unistd.h>\n#include <sys/wait.h>\n'
        'int main(int argc, char **argv) {\n'
        '  for (int i = 1; i < argc; i++) {\n'
        '    pid_t pid = fork();\n'
        '    if (pid == 0) { execl(argv[i], argv[i], "from-cage", (char *)0); _exit(99); }\n'
        '    int status; waitpid(pid, &status, 0);\n'
        '    printf("%s -> %d\\n", argv[i], WEXITSTATUS(status)); fflush(stdout);\n'
        '  }\n}\n')


def test_a_cage_execs_the_module_never_the_launcher(sysroot: Path, tmp_path: Path) -> None:
    """A cage exec'ing lind-cc's output gets its module. A launcher line naming any host program
    (here one that would leave a mark) is skipped, not run: the cage still gets the module."""
    write(tmp_path / "show.c", SHOW)
    write(tmp_path / "exec.c", EXEC)
    ok(lind_cc("-o", "show", "show.c", cwd=tmp_path))
    ok(lind_cc("-o", "exec", "exec.c", cwd=tmp_path))
    marker = tmp_path / "host-ran"
    hostile = tmp_path / "hostile"
    hostile.write_bytes(f"#!/bin/sh -c 'touch {marker}'\n".encode()
                        + split_launcher((tmp_path / "show").read_bytes())[1])
    hostile.chmod(0o755)
    result = run(tmp_path / "exec", ["exec", "./show", "/hostile"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [b"./show 2 -", b"./show -> 7",
                                          b"/hostile 2 -", b"/hostile -> 7"]
    assert not marker.exists()
