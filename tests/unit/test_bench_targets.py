"""The speed targets are judged from figures: ratios against the named baseline, or the cage's
own value; several matching figures are each judged; a missing figure is "not measured"."""

from __future__ import annotations

from benchmarks.report import Baseline, Figure
from benchmarks.targets import TARGETS, Target, format_verdicts, judge

RATIO = Target("performance", "files", "read 1 KiB", "native", ">=", 0.35)
VALUE = Target("performance", "grates", "one hop: Python", None, "<=", 1000, "ns")


def test_ratio_target_met_and_not_met() -> None:
    fast = Figure("files", "read 1 KiB", "MB/s", 800, [Baseline("native", 2000)], better="higher")
    slow = Figure("files", "read 1 KiB", "MB/s", 200, [Baseline("native", 2000)], better="higher")
    (good,) = judge([fast], ["files"], (RATIO,))
    (bad,) = judge([slow], ["files"], (RATIO,))
    assert good.value == 0.4 and good.met is True
    assert bad.value == 0.1 and bad.met is False
    assert "0.10x, target >= 0.35x: NOT met" in bad.line()


def test_value_target_judges_every_matching_figure() -> None:
    figures = [Figure("grates", "one hop: Python (plain def) forward", "ns", 900),
               Figure("grates", "one hop: Python (async def) forward", "ns", 1500),
               Figure("grates", "one hop: C forward", "ns", 7000)]
    verdicts = judge(figures, ["grates"], (VALUE,))
    assert [(v.figure.metric if v.figure else None, v.met) for v in verdicts] == [
        ("one hop: Python (plain def) forward", True),
        ("one hop: Python (async def) forward", False)]


def test_missing_figure_or_baseline_is_not_measured_and_unrun_benchmarks_are_left_out() -> None:
    other_baseline = Figure("files", "read 1 KiB", "MB/s", 800, [Baseline("cat", 1000)])
    (v,) = judge([other_baseline], ["files"], (RATIO,))
    assert v.met is None and v.line().endswith("not measured")
    assert judge([other_baseline], ["grates"], (RATIO,)) == []


def test_summary_counts_met_targets() -> None:
    figures = [Figure("grates", "one hop: Python forward", "ns", 900),
               Figure("files", "read 1 KiB", "MB/s", 1, [Baseline("native", 10)])]
    text = format_verdicts(judge(figures, ["grates", "files"], (VALUE, RATIO)))
    assert text.splitlines()[0] == "targets (1 of 2 met):"


def test_every_target_is_well_formed() -> None:
    for t in TARGETS:
        assert t.op in ("<=", ">=") and t.bound > 0
        assert (t.unit == "x") == (t.baseline is not None), t
