"""The native C hop (``native/grate_entry.c``, linked by ``threei/guest_import.py``) serves a C
grate's forward to the next C grate only while everything its link assumed still holds: here a
route changes between two forwards of the same call number, and the next forward must take the
new route, exactly as the Python paths do.

Each mode runs in its own process (the glue is chosen once per process): ``c-hop`` is the
default, ``no-c-hop`` the native glue without the C hop (``LIND_ASYNC_NO_C_HOP=1``), ``python``
no native glue at all (``LIND_ASYNC_PYTHON_ENTRY=1``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lind_async.abi import syscalls
from lind_async.threei.python_grates import Call, Grate, handles
from lind_async.threei.tables import Route
from tests.e2e.test_grate_hops import entry_env
from tests.e2e.test_grates_c import PROGRAMS, _build, install

REPO = Path(__file__).resolve().parents[2]


class Switch(Grate):
    """The app's nanosleeps change its parent's (the relay's) route for geteuid: ``mode``
    "drop" takes it away at the first (RawPOSIX answers the relay's forwards) and puts it back
    at the second; "exit" ends the grate the route names at the first (the relay's forwards get
    EIO from then on)."""

    mode = "drop"

    def __init__(self) -> None:
        super().__init__()
        self.taken: Route | None = None

    @handles("nanosleep", "clock_nanosleep")
    def switch(self, call: Call) -> int:
        relay = call.origin.parent_id
        threei = call.mv.threei
        route = threei.lookup(relay, syscalls.SYS_geteuid)
        if self.mode == "exit":
            grate = None if route is None else call.mv.cages.get(route.handler_cage)
            if grate is not None and self.taken is None:  # (the first time only)
                self.taken = route
                grate.terminate(9)  # SIGKILL
        elif route is not None:
            self.taken = route
            threei.deregister(relay, syscalls.SYS_geteuid)
        elif self.taken is not None:
            taken = self.taken
            threei.register(relay, syscalls.SYS_geteuid, taken.handler_cage, taken.handler,
                            taken.owner)
        return 0


class SwitchExit(Switch):
    mode = "exit"


SCRIPT = """
import asyncio, sys, time
from pathlib import Path
from lind_async.runtime.world import World, default_cache_dir
from lind_async.threei import native
from lind_async.wasm.engine import EngineConfig
from tests.e2e.test_grate_hop_links import Switch, SwitchExit

root = Path(sys.argv[1])

async def main():
    config = EngineConfig(cache_dir=default_cache_dir() / "modules")
    switch = Switch() if sys.argv[2] == "drop" else SwitchExit()
    async with World(root=root, engine_config=config) as mv:
        mv.spawn(root / "bin" / "hold.wasm", ["hold", "/bin/relay.wasm", "/bin/app.wasm"],
                 grates=[switch])
        deadline = time.monotonic() + 60
        while mv.cages and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        print(f"left {len(mv.cages)} c-hops {native.c_hops() > 0}", flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize("mode", ["c-hop", "no-c-hop", "python"])
@pytest.mark.parametrize("change", ["drop", "exit"])
def test_a_route_changed_between_two_forwards_is_taken(mode: str, change: str, root: Path) -> None:
    """Three forwards reach the bottom grate (it answers 2); then the relay's route for the call
    is taken away (the next three reach RawPOSIX: the cage's euid) and put back (the grate
    again), or the grate it names is killed (every later forward gets EIO: -1)."""
    install(
        root,
        hold=_build(PROGRAMS / "hold_grate.c", True),
        relay=_build(PROGRAMS / "relay_grate.c", True),
        app=_build(PROGRAMS / "switch_app.c", False),
    )
    got = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(root), change], capture_output=True, timeout=120,
        cwd=REPO, env=entry_env("native" if mode == "c-hop" else mode),
        stdin=subprocess.DEVNULL,
    )
    err = got.stderr.decode(errors="replace")
    assert got.returncode == 0, err
    lines = got.stdout.decode().splitlines()
    assert lines[-1] == f"left 0 c-hops {mode == 'c-hop'}", err
    between, after = (-1, -1) if change == "exit" else (os.geteuid(), 2)
    assert lines[:-1] == (
        ["before 2"] * 3 + [f"between {between}"] * 3 + [f"after {after}"] * 3
    ), err
    assert "Traceback" not in err
