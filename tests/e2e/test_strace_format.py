"""The ``strace`` grate against real ``strace -f``: the same program (programs/strace_calls.c),
built natively and for a cage, traced by each; the calls it makes with ``syscall()`` between its
markers must read the same.

What must differ is normalised: pids (the cage's are small), addresses, the registers an unknown
call does not use, CPU times in a siginfo; the calls libc makes around ``fork`` (glibc's ``clone``
and ``set_robust_list``, musl's signal masks) are not compared. ``.ci/run`` installs strace."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO

DATA = b"hello, strace\n"
BEGIN = 'openat(AT_FDCWD, "strace-begin", O_RDONLY)'
# Per program, the calls compared (everything else after the marker is libc's own business).
PROGRAMS = {
    "strace_calls": frozenset(
        {"openat", "fstat", "newfstatat", "read", "ioctl", "pipe2", "write", "lseek", "fcntl",
         "close", "execve", "wait4", "exit_group", "syscall_0x270f"}
    ),
    "strace_signals": frozenset({"openat", "read", "write", "kill", "wait4", "exit_group"}),
}
NEVER_RETURNED = " <unfinished ...>) = ?"
_FILE_LINE = re.compile(r"(\d+) +(.*)")
_PREFIX = re.compile(r"\[pid +(\d+)\] ")
_RESUMED = re.compile(r"<\.\.\. (\w+) resumed>(.*)")
_ADDRESS = re.compile(r"(?<![\w])0x[0-9a-f]{5,}")


@pytest.fixture(scope="module")
def strace() -> str:
    found = shutil.which("strace")
    if found is None:
        pytest.fail("strace is not installed (.ci/run installs it: apt-get install strace)")
    return found


def _root(path: Path) -> Path:
    path.mkdir()
    data = path / "data.txt"
    data.write_bytes(DATA)
    data.chmod(0o644)
    return path


def _native(strace: str, exe: Path, root: Path, out: list[str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [strace, "-f", "-q", "-a0", *out, str(exe)],
        capture_output=True, text=True, cwd=root, timeout=60, env={},
    )
    if "ptrace" in proc.stderr and "Operation not permitted" in proc.stderr:
        pytest.fail(f"strace cannot trace here (ptrace refused): {proc.stderr}")
    assert proc.returncode == 0, proc.stderr
    return proc


def _cage(wasm: Path, root: Path, grate: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "lind_async", "run", "--root", str(root), "--grate", grate,
           str(wasm)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def calls(trace: str, compared: frozenset[str]) -> dict[int, list[str]]:
    """Per pid (numbered 1, 2… in order of appearance), its lines from the begin marker on, an
    ``<unfinished ...>`` line joined with its ``<... resumed>`` end, pids and addresses
    normalised, only the ``compared`` calls and the ``+++``/``---`` lines. A call its process
    never returned from ends `` <unfinished ...>) = ?`` (strace writes that end or not, as the
    kernel reports a killed process's exit or not)."""
    raw = [_FILE_LINE.fullmatch(line) for line in trace.splitlines()]
    assert all(raw), trace
    lines = [(int(m.group(1)), m.group(2)) for m in raw if m]
    start = next(i for i, (_, text) in enumerate(lines) if text.startswith(BEGIN))
    numbers: dict[int, int] = {}
    open_calls: dict[int, str] = {}
    out: dict[int, list[str]] = {}
    for pid, text in lines[start:]:
        if text.endswith(" <unfinished ...>"):
            assert pid not in open_calls, text
            open_calls[pid] = text.removesuffix(" <unfinished ...>")
            continue
        resumed = _RESUMED.fullmatch(text)
        if resumed:
            head = open_calls.pop(pid)
            assert head.startswith(resumed.group(1) + "("), (head, text)
            text = head + resumed.group(2)
        texts = [text]
        if text.startswith("+++") and pid in open_calls:
            texts.insert(0, open_calls.pop(pid) + NEVER_RETURNED)
        for one in texts:
            if one.split("(", 1)[0] in compared or one.startswith(("+++", "---")):
                who = numbers.setdefault(pid, len(numbers) + 1)
                out.setdefault(who, []).append(_normalise(one, numbers))
    assert not open_calls, open_calls
    return out


def _normalise(text: str, pids: dict[int, int]) -> str:
    if text.startswith("syscall_0x270f("):  # the four registers it does not use hold anything
        text = re.sub(r"^(syscall_0x270f\(0x1, 0x2), [^)]*\)", r"\1, …)", text)
    text = _ADDRESS.sub("ADDR", text)
    text = re.sub(r"si_(utime|stime)=\d+", r"si_\1=T", text)

    def pid(match: re.Match[str]) -> str:
        number = int(match.group(2))
        return f"{match.group(1)}PID{pids.setdefault(number, len(pids) + 1)}"

    text = re.sub(r"(si_pid=)(\d+)", pid, text)
    if text.startswith("wait4("):
        text = re.sub(r"^(wait4\()(\d+)", pid, text)
        text = re.sub(r"(= )(\d+)$", pid, text)
    return re.sub(r"^(kill\()(\d+)", pid, text)


def _without(lines: Iterable[str], prefix: str) -> list[str]:
    return [line for line in lines if not line.startswith(prefix)]


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_decoded_calls_read_as_real_strace_shows_them(
    program: str, strace: str, native_program: Any, cage_program: Any, tmp_path: Path
) -> None:
    native_log, cage_log = tmp_path / "native.trace", tmp_path / "cage.trace"
    _native(strace, native_program(program), _root(tmp_path / "native"), ["-o", str(native_log)])
    _cage(cage_program(program), _root(tmp_path / "cage"), f"strace:{cage_log}")
    compared = PROGRAMS[program]
    expected = calls(native_log.read_text(), compared)
    got = calls(cage_log.read_text(), compared)
    assert sorted(got) == sorted(expected) == [1, 2], (expected, got)
    for who in expected:
        # A SIGCHLD may be delivered before or after wait4 returns (a race natively too):
        # the calls are compared in order, the signal lines as they read.
        assert _without(got[who], "---") == _without(expected[who], "---"), who
        signals = [line for line in expected[who] if line.startswith("---")]
        assert [line for line in got[who] if line.startswith("---")] == signals, who


def test_pid_prefixes_on_stderr_follow_strace(
    strace: str, native_program: Any, cage_program: Any, tmp_path: Path
) -> None:
    """On stderr, ``[pid N] `` (N in 5 columns) only while more than one process is traced:
    the markers before the fork have none, the child's exit has one, in both traces."""
    native = _native(strace, native_program("strace_calls"), _root(tmp_path / "native"), [])
    cage = _cage(cage_program("strace_calls"), _root(tmp_path / "cage"), "strace")
    assert cage.stdout == "done\n"
    for trace in (native.stderr, cage.stderr):
        lines = trace.splitlines()
        assert BEGIN + " = -1 ENOENT (No such file or directory)" in lines, trace
        exits = [line for line in lines if line.endswith("exit_group(3) = ?")]
        assert len(exits) == 1, trace
        prefix = _PREFIX.match(exits[0])
        assert prefix is not None, exits[0]
        assert prefix.group(0) == f"[pid {int(prefix.group(1)):5}] ", exits[0]
