"""Embedding lind_async in an async program: run a C program in a cage, talk to it through pipes.

    python examples/embed_echo.py [asyncio|uvloop|trio]

Compiles ``examples/upper.c`` (cached after the first run), starts it in a cage whose ``/`` is a
temporary directory, sends it text on stdin and prints what comes back on stdout, plus a few cages
at once, and one stopped by a time limit.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import anyio

import lind_async

PROGRAM = Path(__file__).with_name("upper.c")


async def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        async with lind_async.Microvisor(root=root) as mv:
            module = await mv.load(PROGRAM)  # compile once; every cage below reuses it
            proc = await mv.create_cage_exec(
                module, stdin=lind_async.PIPE, stdout=lind_async.PIPE, stderr=lind_async.STDOUT
            )
            out, _ = await proc.communicate(b"hello from the host\n")
            assert out is not None
            print(f"cage {proc.pid} answered {out.decode()!r}, exit status {proc.returncode}")

            answers: dict[int, bytes] = {}

            async def ask(i: int) -> None:
                p = await mv.create_cage_exec(module, stdin=lind_async.PIPE, stdout=lind_async.PIPE)
                answers[i], _ = await p.communicate(b"cage %d\n" % i)  # type: ignore[assignment]

            async with anyio.create_task_group() as tg:
                for i in range(10):
                    tg.start_soon(ask, i)
            print("ten cages:", b"".join(answers[i] for i in range(10)).decode().split("\n")[:-1])

            slow = await mv.create_cage_exec(
                module, "spin", stdout=lind_async.DEVNULL, limits=lind_async.Limits(cpu_time=0.2)
            )
            print("a cage that spins with a 0.2 s CPU limit ended with", await slow.wait())


if __name__ == "__main__":
    loop = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
    if loop == "trio":
        anyio.run(main, backend="trio")
    else:
        anyio.run(main, backend="asyncio", backend_options={"use_uvloop": loop == "uvloop"})
