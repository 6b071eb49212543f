"""Run by ``test_default_shutdown.py`` in a fresh interpreter: the module-level
``lind_async.create_cage_exec`` with nothing closed explicitly, the loop left to shut down.

``python default_shutdown_main.py LOOP MODE PROGRAM`` with LOOP ``asyncio``, ``uvloop`` or
``trio`` and MODE:

- ``communicate``: start PROGRAM with ``stdout=PIPE``, ``communicate()``, print its output and
  return code, return.
- ``running``: start PROGRAM (the ``waiter`` program) with ``fork``, read its two lines, return
  with it and its child still running: the default microvisor's close must kill them.
- ``cancelled``: ``wait()`` on a running PROGRAM (``waiter``) from an already-cancelled scope,
  five times: each call returns at once and has killed its cage.

After the loop has returned it prints what is left of the default microvisor: ``left=`` the
loops that still have one, ``runtime_thread=`` whether the trio bridge's thread still runs.
"""

from __future__ import annotations

import signal
import sys
import threading

import anyio

import lind_async
from lind_async.embed import default


async def communicate(program: str) -> None:
    proc = await lind_async.create_cage_exec(program, stdout=lind_async.PIPE)
    out, _ = await proc.communicate()
    assert out is not None
    print(out.decode(), end="")
    print("returncode", proc.returncode)


async def running(program: str) -> None:
    proc = await lind_async.create_cage_exec(program, "fork", stdout=lind_async.PIPE)
    assert proc.stdout is not None
    print((await proc.stdout.readline()).decode(), end="")
    print((await proc.stdout.readline()).decode(), end="")


async def cancelled(program: str) -> None:
    for _ in range(5):
        proc = await lind_async.create_cage_exec(program, stdout=lind_async.PIPE)
        assert proc.stdout is not None
        assert await proc.stdout.readline() == b"ready\n"
        with anyio.CancelScope() as scope:
            scope.cancel()
            await proc.wait()
        print("killed" if proc.returncode == -signal.SIGKILL else f"left {proc.returncode}")


def main() -> None:
    loop, mode, program = sys.argv[1:]
    body = {"communicate": communicate, "running": running, "cancelled": cancelled}[mode]
    if loop == "trio":
        import trio

        trio.run(body, program)
    elif loop == "uvloop":
        import uvloop

        uvloop.run(body(program))
    else:
        import asyncio

        asyncio.run(body(program))
    print("left=", len(default._defaults))
    alive = any(t.name == "lind-runtime-loop" for t in threading.enumerate())
    print("runtime_thread=", alive)


if __name__ == "__main__":
    main()
