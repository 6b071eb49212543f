"""One long-lived cage serving many requests over its stdin/stdout pipe.

    python examples/long_lived.py [N]

Starting a cage is cheap, but some programs keep state (a cache, a parsed config, a key-value
store) that is worth keeping between requests. Here ``examples/kv.c`` runs once in a cage; the host
sends it one request per line and reads one answer line each. Concurrent callers share the cage
through :class:`LineClient`, which serializes each request/answer pair with a lock (the pipe is
one stream: answers come back in request order). The cage's state survives across requests: the
final ``count`` shows every request was answered by the same process.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import lind_async

PROGRAM = Path(__file__).with_name("kv.c")


class LineClient:
    """Request/answer lines over a cage's stdin/stdout, one exchange at a time."""

    def __init__(self, proc: lind_async.CageProcess) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self._proc = proc
        self._stdin = proc.stdin
        self._stdout = proc.stdout
        self._lock = asyncio.Lock()

    async def ask(self, line: str) -> str:
        async with self._lock:
            self._stdin.write(line.encode() + b"\n")
            await self._stdin.drain()
            answer = await self._stdout.readline()
        if not answer:
            raise EOFError(f"the cage exited (status {self._proc.returncode})")
        return answer.decode().rstrip("\n")

    async def close(self) -> int:
        """Close its stdin (the program sees end-of-file and exits); returns its exit status."""
        self._stdin.close()
        return await self._proc.wait()


async def main(n: int = 100) -> None:
    with tempfile.TemporaryDirectory() as root:
        async with lind_async.Microvisor(root=root) as mv:
            proc = await mv.create_cage_exec(
                PROGRAM,
                stdin=lind_async.PIPE,
                stdout=lind_async.PIPE,
                limits=lind_async.Limits(memory=16 << 20),
            )
            kv = LineClient(proc)

            async def client(i: int) -> None:
                assert await kv.ask(f"set key{i} value {i * i}") == "ok"
                assert await kv.ask(f"get key{i}") == f"value {i * i}"

            await asyncio.gather(*(client(i) for i in range(n)))
            print(f"{n} clients each set and got a key in cage {proc.pid}")
            print("get key7 ->", await kv.ask("get key7"))
            print("get nope ->", await kv.ask("get nope"))
            print("requests answered by the one process:", await kv.ask("count"))
            print("exit status", await kv.close())


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
