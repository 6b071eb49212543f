"""Class 6 — worlds that leak: one root of one microvisor is a world, and nothing crosses worlds.

AF_UNIX names (abstract and path) are per world, so two cages in different roots cannot meet and
pass a descriptor with ``SCM_RIGHTS``; record locks and ``flock`` are host locks on the host
file, so two microvisor processes on one root, and host programs, exclude each other."""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import lind_async
from tests.security.conftest import PROGRAMS, REPO, assert_contained, run_cage

Build = Any


async def _start(mv: lind_async.Microvisor, wasm: Path, *args: str, root: Path) -> Any:
    return await mv.create_cage_exec(
        wasm, *args, stdout=lind_async.PIPE, stderr=lind_async.PIPE, root=root
    )


async def _serving(proc: Any) -> None:
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert line == b"listening\n", (line, await proc.stderr.read())


async def _output(proc: Any) -> bytes:
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert b"Traceback" not in err and b"internal error" not in err, err
    assert proc.returncode == 0, (out, err)
    return bytes(out)


def _roots(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    for root, secret in ((a, b"secret of world a\n"), (b, b"secret of world b\n")):
        root.mkdir()
        (root / "secret").write_bytes(secret)
    return a, b


def test_abstract_names_are_per_world(attack_program: Build, tmp_path: Path) -> None:
    wasm = attack_program("world_unix")
    a, b = _roots(tmp_path)

    async def main() -> None:
        async with lind_async.Microvisor(root=a) as mv:
            server_a = await _start(mv, wasm, "serve", "@lind-meet", "/secret", root=a)
            await _serving(server_a)
            # The attack: a cage of world b dials world a's abstract name.
            probe = await _start(mv, wasm, "connect", "@lind-meet", root=b)
            assert await _output(probe) == b"connect: ECONNREFUSED\n"
            # World b has its own namespace: the same name binds there and is its own.
            server_b = await _start(mv, wasm, "serve", "@lind-meet", "/secret", root=b)
            await _serving(server_b)
            neighbour = await _start(mv, wasm, "connect", "@lind-meet", root=a)
            assert await _output(neighbour) == b"got: secret of world a\n"
            client_b = await _start(mv, wasm, "connect", "@lind-meet", root=b)
            assert await _output(client_b) == b"got: secret of world b\n"
            assert await _output(server_a) == b"served\n"
            assert await _output(server_b) == b"served\n"

    asyncio.run(main())


def test_path_sockets_are_per_world_even_where_roots_overlap(
    attack_program: Build, tmp_path: Path
) -> None:
    wasm = attack_program("world_unix")
    a = tmp_path / "a"
    inner = a / "inner"  # world b's root lies inside world a's: both see the socket node
    inner.mkdir(parents=True)
    (a / "secret").write_bytes(b"secret of world a\n")

    async def main() -> None:
        async with lind_async.Microvisor(root=a) as mv:
            server = await _start(mv, wasm, "serve", "/inner/sock", "/secret", root=a)
            await _serving(server)
            assert (inner / "sock").is_socket()
            probe = await _start(mv, wasm, "connect", "/sock", root=inner)
            assert await _output(probe) == b"connect: ECONNREFUSED\n"
            # Names resolve inside the cage's own root: ".." cannot climb to world a's files.
            escape = await _start(mv, wasm, "connect", "/../inner/sock", root=inner)
            assert await _output(escape) == b"connect: ENOENT\n"
            neighbour = await _start(mv, wasm, "connect", "/inner/sock", root=a)
            assert await _output(neighbour) == b"got: secret of world a\n"
            assert await _output(server) == b"served\n"

    asyncio.run(main())


# -- locks are host locks -------------------------------------------------------------------------
HOST_COUNTER = """
import fcntl, os, sys, time
path, n, kind, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
fd = os.open(path, os.O_RDWR)
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
lock = (lambda op: fcntl.flock(fd, op)) if kind == "flock" else (lambda op: fcntl.lockf(fd, op))
for _ in range(n):
    lock(fcntl.LOCK_EX)
    value = int(os.pread(fd, 32, 0) or b"0")
    time.sleep(0.0003)
    os.pwrite(fd, b"%010d\\n" % (value + 1), 0)
    lock(fcntl.LOCK_UN)
    time.sleep(0.0005)
print("done")
"""


@pytest.mark.parametrize("kind", ["fcntl", "flock"])
def test_two_microvisors_and_a_host_program_exclude_each_other(
    attack_program: Build, tmp_path: Path, kind: str
) -> None:
    """Each of three processes adds 1 to a counter in a file 100 times under an exclusive lock:
    two ``python -m lind_async run`` on one root and a host program. A lock that any of them did
    not see would lose updates (all three start together, once each is ready)."""
    wasm = attack_program("world_lock")
    root = tmp_path / "root"
    root.mkdir()
    counter = root / "counter"
    counter.write_bytes(b"0\n")
    n = 100
    cages = [
        subprocess.Popen(
            [sys.executable, "-m", "lind_async", "run", "--root", str(root), str(wasm),
             "count", "/counter", str(n), kind, "/go"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_COUNTER, str(counter), str(n), kind, str(root / "go")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    for proc in [*cages, host]:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    (root / "go").touch()
    for proc in [*cages, host]:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out == b"done\n", (out, err)
        assert b"Traceback" not in err, err
    assert int(counter.read_bytes()) == 3 * n


def test_a_host_programs_locks_hold_off_a_cage(attack_program: Build, tmp_path: Path) -> None:
    wasm = attack_program("world_lock")
    root = tmp_path / "root"
    root.mkdir()
    target = root / "f"
    target.write_bytes(b"data\n")
    posix_fd = os.open(target, os.O_RDWR)
    flock_fd = os.open(target, os.O_RDWR)
    try:
        fcntl.lockf(posix_fd, fcntl.LOCK_EX)  # a classic POSIX lock of this (host) process
        fcntl.flock(flock_fd, fcntl.LOCK_EX)
        # In a process of its own: this process's POSIX locks never conflict with each other.
        result = run_cage(wasm, ["probe", "/f"], root=root, timeout=60, process=True)
    finally:
        os.close(posix_fd)
        os.close(flock_fd)
    assert_contained(result)
    assert result.stdout.decode().splitlines() == [
        "F_SETLK: -1 EAGAIN",
        "F_GETLK: 0 type=WR pid=-1",  # held outside the world: no pid a cage could signal
        "flock LOCK_NB: -1 EAGAIN",
        "F_SETLKW: -1 EINTR",  # a wait on another process is interruptible
        "flock: -1 EINTR",
    ], result.stderr


@pytest.mark.parametrize("kind", ["fcntl", "flock"])
def test_a_cages_locks_hold_off_host_programs(
    attack_program: Build, tmp_path: Path, kind: str
) -> None:
    wasm = attack_program("world_lock")
    root = tmp_path / "root"
    root.mkdir()
    target = root / "f"
    target.write_bytes(b"data\n")
    cage = subprocess.Popen(
        [sys.executable, "-m", "lind_async", "run", "--root", str(root), str(wasm),
         "hold", "/f", kind],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert cage.stdout is not None and cage.stdin is not None
    fd = os.open(target, os.O_RDWR)
    try:
        assert cage.stdout.readline() == b"locked\n"
        with pytest.raises(OSError) as refused:
            if kind == "flock":
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert refused.value.errno in (errno.EAGAIN, errno.EACCES)
        cage.stdin.write(b"\n")
        cage.stdin.close()
        assert cage.wait(timeout=60) == 0
        # The cage's exit released the host lock.
        if kind == "flock":
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
        if cage.poll() is None:
            cage.kill()
        cage.wait()


HOST_HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
(fcntl.flock if sys.argv[2] == "flock" else fcntl.lockf)(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("kind", ["fcntl", "flock"])
def test_waiting_for_a_host_lock_stalls_only_the_waiter(
    attack_program: Build, tmp_path: Path, kind: str
) -> None:
    """The lock is another process's (an embedder's own classic POSIX locks are not safe: any
    close of the file in its process drops them, and the microvisor opens and closes files)."""
    lock_wasm, neighbour_wasm = attack_program("world_lock"), attack_program("world_unix")
    root = tmp_path / "root"
    root.mkdir()
    target = root / "f"
    target.write_bytes(b"data\n")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOST_HOLDER, str(target), kind],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    assert holder.stdin is not None and holder.stdout is not None
    assert holder.stdout.readline() == b"locked\n"

    async def main() -> None:
        async with lind_async.Microvisor(root=root) as mv:
            waiter = await _start(mv, lock_wasm, "wait", "/f", kind, root=root)
            assert await asyncio.wait_for(waiter.stdout.readline(), 30) == b"waiting\n"
            neighbour = await _start(mv, neighbour_wasm, "connect", "@none", root=root)
            assert await _output(neighbour) == b"connect: ECONNREFUSED\n"
            await asyncio.sleep(0.2)
            assert waiter.returncode is None  # still waiting for the other process's lock
            holder.communicate(b"\n", timeout=30)  # it lets go
            assert await _output(waiter) == b"got it\n"

    try:
        asyncio.run(main())
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()


def test_deadlock_between_cages_is_edeadlk_as_native(
    attack_program: Build, tmp_path: Path
) -> None:
    wasm = attack_program("world_lock")
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(b"data\n")
    gcc = shutil.which("gcc")
    assert gcc is not None, "gcc is needed to compare with native"
    native = tmp_path / "world_lock"
    subprocess.run([gcc, "-w", "-o", str(native), str(PROGRAMS / "world_lock.c")], check=True)
    expected = subprocess.run(
        [str(native), "deadlock", "f"], cwd=root, capture_output=True, timeout=60, check=True
    ).stdout
    assert b"EDEADLK" in expected
    result = run_cage(wasm, ["deadlock", "/f"], root=root, timeout=60)
    assert_contained(result)
    assert result.stdout == expected


def test_worlds_sharing_a_file_exclude_each_other_without_learning_pids(
    attack_program: Build, tmp_path: Path
) -> None:
    """World b's root lies inside world a's, so both name one file: a lock of a cage in a holds
    off a cage in b, whose F_GETLK learns no pid of world a (cage ids are per world)."""
    wasm = attack_program("world_lock")
    a = tmp_path / "a"
    inner = a / "inner"
    inner.mkdir(parents=True)
    (inner / "f").write_bytes(b"data\n")

    async def main() -> None:
        async with lind_async.Microvisor(root=a) as mv:
            holder = await mv.create_cage_exec(
                wasm, "hold", "/inner/f", "fcntl", stdin=lind_async.PIPE,
                stdout=lind_async.PIPE, root=a,
            )
            assert holder.stdout is not None
            assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"locked\n"
            probe = await _start(mv, wasm, "probe", "/f", root=inner)
            report = (await _output(probe)).decode().splitlines()
            assert report == [
                "F_SETLK: -1 EAGAIN",
                "F_GETLK: 0 type=WR pid=-1",
                "flock LOCK_NB: 0 ",  # flock and record locks are independent, as on Linux
                "F_SETLKW: -1 EINTR",
                "flock: 0 ",
            ]
            await holder.communicate(b"\n")
            assert holder.returncode == 0

    asyncio.run(main())
