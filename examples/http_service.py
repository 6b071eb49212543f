"""An HTTP service that runs a compiled program in a fresh cage per request (aiohttp).

    python examples/http_service.py PROGRAM [--port 8080] [--timeout 5] [--memory 64M] ...
    python examples/http_service.py PROGRAM --workers 4   # 4 server processes on one port
    python examples/http_service.py PROGRAM --pool 4      # one server, cages on 4 processes

``POST /`` (any path) runs PROGRAM with the request body as its stdin and answers its stdout:

- ``200`` and the output when it exits with status 0;
- ``500`` with ``exit status N`` (``-N``: killed by signal N) when it fails;
- ``504`` when it runs longer than ``--timeout`` seconds, by the wall clock or by its CPU budget
  of as many seconds (``SIGXCPU``: the cage and all it started are killed);
- ``413`` when the body is larger than ``--max-body``; ``400`` for bad arguments
  (``?arg=A&arg=B`` are passed to the program; at most 16, no NUL bytes);
- ``502`` when the output is larger than ``--max-output`` (the cage is killed).

Every response names the server process that answered in ``X-Worker-Pid``.

Theory of operation
-------------------
One :class:`lind_async.Microvisor` (one engine, the program compiled once) serves every request
of a server process. Each request takes a root directory from a :class:`lind_async.RootPool`,
runs its cage there (``root=``: the cage's ``/``, its own world of paths, process ids and
signals) with ``Microvisor.run`` (the body as stdin, stdout captured, a deadline and an output
cap; whatever the cage left running is killed before it returns), and gives the root back,
emptied first if the cage left anything (inotify says which roots changed). So a cage starts in
an empty root and never sees another request's files; the pool also bounds how many cages run
at once (requests beyond it wait their turn). Roots are reused rather than made per request
because the microvisor keeps each root it has seen (and a directory fd for it) until it closes.
A request costs no task of its own beyond aiohttp's, and no process or stream objects:
``Microvisor.run`` puts the body in the cage's stdin pipe before it starts and reads its stdout
pipe once at the end (``lind_async/embed/capture.py``).

``--workers N`` (N > 1) runs N such server processes, each with its own event loop and its own
microvisor, as pre-forking servers (gunicorn, uvicorn, nginx) do: this process becomes a
*supervisor* that reserves the port (a socket bound with ``SO_REUSEPORT``, never listening),
starts the workers (this script again, with ``--worker-of``), each binding its own listening
socket to that port with ``SO_REUSEPORT``, so the kernel spreads connections over the workers;
it prints ``serving on URL`` once every worker is ready, restarts a worker that dies (one that
keeps dying before it is ready stops the service), and on ``SIGINT``/``SIGTERM`` stops them all
(``SIGTERM``, then ``SIGKILL`` after a grace period) and exits. A worker asks the kernel for a
``SIGTERM`` when the supervisor dies, so none outlives it; a worker's own ``SIGTERM`` closes its
microvisor and removes its roots. No request crosses a process boundary beyond the kernel's
accept, so N workers use N cores.

``--pool N`` keeps one server process and runs the cages in a :class:`lind_async.Pool` of N
worker processes (one microvisor each) with ``create_cage_exec`` and the process's streams,
each request's stdin and stdout carried over the pool's unix sockets. That is the shape for an
embedder that has one front process; ``docs/scaling.md`` compares the two (measured).

Limits per cage: ``--memory`` (linear memory, :class:`lind_async.Limits`), ``--timeout`` (wall
clock, and the same CPU budget), 64 fds, 16 children. A program that computes without pause
reaches both at about the same moment (its CPU time is charged a slice per preemption), so
either ending answers ``504``: which one fires first depends on the machine's load.

``benchmarks/bench_http.py`` measures this service against the same program built natively by
gcc, run as a process per request behind the same server (both with as many server processes
as cores); ``benchmarks/bench_scale.py``
measures ``--workers 2`` against ``--workers 1``; both drive it with an external C client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from multidict import CIMultiDict

import lind_async
from lind_async.embed.roots import RootPool, force_remove
from lind_async.toolchain.zig import ToolchainError
from lind_async.wasm.engine import ModuleError

UPPER = Path(__file__).with_name("upper.c")
MAX_ARGS = 16
PR_SET_PDEATHSIG = 1
STOP_GRACE = 10.0  # seconds a worker has to stop after SIGTERM before it is killed
START_FAILURES = 3  # a worker dying this many times in a row before it is ready stops the service


def _answer(status: int, out: bytes, timeout: float) -> tuple[int, bytes]:
    """The HTTP answer for a cage that ended with ``status`` (``-N``: killed by signal N)."""
    if status == 0:
        return 200, out
    if status == -signal.SIGXCPU:  # its CPU budget, --timeout seconds, ran out
        return 504, b"timed out after %gs\n" % timeout
    return 500, b"exit status %d\n" % status


@dataclass(frozen=True)
class Config:
    program: Path
    timeout: float = 5.0
    memory: int = 64 << 20
    max_body: int = 1 << 20
    max_output: int = 1 << 20
    concurrency: int = 16
    pool: int = 0  # 0: one microvisor in this process; N: a lind_async.Pool of N processes


class OutputTooLarge(Exception):
    pass


class Service:
    """The cages behind the HTTP handler: a microvisor, the loaded program and a pool of roots."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._base = Path(tempfile.mkdtemp(prefix="lind-http-"))
        self._roots = RootPool(self._base, config.concurrency)
        self._mv: lind_async.Microvisor | lind_async.Pool = (
            lind_async.Pool(workers=config.pool, root=self._base)
            if config.pool
            else lind_async.Microvisor(root=self._base)
        )
        self._module: object = None
        self._limits = lind_async.Limits(
            memory=config.memory, cpu_time=config.timeout, fds=64, children=16
        )
        self._headers = {"X-Worker-Pid": str(os.getpid())}
        # An answer's headers, made once (aiohttp copies them; given a content_type it builds
        # them again per response: ~3 us)
        self._answer = CIMultiDict(self._headers, **{"Content-Type": "application/octet-stream"})

    async def start(self) -> None:
        await self._mv.start()
        self._module = await self._mv.load(self.config.program)

    async def close(self) -> None:
        await self._mv.aclose()
        self._roots.close()
        await asyncio.to_thread(shutil.rmtree, self._base, onerror=force_remove)

    async def run(self, body: bytes, args: Sequence[str]) -> tuple[int, bytes]:
        """Run the program once; returns ``(http_status, response_body)``."""
        cfg = self.config
        root = await self._roots.take()
        try:
            if not isinstance(self._mv, lind_async.Microvisor):
                return await self._run_pooled(body, args, root)
            try:
                done = await self._mv.run(
                    self._module,  # type: ignore[arg-type]
                    *args,
                    input=body,
                    root=root,
                    limits=self._limits,
                    timeout=cfg.timeout,
                    max_output=cfg.max_output,
                )
            except TimeoutError:
                return 504, b"timed out after %gs\n" % cfg.timeout
            except lind_async.OutputTooLarge:
                return 502, b"output larger than %d bytes\n" % cfg.max_output
            return _answer(done.returncode, done.stdout, cfg.timeout)
        finally:
            await self._roots.give_back(root)  # emptied if the cage left anything

    async def _run_pooled(self, body: bytes, args: Sequence[str], root: str) -> tuple[int, bytes]:
        """:meth:`run` on a :class:`lind_async.Pool` (``create_cage_exec``, as an embedder
        with one front process would)."""
        cfg = self.config
        proc = await self._mv.create_cage_exec(
            self._module,  # type: ignore[arg-type]
            *args,
            stdin=lind_async.PIPE,
            stdout=lind_async.PIPE,
            stderr=lind_async.DEVNULL,
            root=root,
            limits=self._limits,
        )
        try:
            async with asyncio.timeout(cfg.timeout):
                out = await _collect(proc, body, cfg.max_output)
        except TimeoutError:
            return 504, b"timed out after %gs\n" % cfg.timeout
        except OutputTooLarge:
            return 502, b"output larger than %d bytes\n" % cfg.max_output
        finally:
            await proc.kill_all()  # what it left running (or all of it, on error)
        status = proc.returncode  # it has exited: _collect waited
        if status is None:
            return 500, b"exit status unknown\n"
        return _answer(status, out, cfg.timeout)

    async def handle(self, request: web.Request) -> web.Response:
        args = request.query.getall("arg", []) if request.query_string else ()
        if len(args) > MAX_ARGS or any("\0" in a for a in args):
            return web.Response(status=400, text="bad arguments\n", headers=self._headers)
        try:
            body = await request.read()  # aiohttp answers 413 past client_max_size
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text="body too large\n", headers=self._headers)
        status, out = await self.run(body, args)
        return web.Response(status=status, body=out, headers=self._answer)


async def _collect(
    proc: lind_async.CageProcess | lind_async.PoolProcess, body: bytes, cap: int
) -> bytes:
    """Give ``body`` to stdin (buffered, then end-of-file: a program that exits without
    reading it all just drops the rest) and read stdout to its end (at most ``cap`` bytes),
    then wait for the exit."""
    assert proc.stdin is not None and proc.stdout is not None
    if body:
        proc.stdin.write(body)
    proc.stdin.close()
    chunks: list[bytes] = []
    size = 0
    while chunk := await proc.stdout.read(1 << 16):
        size += len(chunk)
        if size > cap:
            raise OutputTooLarge
        chunks.append(chunk)
    await proc.wait()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def make_app(config: Config) -> web.Application:
    """The aiohttp application; the service starts and stops with it."""
    app = web.Application(client_max_size=config.max_body)
    service = Service(config)

    async def lifetime(_app: web.Application) -> AsyncIterator[None]:
        try:
            await service.start()
        except BaseException:
            await service.close()  # a program that does not load leaves no roots behind
            raise
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


def listen_socket(host: str, port: int, *, reuse_port: bool, listen: bool) -> socket.socket:
    """A TCP socket bound to ``(host, port)``; ``reuse_port``: with ``SO_REUSEPORT``, so several
    processes' sockets share the port and the kernel spreads new connections over those that
    listen."""
    family, kind, proto, _, addr = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
        if listen:
            sock.listen(1024)
            sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def base_url(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def new_loop(kind: str = "uvloop") -> asyncio.AbstractEventLoop:
    """A new event loop: ``uvloop`` or ``asyncio``'s own."""
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def serve(config: Config, sock: socket.socket, ready: Callable[[], object],
          loop: str = "uvloop") -> None:
    """Serve ``config`` on the listening ``sock`` in this process until ``SIGINT`` or ``SIGTERM``;
    ``ready()`` is called once the program is loaded and requests are served. A program that
    cannot be compiled or loaded ends the process with status 1 and one line on stderr."""
    try:
        serve_app(make_app(config), sock, ready, loop, shutdown_timeout=config.timeout + 1)
    except (ToolchainError, ModuleError, OSError) as exc:
        print(f"http_service: cannot serve {config.program}: {exc}", file=sys.stderr)
        sys.exit(1)


def serve_app(app: web.Application, sock: socket.socket, ready: Callable[[], object],
              loop: str = "uvloop", shutdown_timeout: float = 60.0) -> None:
    """Run ``app`` on ``sock`` on a new ``loop`` (``serve``'s set-up, also the benchmark's
    baseline server's)."""

    async def announce(_app: web.Application) -> None:
        gc.collect()
        gc.freeze()  # what start-up made lives on: keep it out of every later collection
        ready()

    app.on_startup.append(announce)  # after cleanup_ctx's start: the service is up
    web.run_app(app, sock=sock, print=None, loop=new_loop(loop),
                shutdown_timeout=shutdown_timeout)


def _worker_main(config: Config, host: str, port: int, ready_fd: int, parent: int,
                 loop: str) -> None:
    """One of ``--workers N``: ask for ``SIGTERM`` when the supervisor dies, bind the shared
    port, serve, and say so on ``ready_fd`` (this process's pid)."""
    worker_setup(parent)
    sock = listen_socket(host, port, reuse_port=True, listen=True)
    serve(config, sock, lambda: say_ready(ready_fd), loop)


def worker_setup(parent: int) -> None:
    """A supervisor's worker: ``SIGTERM`` when the supervisor (pid ``parent``) dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the supervisor died before the prctl
        sys.exit(1)


def say_ready(ready_fd: int) -> None:
    """A worker tells its supervisor it serves: its pid on ``ready_fd``."""
    with contextlib.suppress(OSError):
        os.write(ready_fd, b"%d\n" % os.getpid())
        os.close(ready_fd)


class Supervisor:
    """``--workers N``: start N server processes on one port, replace any that dies, stop them
    all on ``SIGINT``/``SIGTERM``. Reports one line per event on stdout."""

    def __init__(self, worker_argv: list[str], workers: int, host: str, port: int) -> None:
        self.worker_argv = worker_argv
        self.workers = workers
        self.host = host
        self.port = port
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self.stopping = False
        self.failed = False
        self._tmp = Path(tempfile.mkdtemp(prefix="lind-http-workers-"))
        self._started = 0

    async def run(self) -> int:
        reserve = listen_socket(self.host, self.port, reuse_port=True, listen=False)
        self.port = reserve.getsockname()[1]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signo in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signo, stop.set)
        ready = [asyncio.Event() for _ in range(self.workers)]
        slots = [asyncio.create_task(self._keep(i, ready[i], stop)) for i in range(self.workers)]
        try:
            started = asyncio.ensure_future(_all_set(ready))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait((started, stopped), return_when=asyncio.FIRST_COMPLETED)
            if not stopped.done():
                _say(f"serving on {base_url(self.host, reserve)} ({self.workers} workers)")
            await stopped
            started.cancel()
        finally:
            self.stopping = True
            await self._stop_all()
            # Each slot ends once its worker is gone (one started meanwhile is stopped by its
            # slot); what is still there after the grace is killed.
            _, late = await asyncio.wait(slots, timeout=STOP_GRACE)
            for proc in list(self.procs.values()):
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            for slot in late:
                slot.cancel()
            await asyncio.gather(*slots, return_exceptions=True)
            reserve.close()
            await asyncio.to_thread(shutil.rmtree, self._tmp, onerror=force_remove)
        return 1 if self.failed else 0

    async def _keep(self, index: int, ready: asyncio.Event, stop: asyncio.Event) -> None:
        """Slot ``index``: run a worker, and another when it dies, until the service stops."""
        failures = 0
        while not self.stopping:
            tmp = self._tmp / str(self._started)
            self._started += 1
            tmp.mkdir()
            proc, came_up = await self._start(index, tmp)
            if came_up:
                failures = 0
                ready.set()
            status = await proc.wait()
            self.procs.pop(index, None)
            # What a killed worker could not remove (its roots, its cages' /tmp) goes now.
            await asyncio.to_thread(shutil.rmtree, tmp, onerror=force_remove)
            if self.stopping:
                return
            what = f"signal {-status}" if status < 0 else f"status {status}"
            if not came_up:
                failures += 1
                if failures >= START_FAILURES:
                    _say(f"worker {index} (pid {proc.pid}) failed to start {failures} times "
                         f"({what}); stopping")
                    self.failed = True
                    stop.set()
                    return
            _say(f"worker {index} (pid {proc.pid}) exited ({what}); starting another")
            await asyncio.sleep(0.2 * failures)

    async def _start(self, index: int, tmp: Path) -> tuple[asyncio.subprocess.Process, bool]:
        """Start worker ``index`` with ``tmp`` as its ``TMPDIR``; whether it became ready
        (``False``: it exited first)."""
        rfd, wfd = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.worker_argv, "--worker-of", f"{os.getpid()},{self.port},{wfd}",
                pass_fds=(wfd,), stdin=asyncio.subprocess.DEVNULL,
                env={**os.environ, "TMPDIR": str(tmp)},
            )
        finally:
            os.close(wfd)
        self.procs[index] = proc
        if self.stopping:  # the stop began while it started
            proc.terminate()
        line = await _read_line(rfd)
        if line.strip() != str(proc.pid).encode():
            return proc, False
        _say(f"worker {index} ready (pid {proc.pid})")
        return proc, True

    async def _stop_all(self) -> None:
        """``SIGTERM`` every worker, ``SIGKILL`` what is left after :data:`STOP_GRACE`."""
        procs = list(self.procs.values())
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        waits = [asyncio.ensure_future(p.wait()) for p in procs]
        if not waits:
            return
        await asyncio.wait(waits, timeout=STOP_GRACE)
        for proc in procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        await asyncio.gather(*waits, return_exceptions=True)


async def _all_set(events: list[asyncio.Event]) -> None:
    for event in events:
        await event.wait()


async def _read_line(fd: int) -> bytes:
    """What a worker writes on its ready pipe (empty if it exits before it is ready); closes
    ``fd``."""
    reader = asyncio.StreamReader()
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0)
    )
    try:
        return await reader.readline()
    finally:
        transport.close()


def _say(line: str) -> None:
    print(line, flush=True)


def _size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text and text[-1].upper() in units:
        return int(text[:-1]) * units[text[-1].upper()]
    return int(text)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="POST the program's stdin; ?arg=A&arg=B become its arguments. "
        "docs/scaling.md says when to use --workers and when --pool.",
    )
    parser.add_argument(
        "program",
        nargs="?",
        type=Path,
        default=UPPER,
        help="the .c, .wasm or .cwasm program (default: examples/upper.c)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0: any free port")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per request")
    parser.add_argument(
        "--memory",
        type=_size,
        default=64 << 20,
        help="linear memory per cage (suffixes K, M, G; default 64M)",
    )
    parser.add_argument("--max-body", type=_size, default=1 << 20, help="largest request body")
    parser.add_argument("--max-output", type=_size, default=1 << 20, help="largest response")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="cages running at once (per server process)")
    parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="N server processes sharing the port, each with its own microvisor, under a "
        "supervisor that restarts a dead one (default 1: this process serves)",
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=0,
        metavar="N",
        help="one server process whose cages run on a lind_async.Pool of N worker processes",
    )
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                        help="the event loop of each server process (default uvloop)")
    parser.add_argument("--worker-of", help=argparse.SUPPRESS)  # PARENT,PORT,READY_FD
    ns = parser.parse_args(argv)
    if ns.workers > 1 and ns.pool:
        parser.error("--workers and --pool are two ways to use more cores: choose one")
    if not ns.program.is_file():
        parser.error(f"{ns.program}: no such file")
    config = Config(ns.program, ns.timeout, ns.memory, ns.max_body, ns.max_output,
                    ns.concurrency, ns.pool)
    if ns.worker_of:
        parent, port, ready_fd = (int(x) for x in ns.worker_of.split(","))
        _worker_main(config, ns.host, port, ready_fd, parent, ns.loop)
        return 0
    if ns.workers > 1:
        worker_argv = [sys.executable, os.path.abspath(__file__), *argv]
        return asyncio.run(Supervisor(worker_argv, ns.workers, ns.host, ns.port).run())
    try:
        sock = listen_socket(ns.host, ns.port, reuse_port=False, listen=True)
    except OSError as exc:
        parser.exit(1, f"cannot listen on {ns.host}:{ns.port}: {exc.strerror}\n")
    serve(config, sock, lambda: _say(f"serving on {base_url(ns.host, sock)}"), ns.loop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
