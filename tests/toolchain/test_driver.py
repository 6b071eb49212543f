"""lind-cc as a gcc-compatible driver: every mode, through the installed console scripts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lind_async.toolchain import binaryen, cc, driver
from lind_async.toolchain.target import TRIPLE
from lind_async.toolchain.wasmstrip import custom_sections
from lind_async.wasm.binary import read_interface

from .wasm_runner import run

BIN = Path(sys.executable).parent
LIND_CC = BIN / "lind-cc"

HELLO = '#include <stdio.h>\nint main(void) { printf("hello from %s\\n", "a.out"); }\n'


def lind(tool: str, *args: str, cwd: Path, stdin: bytes | None = None,
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / tool), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        input=stdin.decode() if stdin is not None else None,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def lind_cc(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return lind("lind-cc", *args, cwd=cwd, stdin=stdin)


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path: Path, sysroot: Path) -> Path:
    """A directory with a program that includes a local header and a system one."""
    write(tmp_path / "local.h", '#define GREETING "expanded greeting"\n')
    write(tmp_path / "dep.c",
          '#include <stdio.h>\n#include "local.h"\n'
          'int main(void) { puts(GREETING); return 0; }\n')
    return tmp_path


# --------------------------------------------------------------------------------------------------
# linking


def test_default_output_is_a_out_and_runs(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "hello.c", HELLO)
    ok(lind_cc("hello.c", cwd=tmp_path))
    out = tmp_path / "a.out"
    assert out.read_bytes().split(b"\n", 1)[1][:4] == b"\0asm"  # after the #! launcher line
    assert os.access(out, os.X_OK)
    assert not (tmp_path / "a.wasm").exists()
    result = run(out, ["a.out"])
    assert (result.exit_code, result.stdout) == (0, b"hello from a.out\n")


def test_compile_separately_then_link_objects_and_an_archive(sysroot: Path,
                                                              tmp_path: Path) -> None:
    write(tmp_path / "main.c",
          '#include <stdio.h>\nint twice(int);\nint thrice(int);\n'
          'int main(void) { printf("%d %d\\n", twice(21), thrice(5)); return 0; }\n')
    write(tmp_path / "twice.c", "int twice(int x) { return 2 * x; }\n")
    write(tmp_path / "thrice.c", "int thrice(int x) { return 3 * x; }\n")
    ok(lind_cc("-c", "main.c", "twice.c", "thrice.c", cwd=tmp_path))
    assert not (tmp_path / "a.out").exists()
    ok(lind("lind-ar", "rc", "libthrice.a", "thrice.o", cwd=tmp_path))
    ok(lind("lind-ranlib", "libthrice.a", cwd=tmp_path))
    ok(lind_cc("-o", "prog", "main.o", "twice.o", "-L.", "-lthrice", cwd=tmp_path))
    result = run(tmp_path / "prog", ["prog"])
    assert (result.exit_code, result.stdout) == (0, b"42 15\n")


def test_source_from_stdin(sysroot: Path, tmp_path: Path) -> None:
    source = b'#include <stdio.h>\nint main(void) { puts("read from stdin"); return 4; }\n'
    ok(lind_cc("-x", "c", "-", "-o", "from-stdin", cwd=tmp_path, stdin=source))
    result = run(tmp_path / "from-stdin", ["from-stdin"])
    assert (result.exit_code, result.stdout) == (4, b"read from stdin\n")


def test_stdin_needs_a_language(sysroot: Path, tmp_path: Path) -> None:
    proc = lind_cc("-", cwd=tmp_path, stdin=b"int main(void) { return 0; }\n")
    assert proc.returncode == 1
    assert "-x required" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "a.out").exists()


def test_response_file(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "say.c", '#include <stdio.h>\nint main(void) { puts(WORD); return 0; }\n')
    write(tmp_path / "args.rsp", "-o 'my prog'\n-DWORD=\\\"quoted\\ words\\\" say.c\n")
    ok(lind_cc("@args.rsp", cwd=tmp_path))
    assert run(tmp_path / "my prog", ["p"]).stdout == b"quoted words\n"


def test_linker_options_reach_wasm_ld(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "x.c", "int exported_one(void) { return 1; }\n"
                            "int exported_two(void) { return 2; }\nint main(void) { return 0; }\n")
    ok(lind_cc("-Wl,--export=exported_one", "-Xlinker", "--export=exported_two", "x.c",
               cwd=tmp_path))
    exports = {e.name for e in read_interface((tmp_path / "a.out").read_bytes())[1]}
    assert {"exported_one", "exported_two"} <= exports


def test_dependency_file_while_linking_is_named_like_gcc(project: Path) -> None:
    ok(lind_cc("-MMD", "-o", "prog", "dep.c", cwd=project))
    assert (project / "prog.d").read_text().split() == ["prog:", "dep.c", "local.h"]
    assert run(project / "prog", ["prog"]).stdout == b"expanded greeting\n"


# --------------------------------------------------------------------------------------------------
# modes that do not link


def test_preprocess_to_stdout_expands_and_does_not_link(project: Path) -> None:
    proc = ok(lind_cc("-E", "dep.c", cwd=project))
    main_line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("int main"))
    assert '"expanded greeting"' in main_line and "GREETING" not in main_line
    assert "int puts(const char *);" in proc.stdout  # <stdio.h> came from the sysroot
    assert sorted(p.name for p in project.iterdir()) == ["dep.c", "local.h"]


def test_preprocess_to_a_file(project: Path) -> None:
    proc = ok(lind_cc("-E", "-o", "dep.i", "dep.c", cwd=project))
    assert proc.stdout == ""
    assert '"expanded greeting"' in (project / "dep.i").read_text()


def test_predefined_macros(sysroot: Path, tmp_path: Path) -> None:
    macros = ok(lind_cc("-E", "-dM", "-x", "c", "-", cwd=tmp_path, stdin=b"")).stdout
    defined = dict(re.findall(r"^#define (\S+) (.*)$", macros, re.M))
    for name in ("__linux__", "__linux", "__unix__", "__unix", "__STDC_HOSTED__", "__wasm32__"):
        assert defined.get(name) == "1", name
    for name in ("__ELF__", "__gnu_linux__", "linux", "unix"):
        assert name not in defined, name


def test_strict_iso_mode_keeps_the_reserved_names(sysroot: Path, tmp_path: Path) -> None:
    macros = ok(lind_cc("-std=c99", "-E", "-dM", "-x", "c", "-", cwd=tmp_path, stdin=b"")).stdout
    assert "#define __linux__ 1" in macros and "#define __STRICT_ANSI__ 1" in macros


def test_make_rules(project: Path, sysroot: Path) -> None:
    full = ok(lind_cc("-M", "dep.c", cwd=project)).stdout.replace("\\\n", " ").split()
    assert full[:3] == ["dep.o:", "dep.c", str(sysroot / "include" / "stdio.h")]
    assert "local.h" in full
    user_only = ok(lind_cc("-MM", "dep.c", cwd=project)).stdout.split()
    assert user_only == ["dep.o:", "dep.c", "local.h"]
    assert not (project / "dep.o").exists() and not (project / "a.out").exists()


def test_md_mf_mt_mp_alongside_compiling(project: Path) -> None:
    (project / "deps").mkdir()
    ok(lind_cc("-c", "-MD", "-MF", "deps/dep.d", "-MT", "custom-target", "-MP", "dep.c",
               cwd=project))
    assert (project / "dep.o").read_bytes()[:4] == b"\0asm"
    rules = (project / "deps" / "dep.d").read_text()
    assert rules.startswith("custom-target: dep.c ")
    assert "\nlocal.h:" in rules  # -MP: a phony rule per header


def test_mmd_next_to_the_object(project: Path) -> None:
    ok(lind_cc("-c", "-MMD", "-o", "out.o", "dep.c", cwd=project))
    assert (project / "out.d").read_text().split() == ["out.o:", "dep.c", "local.h"]


def test_assembly_output(project: Path) -> None:
    ok(lind_cc("-S", "dep.c", cwd=project))
    assert ".functype" in (project / "dep.s").read_text()
    assert not (project / "dep.o").exists()


@pytest.mark.parametrize("mode", [["-c"], ["-S"], ["-E"], ["-M"], ["-fsyntax-only"]])
def test_modes_without_linking_never_link(project: Path, mode: list[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    write(project / "forks.c", "#include <unistd.h>\nint main(void) { return fork() < 0; }\n")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("linked or post-linked in a compile-only mode")

    monkeypatch.setattr(cc, "link_module", refuse)
    monkeypatch.setattr(binaryen, "run_passes", refuse)
    monkeypatch.chdir(project)
    assert driver.main([*mode, "forks.c", "-o", os.devnull]) == 0


# --------------------------------------------------------------------------------------------------
# hosted C


def test_programs_are_hosted_linux_programs(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "h.c",
          "#include <stdio.h>\n#include <string.h>\n"
          "int main(int argc, char **argv) {\n"
          "#if defined(__linux__) && defined(__unix__)\n"
          '    printf("linux hosted=%d len=%zu argc=%d\\n", __STDC_HOSTED__, strlen(argv[1]), '
          "argc);\n#endif\n}\n")  # falls off main: hosted C returns 0
    ok(lind_cc("-o", "h", "h.c", cwd=tmp_path))
    result = run(tmp_path / "h", ["h", "four"])
    assert (result.exit_code, result.stdout) == (0, b"linux hosted=1 len=4 argc=2\n")


def test_compile_cached_keys_on_the_flags(sysroot: Path, tmp_path: Path) -> None:
    src = write(tmp_path / "v.c", "int main(void) { return VALUE; }\n")
    one = cc.compile_cached(src, flags=["-DVALUE=5"])
    two = cc.compile_cached(src, flags=["-DVALUE=6"])
    assert one != two
    assert (run(one, ["v"]).exit_code, run(two, ["v"]).exit_code) == (5, 6)


# --------------------------------------------------------------------------------------------------
# errors


def test_compile_error_is_the_compilers_own(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "bad.c", "int main(void) { return missing_name; }\n")
    for args in (["bad.c"], ["-c", "bad.c"]):
        proc = lind_cc(*args, cwd=tmp_path)
        assert proc.returncode == 1
        assert "bad.c:1:" in proc.stderr and "missing_name" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.c"]


def test_driver_errors_are_lind_ccs(sysroot: Path, tmp_path: Path) -> None:
    for args in (["-c", "missing.c"], ["missing.c"]):
        proc = lind_cc(*args, cwd=tmp_path)
        assert proc.returncode == 1
        assert proc.stderr.startswith("lind-cc: error: ") and "missing.c" in proc.stderr
        assert "zig" not in proc.stderr


def test_link_error_names_the_symbol(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "u.c", "int nowhere(void);\nint main(void) { return nowhere(); }\n")
    proc = lind_cc("u.c", cwd=tmp_path)
    assert proc.returncode == 1 and "undefined symbol: nowhere" in proc.stderr


def test_no_input_files(sysroot: Path, tmp_path: Path) -> None:
    proc = lind_cc("-O2", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (1, "lind-cc: fatal error: no input files\n")


def test_shared_libraries_are_refused(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "lib.c", "int f(void) { return 1; }\n")
    proc = lind_cc("-shared", "-o", "libf.so", "lib.c", cwd=tmp_path)
    assert proc.returncode == 1 and "-shared" in proc.stderr and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------------------------------
# queries


def test_queries(sysroot: Path, tmp_path: Path) -> None:
    def ask(*args: str) -> str:
        return ok(lind_cc(*args, cwd=tmp_path)).stdout

    assert ask("-dumpmachine") == f"{TRIPLE}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+\n", ask("-dumpversion"))
    assert ask("--version").startswith("lind-cc (lind_async ")
    assert ask("-print-prog-name=ar") == f"{BIN / 'lind-ar'}\n"
    assert ask("-print-prog-name=ranlib") == f"{BIN / 'lind-ranlib'}\n"
    assert ask("-print-prog-name=no-such-tool") == "no-such-tool\n"
    assert ask("-print-file-name=libc.a") == f"{sysroot / 'lib' / 'libc.a'}\n"
    assert ask("-print-file-name=libnothing.a") == "libnothing.a\n"
    assert Path(ask("-print-libgcc-file-name").strip()).is_file()
    assert ask("-print-sysroot") == ask("--print-sysroot") == f"{sysroot}\n"
    dirs = dict(line.split(": ", 1) for line in ask("-print-search-dirs").splitlines())
    assert (Path(dirs["libraries"].lstrip("=")) / "libc.a").is_file()
    assert ask("-print-multi-os-directory") == ".\n"


def test_unknown_query_is_an_error(sysroot: Path, tmp_path: Path) -> None:
    proc = lind_cc("-print-no-such-thing", cwd=tmp_path)
    assert proc.returncode == 1 and "-print-no-such-thing" in proc.stderr


def test_verbose_alone_prints_the_version_on_stderr(sysroot: Path, tmp_path: Path) -> None:
    proc = ok(lind_cc("-v", cwd=tmp_path))
    assert proc.stdout == "" and f"Target: {TRIPLE}" in proc.stderr


def test_python_m_lind_async_cc_is_the_same_driver(sysroot: Path, tmp_path: Path) -> None:
    args = ["-E", "-dM", "-x", "c", "-"]
    module = subprocess.run([sys.executable, "-m", "lind_async", "cc", *args], input="",
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert module.returncode == 0
    assert module.stdout == ok(lind_cc(*args, cwd=tmp_path, stdin=b"")).stdout


def test_cmake_toolchain_names_this_installation(sysroot: Path, tmp_path: Path) -> None:
    text = ok(lind_cc("--print-cmake-toolchain", cwd=tmp_path)).stdout
    assert f'set(CMAKE_C_COMPILER "{LIND_CC}")' in text
    assert f'set(CMAKE_AR "{BIN / "lind-ar"}"' in text
    assert f'set(CMAKE_FIND_ROOT_PATH "{sysroot}")' in text


# --------------------------------------------------------------------------------------------------
# lind-strip


def test_strip_drops_custom_sections_and_keeps_the_program(sysroot: Path, tmp_path: Path) -> None:
    write(tmp_path / "hello.c", HELLO)
    ok(lind_cc("-g", "-o", "debug", "hello.c", cwd=tmp_path))
    assert {"name", ".debug_info"} <= set(custom_sections((tmp_path / "debug").read_bytes()))

    ok(lind("lind-strip", "--strip-debug", "-o", "names-only", "debug", cwd=tmp_path))
    kept = custom_sections((tmp_path / "names-only").read_bytes())
    assert "name" in kept and not any(n.startswith(".debug_") for n in kept)

    ok(lind("lind-strip", "-o", "stripped", "debug", cwd=tmp_path))
    assert custom_sections((tmp_path / "stripped").read_bytes()) == []
    result = run(tmp_path / "stripped", ["stripped"])
    assert (result.exit_code, result.stdout) == (0, b"hello from a.out\n")


def test_strip_leaves_objects_alone_and_refuses_other_files(sysroot: Path,
                                                             tmp_path: Path) -> None:
    write(tmp_path / "o.c", "int f(void) { return 1; }\n")
    ok(lind_cc("-c", "-g", "o.c", cwd=tmp_path))
    before = (tmp_path / "o.o").read_bytes()
    ok(lind("lind-strip", "o.o", cwd=tmp_path))
    assert (tmp_path / "o.o").read_bytes() == before
    proc = lind("lind-strip", "o.c", cwd=tmp_path)
    assert proc.returncode == 1 and "file format not recognized" in proc.stderr
