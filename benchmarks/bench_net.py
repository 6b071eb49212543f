"""TCP echo through a cage-hosted server, side by side with the same server built natively.

    python -m benchmarks.bench_net [--round-trips N] [--mib M]

The server is ``tests/e2e/programs/sock_tcp_echo.c``, the echo server the end-to-end tests
check (serving on 127.0.0.1, one connection at a time). Two measurements per server: round
trips per second with 64-byte messages (``TCP_NODELAY``) driven by ``programs/echo_client.c``
built natively (a Python client was slower than either server and capped both at its own speed),
and throughput echoing 64 KiB messages from a plain blocking socket in this process. Ratios are
cage / native. Target: >= 20,000 round trips/s in a cage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import Baseline, Figure, target_note

HERE = Path(__file__).parent
PROGRAM = HERE.parent / "tests" / "e2e" / "programs" / "sock_tcp_echo.c"
CLIENT = HERE / "programs" / "echo_client.c"
SMALL = 64
LARGE = 64 * 1024


def _recv_exactly(sock: socket.socket, view: memoryview) -> None:
    got = 0
    while got < len(view):
        n = sock.recv_into(view[got:])
        if not n:
            raise ConnectionError("server closed early")
        got += n


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trips(client: Path, port: int, count: int) -> float:
    """Round trips per second with small messages (the native C client)."""
    out = subprocess.run(
        [str(client), str(port), str(count)], capture_output=True, text=True, timeout=300
    )
    if out.returncode != 0:
        raise RuntimeError(f"echo client failed ({out.returncode}): {out.stderr}")
    return float(out.stdout.strip())


def throughput(port: int, mib: int) -> float:
    """MiB/s echoed with 64 KiB messages."""
    payload = bytes(range(256)) * (LARGE // 256)
    buf = memoryview(bytearray(LARGE))
    messages = mib * 1024 * 1024 // LARGE
    with _connect(port) as sock:
        start = time.perf_counter()
        for _ in range(messages):
            sock.sendall(payload)
            _recv_exactly(sock, buf)
        elapsed = time.perf_counter() - start
        assert bytes(buf) == payload
        return mib / elapsed


def serve(cmd: list[str], client: Path, opts: argparse.Namespace) -> dict[str, float]:
    """Start a server (``cmd`` prints ``port N`` then serves 2 connections) and measure it."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if not line.startswith("port "):
            raise RuntimeError(f"server did not start: {line!r} {proc.stderr.read()!r}")
        port = int(line.split()[1])
        result = {
            "rt_per_s": round_trips(client, port, opts.round_trips),
            "mib_per_s": throughput(port, opts.mib),
        }
        proc.wait(timeout=60)
        return result
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def measure(opts: argparse.Namespace) -> tuple[dict[str, float], dict[str, float]]:
    """Both servers measured by the same clients: (native, cage)."""
    from lind_async.toolchain.cc import compile_cached

    wasm = compile_cached(PROGRAM)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        gcc = shutil.which("gcc") or "cc"
        exe, client = workdir / "echo_server", workdir / "echo_client"
        subprocess.run([gcc, "-O2", "-o", str(exe), str(PROGRAM)], check=True)
        subprocess.run([gcc, "-O2", "-o", str(client), str(CLIENT)], check=True)
        native = serve([str(exe), "0", "2"], client, opts)
        root = workdir / "root"
        root.mkdir()
        cage = serve(
            [sys.executable, "-m", "lind_async", "run", "--root", str(root), str(wasm), "0", "2"],
            client,
            opts,
        )
    return native, cage


def collect(quick: bool) -> list[Figure]:
    """TCP echo round trips/s (64 B) and throughput (64 KiB messages), cage vs native."""
    opts = argparse.Namespace(round_trips=5000 if quick else 50_000, mib=16 if quick else 256)
    nat, cg = measure(opts)
    return [
        Figure("net", "TCP echo, 64 B", "round trips/s", cg["rt_per_s"],
               [Baseline("native", nat["rt_per_s"])], better="higher",
               note=target_note(">= 20,000 round trips/s", cg["rt_per_s"] >= 20_000)),
        Figure("net", "TCP echo, 64 KiB", "MiB/s", cg["mib_per_s"],
               [Baseline("native", nat["mib_per_s"])], better="higher"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--round-trips", type=int, default=50_000, help="small round trips")
    parser.add_argument("--mib", type=int, default=256, help="MiB echoed for throughput")
    parser.add_argument("--json", type=Path, help="also write the results here")
    opts = parser.parse_args(argv)
    native, cage = measure(opts)
    print(f"{'measure':<28} {'native':>12} {'cage':>12} {'ratio':>7}")
    for key, label in (
        ("rt_per_s", "round trips/s (64 B)"),
        ("mib_per_s", "throughput MiB/s (64 KiB)"),
    ):
        ratio = cage[key] / native[key]
        print(f"{label:<28} {native[key]:>12,.0f} {cage[key]:>12,.0f} {ratio:>6.2f}x")
    target = "met" if cage["rt_per_s"] >= 20_000 else "NOT met"
    print(f"target >= 20,000 round trips/s in a cage: {target} ({cage['rt_per_s']:,.0f})")
    if opts.json:
        opts.json.write_text(json.dumps({"native": native, "cage": cage}, indent=2))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
