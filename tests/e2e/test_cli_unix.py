"""`run` as a Unix citizen: signals sent to the `run` process reach the program, and a reader
that goes away ends a writing program with SIGPIPE, exactly as for the native build.

Each case runs the program built natively and in a cage side by side, sends both the same
signal once they say they are ready, and compares their exit status and output.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REPO

Launch = Callable[..., subprocess.Popen[bytes]]

HANDLED = ["SIGTERM", "SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH",
           "SIGCONT", "SIGTSTP"]


def _status(code: int) -> int:
    return 128 - code if code < 0 else code


def _default_signals() -> None:
    """The child starts as from an interactive shell: every signal at its default action."""
    for signo in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM, signal.SIGTSTP):
        signal.signal(signo, signal.SIG_DFL)


def _nohup() -> None:
    _default_signals()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


@pytest.fixture(scope="module")
def programs(cage_program: Any, native_program: Any, tmp_path_factory: Any) -> dict[str, Launch]:
    root = tmp_path_factory.mktemp("root")
    wasm = cage_program("host_signals")
    native = native_program("host_signals")

    def cage(*args: str, setup: Callable[[], None] = _default_signals) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "lind_async", "run", "--root", str(root), str(wasm), *args]
        return subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=setup)

    def natively(*args: str, setup: Callable[[], None] = _default_signals
                 ) -> subprocess.Popen[bytes]:
        return subprocess.Popen([str(native), *args], cwd=root, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=setup)

    return {"cage": cage, "native": natively}


def _signalled(proc: subprocess.Popen[bytes], signo: int) -> tuple[int, bytes, bytes]:
    """Wait for the program's ready line, send ``signo``, and return (status, stdout, stderr)."""
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    proc.send_signal(signo)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running 60 s after {signal.Signals(signo).name}: {out!r} {err!r}")
    return _status(proc.returncode), ready + out, err


def _both(programs: dict[str, Launch], signo: int, *args: str,
          setup: Callable[[], None] = _default_signals) -> dict[str, tuple[int, bytes, bytes]]:
    procs = {kind: launch(*args, setup=setup) for kind, launch in programs.items()}
    with ThreadPoolExecutor(len(procs)) as pool:
        done = {kind: pool.submit(_signalled, proc, signo) for kind, proc in procs.items()}
        return {kind: future.result() for kind, future in done.items()}


def test_handlers_run_and_output_is_flushed(programs: dict[str, Launch]) -> None:
    """Each signal a shell, a terminal or `kill` sends reaches the program's handler, which lets
    it finish normally: its buffered output is written and its own exit status is `run`'s."""
    with ThreadPoolExecutor(len(HANDLED)) as pool:
        results = dict(zip(HANDLED, pool.map(
            lambda name: _both(programs, signal.Signals[name], "handle"), HANDLED), strict=True))
    for name, result in results.items():
        status, out, err = result["cage"]
        assert (status, out) == result["native"][:2], name
        assert status == 7 and b"buffered until exit" in out, name
        assert err == b"", (name, err)


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1"])
def test_default_action_ends_the_program(programs: dict[str, Launch], name: str) -> None:
    """With no handler the default action ends the program: `run` exits 128+N (Ctrl-C: 130)
    with nothing on stderr (no traceback), and the unflushed output is lost as natively."""
    result = _both(programs, signal.Signals[name])
    status, out, err = result["cage"]
    assert (status, out) == result["native"][:2]
    assert status == 128 + signal.Signals[name]
    assert err == b""


def test_ignored_signal_stays_ignored(programs: dict[str, Launch]) -> None:
    """Under `nohup` SIGHUP is ignored by the program too; SIGTERM still ends it."""
    procs = {kind: launch(setup=_nohup) for kind, launch in programs.items()}
    results = {}
    for kind, proc in procs.items():
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        assert ready == b"ready, SIGHUP ignored\n", kind
        proc.send_signal(signal.SIGHUP)
    time.sleep(1)
    for kind, proc in procs.items():
        assert proc.poll() is None, f"{kind}: an ignored SIGHUP ended the program"
        results[kind] = _signalled_now(proc, signal.SIGTERM)
    assert results["cage"] == results["native"] == (143, b"", b"")


def _signalled_now(proc: subprocess.Popen[bytes], signo: int) -> tuple[int, bytes, bytes]:
    proc.send_signal(signo)
    out, err = proc.communicate(timeout=60)
    return _status(proc.returncode), out, err


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


def _wait_state(pid: int, wanted: str) -> str:
    state = _state(pid)
    for _ in range(100):
        if state == wanted:
            break
        time.sleep(0.05)
        state = _state(pid)
    return state


def test_stop_and_continue(programs: dict[str, Launch]) -> None:
    """Ctrl-Z (SIGTSTP, no handler) stops the program and `run` with it, so the shell sees the
    job stop; SIGCONT resumes it."""
    proc = programs["cage"]()
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith(b"ready")
    proc.send_signal(signal.SIGTSTP)
    assert _wait_state(proc.pid, "T") == "T"
    proc.send_signal(signal.SIGCONT)
    assert _wait_state(proc.pid, "S") != "T"
    assert _signalled_now(proc, signal.SIGUSR1) == (128 + signal.SIGUSR1, b"", b"")


# ----------------------------------------------------------------- SIGPIPE on host pipes
@pytest.fixture(scope="module")
def yes_forever(cage_program: Any) -> Path:
    path: Path = cage_program("yes_forever")
    return path


@pytest.mark.parametrize("mode", ["write", "stdio"])
def test_reader_gone_on_a_host_pipe(yes_forever: Path, mode: str) -> None:
    """`run yes | head -1` ends: the write to the host's broken pipe raises SIGPIPE (141)."""
    run = f"{sys.executable} -m lind_async run {yes_forever} {mode}"
    proc = subprocess.run(["bash", "-c", f"set -o pipefail; {run} | head -1"], cwd=REPO,
                          capture_output=True, timeout=60)
    assert proc.stdout == b"y\n"
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == b""


def test_reader_gone_on_a_host_socket(yes_forever: Path) -> None:
    """The same when stdout is a socket whose peer closes."""
    mine, theirs = socket.socketpair()
    proc = subprocess.Popen([sys.executable, "-m", "lind_async", "run", str(yes_forever)],
                            cwd=REPO, stdin=subprocess.DEVNULL, stdout=theirs,
                            stderr=subprocess.PIPE)
    theirs.close()
    assert mine.recv(2) == b"y\n"
    mine.close()
    try:
        assert proc.wait(timeout=60) == 141
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    assert proc.stderr is not None and proc.stderr.read() == b""
