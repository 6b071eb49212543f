"""``lind_async.Pool``: cages spread over worker processes (or Ray actors), one microvisor each.

Theory of operation
-------------------
A :class:`Pool` keeps ``workers`` links (``local.py``: a child process; ``ray_backend.py``: a
Ray actor), each running one microvisor behind a :class:`server.CageServer`, and speaks the
frames of ``wire.py`` with them. It is anyio code and owns one task group for the pool's life:
per worker a reader task (frames to the :class:`PoolProcess` objects) and a writer task.

- **Placement**: a new cage goes to the ready worker with the fewest live cages (ties in turn).
  A cage's family (forks, threads, pipes, grates) lives in its worker's microvisor, so it stays
  there. Programs cross as paths (every worker loads them through the shared on-disk module
  cache: :meth:`Pool.load` compiles once, then each worker finds the native code on disk) or as
  bytes; a module object of a :class:`Microvisor` cannot cross.
- **Failure**: a worker whose connection ends, or that sends a frame breaking ``wire.py``'s
  rules (it is killed then), fails its own cages: their ``returncode`` is the negative signal
  that killed the worker (``-SIGKILL`` if it just vanished), ``error`` a :class:`WorkerLost`
  naming the worker; a spawn waiting on it raises that error. Then it is replaced (a worker
  that keeps dying before it is ready is retried a few times, then left out). Other workers'
  cages never notice.
- **Closing** asks every worker to shut down (each closes its microvisor: every cage killed and
  reaped), waits for them (killing a late one), closes every socket and removes the pool's
  temporary directory (each local worker's ``TMPDIR``), so nothing is left behind even when a
  worker was ``SIGKILL``-ed.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import signal
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from lind_async.embed.pipes import READ_LIMIT
from lind_async.embed.stdio import DEVNULL, PIPE, STDOUT, HostStdio
from lind_async.pool import wire
from lind_async.pool.process import PoolProcess, WorkerLost
from lind_async.pool.server import SpawnRequest

if TYPE_CHECKING:
    from lind_async.runtime.limits import Limits
    from lind_async.threei.python_grates import Grate

PathLike = str | os.PathLike[str]
START_RETRIES = 3


@dataclass(frozen=True)
class PoolModule:
    """A program :meth:`Pool.load` compiled into the shared module cache (pass it to
    :meth:`Pool.create_cage_exec`)."""

    path: str


class Link(Protocol):
    remote_fds: bool
    pid: int

    async def start(self) -> None: ...
    def send(self, data: bytes) -> None: ...
    def send_fds(self, fds: list[int]) -> None: ...
    async def write_loop(self) -> None: ...
    async def receive(self) -> bytes: ...
    def describe(self, code: int | None) -> str: ...
    async def exit_code(self, timeout: float = 2.0) -> int | None: ...
    def kill(self) -> None: ...
    async def close(self) -> None: ...


class _Load:
    """A LOAD waiting for its worker's answer."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.error: BaseException | None = None


class _Worker:
    def __init__(self, index: int, link: Link) -> None:
        self.index = index
        self.link = link
        self.channels: dict[int, PoolProcess | _Load] = {}
        self.live = 0
        self.ready = anyio.Event()
        self.gone = anyio.Event()
        self.alive = True
        self.parser = wire.Parser(wire.MAX_FROM_WORKER)
        self.corrupt = ""


class Pool:
    """Cages on ``workers`` worker processes (default: the CPU count), one microvisor each.

    ``root``, ``memory_reservation``, ``time_slice``, ``cache_dir`` and ``host_unix_sockets``
    are the workers' :class:`lind_async.Microvisor` options; ``limits`` and ``grates`` are the
    defaults of :meth:`create_cage_exec`. ``backend="ray"`` runs the microvisors as Ray actors
    (``address``: the cluster, as ``ray.init``'s; ``ray_options``: ``.options()`` of each
    actor: resources, scheduling strategy); see ``docs/scaling.md``.

    Use it as ``async with Pool(...) as pool:``; leaving the block kills every cage, stops every
    worker and removes what they left.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        root: PathLike = ".",
        limits: Limits | None = None,
        grates: Sequence[Grate] = (),
        memory_reservation: int | None = None,
        time_slice: float = 0.005,
        cache_dir: PathLike | None = None,
        host_unix_sockets: bool | Collection[str] = False,
        backend: str = "local",
        address: str | None = None,
        ray_options: Mapping[str, Any] | None = None,
    ) -> None:
        if backend not in ("local", "ray"):
            raise ValueError(f"backend must be 'local' or 'ray', not {backend!r}")
        count = workers if workers is not None else (os.cpu_count() or 1)
        if count < 1:
            raise ValueError("a pool needs at least one worker")
        self.workers = count
        self.backend = backend
        self._address = address
        self._ray_options = dict(ray_options or {})
        self._limits = limits
        self._grates = tuple(grates)
        if time_slice <= 0:  # (what each worker's Microvisor would refuse, said here first)
            raise ValueError("time_slice must be > 0")
        if memory_reservation is not None and memory_reservation < 1 << 16:
            raise ValueError("memory_reservation too small")
        self._root = os.path.realpath(root)
        if not os.path.isdir(self._root):
            raise FileNotFoundError(f"root {os.fspath(root)!r} is not a directory")
        self._config: dict[str, Any] = {
            "root": self._root,
            "memory_reservation": memory_reservation,
            "time_slice": time_slice,
            "cache_dir": os.fspath(cache_dir) if cache_dir is not None else None,
            "host_unix_sockets": host_unix_sockets
            if isinstance(host_unix_sockets, bool)
            else [os.fsdecode(s) for s in host_unix_sockets],
        }
        self._slots: list[_Worker | None] = [None] * count
        self._tg: Any = None
        self._tmp: str | None = None
        self._next_channel = 0
        self._turn = 0
        self._changed: anyio.Event | None = None  # made on start (needs a running loop)
        self._given_up: set[int] = set()
        self._c_modules: dict[tuple[str, int, int], str] = {}
        self._closing = False
        self._started = False
        self._ray: Any = None

    # -- lifecycle ----------
    async def __aenter__(self) -> Pool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> Pool:
        """Start every worker and wait until each is ready (``async with`` does this)."""
        if self._started:
            return self
        self._started = True
        self._changed = anyio.Event()
        if self.backend == "ray":
            from lind_async.pool.ray_backend import RayCluster

            self._ray = RayCluster(self._address, self._config, self._ray_options)
            await self._ray.start()
        else:
            self._tmp = tempfile.mkdtemp(prefix="lind-pool-")
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        try:
            for i in range(self.workers):
                self._tg.start_soon(self._keep_worker, i)
            with anyio.fail_after(120):
                while not all(
                    i in self._given_up or (w is not None and w.alive and w.ready.is_set())
                    for i, w in enumerate(self._slots)
                ):
                    await self._wait_change()
                if len(self._given_up) == self.workers:
                    raise RuntimeError("the pool's workers could not start (see stderr)")
        except BaseException:
            await self.aclose()  # (shields its own work; it also leaves the task group)
            raise
        return self

    async def aclose(self) -> None:
        """Kill every cage, stop every worker, remove what they left. Idempotent."""
        if self._tg is None or self._tg is False:
            return
        self._closing = True
        tg, self._tg = self._tg, False
        with anyio.CancelScope(shield=True):
            workers = [w for w in self._slots if w is not None]
            for w in workers:
                w.link.send(wire.frame(wire.SHUTDOWN, 0))
            async with anyio.create_task_group() as stopping:
                for w in workers:
                    stopping.start_soon(self._stop_worker, w)
        # The pool's task group was entered by this task in start(): its scope encloses the
        # shielded one above, so it is left only after that one.
        try:
            tg.cancel_scope.cancel()
            await tg.__aexit__(None, None, None)
        finally:
            with anyio.CancelScope(shield=True):
                for w in workers:
                    self._fail(w, "the pool closed", -signal.SIGKILL)
                if self._ray is not None:
                    await self._ray.close()
                if self._tmp is not None:
                    await anyio.to_thread.run_sync(_remove_tree, self._tmp)

    async def _stop_worker(self, worker: _Worker) -> None:
        with anyio.move_on_after(15):
            await worker.gone.wait()
        await worker.link.exit_code(timeout=5.0)
        await worker.link.close()

    def _notify(self) -> None:
        assert self._changed is not None
        self._changed.set()
        self._changed = anyio.Event()

    async def _wait_change(self) -> None:
        assert self._changed is not None
        await self._changed.wait()

    # -- workers ----------
    def _new_link(self, index: int, generation: int) -> Link:
        if self._ray is not None:
            link: Link = self._ray.link(index)
            return link
        assert self._tmp is not None
        from lind_async.pool.local import LocalLink

        return LocalLink(self._config, os.path.join(self._tmp, f"w{index}.{generation}"))

    async def _keep_worker(self, index: int) -> None:
        """Run worker ``index`` and replace it whenever it is lost (a pool task)."""
        failures = 0
        generation = 0
        while not self._closing:
            link = self._new_link(index, generation)
            worker = _Worker(index, link)
            self._slots[index] = worker
            try:
                await link.start()
            except Exception as exc:
                self._fail(worker, f"could not start ({exc})", -signal.SIGKILL)
                reached = False
            else:
                reached = await self._serve(worker)
            tmp = getattr(link, "tmpdir", None)
            if tmp is not None and not self._closing:
                await anyio.to_thread.run_sync(_remove_tree, tmp)
            failures = 0 if reached else failures + 1
            generation += 1
            if failures >= START_RETRIES:
                self._given_up.add(index)  # it dies before it is ready: left out
                self._notify()
                return
            if failures:
                await anyio.sleep(0.5 * failures)

    async def _serve(self, worker: _Worker) -> bool:
        """Read the worker's frames until it is gone; True if it had become ready."""
        link = worker.link
        async with anyio.create_task_group() as tg:
            tg.start_soon(link.write_loop)
            while True:
                data = await link.receive()
                if not data or not self._dispatch_bytes(worker, data):
                    break
            tg.cancel_scope.cancel()
        worker.alive = False
        was_ready = worker.ready.is_set()
        worker.ready.set()
        with anyio.CancelScope(shield=True):
            code = await link.exit_code()
            reason = worker.corrupt or link.describe(code)
            lost = code if code is not None and code < 0 else -signal.SIGKILL
            if not self._closing:
                self._fail(worker, reason, lost)
                await link.close()
        worker.gone.set()
        self._notify()
        return was_ready

    def _fail(self, worker: _Worker, reason: str, code: int) -> None:
        worker.alive = False
        if not worker.channels:
            return
        error = WorkerLost(
            f"pool worker {worker.index} (pid {worker.link.pid}) {reason}; its cages are gone"
        )
        channels, worker.channels = worker.channels, {}
        worker.live = 0
        for item in channels.values():
            if isinstance(item, _Load):
                item.error = error
                item.done.set()
            else:
                item._lost(error, code)

    def _dispatch_bytes(self, worker: _Worker, data: bytes) -> bool:
        """Hand what a worker sent to its cages; a frame breaking the protocol kills the worker
        (False: read no more from it)."""
        try:
            for kind, channel, payload in worker.parser.feed(data):
                self._dispatch(worker, kind, channel, payload)
        except Exception as exc:  # CorruptFrame, or anything its frames made go wrong
            worker.corrupt = f"sent a corrupt frame ({exc}); killed"
            worker.link.kill()
            return False
        return True

    def _dispatch(self, worker: _Worker, kind: int, channel: int, payload: bytes) -> None:
        value = wire.check_from_worker(kind, payload)
        if kind == wire.READY:
            if not worker.ready.is_set():
                worker.ready.set()
                self._notify()
            return
        item = worker.channels.get(channel)
        if item is None:
            return
        if isinstance(item, _Load):
            if kind in (wire.DONE, wire.ERROR):
                if kind == wire.ERROR:
                    item.error = wire.error_of(value, "load")
                del worker.channels[channel]
                item.done.set()
            return
        proc = item
        if kind == wire.OUTPUT:
            proc._on_output(*value)
        elif kind == wire.ACK:
            if proc.stdin is not None:
                proc.stdin._on_ack(value)
        elif kind == wire.SPAWNED:
            proc._on_spawned(value)
        elif kind == wire.EXIT:
            if proc.returncode is None:
                worker.live -= 1
            proc._on_exit(*value)
        elif kind == wire.OUTPUT_EOF:
            proc._on_output_eof(value)
        elif kind == wire.ERROR:
            worker.live -= 1
            del worker.channels[channel]
            proc._on_error(wire.error_of(value, "create_cage_exec"))
            return
        elif kind == wire.STDIN_BROKEN:
            if proc.stdin is not None:
                proc.stdin._on_broken()
        elif kind == wire.KILLED:
            proc._on_killed()
        if proc.done and not proc._kill_waiters:
            del worker.channels[channel]

    async def _place(self) -> _Worker:
        while True:
            if self._closing or not self._started:
                raise RuntimeError("this Pool is closed" if self._closing else
                                   "use `async with Pool(...)` (or await start()) first")
            ready = [w for w in self._slots if w is not None and w.alive and w.ready.is_set()]
            if not ready and len(self._given_up) == self.workers:
                raise RuntimeError("every worker of this Pool keeps dying (see stderr)")
            if ready:
                self._turn += 1
                n = len(ready)
                return min(ready, key=lambda w: (w.live, (w.index - self._turn) % n))
            await self._wait_change()

    # -- programs ----------
    async def load(self, program: PathLike | bytes | PoolModule) -> PoolModule:
        """Compile ``program`` (a ``.c``, ``.wasm`` or ``.cwasm`` path) once into the shared
        on-disk caches and have every worker load it; pass the result to
        :meth:`create_cage_exec`."""
        if isinstance(program, PoolModule):
            return program
        if isinstance(program, bytes | bytearray):
            raise TypeError("Pool.load takes a path; pass a module's bytes straight to "
                            "create_cage_exec")
        module = await self._compiled(program)
        workers = [w for w in self._slots if w is not None and w.alive and w.ready.is_set()]
        for i, batch in enumerate((workers[:1], workers[1:])):
            errors: list[BaseException] = []
            async with anyio.create_task_group() as tg:
                for w in batch:
                    tg.start_soon(self._load_in, w, module, errors)
            if errors and i == 0:
                raise errors[0]
        return module

    async def _compiled(self, program: PathLike) -> PoolModule:
        """``program`` as a module path: a C source is compiled (cached on disk by content)."""
        path = os.path.realpath(program)
        if not path.endswith(".c"):
            return PoolModule(path)
        st = os.stat(path)
        key = (path, st.st_mtime_ns, st.st_size)
        hit = self._c_modules.get(key)
        if hit is None:
            from lind_async.toolchain.cc import compile_cached

            hit = os.fspath(await anyio.to_thread.run_sync(compile_cached, Path(path)))
            self._c_modules[key] = hit
        return PoolModule(hit)

    async def _load_in(self, worker: _Worker, module: PoolModule,
                       errors: list[BaseException]) -> None:
        wait = _Load()
        channel = self._channel()
        worker.channels[channel] = wait
        try:
            program = await self._wire_program(worker, module)
        except Exception as exc:
            worker.channels.pop(channel, None)
            errors.append(exc)
            return
        worker.link.send(wire.frame(wire.LOAD, channel, pickle.dumps(program) + b"\0"))
        await wait.done.wait()
        if wait.error is not None:
            errors.append(wait.error)

    async def _wire_program(self, worker: _Worker, program: Any) -> Any:
        if self._ray is not None:
            return await self._ray.ensure(worker.link, program)
        if isinstance(program, PoolModule):
            return program.path
        return program

    def _channel(self) -> int:
        self._next_channel = self._next_channel % 0xFFFFFFFE + 1
        return self._next_channel

    # -- cages ----------
    async def create_cage_exec(
        self,
        program: PathLike | bytes | PoolModule,
        *args: str | bytes,
        stdin: Any = None,
        stdout: Any = None,
        stderr: Any = None,
        env: Mapping[str, str] | Sequence[str | bytes] | None = None,
        cwd: PathLike | bytes | None = None,
        grates: Sequence[Grate] | None = None,
        limits: Limits | None = None,
        root: PathLike | None = None,
        argv0: str | bytes | None = None,
        limit: int = READ_LIMIT,
    ) -> PoolProcess:
        """Start ``program`` in a new cage on the least-loaded worker; the arguments are
        :meth:`lind_async.Microvisor.create_cage_exec`'s (``grates`` and ``limits`` default
        to the pool's). Returns a :class:`PoolProcess` (``CageProcess``'s interface)."""
        if limit <= 0:
            raise ValueError("Limit cannot be <= 0")
        wire_program = await self._normalize(program)
        worker = await self._place()
        fds: list[int] = []
        specs = tuple(
            _spec(s, name, fds, worker.link.remote_fds)
            for s, name in ((stdin, "stdin"), (stdout, "stdout"), (stderr, "stderr"))
        )
        if specs[0] == "stdout" or specs[1] == "stdout":
            raise ValueError("STDOUT is only meaningful for stderr")
        request = SpawnRequest(
            program=await self._wire_program(worker, wire_program),
            args=tuple(args),
            stdio=specs,
            nfds=len(fds),
            env=dict(env) if isinstance(env, Mapping) else None if env is None else list(env),
            cwd=cwd if cwd is None or isinstance(cwd, bytes) else os.fspath(cwd),
            grates=self._grates if grates is None else tuple(grates),
            limits=self._limits if limits is None else limits,
            root=None if root is None else os.path.realpath(root),
            argv0=argv0 if argv0 is not None else _argv0(program),
            limit=limit,
        )
        payload = pickle.dumps(request) + bytes((len(fds),))  # (server.py: _count_fds)
        channel = self._channel()
        proc = PoolProcess(worker.link.send, channel,
                           (stdin == PIPE, stdout == PIPE, stderr == PIPE), limit, worker.index)
        proc._register = lambda: worker.channels.__setitem__(channel, proc)
        worker.channels[channel] = proc
        worker.live += 1
        if fds:
            worker.link.send_fds(fds)
        worker.link.send(wire.frame(wire.SPAWN, channel, payload))
        await proc._wait_spawned()
        return proc

    async def _normalize(self, program: Any) -> Any:
        if isinstance(program, PoolModule):
            return program
        if isinstance(program, bytes | bytearray):
            return bytes(program)
        if isinstance(program, str | os.PathLike):
            if self._ray is not None:  # the module travels: compile here, once
                return await self._compiled(program)
            return os.path.realpath(program)
        raise TypeError(
            f"a pool takes a program's path or bytes (or Pool.load's result), not "
            f"{type(program).__name__}: a module loaded by a Microvisor cannot cross to a worker"
        )

    # -- introspection ----------
    def stats(self) -> dict[str, Any]:
        """Per worker: its pid and live cages; for monitoring and tests."""
        return {
            "workers": [
                {"index": w.index, "pid": w.link.pid, "cages": w.live,
                 "ready": w.alive and w.ready.is_set()}
                for w in self._slots if w is not None
            ]
        }


def _spec(spec: Any, name: str, fds: list[int], remote_fds: bool) -> Any:
    if spec is None:
        return None
    if isinstance(spec, bool):
        raise TypeError(f"{name}: expected None, PIPE, DEVNULL, an fd or a file object")
    if spec == PIPE:
        return "pipe"
    if spec == DEVNULL:
        return "devnull"
    if spec == STDOUT:
        return "stdout"
    metadata = False
    if isinstance(spec, HostStdio):
        spec, metadata = spec.file, spec.metadata
    if isinstance(spec, int) and spec < 0:
        raise ValueError(f"{name}: bad value {spec}")
    if not (isinstance(spec, int) or hasattr(spec, "fileno")):
        raise TypeError(f"{name}: expected None, PIPE, DEVNULL, an fd or a file object")
    if not remote_fds:
        raise ValueError(f"{name}: a host fd cannot be passed to a remote worker")
    fd = spec if isinstance(spec, int) else spec.fileno()
    try:
        os.fstat(fd)
    except OSError as exc:
        raise ValueError(f"{name}: {fd} is not an open file descriptor ({exc.strerror})") from None
    fds.append(fd)
    return ("fd", len(fds) - 1, metadata)


def _argv0(program: Any) -> str | bytes:
    if isinstance(program, PoolModule):
        return program.path
    if isinstance(program, str | os.PathLike):
        return os.fspath(program)
    return "cage"


def _remove_tree(path: str) -> None:
    def force(func: object, p: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o700)
        with contextlib.suppress(OSError):
            os.chmod(p, 0o700)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, onerror=force)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)

    if os.path.exists(path):
        shutil.rmtree(path, onerror=force)
