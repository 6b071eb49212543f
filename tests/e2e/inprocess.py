"""``python -m lind_async run`` without the process: a cage run inside the test process.

Each subprocess run pays Python's start-up, lind_async's imports, a new wasmtime engine and the
deserialization of every module it loads (about a second on the 2-core CI machine), while the cage
itself often runs for milliseconds. :func:`run` does what ``cli.cmd_run`` does — the same option
parser, grates, limits, environment, event loop and exit status — on engines shared by the whole
test session (one per time slice), whose in-memory module cache keeps every compiled program.

The cage's fds 0, 1 and 2 are host pipes (or ``/dev/null``), as a subprocess's are; its stderr
also receives what the CLI process would print there: the microvisor's diagnostics, the strace
grate's trace, and warnings and errors of the ``lind_async`` and ``asyncio`` loggers (with their
tracebacks, so ``b"Traceback" not in stderr`` still means something).

Not covered, so :func:`run` returns None and the caller starts a real process: a program the
CLI refuses before running it (its own error messages), and a module the engine cannot load.
Tests of the ``run`` process itself (host signals relayed to the cage, the process's stdio,
its exit) start a process explicitly.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

READ_JOIN = 30.0  # seconds the stdio readers may take to see EOF once the microvisor is closed
LOGGERS = ("lind_async", "asyncio")


@dataclass
class Outcome:
    status: int
    stdout: bytes
    stderr: bytes


_engines: dict[float, Any] = {}


def _engine(time_slice: float) -> Any:
    """The session's engine for this time slice (its module cache is shared by every run)."""
    from lind_async.runtime.world import default_cache_dir
    from lind_async.wasm.engine import EngineConfig, LindEngine

    engine = _engines.get(time_slice)
    if engine is None:
        if not _engines:
            atexit.register(_close_engines)
        config = EngineConfig(time_slice=time_slice, cache_dir=default_cache_dir() / "modules")
        engine = _engines[time_slice] = LindEngine(config)
    return engine


def _close_engines() -> None:
    """Drop the engines and their modules while wasmtime can still free them (at interpreter
    teardown its bindings are gone, and every module's finalizer would complain)."""
    for engine in _engines.values():
        engine.clear_modules()
        engine.ticker.stop()
    _engines.clear()
    gc.collect()


class _Drain(threading.Thread):
    """Reads a pipe to EOF into ``data``."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True, name=f"drain-{fd}")
        self.fd = fd
        self.data = bytearray()

    def run(self) -> None:
        try:
            while chunk := os.read(self.fd, 1 << 16):
                self.data += chunk
        finally:
            os.close(self.fd)


class _Feed(threading.Thread):
    """Writes ``data`` into a pipe, then closes it (a reader that stops early is fine)."""

    def __init__(self, fd: int, data: bytes) -> None:
        super().__init__(daemon=True, name=f"feed-{fd}")
        self.fd = fd
        self.input = data

    def run(self) -> None:
        try:
            with contextlib.suppress(BrokenPipeError):
                view = memoryview(self.input)
                while view:
                    view = view[os.write(self.fd, view) :]
        finally:
            os.close(self.fd)


@contextlib.contextmanager
def _stderr_sink(err: IO[str]) -> Iterator[None]:
    """Route what the CLI process would print to its stderr into ``err`` (see the docstring)."""
    handler = logging.StreamHandler(err)
    handler.setLevel(logging.WARNING)
    loggers = [logging.getLogger(name) for name in LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        with contextlib.redirect_stderr(err):
            yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def run(
    argv: list[str], *, stdin: bytes | None, timeout: float
) -> Outcome | None:
    """Run ``python -m lind_async run ARGV`` in this process (None: run it as a process)."""
    from lind_async import cli
    from lind_async.runtime.cage import shell_status
    from lind_async.runtime.host_signals import inherited_ignored
    from lind_async.runtime.world import World
    from lind_async.wasm.engine import ModuleError

    opts = cli._run_parser().parse_args(argv)
    if opts.program is None or Path(opts.program).suffix == ".c" or opts.time_slice <= 0:
        return None  # the CLI compiles it, or says why not
    from lind_async.abi import flags as F
    from lind_async.rawposix.host_stream import HostStream

    if stdin is None:
        in_r, in_w = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC), -1
    else:
        in_r, in_w = os.pipe2(os.O_CLOEXEC)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    try:
        files = [
            HostStream.adopt(in_r, F.O_RDONLY),
            HostStream.adopt(out_w, F.O_WRONLY),
            HostStream.adopt(err_w, F.O_WRONLY),
        ]
    finally:
        os.close(in_r)
        os.close(out_w)
    readers = [_Drain(out_r), _Drain(err_r)]
    for reader in readers:
        reader.start()
    if stdin is not None:
        _Feed(in_w, stdin).start()
    err = open(err_w, "w", buffering=1, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
    started: list[Any] = []
    with contextlib.redirect_stderr(err):  # the strace grate writes to sys.stderr
        plan = cli.plan_run(opts, compile_sources=False)  # the CLI's own checks
    engine = _engine(opts.time_slice / 1000)

    async def main() -> int:
        assert isinstance(plan, cli.RunPlan)
        async with World(
            root=opts.root, engine=engine, diagnostics=err, host_unix_sockets=plan.host_unix
        ) as mv:
            cage = mv.spawn(
                plan.program,
                plan.argv,
                plan.env,
                grates=plan.grates,
                stdio=files,
                limits=plan.limits,
                ignored=inherited_ignored(),
            )
            started.append(cage)
            await asyncio.wait_for(cage.exited.wait(), timeout)
        assert cage.status is not None
        return shell_status(cage.status)

    status: int | None = None
    try:
        if isinstance(plan, cli.RunPlan):  # else refused: the CLI's message and status for it
            with _stderr_sink(err):
                status = cli._run_loop(main, opts.loop)
    except (ModuleError, NotADirectoryError, FileNotFoundError):
        if started:
            raise
        # refused before it ran (the CLI's message and status for it): status stays None
    finally:
        if not started:
            for file in files:
                if file.refs == 0:
                    file.release()
        err.close()
        for reader in readers:
            reader.join(READ_JOIN)
    if any(reader.is_alive() for reader in readers):
        raise AssertionError("the cage's stdio stayed open after its microvisor closed")
    if status is None:
        return None
    return Outcome(status, bytes(readers[0].data), bytes(readers[1].data))


def forced_process() -> bool:
    """``LIND_TESTS_PROCESS=1`` runs every cage as ``python -m lind_async run`` (the old way)."""
    return os.environ.get("LIND_TESTS_PROCESS", "") not in ("", "0")


__all__ = ["Outcome", "forced_process", "run"]


def run_in_world(root: Path, wasm: Path, args: list[str] | None = None) -> int | None:
    """Run ``wasm`` (installed under ``root``) in a fresh World of this process, on a fresh loop,
    with nothing else around it; its exit status. For tests that inspect the process afterwards
    (fds and mappings left, pages copied), so nothing of the shared engine stays alive."""
    from lind_async.runtime.world import World, default_cache_dir
    from lind_async.wasm.engine import EngineConfig

    async def main() -> int | None:
        config = EngineConfig(cache_dir=default_cache_dir() / "modules")
        async with World(root=root, engine_config=config) as mv:
            cage = mv.spawn(wasm, [wasm.name, *(args or [])])
            await cage.exited.wait()
            return cage.status

    return asyncio.run(main())
