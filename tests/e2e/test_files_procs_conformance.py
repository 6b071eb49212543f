"""POSIX conformance, files and processes: C programs (``programs/fp_*.c``) compared with the same
sources built natively, plus the cage-only checks where the native answer is host-specific."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lind_async.runtime.cage import Cage
from lind_async.runtime.world import World, default_cache_dir
from lind_async.wasm.engine import EngineConfig
from tests.e2e.conftest import REPO, MatchesNative, Result

COMPARED = ["fp_rw", "fp_truncate", "fp_wait"]


@pytest.mark.parametrize("name", COMPARED)
def test_matches_native(name: str, matches_native: MatchesNative) -> None:
    matches_native(name, "plain", quiet=True)


def test_vectored_positional_calls_through_a_grate(matches_native: MatchesNative) -> None:
    matches_native("fp_rw", "py-passthrough", quiet=True)


def test_glibc_style_self_declarations_compile_and_work(matches_native: MatchesNative) -> None:
    matches_native("fp_decls", "plain", args=["-a", "x", "-b", "op"], env={"FP_DECLS": "1"},
                   quiet=True)


def test_exec_every_way_and_cloexec(matches_native: MatchesNative) -> None:
    matches_native("fp_exec", "plain", extras=["fp_exec"], env={"PATH": "."}, quiet=True)


def test_exec_that_cannot_start_the_new_program_says_so(
    cage_program: Any, root: Path, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the point of no return (the old image is gone) a new program that cannot start ends
    the cage with SIGSEGV, as Linux does, and the microvisor names the cage and the cause."""
    wasm = cage_program("fp_exec")
    shutil.copyfile(wasm, root / "fp_exec")
    (root / "fp_exec").chmod(0o755)
    real = Cage._start_instance
    started: list[int] = []

    async def start(self: Cage) -> Any:
        started.append(self.cage_id)
        if len(started) > 1:  # the exec of the first cage's child
            raise RuntimeError("no room for the new image")
        return await real(self)

    monkeypatch.setattr(Cage, "_start_instance", start)

    async def main() -> int:
        config = EngineConfig(cache_dir=default_cache_dir() / "modules")
        async with World(root=root, engine_config=config) as mv:
            return await mv.run(wasm, ["fp_exec"])

    status = asyncio.run(main())
    captured = capfd.readouterr()
    assert status == 0, captured.err
    assert "relative path: killed by 11" in captured.out
    lines = [line for line in captured.err.splitlines() if "execve" in line]
    assert lines and "could not start: no room for the new image" in lines[0], captured.err
    assert f"cage {started[1]} (" in lines[0]
    assert "Traceback" not in captured.err


# -- the default root ---------------------------------------------------------------------------
def _run_with_env(wasm: Path, args: list[str], root: Path, **host_env: Path) -> Result:
    """``run`` with extra host environment for the microvisor itself (TMPDIR)."""
    env = {**os.environ, **{k: str(v) for k, v in host_env.items()}}
    cmd = [sys.executable, "-m", "lind_async", "run", "--root", str(root), str(wasm), *args]
    proc = subprocess.run(
        cmd, capture_output=True, timeout=120, cwd=REPO, env=env, stdin=subprocess.DEVNULL
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def test_default_root_has_what_a_linux_host_has(matches_native: MatchesNative) -> None:
    """The same structural checks pass natively (the host's /etc, /dev, /tmp) and in a cage whose
    root is empty (the runtime's overlay): every line of both is "ok"."""
    matches_native("fp_default_root", "plain", quiet=True)


def test_default_root_is_read_only_and_leaves_the_root_alone(
    cage_program: Any, root: Path, tmp_path: Path
) -> None:
    private = tmp_path / "host-tmp"
    private.mkdir()
    result = _run_with_env(cage_program("fp_default_root"), ["strict"], root, TMPDIR=private)
    assert result.status == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert len(lines) > 40 and all(line.endswith(": ok") for line in lines), result.stdout
    assert list(root.iterdir()) == []  # nothing written into the user's directory
    assert list(private.iterdir()) == []  # the private /tmp is gone with the microvisor


REAL_WINS = b"""
#include <dirent.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
int main(void) {
    struct passwd *pw = getpwuid(0);
    printf("root is %s\\n", pw ? pw->pw_name : "-");
    pw = getpwnam("nobody");
    printf("nobody %s\\n", pw ? "present" : "absent");
    FILE *f = fopen("/etc/hosts", "r");
    printf("hosts %s\\n", f ? "present" : "absent");
    DIR *d = opendir("/etc");
    struct dirent *e;
    int passwd = 0, hosts = 0, own = 0;
    while ((e = readdir(d))) {
        passwd += strcmp(e->d_name, "passwd") == 0;
        hosts += strcmp(e->d_name, "hosts") == 0;
        own += strcmp(e->d_name, "own.conf") == 0;
    }
    printf("listed passwd %d hosts %d own %d\\n", passwd, hosts, own);
    struct stat st;
    printf("tmp is the root's: %d\\n", stat("/tmp/mine", &st) == 0);
    printf("unlink overlaid hosts: %d\\n", unlink("/etc/hosts"));
    return 0;
}
"""


def test_a_real_file_in_the_root_wins(root: Path, tmp_path: Path) -> None:
    from lind_async.toolchain.cc import compile_cached

    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("toor:x:0:0:custom:/:/bin/sh\n")
    (root / "etc" / "own.conf").write_text("x\n")
    (root / "tmp").mkdir()
    (root / "tmp" / "mine").write_text("")
    source = tmp_path / "real_wins.c"
    source.write_bytes(REAL_WINS)
    result = _run_with_env(compile_cached(source), [], root)
    assert result.status == 0, result.stderr
    assert result.stdout.decode().splitlines() == [
        "root is toor",  # the root's passwd, not the overlay's
        "nobody absent",
        "hosts present",  # the overlay fills what the real /etc lacks
        "listed passwd 1 hosts 1 own 1",  # merged listing, each name once
        "tmp is the root's: 1",
        "unlink overlaid hosts: -1",
    ]
    assert sorted(p.name for p in (root / "etc").iterdir()) == ["own.conf", "passwd"]
