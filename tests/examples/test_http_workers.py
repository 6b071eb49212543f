"""examples/http_service.py --workers 2: two server processes on one port under a supervisor.

Each test starts the real script (its own session), reads the supervisor's event lines, and
talks HTTP to it: both processes answer, with the natively built program's output; a killed
worker is replaced; SIGTERM leaves no process and no file behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.examples.conftest import PROGRAMS, REPO

SERVICE = REPO / "examples" / "http_service.py"
PROGRAM = PROGRAMS / "service_prog.c"
READY = re.compile(r"worker (\d+) ready \(pid (\d+)\)")


class Supervised:
    """The supervisor process and what it has said so far."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.tmp = tmp
        env = {**os.environ, "TMPDIR": str(tmp)}
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVICE), str(PROGRAM), "--port", "0", *args],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )
        self.lines: list[str] = []
        self._buf = b""
        self.pids: dict[int, int] = {}  # worker slot -> pid
        line = self.expect("serving on ")
        self.url = line.split()[2]

    def expect(self, prefix: str, timeout: float = 120.0) -> str:
        """The next line starting with ``prefix`` (noting worker pids on the way)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buf:
                raw, self._buf = self._buf.split(b"\n", 1)
                line = raw.decode()
                self.lines.append(line)
                if m := READY.match(line):
                    self.pids[int(m[1])] = int(m[2])
                if line.startswith(prefix):
                    return line
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise AssertionError(f"no {prefix!r} line; got {self.lines}")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(f"supervisor exited; it said {self.lines}")
            self._buf += chunk

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Supervised]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    server = Supervised(tmp, "--workers", "2")
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.stop()
        with contextlib.suppress(ProcessLookupError):  # a failed test must not leak servers
            os.killpg(server.proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def native_upper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("native") / "service_prog"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(PROGRAM)], check=True)
    return exe


async def answers(url: str, bodies: list[bytes]) -> list[tuple[int, bytes, int]]:
    """POST each body on a connection of its own: (status, body, the answering process)."""
    out = []
    for body in bodies:
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as s, s.post(url, data=body) as r:
            out.append((r.status, await r.read(), int(r.headers["X-Worker-Pid"])))
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_both_workers_answer_as_the_native_program(
    supervised: Supervised, native_upper: Path
) -> None:
    assert len(supervised.pids) == 2
    bodies = [b"request %d: mixed Case text\n" % i * (i % 5 + 1) for i in range(40)]
    got = await answers(supervised.url, bodies)
    for body, (status, out, _) in zip(bodies, got, strict=True):
        native = subprocess.run([str(native_upper)], input=body, capture_output=True, check=True)
        assert (status, out) == (200, native.stdout)
    # The kernel spreads new connections over both processes' sockets (SO_REUSEPORT).
    assert {pid for *_, pid in got} == set(supervised.pids.values())


async def test_a_killed_worker_is_replaced(supervised: Supervised) -> None:
    slot, victim = 0, supervised.pids[0]
    os.kill(victim, signal.SIGKILL)
    line = supervised.expect(f"worker {slot} (pid {victim}) exited")
    assert "signal 9" in line and "starting another" in line
    supervised.expect(f"worker {slot} ready")
    replacement = supervised.pids[slot]
    assert replacement != victim and not alive(victim)
    got = await answers(supervised.url, [b"after the kill %d\n" % i for i in range(30)])
    assert [(s, o) for s, o, _ in got] == [(200, b"AFTER THE KILL %d\n" % i) for i in range(30)]
    assert {pid for *_, pid in got} == {replacement, supervised.pids[1]}


async def test_sigterm_stops_every_process_and_removes_their_files(
    supervised: Supervised,
) -> None:
    got = await answers(supervised.url, [b"x\n", b"y\n"])
    assert [o for _, o, _ in got] == [b"X\n", b"Y\n"]
    pids = list(supervised.pids.values())
    assert all(alive(p) for p in pids)
    assert supervised.stop() == 0
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)
    with pytest.raises(ProcessLookupError):
        os.killpg(supervised.proc.pid, 0)  # nothing of its session is left
    assert list(supervised.tmp.iterdir()) == []  # roots, cage /tmp, the supervisor's dir


def test_workers_and_pool_exclude_each_other() -> None:
    run = subprocess.run(
        [sys.executable, str(SERVICE), "--workers", "2", "--pool", "2"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 2 and "choose one" in run.stderr
    assert "Traceback" not in run.stderr
