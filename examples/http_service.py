"""An HTTP service that runs a compiled program in a fresh cage per request (aiohttp).

    python examples/http_service.py PROGRAM [--port 8080] [--timeout 5] [--memory 64M] ...
    python examples/http_service.py PROGRAM --workers 4   # cages on 4 worker processes

``POST /`` (any path) runs PROGRAM with the request body as its stdin and answers its stdout:

- ``200`` and the output when it exits with status 0;
- ``500`` with ``exit status N`` (``-N``: killed by signal N) when it fails;
- ``504`` when it runs longer than ``--timeout`` seconds (the cage and all it started are killed);
- ``413`` when the body is larger than ``--max-body``; ``400`` for bad arguments
  (``?arg=A&arg=B`` are passed to the program; at most 16, no NUL bytes);
- ``502`` when the output is larger than ``--max-output`` (the cage is killed).

Theory of operation
-------------------
One :class:`lind_async.Microvisor` (one engine, the program compiled once) serves every request.
Each request takes a root directory from a pool, runs its cage there (``root=``: the cage's
``/``, its own world of paths, process ids and signals), kills whatever the cage left running,
then empties the directory before it goes back to the pool. So a cage starts in an empty root and
never sees another request's files; the pool also bounds how many cages run at once (requests
beyond it wait their turn). Roots are reused rather than made per request because the microvisor
keeps each root it has seen (and a directory fd for it) until it closes.

With ``--workers N`` the cages run in a :class:`lind_async.Pool` of N worker processes (one
microvisor each, the program compiled once into the shared module cache) instead of this
process's microvisor: the same calls, with each request's stdin and stdout carried over the
pool's unix sockets. Use it when the cages' own work (computing, starting) is what fills a core;
``docs/scaling.md`` says when.

Limits per cage: ``--memory`` (linear memory, :class:`lind_async.Limits`), ``--timeout`` (wall
clock, and the same CPU budget), 64 fds, 16 children.

:func:`bench_requests` measures this service's throughput against the same program built natively
by gcc and run with :func:`asyncio.create_subprocess_exec`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import ClientSession, TCPConnector, web

import lind_async

UPPER = Path(__file__).with_name("upper.c")
MAX_ARGS = 16


@dataclass(frozen=True)
class Config:
    program: Path
    timeout: float = 5.0
    memory: int = 64 << 20
    max_body: int = 1 << 20
    max_output: int = 1 << 20
    concurrency: int = 16
    workers: int = 0  # 0: one microvisor in this process; N: a lind_async.Pool of N workers


class OutputTooLarge(Exception):
    pass


class Service:
    """The cages behind the HTTP handler: a microvisor, the loaded program and a pool of roots."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._base = Path(tempfile.mkdtemp(prefix="lind-http-"))
        self._roots: asyncio.Queue[Path] = asyncio.Queue()
        for i in range(config.concurrency):
            root = self._base / f"root{i}"
            root.mkdir(mode=0o700)
            self._roots.put_nowait(root)
        self._mv: lind_async.Microvisor | lind_async.Pool = (
            lind_async.Pool(workers=config.workers, root=self._base)
            if config.workers
            else lind_async.Microvisor(root=self._base)
        )
        self._module: object = None

    async def start(self) -> None:
        await self._mv.start()
        self._module = await self._mv.load(self.config.program)

    async def close(self) -> None:
        await self._mv.aclose()
        await asyncio.to_thread(shutil.rmtree, self._base, onerror=_force_remove)

    async def run(self, body: bytes, args: Sequence[str]) -> tuple[int, bytes]:
        """Run the program once; returns ``(http_status, response_body)``."""
        cfg = self.config
        root = await self._roots.get()
        try:
            proc = await self._mv.create_cage_exec(
                self._module,  # type: ignore[arg-type]
                *args,
                stdin=lind_async.PIPE,
                stdout=lind_async.PIPE,
                stderr=lind_async.DEVNULL,
                root=root,
                limits=lind_async.Limits(
                    memory=cfg.memory, cpu_time=cfg.timeout, fds=64, children=16
                ),
            )
            try:
                out = await asyncio.wait_for(_collect(proc, body, cfg.max_output), cfg.timeout)
            except TimeoutError:
                return 504, b"timed out after %gs\n" % cfg.timeout
            except OutputTooLarge:
                return 502, b"output larger than %d bytes\n" % cfg.max_output
            finally:
                await proc.kill_all()  # what it left running (or all of it, on error)
            status = await proc.wait()  # already exited: _collect waited
            if status != 0:
                return 500, b"exit status %d\n" % status
            return 200, out
        finally:
            await asyncio.to_thread(_empty, root)
            self._roots.put_nowait(root)

    async def handle(self, request: web.Request) -> web.Response:
        args = request.query.getall("arg", [])
        if len(args) > MAX_ARGS or any("\0" in a for a in args):
            return web.Response(status=400, text="bad arguments\n")
        try:
            body = await request.read()  # aiohttp answers 413 past client_max_size
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text="body too large\n")
        status, out = await self.run(body, args)
        return web.Response(status=status, body=out, content_type="application/octet-stream")


async def _collect(
    proc: lind_async.CageProcess | lind_async.PoolProcess, body: bytes, cap: int
) -> bytes:
    """Feed ``body`` to stdin and read stdout to its end (at most ``cap`` bytes), then wait."""
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    async def feed() -> None:
        try:
            if body:
                stdin.write(body)
                await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the program exited without reading it all
        finally:
            stdin.close()

    feeder = asyncio.create_task(feed())
    try:
        chunks: list[bytes] = []
        size = 0
        while chunk := await proc.stdout.read(1 << 16):
            size += len(chunk)
            if size > cap:
                raise OutputTooLarge
            chunks.append(chunk)
        await proc.wait()
        await feeder
        return b"".join(chunks)
    finally:
        feeder.cancel()


def _force_remove(func: object, path: str, _exc: object) -> None:
    """rmtree's error hook: a cage may have left a directory without write or search permission."""
    parent = os.path.dirname(path)
    with contextlib.suppress(OSError):
        os.chmod(parent, stat.S_IRWXU)
    with contextlib.suppress(OSError):
        os.chmod(path, stat.S_IRWXU)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, onerror=_force_remove)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _empty(root: Path) -> None:
    """Remove everything a cage left in ``root`` (whatever permissions it set)."""
    os.chmod(root, 0o700)
    for entry in os.scandir(root):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, onerror=_force_remove)
        else:
            os.unlink(entry.path)


def make_app(config: Config) -> web.Application:
    """The aiohttp application; the service starts and stops with it."""
    app = web.Application(client_max_size=config.max_body)
    service = Service(config)

    async def lifetime(_app: web.Application) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.close()

    app.cleanup_ctx.append(lifetime)
    app.router.add_route("POST", "/{tail:.*}", service.handle)
    return app


@contextlib.asynccontextmanager
async def serving(config: Config, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run the service on an ephemeral port for the block; yields its base URL."""
    async with _serving_app(make_app(config), host) as url:
        yield url


@contextlib.asynccontextmanager
async def _serving_app(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def bench_workers(n: int, workers: int, concurrency: int = 8) -> float:
    """Requests/second of this service with its cages on a pool of ``workers`` processes."""
    body = b"hello, benchmark\n" * 64
    expected = body.upper()
    config = Config(program=UPPER, concurrency=concurrency, workers=workers)
    async with serving(config) as url, ClientSession(connector=TCPConnector(limit=0)) as http:

        async def service_once() -> None:
            async with http.post(url, data=body) as resp:
                assert resp.status == 200 and await resp.read() == expected

        for _ in range(2 * workers):  # warm up every worker
            await service_once()
        return await _rate(n, concurrency, service_once)


async def bench_requests(n: int, concurrency: int = 8) -> dict[str, float]:
    """Requests/second: ``n`` POSTs to this service running ``examples/upper.c`` (``concurrency``
    in flight) vs the same program built by gcc, run as a process per request in two ways: behind
    the same aiohttp server and client (``native_http_rps``, like for like: only what runs the
    program differs) and bare, ``create_subprocess_exec`` with no HTTP at all (``native_rps``)."""
    body = b"hello, benchmark\n" * 64
    expected = body.upper()
    with tempfile.TemporaryDirectory() as tmp:
        native = Path(tmp) / "upper"
        subprocess.run(["gcc", "-O2", "-o", str(native), str(UPPER)], check=True)

        async def native_once() -> None:
            out = await _run_native(native, body)
            assert out == (0, expected)

        native_rps = await _rate(n, concurrency, native_once)
        native_http_rps = await _http_rate(_native_app(native, concurrency), n, concurrency,
                                           body, expected)
    service_rps = await _http_rate(make_app(Config(program=UPPER, concurrency=concurrency)), n,
                                   concurrency, body, expected)
    return {
        "requests": float(n),
        "concurrency": float(concurrency),
        "service_rps": service_rps,
        "native_http_rps": native_http_rps,
        "native_rps": native_rps,
        "service_vs_native_http": service_rps / native_http_rps,
    }


async def _run_native(exe: Path, body: bytes) -> tuple[int, bytes]:
    proc = await asyncio.create_subprocess_exec(
        str(exe), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    out, _ = await proc.communicate(body)
    return proc.returncode or 0, out


def _native_app(exe: Path, concurrency: int) -> web.Application:
    """The benchmark's like-for-like baseline: the same routes, a host process per request
    (``concurrency`` at once, as the service's root pool allows). No sandbox: not for serving."""
    gate = asyncio.Semaphore(concurrency)

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        async with gate:
            status, out = await _run_native(exe, body)
        if status != 0:
            return web.Response(status=500, text=f"exit status {status}\n")
        return web.Response(body=out, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    return app


async def _http_rate(app: web.Application, n: int, concurrency: int, body: bytes,
                     expected: bytes) -> float:
    """Requests/second of ``app`` on an ephemeral port, one warm-up request first."""
    async with _serving_app(app) as url, ClientSession(connector=TCPConnector(limit=0)) as http:

        async def once() -> None:
            async with http.post(url, data=body) as resp:
                assert resp.status == 200 and await resp.read() == expected

        await once()  # warm up: the first request may compile the program
        return await _rate(n, concurrency, once)


async def _rate(n: int, concurrency: int, once: object) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await once()  # type: ignore[operator]

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return n / (time.perf_counter() - start)


def _size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text and text[-1].upper() in units:
        return int(text[:-1]) * units[text[-1].upper()]
    return int(text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="POST the program's stdin; ?arg=A&arg=B become its arguments.",
    )
    parser.add_argument(
        "program",
        nargs="?",
        type=Path,
        default=UPPER,
        help="the .c, .wasm or .cwasm program (default: examples/upper.c)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per request")
    parser.add_argument(
        "--memory",
        type=_size,
        default=64 << 20,
        help="linear memory per cage (suffixes K, M, G; default 64M)",
    )
    parser.add_argument("--max-body", type=_size, default=1 << 20, help="largest request body")
    parser.add_argument("--max-output", type=_size, default=1 << 20, help="largest response")
    parser.add_argument("--concurrency", type=int, default=16, help="cages running at once")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="run the cages on a lind_async.Pool of N worker processes (default: in this one)",
    )
    parser.add_argument(
        "--bench",
        type=int,
        metavar="N",
        help="instead of serving, run bench_requests(N) and print the result",
    )
    ns = parser.parse_args(argv)
    if ns.bench:
        print(asyncio.run(bench_requests(ns.bench)))
        return
    config = Config(
        ns.program, ns.timeout, ns.memory, ns.max_body, ns.max_output, ns.concurrency, ns.workers
    )
    web.run_app(make_app(config), host=ns.host, port=ns.port)


if __name__ == "__main__":
    main(sys.argv[1:])
