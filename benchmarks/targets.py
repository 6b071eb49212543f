"""The issues' speed targets, judged against the figures of one ``bench`` run.

Each :class:`Target` names a figure (benchmark, the start of its metric, and a baseline or none)
and a bound: on the cage/baseline ratio when a baseline is named, on the cage's own value when it
is not. :func:`judge` matches targets to figures and says met, NOT met, or not measured (the
benchmark ran but no figure matched, e.g. an optional backend is missing). Targets of benchmarks
that did not run are left out. A target whose metric prefix matches several figures (e.g. every
Python hop) is judged on each.

Nothing here measures anything: the benchmark modules measure, this module only compares, so the
judging is unit-tested directly (``tests/unit/test_bench_targets.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.report import Figure


@dataclass(frozen=True)
class Target:
    issue: str  # which issue set it ("performance", "scale-out")
    benchmark: str
    metric: str  # a prefix of the figure's metric
    baseline: str | None  # judge cage/baseline; None: judge the cage's own value
    op: str  # "<=" or ">="
    bound: float
    unit: str = "x"  # "x" for ratios, else the figure's unit

    def describe(self) -> str:
        against = f" vs {self.baseline}" if self.baseline else ""
        bound = f"{self.bound:g}{self.unit}" if self.unit == "x" else f"{self.bound:g} {self.unit}"
        return f"{self.metric}{against} {self.op} {bound}"

    def holds(self, value: float) -> bool:
        return value <= self.bound if self.op == "<=" else value >= self.bound


PERF = "performance"
SCALE = "scale-out"

TARGETS: tuple[Target, ...] = (
    Target(PERF, "compute", "integer+FP loop", "plain wasmtime", ">=", 0.95),
    Target(PERF, "compute", "Lua", "native", "<=", 1.5),
    Target(PERF, "start", "run hello.wasm (cached), median", None, "<=", 150, "ms"),
    Target(PERF, "files", "read 1 KiB", "native", ">=", 0.35),
    Target(PERF, "files", "open+close", "native", "<=", 3.0),
    Target(PERF, "fork", "fork+exit+wait, 64 MiB", "native", "<=", 8.0),
    Target(PERF, "fork", "fork+exit+wait, 0 MiB", "native", "<=", 2.0),
    Target(PERF, "fork", "setjmp/longjmp (jump)", "native", "<=", 10.0),
    Target(PERF, "epoll", "pipe: epoll_wait, 1000 idle", "native", "<=", 3.0),
    Target(PERF, "epoll", "socketpair: epoll_wait, 1000 idle", "native", "<=", 3.0),
    Target(PERF, "net", "TCP echo, 64 KiB", "native", ">=", 0.7),
    Target(PERF, "syscalls", "write round trip", "wasmtime-py WASI", "<=", 1.0),
    Target(PERF, "syscalls", "getpid round trip", None, "<=", 600, "ns/call"),
    Target(PERF, "grates", "one hop: C", None, "<=", 2000, "ns"),
    Target(PERF, "grates", "one hop: Python", None, "<=", 1000, "ns"),
    Target(PERF, "http", "", "HTTP + process per request (gcc)", ">=", 3.0),
    # (on 2 cores; the start-to-exit target, <= 1.5x + 1 ms, is judged in bench_scale's note)
    Target(SCALE, "scale", "CPU-bound cages/s, Pool of", "Pool of 1 worker", ">=", 1.8),
    Target(SCALE, "scale", "examples/http_service.py --workers", "--workers 1", ">=", 1.7),
)


@dataclass(frozen=True)
class Verdict:
    target: Target
    figure: Figure | None
    value: float | None  # the judged ratio or value; None when not measured

    @property
    def met(self) -> bool | None:
        return None if self.value is None else self.target.holds(self.value)

    def line(self) -> str:
        t = self.target
        name = self.figure.metric if self.figure is not None else t.metric
        head = f"{t.benchmark}: {name}"
        if t.baseline:
            head += f" vs {t.baseline}"
        want = f"{t.op} {t.bound:g}{'x' if t.unit == 'x' else ' ' + t.unit}"
        if self.value is None:
            return f"{head}: target {want}: not measured"
        got = f"{self.value:.2f}x" if t.unit == "x" else f"{self.value:,.0f} {t.unit}"
        return f"{head}: {got}, target {want}: {'met' if self.met else 'NOT met'}"

    def to_json(self) -> dict[str, Any]:
        return {"issue": self.target.issue, "target": self.target.describe(),
                "metric": self.figure.metric if self.figure else None,
                "value": self.value, "met": self.met}


def _value(target: Target, figure: Figure) -> float | None:
    if target.baseline is None:
        return figure.cage
    for b in figure.baselines:
        if b.name == target.baseline:
            return figure.ratio(b)
    return None


def judge(figures: list[Figure], ran: list[str],
          targets: tuple[Target, ...] = TARGETS) -> list[Verdict]:
    """One verdict per (target, matching figure); a target of a benchmark in ``ran`` with no
    matching figure gets one "not measured" verdict."""
    verdicts: list[Verdict] = []
    for t in targets:
        if t.benchmark not in ran:
            continue
        matched = [f for f in figures
                   if f.benchmark == t.benchmark and f.metric.startswith(t.metric)]
        judged = [(f, v) for f in matched if (v := _value(t, f)) is not None]
        if not judged:
            verdicts.append(Verdict(t, None, None))
        verdicts += [Verdict(t, f, v) for f, v in judged]
    return verdicts


def format_verdicts(verdicts: list[Verdict]) -> str:
    if not verdicts:
        return ""
    met = sum(1 for v in verdicts if v.met)
    out = [f"targets ({met} of {len(verdicts)} met):"]
    out += [f"  {v.line()}" for v in verdicts]
    return "\n".join(out)
