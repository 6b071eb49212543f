"""The HTTP example (a cage per request) vs the same server running a gcc-built process per request.

    python -m benchmarks.bench_http [--quick] [--requests N] [--connections C] [--workers W]

Both servers are ``examples/http_service.py``'s server (aiohttp, the same route, the same request
body handling): one runs ``examples/upper.c`` in a fresh cage per request, the other runs the
same program built by ``gcc -O2`` as a host process per request (``asyncio.create_subprocess_exec``,
at most as many at once as the service has roots). Each runs in processes of its own and is
driven by ``programs/http_load.c``, a small C HTTP/1.1 keep-alive client (C connections, one
request in flight on each, every response's status and body checked) built by gcc here, so the
load generator costs a few microseconds of CPU per request and leaves the cores to the servers
(a Python client in the server's process capped both at its own speed). Both servers are up at
once and measured alternately, best run of each (the machine is shared). A third figure, for
scale, is the bare process per request with no HTTP at all.

Like for like: **both sides run W server processes, W = the CPU count by default**, on one port
(``SO_REUSEPORT``, ``http_service.py --workers W``'s supervisor for both), the way each would be
deployed on this machine. One server process each is not like for like: the cage service then
does all its work on one core, while the process-per-request server's children (fork, exec,
the dynamic loader, exit: about half its CPU per request) run on the other cores, so it used up
to two cores against the service's one. With W = cores both can use every core, and the
requests/s ratio approaches the ratio of the CPU each spends per request (printed in the note:
the server processes and all their children). ``--workers 1`` gives the old one-process figure.
The baseline waits for its children through a pidfd on its loop, as Python 3.12+ does by
default (3.11's default starts a thread per child to wait for it: ~100 us more CPU per request).

``--serve-native EXE`` runs the baseline server (what this module starts; with ``--workers W``
W of them under the supervisor). Helpers here (:func:`build_client`, :class:`Server`,
:func:`load`) also serve ``bench_scale``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.report import Baseline, Figure, format_table, log

HERE = Path(__file__).parent
REPO = HERE.parent
SERVICE = REPO / "examples" / "http_service.py"
UPPER = REPO / "examples" / "upper.c"
CLIENT = HERE / "programs" / "http_load.c"
BODY = b"hello, benchmark\n" * 64  # 1,088 bytes; the answer is the same in upper case
LOOP = "asyncio"  # both servers' loop: uvloop spawns processes at half asyncio's rate here
START_TIMEOUT = 300.0  # the first start may compile the program and build the sysroot


def service_module() -> ModuleType:
    """``examples/http_service.py`` as a module (it is a script, not a package)."""
    name = "_lind_http_service"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SERVICE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def gcc() -> str:
    return shutil.which("gcc") or "cc"


def build_client(work: Path) -> Path:
    """``programs/http_load.c`` built by gcc into ``work``; also writes the request body and the
    expected answer there (``body``, ``expected``)."""
    exe = work / "http_load"
    subprocess.run([gcc(), "-O2", "-o", str(exe), str(CLIENT)], check=True)
    (work / "body").write_bytes(BODY)
    (work / "expected").write_bytes(BODY.upper())
    return exe


@dataclass
class Load:
    requests: int
    seconds: float
    client_cpu: float  # the client's own CPU seconds
    server_cpu: float  # the server process's CPU seconds (and its reaped children's)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def per_request_us(self, cpu: float) -> float:
        return cpu / self.requests * 1e6


def load(client: Path, server: Server, connections: int, requests: int) -> Load:
    """Run the client against ``server``: ``requests`` POSTs over ``connections`` keep-alive
    connections; every answer must be the body in upper case."""
    work = client.parent
    before = server.cpu_seconds()
    out = subprocess.run(
        [str(client), str(server.port), str(connections), str(requests), str(work / "body"),
         str(work / "expected")],
        capture_output=True, text=True, timeout=600,
    )
    after = server.cpu_seconds()
    if out.returncode != 0:
        raise RuntimeError(f"http_load against {server.name}: {out.stdout.strip()} "
                           f"{out.stderr.strip()}")
    got: dict[str, Any] = json.loads(out.stdout)
    return Load(int(got["requests"]), float(got["seconds"]), float(got["cpu_seconds"]),
                after - before)


class Server:
    """A server command run as a process (its own session) until :meth:`stop`; started when it
    prints ``serving on http://HOST:PORT``."""

    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     cwd=REPO, start_new_session=True, text=True)
        self.port = 0
        assert self.proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        for line in self.proc.stdout:
            if line.startswith("serving on "):
                self.port = int(line.split()[2].rsplit(":", 1)[1])
                break
            if time.monotonic() > deadline:
                break
        if not self.port:
            self.stop()
            raise RuntimeError(f"{name} did not start (status {self.proc.returncode})")
        # Later lines (a worker restarted…) must never fill the pipe and stall the server.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def cpu_seconds(self) -> float:
        """CPU time of the server process and of its children it has reaped, and of its live
        worker processes (``--workers``), from ``/proc``."""
        total = _proc_cpu(self.proc.pid, children=True)
        for child in _children(self.proc.pid):
            total += _proc_cpu(child, children=True)
        return total

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _proc_cpu(pid: int, *, children: bool) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@contextlib.contextmanager
def serving(name: str, *args: str) -> Iterator[Server]:
    """``examples/http_service.py ARGS…`` on a free port, for the block."""
    server = Server(name, [sys.executable, str(SERVICE), "--port", "0", *args])
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def serving_native(exe: Path, concurrency: int, loop: str, workers: int = 1) -> Iterator[Server]:
    server = Server("process per request", [
        *native_argv(exe, concurrency, loop), "--workers", str(workers)])
    try:
        yield server
    finally:
        server.stop()


def native_argv(exe: Path, concurrency: int, loop: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.bench_http", "--serve-native", str(exe),
            "--concurrency", str(concurrency), "--loop", loop]


def serve_native(exe: Path, concurrency: int, loop: str, workers: int = 1,
                 worker_of: str | None = None) -> int:
    """The like-for-like baseline: ``http_service.py``'s server set-up (``serve_app``: the same
    route and body handling) with a host process per request instead of a cage (at most
    ``concurrency`` at once per server process, as the service's root pool allows), and with
    ``workers`` > 1 the service's own supervisor over that many such processes on one port.
    No sandbox: not for serving."""
    service = service_module()
    if worker_of is not None:  # one of the supervisor's workers: PARENT,PORT,READY_FD
        parent, port, ready_fd = (int(x) for x in worker_of.split(","))
        service.worker_setup(parent)
        sock = service.listen_socket("127.0.0.1", port, reuse_port=True, listen=True)
        service.serve_app(_native_app(exe, concurrency), sock,
                          lambda: service.say_ready(ready_fd), loop)
        return 0
    if workers > 1:
        argv = native_argv(exe, concurrency, loop)
        status: int = asyncio.run(service.Supervisor(argv, workers, "127.0.0.1", 0).run())
        return status
    sock = service.listen_socket("127.0.0.1", 0, reuse_port=False, listen=True)
    url = service.base_url("127.0.0.1", sock)
    service.serve_app(_native_app(exe, concurrency), sock,
                      lambda: print(f"serving on {url}", flush=True), loop)
    return 0


def _native_app(exe: Path, concurrency: int) -> Any:
    from aiohttp import web
    from multidict import CIMultiDict

    gate = asyncio.Semaphore(concurrency)
    headers = {"X-Worker-Pid": str(os.getpid())}
    answer = CIMultiDict(headers, **{"Content-Type": "application/octet-stream"})  # as the service

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        async with gate:
            status, out = await run_native(exe, body)
        if status != 0:
            return web.Response(status=500, text=f"exit status {status}\n", headers=headers)
        return web.Response(body=out, headers=answer)

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    app.on_startup.append(_pidfd_watcher)
    return app


async def _pidfd_watcher(_app: Any = None) -> None:
    """Children waited for through a pidfd on the loop, as Python 3.12+ does by default: 3.11's
    default watcher starts a thread per child to wait for it (~100-200 us more of the server's
    CPU per request, measured), which would flatter the cages."""
    if sys.version_info >= (3, 12):
        return
    watcher = asyncio.PidfdChildWatcher()
    watcher.attach_loop(asyncio.get_running_loop())
    asyncio.set_child_watcher(watcher)


async def run_native(exe: Path, body: bytes) -> tuple[int, bytes]:
    proc = await asyncio.create_subprocess_exec(
        str(exe), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    out, _ = await proc.communicate(body)
    return proc.returncode or 0, out


async def _bare_native_rate(exe: Path, n: int, concurrency: int) -> float:
    """Processes per second, no HTTP: ``n`` runs of ``exe``, ``concurrency`` at once."""
    await _pidfd_watcher()
    gate = asyncio.Semaphore(concurrency)
    expected = (0, BODY.upper())

    async def one() -> None:
        async with gate:
            if await run_native(exe, BODY) != expected:
                raise RuntimeError("the native program answered wrongly")

    try:
        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - start)
    finally:
        if sys.version_info < (3, 12):
            asyncio.set_child_watcher(None)  # type: ignore[arg-type]  # (the default again)


def default_workers() -> int:
    """Server processes per side: the CPU count (what each would be deployed with)."""
    return os.cpu_count() or 1


def measure(requests: int, connections: int, repeat: int, loop: str = LOOP,
            workers: int = 1) -> dict[str, float]:
    """Both servers up at once (``workers`` server processes each), measured alternately; the
    best run of each."""
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        work = Path(tmp)
        client = build_client(work)
        native = work / "upper"
        subprocess.run([gcc(), "-O2", "-o", str(native), str(UPPER)], check=True)
        bare = asyncio.run(_bare_native_rate(native, requests // 2, connections))
        best: dict[str, Load] = {}
        with serving("cage per request", "--concurrency", str(connections), "--loop", loop,
                     "--workers", str(workers)) as cages, \
                serving_native(native, connections, loop, workers) as processes:
            for server in (cages, processes):
                load(client, server, connections, 4 * connections)  # warm up
            for _ in range(repeat):
                for key, server in (("cages", cages), ("processes", processes)):
                    got = load(client, server, connections, requests)
                    if key not in best or got.rate > best[key].rate:
                        best[key] = got
    cages_load, native_load = best["cages"], best["processes"]
    return {
        "requests": requests,
        "connections": connections,
        "workers": workers,
        "service_rps": cages_load.rate,
        "native_http_rps": native_load.rate,
        "native_rps": bare,
        "service_cpu_us": cages_load.per_request_us(cages_load.server_cpu),
        "native_cpu_us": native_load.per_request_us(native_load.server_cpu),
        "client_cpu_us": max(cages_load.per_request_us(cages_load.client_cpu),
                             native_load.per_request_us(native_load.client_cpu)),
    }


def figures(result: dict[str, float]) -> list[Figure]:
    workers = int(result.get("workers", 1))
    servers = f"{workers} server processes each" if workers > 1 else "1 server process each"
    what = (f"POST, {int(result['connections'])} in flight, {int(result['requests']):,} "
            f"requests, {servers}")
    note = (f"CPU per request: cage service {result['service_cpu_us']:.0f} us, process-per-"
            f"request servers and their children {result['native_cpu_us']:.0f} us "
            f"({result['native_cpu_us'] / result['service_cpu_us']:.2f}x), "
            f"the C client {result['client_cpu_us']:.0f} us")
    return [Figure("http", what, "requests/s", result["service_rps"], [
        Baseline("HTTP + process per request (gcc)", result["native_http_rps"]),
        Baseline("process per request (gcc), no HTTP", result["native_rps"]),
    ], better="higher", note=note)]


def collect(quick: bool) -> list[Figure]:
    workers = default_workers()
    result = measure(1000 if quick else 5000, 8 * workers, 2 if quick else 3, workers=workers)
    log(f"bench_http: {result}")
    return figures(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--requests", type=int, help="requests per run (default 5,000)")
    parser.add_argument("--connections", type=int,
                        help="keep-alive connections (default 8 per server process)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="server processes on each side (default: the CPU count)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each server")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default=LOOP,
                        help=f"both servers' event loop (default {LOOP})")
    parser.add_argument("--serve-native", type=Path, metavar="EXE", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=8, help=argparse.SUPPRESS)
    parser.add_argument("--worker-of", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.serve_native:
        return serve_native(opts.serve_native, opts.concurrency, opts.loop, opts.workers,
                            opts.worker_of)
    if opts.workers < 1:
        parser.error("--workers must be at least 1")
    requests = opts.requests or (1000 if opts.quick else 5000)
    connections = opts.connections or 8 * opts.workers
    result = measure(requests, connections, opts.repeat, opts.loop, opts.workers)
    print(format_table(figures(result)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
