"""Correctness under load: a blocking write goes out whole however slowly the other side reads
(host pipes, host sockets, in-process pipes and AF_UNIX sockets), unless a signal interrupts it;
the microvisor keeps running other cages meanwhile.

Programs: ``programs/load_*.c``. Where the program's output is deterministic it is compared with
the same program built natively by gcc."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import lind_async
from tests.security.conftest import REPO, assert_contained, run_cage
from tests.security.native import build_native

pytestmark = pytest.mark.slow  # load tests: megabytes through slow readers

BIG = 1_200_000  # more than a host pipe (64 KiB) or socket buffer takes at once


def _pattern(n: int) -> bytes:
    return (bytes(range(ord("a"), ord("z") + 1)) * (n // 26 + 1))[:n]


def _cli(wasm: Path, root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "lind_async", "run", "--root", str(root), str(wasm), *args]


def _read_slowly(read: Any, total: int) -> bytes:
    """Read until EOF in small pieces, pausing first so the writer's side fills up."""
    time.sleep(0.3)
    got = bytearray()
    while True:
        chunk = read(8192)
        if not chunk:
            return bytes(got)
        got += chunk
        if len(got) % (128 * 1024) < 8192:
            time.sleep(0.01)


@pytest.fixture(scope="module")
def bigwrite(attack_program: Any) -> Path:
    return attack_program("load_bigwrite")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def native_bigwrite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_native("load_bigwrite", tmp_path_factory.mktemp("native"))


def test_write_to_a_slow_host_pipe_goes_out_whole(bigwrite: Path, root: Path) -> None:
    proc = subprocess.Popen(
        _cli(bigwrite, root, "stdout", str(BIG)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out = _read_slowly(proc.stdout.read1, BIG)
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert err == b"wrote %d of %d\n" % (BIG, BIG)
    assert out == _pattern(BIG)


def test_write_to_a_slow_host_socket_goes_out_whole(bigwrite: Path, root: Path) -> None:
    # The CLI's stdout is a (blocking) host socket: it is used with MSG_DONTWAIT, never blocking
    # the loop, and the cage's one write still completes.
    ours, theirs = socket.socketpair()
    with ours, theirs:
        proc = subprocess.Popen(
            _cli(bigwrite, root, "stdout", str(BIG)),
            stdout=theirs,
            stderr=subprocess.PIPE,
            cwd=REPO,
        )
        theirs.close()
        out = _read_slowly(ours.recv, BIG)
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert err == b"wrote %d of %d\n" % (BIG, BIG)
    assert out == _pattern(BIG)


def test_write_to_a_slow_tcp_peer_goes_out_whole(bigwrite: Path, root: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        received: list[bytes] = []

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                received.append(_read_slowly(conn.recv, BIG))

        reader = threading.Thread(target=serve)
        reader.start()
        result = run_cage(bigwrite, ["tcp", str(port), str(BIG)], root=root, timeout=60)
        reader.join(timeout=60)
    assert_contained(result)
    assert result.stdout == b"wrote %d of %d\n" % (BIG, BIG), result.stderr
    assert result.status == 0
    assert received == [_pattern(BIG)]


@pytest.mark.parametrize("mode", ["pipe", "socketpair", "interrupt"])
def test_in_process_writes_match_native(
    mode: str, bigwrite: Path, native_bigwrite: Path, root: Path
) -> None:
    """A pipe / AF_UNIX socketpair a slow child drains: the parent's one write is whole; a
    signal during a blocked write returns the partial count, then EINTR (as Linux)."""
    size = "1048576" if mode == "interrupt" else str(BIG)
    native = subprocess.run([native_bigwrite, mode, size], capture_output=True, timeout=30)
    got = run_cage(bigwrite, [mode, size], root=root, timeout=60)
    assert_contained(got)
    assert got.stdout == native.stdout, got.stderr
    assert got.status == native.returncode == 0


def test_a_neighbour_runs_while_a_big_write_waits(bigwrite: Path, root: Path) -> None:
    """One cage's 1 MiB write waits on a host pipe nobody reads yet; a neighbour cage in the same
    microvisor starts and finishes meanwhile, then the write completes whole."""
    read_fd, write_fd = os.pipe()

    async def main() -> tuple[int, int, bytes]:
        async with lind_async.Microvisor(root=root) as mv:
            writer = await mv.create_cage_exec(
                bigwrite, "stdout", str(BIG), stdout=write_fd, stderr=lind_async.PIPE
            )
            os.close(write_fd)  # the cage has its own description now
            neighbour = await mv.create_cage_exec(
                bigwrite, "pipe", "200000", stdout=lind_async.PIPE
            )
            out, _ = await asyncio.wait_for(neighbour.communicate(), 30)
            assert out == b"parent wrote 200000 of 200000\nchild read 200000 bytes, 0 wrong\n"
            assert writer.returncode is None  # still waiting for room: nobody has read
            reading = asyncio.get_running_loop().run_in_executor(
                None, _read_slowly, lambda n: os.read(read_fd, n), BIG
            )
            _, err = await asyncio.wait_for(writer.communicate(), 60)
            return await asyncio.wait_for(writer.wait(), 5), len(await reading), err

    try:
        status, got, err = asyncio.run(main())
    finally:
        os.close(read_fd)
    assert err == b"wrote %d of %d\n" % (BIG, BIG)
    assert (status, got) == (0, BIG)
