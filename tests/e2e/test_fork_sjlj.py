"""fork (asyncify) and setjmp/longjmp (wasm exception handling): C programs whose stdout and exit
status must match the same source built natively."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import STACKS, MatchesNative

CASES = [
    "fork_basic",  # both sides run; fork's results; getppid; waitpid status
    "fork_memory",  # the child sees the snapshot; neither sees the other's later writes
    "fork_loop",  # 50 children
    "fork_nested",  # fork 100 frames deep, through a function pointer, a grandchild
    "fork_sjlj",  # fork inside a setjmp region; the child longjmps
    "sjlj",  # longjmp out of nested calls, repeated, value 0, _setjmp/_longjmp
    "sjlj_sig",  # sigsetjmp/siglongjmp mask restore; longjmp after a suspending nanosleep
    "signal_handler_stack",  # fork in a handler (both sides return from it); siglongjmp out
]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("name", CASES)
def test_matches_native(name: str, stack: str, matches_native: MatchesNative) -> None:
    matches_native(name, stack, quiet=True)
