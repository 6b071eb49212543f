"""lind_async.Pool(backend="ray"): the local pool's tests that apply, on a local Ray instance.

The scenarios run in a process of their own (``ray_main.py``: Ray's driver replaces wasmtime's
signal handlers, so a wasm trap in this test process would kill it after ``ray.init``), under
one ``ray.init(num_cpus=2)`` for them all, on asyncio, uvloop and trio; these tests judge what
it saw against the same programs built by gcc. After it, no Ray process it started may be left (told
from another Ray on the machine by a tag in their environment).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray")
REPO = Path(__file__).resolve().parents[2]


RUN_TAG = "LIND_ASYNC_TEST_RAY_RUN"
"""Set in the driver's environment; every process Ray starts for it (GCS, raylet, workers)
inherits it, which tells them from another Ray on the same machine."""


def _ray_processes(tag: str) -> list[str]:
    """The Ray processes whose environment carries ``RUN_TAG=tag``."""
    marker = f"{RUN_TAG}={tag}".encode()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            if "ray::" not in cmd and "raylet" not in cmd and "gcs_server" not in cmd:
                continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker not in f.read().split(b"\0"):
                    continue
        except OSError:
            continue
        found.append(f"{pid} {cmd[:80]}")
    return found


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("ray")
    (work / "root").mkdir()
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.embed.ray_main", str(work / "seen.json"), str(work / "root")],
        cwd=REPO, capture_output=True, timeout=600, env={**os.environ, RUN_TAG: tag},
    )
    deadline = time.monotonic() + 15  # Ray's processes exit on their own after the shutdown
    while _ray_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _ray_processes(tag) == [], "Ray processes were left behind"
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    result: dict[str, Any] = json.loads((work / "seen.json").read_text())
    return result


@pytest.mark.parametrize("backend", ["asyncio", "uvloop", "trio"])
def test_ray_pool_runs_cages(seen: dict[str, Any], native_upper: Path, backend: str) -> None:
    got = seen[f"basics-{backend}"]
    inputs = [b"cage number %d\n" % i for i in range(4)]
    natives = [subprocess.run([str(native_upper), "3"], input=data, capture_output=True)
               for data in inputs]
    assert got["outputs"] == [[n.stdout.decode(), n.stderr.decode(), n.returncode]
                              for n in natives]
    assert got["workers"] == [0, 1]
    assert got["signal"] == [f"got signal {int(signal.SIGUSR1)}\n", 5]
    assert got["cancelled"] == -signal.SIGKILL
    assert got["trap"] == -signal.SIGILL  # a trap in an actor's cage is that cage's crash
    assert got["errors"] == ["ValueError", "FileNotFoundError"]  # no host fd crosses to Ray


def test_a_lost_actor_fails_only_its_cages(seen: dict[str, Any]) -> None:
    got = seen["lost_actor"]
    assert got["different"]
    assert got["lost"] == [-signal.SIGKILL, "WorkerLost"]
    assert got["other_running"]
    assert got["other"] == [f"got signal {int(signal.SIGUSR1)}\n", 5]
    assert got["again"] == "OK\n"
