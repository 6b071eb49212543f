"""Smoke test of ``python -m lind_async bench``: one quick benchmark, the JSON's shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_syscalls_quick_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, "-m", "lind_async", "bench", "syscalls", "--quick", "--json", str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "getpid round trip" in run.stdout and "machine:" in run.stdout
    doc = json.loads(out.read_text())
    assert doc["errors"] == {}
    machine = doc["machine"]
    for key in ("cpu", "cores", "python", "wasmtime", "date"):
        assert machine[key], key
    figures = {f["metric"]: f for f in doc["figures"]}
    assert set(figures) == {"getpid round trip", "write round trip"}
    for fig in figures.values():
        assert fig["benchmark"] == "syscalls" and fig["unit"] == "ns/call"
        assert fig["cage"] > 0
        assert fig["baselines"][0]["name"] == "native"
        for base in fig["baselines"]:
            assert base["value"] > 0
            assert abs(base["ratio"] - fig["cage"] / base["value"]) < 1e-9
    assert [b["name"] for b in figures["write round trip"]["baselines"]] == [
        "native", "wasmtime-py WASI"]
    assert figures["getpid round trip"]["note"].startswith("target <= 600 ns")
    assert figures["write round trip"]["note"].startswith("target <= 1.0x wasmtime-py WASI")


def test_bench_unknown_name_lists_benchmarks() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "lind_async", "bench", "nosuch"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert run.returncode == 2
    assert "unknown benchmark 'nosuch'" in run.stderr
    for name in ("syscalls", "grates", "cages", "start", "compute"):
        assert name in run.stderr
