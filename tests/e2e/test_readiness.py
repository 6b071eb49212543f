"""poll/select/epoll/eventfd/timerfd/signalfd programs: stdout and status as the native build."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import STACKS, MatchesNative

PROGRAMS = [
    "poll_basic",  # pipes (data, POLLHUP, POLLERR), regular files, POLLNVAL
    "poll_fork",  # a child's late write wakes poll and epoll_wait in the parent
    "poll_signal",  # EINTR from a handler; ppoll/pselect/epoll_pwait masks
    "select_timeout",  # select/pselect timeouts, sets written back, EBADF/EINVAL
    "epoll_pipe",  # ET, LT, ONESHOT + MOD, nesting, errors, description-keyed interest list
    "epoll_socket",  # ET/LT over a socketpair, EPOLLRDHUP
    "epoll_ready_list",  # LT/ET among 300 idle fds, round robin, closes, fork (the ready list)
    "epoll_probe",  # LT input entries kept on the ready list while pipes/sockets change
    "eventfd_counter",  # counter, semaphore, EAGAIN, overflow, blocking read across fork
    "timerfd_basic",  # one-shot, interval counts, ABSTIME, gettime, errors
    "signalfd_basic",  # blocked pending signals as records, poll/epoll, SIGCHLD, errors
    "poll_stdin",  # the host's stdio pipes: data, end of file, writable
]

# Standard input for a case (anything else reads /dev/null).
STDIN = {"poll_stdin": b"".join(b"line %d\n" % i for i in range(20_000))}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("name", PROGRAMS)
def test_readiness_matches_native(name: str, stack: str, matches_native: MatchesNative) -> None:
    matches_native(name, stack, stdin=STDIN.get(name), quiet=True)
