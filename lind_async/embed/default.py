"""``lind_async.create_cage_exec``: cages on a default :class:`Microvisor` per event loop.

The default microvisor (root ``.``, default settings) is made on first use for the running loop
(asyncio/uvloop: per loop; trio: per ``trio.run``). It is closed — its cages killed, its fds
released — when the loop shuts down: an async generator holds it, and ``asyncio.run``,
``uvloop.run``, anyio and ``trio.run`` all finalize async generators when they end. Code that
wants a deterministic end uses its own ``async with Microvisor(...)`` instead.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING

from lind_async.embed.bridge import current_library
from lind_async.embed.microvisor import Env, Microvisor, PathLike
from lind_async.embed.modules import Program
from lind_async.embed.pipes import READ_LIMIT
from lind_async.embed.process import CageProcess
from lind_async.embed.stdio import StdioSpec
from lind_async.runtime.limits import Limits

if TYPE_CHECKING:
    from lind_async.threei.python_grates import Grate

_defaults: dict[object, tuple[Microvisor, AsyncGenerator[None, None]]] = {}


def _loop_key() -> object:
    if current_library() == "trio":
        import trio

        return trio.lowlevel.current_trio_token()
    import asyncio

    return asyncio.get_running_loop()


async def _holder(key: object, mv: Microvisor) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        _defaults.pop(key, None)
        await mv.aclose()


async def default_microvisor() -> Microvisor:
    """The running loop's default microvisor (started on first use)."""
    key = _loop_key()
    entry = _defaults.get(key)
    if entry is not None:
        return entry[0]
    mv = Microvisor()
    holder = _holder(key, mv)
    _defaults[key] = (mv, holder)
    await holder.asend(None)  # first iteration: the loop now finalizes it at shutdown
    await mv.start()
    return mv


async def create_cage_exec(
    program: Program,
    *args: str | bytes,
    stdin: StdioSpec = None,
    stdout: StdioSpec = None,
    stderr: StdioSpec = None,
    env: Env | None = None,
    cwd: PathLike | bytes | None = None,
    grates: Sequence[Grate] = (),
    limits: Limits | None = None,
    root: PathLike | None = None,
    argv0: str | bytes | None = None,
    limit: int = READ_LIMIT,
) -> CageProcess:
    """Start ``program`` in a cage of the loop's default microvisor; see
    :meth:`Microvisor.create_cage_exec` for the arguments (``root`` defaults to ``.``)."""
    mv = await default_microvisor()
    return await mv.create_cage_exec(
        program,
        *args,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        env=env,
        cwd=cwd,
        grates=grates,
        limits=limits,
        root=root,
        argv0=argv0,
        limit=limit,
    )
