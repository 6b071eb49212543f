"""POSIX signals and control flow, compared with the same C programs built natively by gcc:
EINTR from every kind of blocking wait (and SA_RESTART), fork racing SIGALRM/SIGCHLD, and
siglongjmp/longjmp/fork out of handlers delivered at a system call's return or while the program
computes — also across object files compiled separately."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import PROGRAMS, STACKS, MatchesNative, run_cage, run_native

CASES = [
    "sig_eintr",  # alarm/setitimer/kill from a child vs read, select, poll, epoll, sleeps, ...
    "sig_fork_race",  # fork in a loop under a 1 ms timer; SIGCHLD handler reaping
    "sig_longjmp",  # siglongjmp out of handlers (call return, busy loop), fork in a handler
]


@pytest.mark.parametrize("name", CASES)
def test_matches_native(name: str, matches_native: MatchesNative) -> None:
    matches_native(name, "plain", quiet=True)


@pytest.mark.parametrize("stack", [s for s in STACKS if s != "plain"])
def test_longjmp_under_grates(stack: str, matches_native: MatchesNative) -> None:
    matches_native("sig_longjmp", stack, quiet=True)


XOBJ = PROGRAMS / "sig_xobj"


def test_longjmp_across_objects(tmp_path: Path) -> None:
    """setjmp in main.c, longjmp (directly and from handlers) in jumper.c; each compiled to an
    object on its own, then linked: by lind-cc and by gcc."""
    from lind_async.toolchain.cc import compile_object, compile_program

    gcc = shutil.which("gcc") or shutil.which("cc")
    assert gcc is not None, "a native C compiler is required"
    sources = sorted(XOBJ.glob("*.c"))
    native_objs, cage_objs = [], []
    for src in sources:
        obj = tmp_path / f"{src.stem}.o"
        subprocess.run([gcc, "-O1", "-w", "-c", str(src), "-o", str(obj)], check=True)
        native_objs.append(obj)
        cage_objs.append(compile_object(src, tmp_path / f"{src.stem}.wasm.o"))
    exe = tmp_path / "xobj"
    subprocess.run([gcc, "-o", str(exe), *map(str, native_objs)], check=True)
    wasm = compile_program(cage_objs, tmp_path / "xobj.wasm")
    (tmp_path / "n").mkdir()
    (tmp_path / "c").mkdir()
    expected = run_native(exe, [], root=tmp_path / "n")
    got = run_cage(wasm, [], root=tmp_path / "c")
    detail = got.stderr.decode(errors="replace")
    assert expected.status == 0
    assert got.stdout == expected.stdout, detail
    assert got.status == expected.status, detail
    assert got.stderr == b"", detail
