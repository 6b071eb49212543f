"""The common shape of benchmark results: :class:`Figure`, the combined table, JSON and charts.

Every ``benchmarks/bench_*.py`` module has ``collect(quick: bool) -> list[Figure]``; the suite
(``python -m lind_async bench``, see ``benchmarks/suite.py``) runs them and hands the figures here.

A figure is one measured quantity of a cage (``cage``) beside zero or more baselines measured in
the same run (natively, with plain wasmtime, with node…). ``ratio`` is always cage / baseline;
``better`` says which direction is good (``lower`` for latencies, ``higher`` for throughputs), so
a ratio of 2.0 means "twice as slow" for a latency and "twice as fast" for a throughput.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Baseline:
    """What the cage's figure is compared with."""

    name: str
    value: float


@dataclass
class Figure:
    """One measured quantity: the cage's value and its baselines."""

    benchmark: str
    metric: str
    unit: str
    cage: float
    baselines: list[Baseline] = field(default_factory=list)
    better: str = "lower"  # "lower" or "higher"
    note: str = ""  # e.g. a target and whether it is met

    def ratio(self, baseline: Baseline) -> float | None:
        return self.cage / baseline.value if baseline.value else None

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "metric": self.metric,
            "unit": self.unit,
            "cage": self.cage,
            "better": self.better,
            "note": self.note,
            "baselines": [
                {"name": b.name, "value": b.value, "ratio": self.ratio(b)} for b in self.baselines
            ],
        }


def target_note(text: str, met: bool) -> str:
    return f"target {text}: {'met' if met else 'NOT met'}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def machine_info() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "wasmtime": _version("wasmtime"),
        "lind_async": _version("lind_async"),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"{info['cpu']}, {info['cores']} cores, Python {info['python']}, "
        f"wasmtime {info['wasmtime']}, {info['date']}"
    )


def _num(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def format_table(figures: list[Figure]) -> str:
    """One row per (figure, baseline); the cage's value is shown on the first row of a figure."""
    header = ("benchmark", "metric", "unit", "cage", "baseline", "value", "cage/base")
    rows: list[tuple[str, ...]] = []
    for f in figures:
        unit = f"{f.unit} ({'↓' if f.better == 'lower' else '↑'})"
        first = (f.benchmark, f.metric, unit, _num(f.cage))
        blank = ("", "", "", "")
        if not f.baselines:
            rows.append((*first, "-", "-", "-"))
        for i, b in enumerate(f.baselines):
            r = f.ratio(b)
            rows.append(
                (*(first if i == 0 else blank), b.name, _num(b.value),
                 f"{r:.2f}x" if r is not None else "-")
            )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {3, 5, 6}

    def line(row: tuple[str, ...]) -> str:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in
                 enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    out = [line(header), line(tuple("-" * w for w in widths)), *(line(r) for r in rows)]
    notes = [f"{f.benchmark}: {f.metric}: {f.note}" for f in figures if f.note]
    if notes:
        out += ["", *notes]
    out += ["", "(↓ lower is better, ↑ higher is better; cage/base = cage value / baseline value)"]
    return "\n".join(out)


def write_json(path: Path, figures: list[Figure], info: dict[str, Any],
               errors: dict[str, str], targets: list[dict[str, Any]] | None = None) -> None:
    doc = {"machine": info, "figures": [f.to_json() for f in figures], "errors": errors,
           "targets": targets or []}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


def draw_charts(directory: Path, figures: list[Figure]) -> list[Path] | None:
    """One PNG per benchmark: a group of bars (cage and baselines) per metric, each group
    normalised to the cage (=1) so that metrics of different units share an axis. ``None`` when
    matplotlib is not installed (``pip install lind_async[bench]``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    by_bench: dict[str, list[Figure]] = {}
    for f in figures:
        by_bench.setdefault(f.benchmark, []).append(f)
    for bench, figs in by_bench.items():
        names = ["cage"]
        for f in figs:
            names += [b.name for b in f.baselines if b.name not in names]
        fig, ax = plt.subplots(figsize=(max(6.0, 1.9 * len(figs)), 4.5))
        width = 0.8 / len(names)
        for k, name in enumerate(names):
            xs, ys = [], []
            for i, f in enumerate(figs):
                value = f.cage if name == "cage" else next(
                    (b.value for b in f.baselines if b.name == name), None)
                if value is not None and f.cage:
                    xs.append(i + k * width)
                    ys.append(value / f.cage)
            ax.bar(xs, ys, width, label=name)
        ax.set_xticks([i + width * (len(names) - 1) / 2 for i in range(len(figs))])
        ax.set_xticklabels([textwrap.fill(f.metric, 22) +
                            f"\n({f.unit}, {'↓' if f.better == 'lower' else '↑'})"
                            for f in figs], fontsize=7)
        ax.set_yscale("log")
        ax.set_ylabel("relative to the cage (cage = 1, log scale)")
        ax.set_title(f"{bench}: cage vs baselines")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = directory / f"{bench}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def log(message: str) -> None:
    """Progress on stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)
