"""Processes meet threads and each other (runtime/cage.py exec, runtime/fork.py, runtime/vfork.py):
execve from a threaded process, fork with threads, vfork/posix_spawn, fd-table isolation. C
programs whose stdout and exit status must match the same source built natively."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import STACKS, MatchesNative

CASES: list[tuple[str, list[str]]] = [
    ("exec_threads", ["main"]),  # 3 sleeping workers; the main thread execs: they are gone
    ("exec_threads", ["thread"]),  # the same, exec from a fourth thread
    ("fork_threads", []),  # fork with workers running: the child has one thread, then its own
    ("fork_thread", []),  # fork from a secondary thread, which is the child's only thread
    ("spawn", []),  # posix_spawn[p]: args, env, file actions in the child only, errors, waitpid
    ("vfork", []),  # vfork + _exit, vfork + execve
    ("fd_isolation", []),  # fds 0..1023 brute-forced around fork and posix_spawn children
]

# Other programs a case needs in its root (as executables under these names).
EXTRA_PROGRAMS = {
    "exec_threads": ["exec_threads", "exec_target"],
    "spawn": ["exec_target"],
    "vfork": ["exec_target"],
    "fd_isolation": ["exec_target"],
}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize(
    ("name", "args"), CASES, ids=[f"{c[0]}-{'-'.join(c[1]) or 'noargs'}" for c in CASES]
)
def test_matches_native(
    name: str,
    args: list[str],
    stack: str,
    matches_native: MatchesNative,
) -> None:
    matches_native(name, stack, args=args, extras=EXTRA_PROGRAMS.get(name, []))
