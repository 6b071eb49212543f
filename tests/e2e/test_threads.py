"""POSIX threads in cages (runtime/threads.py, rawposix/futex.py, lind-musl's clone.c): C programs
whose output and exit status must match the same source built natively."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    REPO,
    STACKS,
    MatchesNative,
    Result,
    _shell_status,
)

CASES = [
    "threads_mutex",  # 8 threads x 100,000 mutex-protected increments
    "threads_condvar",  # producers/consumers on condition variables
    "threads_barrier",  # pthread_barrier_wait phases
    "threads_sem",  # sem_wait/sem_post ping-pong, counting semaphore
    "threads_tls",  # __thread, pthread keys + destructors, errno, distinct gettid
    "threads_join",  # join values, pthread_exit, detached threads, 300 create+join
    "threads_exit",  # exit(3) from a non-main thread ends the process with 3
    "threads_main_exit",  # main's pthread_exit: the process lives on; join the main thread
    "threads_sleep",  # a thread in nanosleep does not hold up its siblings
    "threads_timed",  # sem_timedwait, cond_timedwait, mutex_timedlock: ETIMEDOUT on time
    "threads_futex",  # the futex call: EAGAIN, relative/absolute timeouts, bitsets, wake counts
    "threads_malloc",  # malloc/realloc/free from 5 threads at once, then from one again
    "malloc_reuse",  # large chunks freed and taken again, calloc zeros, realloc, 4 threads
    "threads_fork_malloc",  # fork while threads churn large chunks; the children allocate too
]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("name", CASES)
def test_threads_match_native(name: str, stack: str, matches_native: MatchesNative) -> None:
    matches_native(name, stack, quiet=True)


def _interactive(cmd: list[str], cwd: Path) -> Result:
    """Run ``cmd``; after its first line of output, send one line on stdin and close it."""
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    try:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdin.write(b"hello from the test\n")
        proc.stdin.close()
        rest = proc.stdout.read()
        err = proc.stderr.read()
        code = proc.wait()
    finally:
        watchdog.cancel()
    return Result(_shell_status(code), first + rest, err)


def test_thread_blocked_on_stdin(cage_program: Any, native_program: Any, tmp_path: Path) -> None:
    """A thread blocked in read(0) while its siblings finish and report first."""
    wasm = cage_program("threads_stdin")
    expected = _interactive([str(native_program("threads_stdin"))], tmp_path)
    got = _interactive(
        [sys.executable, "-m", "lind_async", "run", "--root", str(tmp_path), str(wasm)], REPO
    )
    assert expected.stdout.startswith(b"workers done while the reader waited: yes\n")
    assert got.stdout == expected.stdout, got.stderr.decode(errors="replace")
    assert got.status == expected.status == 0
