"""TCP echo through a cage-hosted server, side by side with the same server built natively.

    python -m benchmarks.bench_net [--rounds R] [--round-trips N] [--mib M]

The server is ``tests/e2e/programs/sock_tcp_echo.c``, the echo server the end-to-end tests
check (serving on 127.0.0.1, one connection at a time). Both servers, the native build and the
cage, are started once and stay up; then R rounds (``--quick``: 3, else 5) each measure both, in
alternating order, with the same native client (``programs/echo_client.c``, which checks every
echoed byte; a Python client was slower than either server and capped both at its own speed):

- round trips per second with 64-byte messages (``TCP_NODELAY``), N of them;
- throughput echoing M MiB in 64 KiB messages (each written whole, then read back whole).

Each figure is the median of the rounds (the spread is in the figure's note): the host's
loopback itself moves a lot under the machine's other load (the native server's own figure
moved 2x between single runs), so single runs, or one server measured long after the other,
say little. Beside each, the server's CPU time per message (every thread of the process, from
``/proc/PID/task/*/schedstat`` around the client's run), which the other load disturbs less.
Ratios are cage / native. Targets: >= 20,000 round trips/s in a cage; 64 KiB throughput >= 0.7x
native.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.report import Baseline, Figure, target_note

HERE = Path(__file__).parent
PROGRAM = HERE.parent / "tests" / "e2e" / "programs" / "sock_tcp_echo.c"
CLIENT = HERE / "programs" / "echo_client.c"
SMALL = 64
LARGE = 64 * 1024
CONNECTIONS_PER_ROUND = 2
KINDS = ("native", "cage")


def _cpu_ns(pid: int) -> int:
    """CPU time so far of every thread of process ``pid``, in ns."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[0])  # (OSError: a thread that just ended)
    return total


class Server:
    """A running echo server: ``cmd`` prints ``port N``, then serves ``conns`` connections."""

    def __init__(self, cmd: list[str], conns: int) -> None:
        self.proc = subprocess.Popen([*cmd, "0", str(conns)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("port "):
            self.close()
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.split()[1])

    def exchange(self, client: Path, count: int, size: int) -> tuple[float, float]:
        """One client connection of ``count`` round trips of ``size`` bytes: (round trips per
        second, the server's CPU us per round trip, its warm-up included)."""
        before = _cpu_ns(self.proc.pid)
        out = subprocess.run([str(client), str(self.port), str(count), str(size)],
                             capture_output=True, text=True, timeout=600)
        cpu = _cpu_ns(self.proc.pid) - before
        if out.returncode != 0:
            raise RuntimeError(f"echo client failed ({out.returncode}): {out.stderr}")
        warm = min(1000, (64 << 20) // size)
        return float(out.stdout.strip()), cpu / 1e3 / (count + warm)

    def close(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=60)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


Samples = dict[str, dict[str, list[float]]]  # server kind -> measure -> one value per round


def measure(opts: argparse.Namespace) -> Samples:
    """Both servers up at once, measured round by round in alternating order."""
    from lind_async.toolchain.cc import compile_cached

    wasm = compile_cached(PROGRAM)
    messages = max(1, opts.mib * 1024 * 1024 // LARGE)
    samples: Samples = {k: {"rt_per_s": [], "rt_cpu_us": [], "mib_per_s": [], "large_cpu_us": []}
                        for k in KINDS}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        gcc = shutil.which("gcc") or "cc"
        exe, client = workdir / "echo_server", workdir / "echo_client"
        subprocess.run([gcc, "-O2", "-o", str(exe), str(PROGRAM)], check=True)
        subprocess.run([gcc, "-O2", "-o", str(client), str(CLIENT)], check=True)
        root = workdir / "root"
        root.mkdir()
        cmds = {"native": [str(exe)],
                "cage": [sys.executable, "-m", "lind_async", "run", "--root", str(root),
                         str(wasm)]}
        conns = CONNECTIONS_PER_ROUND * opts.rounds
        servers: dict[str, Server] = {}
        try:
            for kind in KINDS:
                servers[kind] = Server(cmds[kind], conns)
            for r in range(opts.rounds):
                for kind in (KINDS if r % 2 == 0 else KINDS[::-1]):
                    got = samples[kind]
                    rate, cpu = servers[kind].exchange(client, opts.round_trips, SMALL)
                    got["rt_per_s"].append(rate)
                    got["rt_cpu_us"].append(cpu)
                    rate, cpu = servers[kind].exchange(client, messages, LARGE)
                    got["mib_per_s"].append(rate * LARGE / (1 << 20))
                    got["large_cpu_us"].append(cpu)
        finally:
            for server in servers.values():
                server.close()
    return samples


def _spread(samples: Samples, key: str) -> str:
    def one(kind: str) -> str:
        values = samples[kind][key]
        return f"{kind} {min(values):,.0f}-{max(values):,.0f}"
    return f"median of {len(samples['cage'][key])} alternating runs; {one('cage')}, {one('native')}"


def figures(samples: Samples) -> list[Figure]:
    """The median of each measure, cage vs native."""
    med = {k: {m: statistics.median(v) for m, v in samples[k].items()} for k in KINDS}
    cg, nat = med["cage"], med["native"]
    return [
        Figure("net", "TCP echo, 64 B", "round trips/s", cg["rt_per_s"],
               [Baseline("native", nat["rt_per_s"])], better="higher",
               note=f"{target_note('>= 20,000 round trips/s', cg['rt_per_s'] >= 20_000)} "
               f"({_spread(samples, 'rt_per_s')})"),
        Figure("net", "TCP echo, 64 KiB", "MiB/s", cg["mib_per_s"],
               [Baseline("native", nat["mib_per_s"])], better="higher",
               note=_spread(samples, "mib_per_s")),
        Figure("net", "server CPU per 64 B round trip", "us", cg["rt_cpu_us"],
               [Baseline("native", nat["rt_cpu_us"])]),
        Figure("net", "server CPU per 64 KiB round trip", "us", cg["large_cpu_us"],
               [Baseline("native", nat["large_cpu_us"])]),
    ]


def collect(quick: bool) -> list[Figure]:
    """TCP echo round trips/s (64 B) and throughput (64 KiB messages), cage vs native."""
    opts = argparse.Namespace(rounds=3 if quick else 5, round_trips=5000 if quick else 50_000,
                              mib=128 if quick else 256)
    return figures(measure(opts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--round-trips", type=int, default=50_000,
                        help="64 B round trips per round (default 50,000)")
    parser.add_argument("--mib", type=int, default=256,
                        help="MiB echoed in 64 KiB messages per round (default 256)")
    parser.add_argument("--json", type=Path, help="also write every round's figures here")
    opts = parser.parse_args(argv)
    if min(opts.rounds, opts.round_trips, opts.mib) < 1:
        parser.error("--rounds, --round-trips and --mib must be positive")
    samples = measure(opts)
    print(f"{'measure (median of ' + str(opts.rounds) + ')':<34} {'native':>10} {'cage':>10} "
          f"{'ratio':>7}   cage runs")
    for fig in figures(samples):
        nat = fig.baselines[0].value
        key = {"TCP echo, 64 B": "rt_per_s", "TCP echo, 64 KiB": "mib_per_s",
               "server CPU per 64 B round trip": "rt_cpu_us",
               "server CPU per 64 KiB round trip": "large_cpu_us"}[fig.metric]
        runs = " ".join(f"{v:,.1f}" for v in samples["cage"][key])
        print(f"{fig.metric + ' (' + fig.unit + ')':<34} {nat:>10,.1f} {fig.cage:>10,.1f} "
              f"{fig.cage / nat:>6.2f}x   {runs}  (native: "
              + " ".join(f"{v:,.1f}" for v in samples["native"][key]) + ")")
    rt = statistics.median(samples["cage"]["rt_per_s"])
    print(f"target >= 20,000 round trips/s in a cage: {'met' if rt >= 20_000 else 'NOT met'} "
          f"({rt:,.0f})")
    if opts.json:
        opts.json.write_text(json.dumps(samples, indent=2))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
