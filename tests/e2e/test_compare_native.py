"""Programs whose stdout and exit status must match the same source built natively."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import STACKS, MatchesNative

CASES: list[tuple[str, list[str], dict[str, str]]] = [
    ("hello", ["one", "two words", ""], {"NAME": "world"}),
    ("numbers", [], {}),
    ("malloc", [], {}),
    ("qsort", [], {}),
    ("strings", [], {}),
    ("files", [], {}),
    ("listdir", [], {}),
    ("sleep", [], {}),
    ("badinput", [], {}),
    ("signals_recorded", [], {}),
    ("pipes", [], {}),
    ("sigpipe_default", [], {}),
    ("signals", [], {}),
    ("spin_alarm", [], {}),
    ("exec_parent", [], {}),
    ("pipeline", [], {}),
    ("pingpong", [], {}),
    ("children", [], {}),
    ("fork_exec", [], {}),
    ("proc_ids", [], {}),
    ("stop_group", [], {}),
    ("stdin_echo", [], {}),
    ("crash", [], {}),
    ("crash", ["trap"], {}),
    ("fionread", [], {}),
    ("stack_layout", [], {}),
]


# Other programs a case needs in its root (as executables under these names).
EXTRA_PROGRAMS = {
    "exec_parent": ["exec_target"],
    "fork_exec": ["exec_target"],
    "pipeline": ["pipeline"],
}

# Standard input for a case (anything else reads /dev/null): ~1 MiB through a pipe.
STDIN = {"stdin_echo": b"".join(b"line %d of the input\n" % i for i in range(50_000))}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize(
    ("name", "args", "env"), CASES, ids=[f"{c[0]}-{'-'.join(c[1]) or 'noargs'}" for c in CASES]
)
def test_matches_native(
    name: str,
    args: list[str],
    env: dict[str, str],
    stack: str,
    matches_native: MatchesNative,
) -> None:
    matches_native(
        name,
        stack,
        args=args,
        env=env,
        stdin=STDIN.get(name),
        extras=EXTRA_PROGRAMS.get(name, []),
    )
