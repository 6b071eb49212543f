"""The pool on Ray: ``lind_async.Pool(backend="ray", address=...)``, one microvisor per actor.

Theory of operation
-------------------
Each pool worker is a Ray **async actor** (:class:`CageActor`; Ray runs its methods on an asyncio
loop in the actor's own process) holding one :class:`lind_async.Microvisor` and the same
:class:`server.CageServer` a local worker runs. The pool speaks the same frames (``wire.py``):
:class:`RayLink` batches what the pool sends into ``push(bytes)`` calls, one at a time and in
order, and long-polls ``pull()``, which returns whatever the server queued (``b""`` once it has
shut down). So placement, stdio, signals, exit statuses and a lost worker behave as with local
processes; a lost actor (``RayActorError``) is a lost worker, replaced by a new actor.

Ray does the scheduling: each actor is created with ``ray_options`` (default ``num_cpus=1``), so
Ray places actors by its resources, placement groups or node affinity, not by a scheduler of
ours. **Modules travel once per node, by hash**: the pool hashes a program (compiled here first
if it is C), ``ray.put``\\s its bytes once, and tells each actor its hash before the first spawn
that needs it; the actor writes it to its node's cache directory (``pool-modules/HASH.wasm``)
unless an actor on the same node already did, and only then fetches the object. Host fds cannot
reach another machine: ``stdin=``/``stdout=`` take ``PIPE``, ``DEVNULL``, ``STDOUT`` or ``None``
(the actor's own, i.e. Ray's logs).

``ray`` is imported only when this backend is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections import deque
from pathlib import Path
from typing import Any

import anyio

from lind_async.pool import wire


class CageActor:
    """A pool worker in a Ray actor (made a Ray actor class by :func:`_actor_class`)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.outbox = bytearray()
        self.more: asyncio.Event | None = None
        self.parser = wire.Parser(wire.MAX_TO_WORKER)
        self.server: Any = None
        self.mv: Any = None
        self.closed = False
        self.modules_dir = Path(".")

    async def start(self) -> int:
        from lind_async.embed import Microvisor
        from lind_async.pool.server import CageServer
        from lind_async.runtime.world import default_cache_dir

        config = self.config
        cache = config.get("cache_dir")
        base = Path(cache) if cache is not None else default_cache_dir() / "modules"
        self.modules_dir = base.parent / "pool-modules"
        self.modules_dir.mkdir(parents=True, exist_ok=True)
        root = config["root"]
        os.makedirs(root, exist_ok=True)  # another node may lack the directory
        unix = config.get("host_unix_sockets", False)
        self.mv = Microvisor(
            root=root,
            memory_reservation=config.get("memory_reservation"),
            time_slice=config.get("time_slice", 0.005),
            cache_dir=cache,
            host_unix_sockets=unix if isinstance(unix, bool) else list(unix),
        )
        await self.mv.start()
        self.more = asyncio.Event()
        self.server = CageServer(self.mv, self._send, None, self.modules_dir)
        return os.getpid()

    def _send(self, data: bytes) -> None:
        self.outbox += data
        assert self.more is not None
        self.more.set()

    async def push(self, data: bytes) -> None:
        for kind, channel, payload in self.parser.feed(data):
            if kind == wire.SHUTDOWN:
                await self._shutdown()
                return
            self.server.handle(kind, channel, payload)

    async def pull(self) -> bytes:
        assert self.more is not None
        while not self.outbox and not self.closed:
            self.more.clear()
            await self.more.wait()
        data = bytes(self.outbox)
        self.outbox.clear()
        return data

    async def ensure_module(self, digest: str, suffix: str, refs: list[Any]) -> None:
        """Write the module ``digest`` to this node's cache unless it is there already."""
        path = self.modules_dir / f"{digest}{suffix}"
        if path.exists():
            return
        data = await refs[0]
        if hashlib.sha256(data).hexdigest() != digest:
            raise ValueError("the module's bytes do not match its hash")
        tmp = path.with_name(f".{digest}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    async def _shutdown(self) -> None:
        if self.closed:
            return
        await self.server.close()
        await self.mv.aclose()
        self.closed = True
        assert self.more is not None
        self.more.set()


_ACTOR: Any = None


def _actor_class() -> Any:
    global _ACTOR
    if _ACTOR is None:
        import ray

        _ACTOR = ray.remote(CageActor)
    return _ACTOR


async def _get(ref: Any) -> Any:
    """Await a Ray object: natively on asyncio, from a worker thread on trio."""
    import sniffio

    if sniffio.current_async_library() == "asyncio":
        return await ref
    import ray

    return await anyio.to_thread.run_sync(ray.get, ref)


class RayCluster:
    """The pool's side of Ray: connecting, the actor options, modules by hash."""

    def __init__(self, address: str | None, config: dict[str, Any],
                 options: dict[str, Any]) -> None:
        self.address = address
        self.config = config
        self.options = {"num_cpus": 1, **options}
        self._owned = False
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._refs: dict[str, Any] = {}

    async def start(self) -> None:
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False)
            self._owned = True

    def link(self, index: int) -> RayLink:
        return RayLink(self, index)

    async def ensure(self, link: RayLink, program: Any) -> Any:
        """The wire form of ``program`` for ``link``'s actor, its module sent there first."""
        from lind_async.pool.client import PoolModule

        if not isinstance(program, PoolModule):
            return program  # bytes travel in the spawn request itself
        path = program.path
        st = os.stat(path)
        key = (path, st.st_mtime_ns, st.st_size)
        digest = self._hashes.get(key)
        if digest is None or digest not in self._refs:
            import ray

            data = await anyio.to_thread.run_sync(Path(path).read_bytes)
            digest = hashlib.sha256(data).hexdigest()
            self._hashes[key] = digest
            if digest not in self._refs:
                self._refs[digest] = ray.put(data)
        suffix = ".cwasm" if path.endswith(".cwasm") else ".wasm"
        if digest not in link.modules:
            await _get(link.actor.ensure_module.remote(digest, suffix, [self._refs[digest]]))
            link.modules.add(digest)
        return ("sha256", digest + suffix)

    async def close(self) -> None:
        self._refs.clear()
        if self._owned:
            import ray

            await anyio.to_thread.run_sync(ray.shutdown)


class RayLink:
    """One actor and its frame traffic (``Pool`` drives it as it drives a ``LocalLink``)."""

    remote_fds = False

    def __init__(self, cluster: RayCluster, index: int) -> None:
        self.cluster = cluster
        self.index = index
        self.actor: Any = None
        self.pid = 0
        self.modules: set[str] = set()
        self._queue: deque[bytes] = deque()
        self._wake = anyio.Event()
        self._closed = False
        self._lost = False
        self._shut = False
        self._ready_told = False

    async def start(self) -> None:
        cls = _actor_class()
        self.actor = cls.options(**self.cluster.options).remote(self.cluster.config)
        self.pid = await _get(self.actor.start.remote())

    def send(self, data: bytes) -> None:
        if self._closed:
            return
        if data[4:5] == bytes((wire.SHUTDOWN,)):
            self._shut = True
        self._queue.append(data)
        self._wake.set()

    def send_fds(self, fds: list[int]) -> None:
        raise ValueError("a host fd cannot be passed to a Ray worker")

    async def write_loop(self) -> None:
        while not self._closed:
            if not self._queue:
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            data = b"".join(self._queue)
            self._queue.clear()
            try:
                await _get(self.actor.push.remote(data))
            except Exception:
                return  # the actor is gone: pull reports it

    async def receive(self) -> bytes:
        if not self._ready_told:  # the actor is ready once start() returned
            self._ready_told = True
            return wire.json_frame(wire.READY, 0, {"pid": self.pid})
        try:
            return bytes(await _get(self.actor.pull.remote()))
        except Exception:
            self._lost = True
            return b""

    def describe(self, code: int | None) -> str:
        if code is None:
            return "lost its Ray actor"
        return "shut down"

    async def exit_code(self, timeout: float = 2.0) -> int | None:
        return None if self._lost or not self._shut else 0

    def kill(self) -> None:
        if self.actor is not None:
            import ray

            with contextlib.suppress(Exception):
                ray.kill(self.actor, no_restart=True)

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        self.kill()

