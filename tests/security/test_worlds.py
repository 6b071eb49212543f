"""Class 6 — worlds that leak: one root of one microvisor is a world, and nothing crosses worlds.

AF_UNIX names (abstract and path) are per world, so two cages in different roots cannot meet and
pass a descriptor with ``SCM_RIGHTS``; record locks and ``flock`` are host locks on the host
file, so two microvisor processes on one root, and host programs, exclude each other."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import lind_async

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
