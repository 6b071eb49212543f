"""The grate hop's fast paths (``threei/native.py``, ``native/grate_entry.c``) and their Python
fallbacks give the same results: a stack of C relay grates over a C grate whose handlers block,
answer, yield and exit mid-call, with several cages calling at once, and a Python ``async def``
grate under it all whose forwards complete at once (``sched_yield``) or wait (``nanosleep``).

Each mode runs in its own process (the glue is chosen once per process): ``native`` is what a
runtime gets where zig builds the library (its C hop serves the relays' forwards), ``no-c-hop``
the same glue with the hop left to Python (``LIND_ASYNC_NO_C_HOP=1``), ``python`` is
``LIND_ASYNC_PYTHON_ENTRY=1``.

Programs live in programs/grates/ (relay_grate.c, hold_grate.c, stack_app.c).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lind_async.threei.python_grates import Call, Grate, handles
from tests.e2e.test_grates_c import PROGRAMS, _build, install

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]


class AsyncRelay(Grate):
    """Forwards the calls a grate's handler makes for itself: at once (sched_yield) or after a
    wait (nanosleep), from ``async def`` handlers."""

    @handles("nanosleep", "clock_nanosleep", "sched_yield")
    async def relay(self, call: Call) -> int:
        return await call.forward()


# Spawns hold_grate (under AsyncRelay) -> relay -> relay -> stack_app in one World and waits for
# every cage; prints the grate's status and whether the native glue served.
SCRIPT = """
import asyncio, sys, time
from pathlib import Path
from lind_async.runtime.world import World, default_cache_dir
from lind_async.threei import native
from lind_async.wasm.engine import EngineConfig
from tests.e2e.test_grate_hops import AsyncRelay

root = Path(sys.argv[1])

async def main():
    config = EngineConfig(cache_dir=default_cache_dir() / "modules")
    async with World(root=root, engine_config=config) as mv:
        grate = mv.spawn(root / "bin" / "hold.wasm",
                         ["hold", "/bin/relay.wasm", "/bin/relay.wasm", "/bin/app.wasm"],
                         grates=[AsyncRelay()])
        deadline = time.monotonic() + 90
        while mv.cages and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        print(f"left {len(mv.cages)} grate {grate.status} native {native.active()}", flush=True)

asyncio.run(main())
"""


def entry_env(entry: str) -> dict[str, str]:
    """The environment of a process whose grate hops run as ``entry`` says (see above)."""
    env = {
        k: v for k, v in os.environ.items()
        if k not in ("LIND_ASYNC_PYTHON_ENTRY", "LIND_ASYNC_NO_C_HOP")
    }
    if entry == "python":
        env["LIND_ASYNC_PYTHON_ENTRY"] = "1"
    elif entry == "no-c-hop":
        env["LIND_ASYNC_NO_C_HOP"] = "1"  # the native glue, the Python hop
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


@pytest.mark.parametrize("entry", ["native", "no-c-hop", "python"])
def test_a_relay_stack_over_a_blocking_grate_that_exits(entry: str, root: Path) -> None:
    """The slow caller is held in the bottom grate while the fast one's 250 calls pass through
    both relays (each a C grate forwarding to a C grate); then the bottom grate exits in the
    middle of a call: that call and the next get EIO, nothing hangs, every cage ends."""
    install(
        root,
        hold=_build(PROGRAMS / "hold_grate.c", True),
        relay=_build(PROGRAMS / "relay_grate.c", True),
        app=_build(PROGRAMS / "stack_app.c", False),
    )
    got = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(root)], capture_output=True, timeout=150, cwd=REPO,
        env=entry_env(entry), stdin=subprocess.DEVNULL,
    )
    err = got.stderr.decode(errors="replace")
    assert got.returncode == 0, err
    lines = got.stdout.decode().splitlines()
    assert lines[-1] == f"left 0 grate 1792 native {entry != 'python'}", err  # exited(7)
    assert sorted(lines[:-1]) == sorted([
        "slow: getuid=1",
        "fast: sum=550",  # 200 x 2 + 50 x 3
        "getgid (the grate exits) = -1 I/O error",
        "geteuid after = -1 I/O error",
    ]), err
    assert "Traceback" not in err
