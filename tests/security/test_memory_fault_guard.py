"""The SIGBUS guard on its own (memory/faults.py, native/faults.c), without wasm: a host file
mapping registered as a cage's memory, shrunk, then read by Python code — the repaired page
reads as zero and the owner is reported once; a fault outside every registered range still
kills the process (the guard must not swallow faults that are not a cage's). Each scenario runs
in a fresh interpreter: the last one is meant to die."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.security.conftest import REPO

SCENARIO = textwrap.dedent("""
    import ctypes, mmap, os, sys
    from lind_async.core.vmmap import VmMap
    from lind_async.memory import GuestMemory, faults
    from lind_async.wasm.engine import LindEngine
    import lind_async.runtime.world  # configures the guard (epoch bump, handler library)

    class Microvisor:  # what watch() needs of a cage's microvisor
        def __init__(self):
            self.engine = LindEngine()  # wasmtime's handlers first, as in the runtime
            self.cages = {}

    class Area:  # the file mapping posing as linear memory
        def __init__(self, base):
            self.base = base

        def size(self):
            return 8192

    class Owner:
        def __init__(self, mv, vm):
            self.microvisor, self._vm, self.status = mv, vm, None

    path, watched = sys.argv[1], sys.argv[2] == "watched"
    with open(path, "wb") as f:
        f.write(b"x" * 8192)
    fd = os.open(path, os.O_RDWR)
    area = mmap.mmap(fd, 8192)
    base = ctypes.addressof(ctypes.c_char.from_buffer(area))
    vm = VmMap(0, 8192)
    owner = Owner(Microvisor(), vm)
    if watched:
        faults.watch(vm, GuestMemory(Area(base)), owner)
    else:
        faults.guard()
    os.ftruncate(fd, 100)  # the second page has no backing now
    print("before", faults.take() == [], ctypes.string_at(base + 90, 1), flush=True)
    print("page", ctypes.string_at(base + 4096, 4), flush=True)  # SIGBUS here
    print("faulted", bool(faults.FAULTED[0]), faults.take() == [owner], faults.take() == [])
    print("again", ctypes.string_at(base + 4100, 2), faults.take() == [])
    faults.unwatch(vm)
    print("unwatched", faults.watched(vm))
""")


def _run(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCENARIO, str(tmp_path / "f.dat"), mode],
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


def test_a_watched_fault_is_repaired_and_reported_once(tmp_path: Path) -> None:
    done = _run(tmp_path, "watched")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "before True b'x'",
        "page b'\\x00\\x00\\x00\\x00'",
        "faulted True True True",
        "again b'\\x00\\x00' True",  # the repaired page stays: no second fault
        "unwatched False",
    ]


def test_a_fault_elsewhere_still_kills(tmp_path: Path) -> None:
    done = _run(tmp_path, "unwatched")
    assert done.returncode == -signal.SIGBUS, (done.stdout, done.stderr)
    assert done.stdout.splitlines() == ["before True b'x'"]
