"""Process-wide calls on a fake cage: uname, clocks, getrandom, signals and kill, anonymous mmap."""

from __future__ import annotations

import struct
import time

from lind_async.abi import flags as F
from lind_async.abi import layouts as L
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import EFAULT, EINVAL, ENOMEM, EPERM, ESRCH
from lind_async.core.creds import Creds
from tests.unit.rawposix.fake import HEAP_START, MEMORY_SIZE, FakeCage, FakeWorld

SIGUSR1, SIGUSR2, SIGTERM = 10, 12, 15


def test_uname(cage: FakeCage) -> None:
    buf = cage.alloc(L.UTSNAME.size)
    assert cage.call(nr.SYS_uname, buf) == 0
    fields = L.UTSNAME.unpack_from(cage.read(buf, L.UTSNAME.size))
    assert all(isinstance(v, bytes) and v.endswith(b"\0") for v in fields.values())  # terminated
    assert (fields["sysname"], fields["machine"]) == (b"Linux".ljust(65, b"\0"),
                                                      b"wasm32".ljust(65, b"\0"))


def test_clock_gettime(cage: FakeCage) -> None:
    tp = cage.alloc(L.TIMESPEC.size)
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    assert cage.call(nr.SYS_clock_gettime, F.CLOCK_MONOTONIC, tp) == 0
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    sec, nsec, pad = cage.unpack("<qii", tp)
    assert before <= sec * 10**9 + nsec <= after
    assert 0 <= nsec < 10**9 and pad == 0
    assert cage.call(nr.SYS_clock_gettime, F.CLOCK_REALTIME, tp) == 0
    assert abs(cage.unpack("<q", tp)[0] - time.time()) < 5
    assert cage.call(nr.SYS_clock_gettime, 1234, tp) == -EINVAL
    assert cage.call(nr.SYS_clock_gettime, F.CLOCK_MONOTONIC, MEMORY_SIZE - 4) == -EFAULT


def test_getrandom_bounds(cage: FakeCage) -> None:
    buf = cage.alloc(64)
    assert cage.call(nr.SYS_getrandom, buf, 0, 0) == 0
    assert cage.call(nr.SYS_getrandom, buf, 32, 0) == 32
    assert cage.read(buf, 32) != bytes(32)
    assert cage.read(buf + 32, 32) == bytes(32)  # not a byte more
    assert cage.call(nr.SYS_getrandom, buf, 16, F.GRND_NONBLOCK | F.GRND_RANDOM) == 16
    assert cage.call(nr.SYS_getrandom, buf, 16, 0x40) == -EINVAL  # no such flag
    assert cage.call(nr.SYS_getrandom, MEMORY_SIZE - 8, 16, 0) == -EFAULT  # runs off the end
    # A wasm32 size_t is the slot's low 32 bits: 2**40 is a length of 0.
    assert cage.call(nr.SYS_getrandom, buf, 1 << 40, 0) == 0
    assert cage.call(nr.SYS_getrandom, buf, 0xFFFFFFFF, 0) == -EFAULT  # more than memory


# -- signal actions and masks ---------------------------------------------------------------------
def test_rt_sigaction_sets_and_reports(cage: FakeCage) -> None:
    act = cage.put(L.K_SIGACTION.pack(handler=7, flags=0x10000000, mask=1 << (SIGUSR2 - 1)))
    old = cage.alloc(L.K_SIGACTION.size)
    assert cage.call(nr.SYS_rt_sigaction, SIGUSR1, act, old, 8) == 0
    assert L.K_SIGACTION.unpack_from(cage.read(old, L.K_SIGACTION.size))["handler"] == 0  # SIG_DFL
    assert cage.call(nr.SYS_rt_sigaction, SIGUSR1, 0, old, 8) == 0
    got = L.K_SIGACTION.unpack_from(cage.read(old, L.K_SIGACTION.size))
    assert (got["handler"], got["mask"]) == (7, 1 << (SIGUSR2 - 1))
    assert cage.call(nr.SYS_rt_sigaction, SIGUSR1, act, 0, 4) == -EINVAL  # sigsetsize must be 8
    assert cage.call(nr.SYS_rt_sigaction, F.SIGKILL, act, 0, 8) == -EINVAL
    assert cage.call(nr.SYS_rt_sigaction, F.SIGSTOP, act, 0, 8) == -EINVAL
    assert cage.call(nr.SYS_rt_sigaction, F.SIGKILL, 0, old, 8) == 0  # reading it is fine
    assert cage.call(nr.SYS_rt_sigaction, 0, 0, old, 8) == -EINVAL
    assert cage.call(nr.SYS_rt_sigaction, 65, 0, old, 8) == -EINVAL
    assert cage.call(nr.SYS_rt_sigaction, SIGUSR1, MEMORY_SIZE, 0, 8) == -EFAULT


def test_rt_sigprocmask(cage: FakeCage) -> None:
    new, old = cage.alloc(8), cage.alloc(8)
    cage.mem.write(new, struct.pack("<Q", 1 << (SIGUSR1 - 1) | 1 << (F.SIGKILL - 1)))
    assert cage.call(nr.SYS_rt_sigprocmask, F.SIG_BLOCK, new, old, 8) == 0
    assert cage.unpack("<Q", old) == (0,)
    assert cage.call(nr.SYS_rt_sigprocmask, F.SIG_BLOCK, 0, old, 8) == 0
    assert cage.unpack("<Q", old) == (1 << (SIGUSR1 - 1),)  # SIGKILL cannot be blocked
    assert cage.call(nr.SYS_rt_sigprocmask, F.SIG_UNBLOCK, new, 0, 8) == 0
    assert cage.signals.blocked == 0
    assert cage.call(nr.SYS_rt_sigprocmask, 7, new, 0, 8) == -EINVAL  # no such how
    assert cage.call(nr.SYS_rt_sigprocmask, F.SIG_BLOCK, new, 0, 16) == -EINVAL


# -- kill and the authority -----------------------------------------------------------------------
def test_kill_follows_the_authority(world: FakeWorld, cage: FakeCage) -> None:
    child = world.cage(2, parent_id=1)
    stranger = world.cage(3)
    creds = world.authority.creds
    creds.set(1, Creds.of_user(1000, 1000))
    creds.set(2, Creds.of_user(1000, 1000))
    creds.set(3, Creds.of_user(1001, 1001))
    assert cage.call(nr.SYS_kill, 2, SIGUSR1) == 0
    assert child.posted == [(SIGUSR1, 1)]
    assert cage.call(nr.SYS_kill, 2, 0) == 0  # a probe: nothing sent
    assert child.posted == [(SIGUSR1, 1)]
    assert cage.call(nr.SYS_kill, 3, SIGTERM) == -EPERM  # another user's process
    assert cage.call(nr.SYS_kill, 3, 0) == -EPERM
    assert stranger.posted == []
    assert cage.call(nr.SYS_kill, 99, SIGTERM) == -ESRCH
    assert cage.call(nr.SYS_kill, 2, 65) == -EINVAL
    assert cage.call(nr.SYS_kill, 1, SIGUSR2) == 0  # itself
    assert cage.posted == [(SIGUSR2, 1)]
    assert cage.signals.pending == 1 << (SIGUSR2 - 1)


# -- anonymous mmap -------------------------------------------------------------------------------
def test_mmap_anonymous_is_a_zeroed_vmmap_entry(cage: FakeCage) -> None:
    rw, anon = F.PROT_READ | F.PROT_WRITE, F.MAP_PRIVATE | F.MAP_ANONYMOUS
    addr = cage.call(nr.SYS_mmap, 0, 10000, rw, anon, -1, 0)
    assert addr > 0 and addr % F.PAGE_SIZE == 0
    assert addr >= HEAP_START and addr + 12288 <= MEMORY_SIZE
    assert cage.vm.overlaps(addr, 12288)  # rounded up to whole pages
    assert cage.read(addr, 12288) == bytes(12288)
    cage.mem.write(addr, b"dirty")
    second = cage.call(nr.SYS_mmap, 0, 4096, rw, anon, -1, 0)
    assert second >= 0 and not addr <= second < addr + 12288  # never over a live mapping
    assert cage.call(nr.SYS_munmap, addr, 12288) == 0
    assert not cage.vm.overlaps(addr, 12288)
    assert cage.read(addr, 5) == bytes(5)  # given back as zero pages
    fixed = cage.call(nr.SYS_mmap, addr, 4096, rw, anon | F.MAP_FIXED, -1, 0)
    assert fixed == addr


def test_mmap_refusals(cage: FakeCage) -> None:
    rw, anon = F.PROT_READ | F.PROT_WRITE, F.MAP_PRIVATE | F.MAP_ANONYMOUS
    assert cage.call(nr.SYS_mmap, 0, 0, rw, anon, -1, 0) == -EINVAL  # empty
    assert cage.call(nr.SYS_mmap, 0, 4096, rw, F.MAP_ANONYMOUS, -1, 0) == -EINVAL  # no type
    assert cage.call(nr.SYS_mmap, 0, 4096, rw, anon, -1, 100) == -EINVAL  # unaligned offset
    assert cage.call(nr.SYS_mmap, 123, 4096, rw, anon | F.MAP_FIXED, -1, 0) == -EINVAL
    assert cage.call(nr.SYS_mmap, 0, 0xFFFFF000, rw, anon, -1, 0) == -ENOMEM
    assert cage.call(nr.SYS_mmap, 0, 2 * MEMORY_SIZE, rw, anon, -1, 0) == -ENOMEM
    assert cage.call(nr.SYS_munmap, 123, 4096) == -EINVAL  # unaligned
    assert cage.call(nr.SYS_munmap, 0x10000, 0) == -EINVAL  # empty
