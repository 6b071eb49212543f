"""Run in a child process by test_resources.py: many hog cages in one microvisor, under a host
``RLIMIT_NOFILE`` the test chose, then a neighbour. Prints one JSON report on stdout.

usage: python -m tests.security.resource_driver HOG.wasm ROOT HOGS [FDS]
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
from pathlib import Path

import lind_async


async def _line(proc: lind_async.CageProcess) -> str:
    assert proc.stdout is not None
    return (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()


async def main(hog: Path, root: Path, count: int, fds: int | None) -> dict[str, object]:
    report: dict[str, object] = {"limit_before": resource.getrlimit(resource.RLIMIT_NOFILE)}
    limits = lind_async.Limits(fds=fds)
    async with lind_async.Microvisor(root=root) as mv:
        report["limit_after"] = resource.getrlimit(resource.RLIMIT_NOFILE)
        hogs = []
        for _ in range(count):
            proc = await mv.create_cage_exec(
                hog, stdin=lind_async.PIPE, stdout=lind_async.PIPE, limits=limits
            )
            hogs.append((proc, await _line(proc)))  # it holds what it opened from here on
        report["hogs"] = [line for _, line in hogs]
        report["host_fds_held"] = len(os.listdir("/proc/self/fd"))
        neighbour = await mv.create_cage_exec(hog, "neighbour", stdout=lind_async.PIPE)
        report["neighbour"] = await _line(neighbour)
        report["neighbour_status"] = await neighbour.wait()
        for proc, _ in hogs:
            assert proc.stdin is not None
            proc.stdin.close()
        report["hog_status"] = sorted({await proc.wait() for proc, _ in hogs})
        again = await mv.create_cage_exec(hog, "neighbour", stdout=lind_async.PIPE)
        report["after"] = await _line(again)
    return report


if __name__ == "__main__":
    hog, root, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    fds = int(sys.argv[4]) if len(sys.argv) > 4 else None
    print(json.dumps(asyncio.run(main(hog, root, count, fds))))
