"""The hostile fuzzer: random system calls and 3i operations from several concurrent cages.

Each fuzz cage runs ``programs/fuzz_driver.c``, which reads a script of calls on stdin and makes
them (raw ``lind.syscall`` with all 64 bits of each argument, lind-musl's ``syscall()``,
``lind_threei_call`` with random target and owner cages, or a fork whose child exits at once),
each chunk of calls in a freshly forked worker so a call that ends its caller ends only that
worker (see the driver's comment). Python generates every call — the call number (mostly ones
RawPOSIX implements, 3i's 1001-1003, sometimes any number), and arguments mixing interesting
literals (0, -1, small ints, fds, flags, lengths, huge and negative values, page-aligned
addresses), pointers into the driver's scratch buffer (at the structures it keeps there, or
anywhere, or past its end), the same pointers with high bits set, path strings, the cage's own
pid, its parent's, packed cage-id pairs and stack addresses. Next to the fuzz cages a neighbour
cage (``programs/fuzz_neighbour.c``) does file, pipe and fork work throughout. Each fuzz slot and
the neighbour run in the same microvisor but each in a world of its own (its own root): within one
world, cages of the same user may signal each other as POSIX processes do (``threei/authority.py``
rule 5; the tests may run as root, who signals anyone), so the isolation the fuzzer checks is
between worlds, and a slot's fuzz cages reach only their own family.

Asserted: no internal error (no ``lind_async`` log record at ERROR or with a traceback, nothing
from the event loop's exception handler, no "Traceback"/"internal error" in the diagnostics), the
microvisor alive (a new cage runs afterwards), every fuzz cage and every worker ended with an
ordinary status (an exit code, or a signal a native process could die of: never ``SIGSYS``,
which is what an internal error kills a cage with; the generator never sends ``SIGSYS`` itself),
no fuzz cage stalled, and the neighbour's output exactly as expected.

Two tests:

- ``test_fuzz_hypothesis``: hypothesis generates the scripts (4 cages, up to 24 calls each), so
  a failure shrinks to a minimal script; ``LIND_FUZZ_EXAMPLES`` sets the number of examples
  (default 6).
- ``test_fuzz_seeded``: a seeded generator, for volume. Default: 4 cages x 2,000 calls (a few
  seconds). The long run::

      LIND_FUZZ_CALLS=1000000 pytest -q -s tests/security/test_fuzz.py -k seeded

  ``LIND_FUZZ_CALLS`` is the total number of calls, ``LIND_FUZZ_CAGES`` the number of fuzz cages
  (default 16 when ``LIND_FUZZ_CALLS`` is set, else 4), ``LIND_FUZZ_SEED`` the seed (default:
  random, printed; a failure names the seed, cage and call index, and the call itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import io
import logging
import os
import random
import re
import resource
import signal
import struct
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lind_async
from lind_async.abi import syscalls as nr
from tests.security.conftest import PROGRAMS

T = TypeVar("T")

# -- the script format (programs/fuzz_driver.c) ----------
NSLOT = 13
RECORD = struct.Struct("<BI" + "BQ" * NSLOT)  # via, nr, 13 x (kind, value)
assert RECORD.size == 1 + 4 + NSLOT * 9

VIA_RAW, VIA_LIBC, VIA_THREEI, VIA_FORK = 0, 1, 2, 3
K_LIT, K_SCRATCH, K_HIGH, K_STR, K_SELF, K_SELF_FLAG, K_PARENT, K_PAIR, K_STACK, K_LAST = range(10)
KIND_NAMES = ("lit", "scratch+", "high", "str#", "self+", "self|flag", "parent", "pair", "stack+",
              "recent#")
Slot = tuple[int, int]  # (kind, value)
U64 = (1 << 64) - 1
GRATE_MEMORY_FLAG = 1 << 63
MY_PID, MY_PARENT = 0xFFFFFFFE, 0xFFFFFFFD  # K_PAIR halves the driver substitutes

# Offsets of the structures the driver keeps in its scratch buffer (its T_* constants), its
# data area, and its end (0x10000) and beyond.
TEMPLATES = (0x0, 0x40, 0x50, 0x60, 0x80, 0x100, 0x200, 0x300, 0x320, 0x330, 0x340, 0x380,
             0x3C0, 0x400, 0x480, 0x1000, 0x2000, 0x3000, 0x8000, 0xFFF0, 0xFFFC, 0x10000)
INTERESTING = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 17, 64, 100, 127, 128, 255, 256, 1023, 1024,
    4095, 4096, 4097, 8192, 65535, 65536, 1 << 20, 1 << 24, 0x7FFFFFFF, 0x80000000,
    0xFFFFFFFF, 1 << 32, (1 << 32) + 4096, 1 << 62, 1 << 63, (1 << 63) - 1,
    U64, U64 - 1, U64 - 99, U64 - 4094, U64 - 4095,  # -1, -2, -100 (AT_FDCWD), -4095, -4096
    0x42, 0x241, 0xC2, 0x800, 0x10000, 0x80000, 0x80800,  # open/socket flags
    0x21, 0x22, 0x32, 0x4100, 0x10900, 0x50F00,  # mmap and clone flags
)
HIGHS = (1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE)
CAGE_IDS = (0x7FFFFFFF, 0xFFFFFFFF, 1 << 32, 1 << 63, U64)
WEIRD_NUMBERS = (0xFFFFFFFF, 1000, 1004, 0x7FFFFFFF, 0x80000000, 4096, 65536)
THREEI_OPS = (nr.SYS_register_handler, nr.SYS_copy_data_between_cages,
              nr.SYS_copy_handler_table_to_cage)
SIGSYS = 31
# The argument that is a signal number, per call that sends one: the generator never sends
# SIGSYS, so a cage or worker killed by SIGSYS always means an internal error.
SIGNAL_ARG = {nr.SYS_kill: 1, nr.SYS_tkill: 1, nr.SYS_tgkill: 2, 129: 1, 297: 2, 424: 1}


def implemented_numbers() -> tuple[int, ...]:
    from lind_async.rawposix import table

    return tuple(sorted(table.load()))


NUMBERS = implemented_numbers()


# -- generation: one generator, two sources of choices ----------
class Chooser(Protocol):
    def integer(self, lo: int, hi: int) -> int: ...
    def pick(self, options: Sequence[T]) -> T: ...


class RandomChooser:
    """Choices from a seeded ``random.Random`` (the long runs)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def pick(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]


class DrawChooser:
    """Choices drawn from hypothesis (they shrink toward the first option / the low end)."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        value: int = self.draw(st.integers(lo, hi))
        return value

    def pick(self, options: Sequence[T]) -> T:
        value: T = self.draw(st.sampled_from(options))
        return value


def gen_arg(c: Chooser) -> Slot:
    roll = c.integer(0, 99)
    if roll < 18:
        return K_LIT, c.pick(INTERESTING)
    if roll < 30:
        return K_LIT, c.integer(0, 64)  # fds, signal numbers, small counts and flags
    if roll < 36:
        return K_LIT, c.integer(0, U64)
    if roll < 56:
        return K_SCRATCH, c.pick(TEMPLATES)
    if roll < 62:
        return K_SCRATCH, c.integer(0, 0x11000)
    if roll < 68:
        return K_HIGH, c.pick(HIGHS) << 32 | c.pick(TEMPLATES)
    if roll < 80:
        return K_STR, c.integer(0, 40)
    if roll < 87:
        return K_SELF, c.integer(-2, 2) & U64
    if roll < 90:
        return K_PARENT, 0
    if roll < 92:
        return K_SELF_FLAG, 0
    if roll < 95:
        return K_PAIR, gen_half(c) << 32 | gen_half(c)
    if roll < 97:
        return K_STACK, c.integer(-512, 512) & U64
    if roll < 98:
        return K_LAST, c.integer(0, 7)
    return K_LIT, c.integer(0, 0x100000) * 4096  # page-aligned, up to 4 GiB


def gen_half(c: Chooser) -> int:
    roll = c.integer(0, 9)
    if roll < 4:
        return MY_PID
    if roll < 5:
        return MY_PARENT
    return c.integer(0, 20) if roll < 9 else c.pick((0x7FFFFFFF, 0xFFFFFFFF))


def gen_cage(c: Chooser) -> Slot:
    """A target or owner cage for lind_threei_call."""
    roll = c.integer(0, 99)
    if roll < 30:
        return K_LIT, 0
    if roll < 55:
        return K_SELF, 0
    if roll < 75:
        return K_SELF_FLAG, 0
    if roll < 80:
        return K_PARENT, 0
    if roll < 92:
        return K_LIT, c.integer(0, 20)
    return K_LIT, c.pick(CAGE_IDS) | (GRATE_MEMORY_FLAG if c.integer(0, 1) else 0)


# Argument shapes per call, used for half of the calls of these numbers (the other half get
# arguments of any shape), so calls also get past their first checks: ``fd`` (0-11, where the
# driver keeps files, pipes, sockets, eventfd and epoll fds, or a recent result), ``buf``/``ptr``
# (the scratch data area / a structure there; ``ptr:OFF`` that structure), ``len``, ``path``,
# ``flags``, ``small``, ``pid``/``cage``, ``sig``, ``addr`` (a recent result, e.g. an mmap
# address, or a page), ``nr``, ``fn`` (a function-table index), ``pair`` (two cage ids).
_SHAPES = {
    "read write pread64 pwrite64 getdents64": "fd buf len int",
    "readv writev": "fd ptr:0x0 small int",
    "open": "path flags mode", "openat": "dirfd path flags mode", "close fchdir": "fd",
    "dup": "fd", "dup2 dup3": "fd fd flags", "lseek": "fd int small",
    "fcntl": "fd small int", "ioctl": "fd ioctl ptr", "flock": "fd small",
    "mmap": "addr len prot mapflags fd int", "munmap mprotect madvise msync": "addr len prot",
    "mremap": "addr len len small addr", "brk": "addr",
    "socket": "domain socktype small", "socketpair": "domain socktype small ptr",
    "bind connect": "fd ptr:0x80 addrlen", "listen shutdown": "fd small",
    "accept accept4": "fd ptr ptr flags", "sendto recvfrom": "fd buf len flags ptr:0x60 addrlen",
    "sendmsg recvmsg": "fd ptr:0x100 flags", "getsockopt setsockopt": "fd small small ptr ptr",
    "poll": "ptr:0x380 small small", "ppoll": "ptr:0x380 small ptr:0x40 ptr:0x320 sigsize",
    "pselect6": "small ptr:0x400 ptr:0x400 ptr ptr:0x40 ptr",
    "epoll_create1 eventfd2": "flags", "epoll_ctl": "fd small fd ptr:0x340",
    "epoll_wait epoll_pwait": "fd ptr small small ptr:0x320 sigsize",
    "timerfd_create": "small flags", "timerfd_settime": "fd small ptr:0x3c0 ptr",
    "signalfd4": "fd ptr:0x320 sigsize flags", "futex": "buf small int ptr:0x40 buf int",
    "kill tkill": "pid sig", "tgkill": "pid pid sig", "wait4": "pid ptr small ptr",
    "clone": "cloneflags ptr:0x8000 ptr ptr ptr fn", "execve": "path ptr ptr",
    "rt_sigaction": "sig ptr:0x300 ptr sigsize", "rt_sigprocmask": "small ptr:0x320 ptr sigsize",
    "setitimer": "small ptr:0x3c0 ptr", "prlimit64": "pid small ptr:0x480 ptr",
    "ftruncate": "fd len", "fallocate": "fd small int len",
    "copy_file_range": "fd ptr fd ptr len flags", "sendfile": "fd fd ptr len",
    "mkdir rmdir unlink chdir": "path mode", "rename link symlink": "path path",
    "newfstatat": "dirfd path ptr flags", "fstat": "fd ptr", "mknodat": "dirfd path mode int",
    "pipe2": "ptr flags", "setpgid": "pid pid", "getpgid getsid": "pid",
    "register_handler": "cage nr cage fn", "copy_data_between_cages": "cage buf buf pair len small",
    "copy_handler_table_to_cage": "cage cage",
}
_BY_NAME = {name: number for number, name in nr.NAMES.items()}
SHAPES = {_BY_NAME[name]: tuple(shape.split()) for names, shape in _SHAPES.items()
          for name in names.split()}
LENGTHS = (0, 1, 16, 100, 4096, 65536, 1 << 20, 0x7FFFFFFF, 0xFFFFFFFF, U64, 1 << 40)
FLAG_CHOICES = {
    "flags": (0, 0x800, 0x80000, 0x80800, 1, 2, 0x40, 0x42, 0x241, 0xC2, 0x10000, 0x200000),
    "mode": (0o644, 0o755, 0, 0o7777, U64),
    "prot": (0, 1, 3, 5, 7, 0x1000003),
    "mapflags": (0x22, 0x21, 0x32, 0x31, 0x12, 0x11, 0x2, 0x20, 0x100022),
    "domain": (1, 2, 10, 16, 0, 17),
    "socktype": (1, 2, 5, 3, 0x80001, 0x801, 0x80802),
    "ioctl": (0x541B, 0x5421, 0x5413, 0x5401, 0x5402, 0x8912, 0x4020940D),
    "cloneflags": (0x10900, 0x50F00, 0x4100, 0x100, 0x11, 0x3D0F00, 0),
    "sigsize": (8, 0, 16, 128, U64),
    "addrlen": (16, 110, 0, 2, 28, U64, 1 << 20),
}


def gen_shaped(c: Chooser, shape: str) -> Slot:
    if shape.startswith("ptr:"):
        return K_SCRATCH, int(shape[4:], 16)
    if shape in FLAG_CHOICES:
        return K_LIT, c.pick(FLAG_CHOICES[shape])
    if shape in ("fd", "dirfd"):
        roll = c.integer(0, 9)
        if shape == "dirfd" and roll < 3:
            return K_LIT, U64 - 99  # AT_FDCWD
        return (K_LIT, c.integer(0, 11)) if roll < 8 else (K_LAST, c.integer(0, 7))
    if shape == "buf":
        return K_SCRATCH, c.pick((0x1000, 0x2000, 0x3000, 0x8000, 0xFFF0))
    if shape == "ptr":
        return K_SCRATCH, c.pick(TEMPLATES)
    if shape == "len":
        return K_LIT, c.pick(LENGTHS)
    if shape == "path":
        return K_STR, c.integer(0, 40)
    if shape == "small":
        return K_LIT, c.integer(0, 16)
    if shape == "sig":
        return K_LIT, c.pick((0, 1, 2, 9, 10, 12, 13, 14, 15, 17, 18, 19, 20, 28, 34, 64, 65))
    if shape in ("pid", "cage"):
        return gen_cage(c) if shape == "cage" else c.pick(
            ((K_SELF, 0), (K_PARENT, 0), (K_LAST, 0), (K_LIT, 0), (K_LIT, U64), (K_LIT, 1),
             (K_LIT, c.integer(0, 20)), (K_LIT, U64 - c.integer(0, 20))))
    if shape == "addr":
        roll = c.integer(0, 9)
        if roll < 4:
            return K_LAST, c.integer(0, 7)
        if roll < 7:
            return K_SCRATCH, c.pick((0x1000, 0x8000, 0x10000))
        return K_LIT, c.integer(0, 0x10000) * 4096
    if shape == "nr":
        return K_LIT, c.pick(NUMBERS)
    if shape == "fn":
        return K_LIT, c.integer(0, 64)
    if shape == "pair":
        return K_PAIR, gen_half(c) << 32 | gen_half(c)
    return gen_arg(c)  # "int"


def gen_call(c: Chooser) -> bytes:
    roll = c.integer(0, 99)
    via = VIA_RAW if roll < 72 else VIA_LIBC if roll < 84 else VIA_THREEI if roll < 97 else VIA_FORK
    slots: list[Slot] = [(K_LIT, 0)] * NSLOT
    if via == VIA_FORK:
        return encode(via, 0, slots)
    roll = c.integer(0, 99)
    if roll < 75:
        number = c.pick(NUMBERS)
    elif roll < 85:
        number = c.pick(THREEI_OPS)
    elif roll < 95:
        number = c.integer(0, 460)
    else:
        number = c.pick(WEIRD_NUMBERS)
    shape = SHAPES.get(number)
    if shape is not None and c.integer(0, 1):
        arity = len(shape)
        for i, kind in enumerate(shape):
            slots[i] = gen_shaped(c, kind)
    else:
        arity = c.integer(0, 6)
        for i in range(arity):
            slots[i] = gen_arg(c)
    if via == VIA_THREEI:
        slots[6] = gen_cage(c)
        for i in range(arity):
            slots[7 + i] = gen_cage(c)
    sig = SIGNAL_ARG.get(number)
    if sig is not None:
        kind, value = slots[sig]
        if kind in (K_SELF, K_PARENT, K_PAIR) or (kind == K_LIT and value & 0xFFFFFFFF == SIGSYS):
            slots[sig] = (K_LIT, 0)
    return encode(via, number, slots)


def encode(via: int, number: int, slots: Sequence[Slot]) -> bytes:
    flat = [x for slot in slots for x in slot]
    return RECORD.pack(via, number & 0xFFFFFFFF, *flat)


def describe(record: bytes) -> str:
    """One call of a script, readable (for failure reports)."""
    via, number, *flat = RECORD.unpack(record)
    slots = list(zip(flat[::2], flat[1::2], strict=True))
    if via == VIA_FORK:
        return "fork() (the child exits at once)"
    signed = number - (1 << 32) if number >= 1 << 31 else number
    name = nr.NAMES.get(signed, f"syscall_{signed}")

    def show(slot: Slot) -> str:
        kind, value = slot
        if kind == K_LIT:
            return hex(value) if value > 0xFFFF else str(value)
        return f"{KIND_NAMES[kind] if kind < len(KIND_NAMES) else kind}{value:#x}"

    args = ", ".join(show(s) for s in slots[:6])
    if via == VIA_THREEI:
        owners = ", ".join(show(s) for s in slots[7:])
        return f"lind_threei_call({name}, target={show(slots[6])}; {args}; owners {owners})"
    how = "syscall()" if via == VIA_LIBC else "raw"
    return f"{name}({args}) [{how}]"


@st.composite
def call_records(draw: Callable[[st.SearchStrategy[Any]], Any]) -> bytes:
    return gen_call(DrawChooser(draw))


# -- the harness ----------
CHUNK = 256  # calls per worker process
WORKER_TIMEOUT_MS = 3000  # no new call for this long: the supervisor kills the worker
LIMITS = lind_async.Limits(memory=96 << 20, fds=256, children=24)
ORDINARY_SIGNALS = frozenset(range(1, 65)) - {SIGSYS}


class Feed(Protocol):
    """One fuzz cage's script, by chunks of CHUNK calls."""

    @property
    def nchunks(self) -> int: ...
    def chunk(self, k: int) -> bytes: ...


@dataclass
class ListFeed:
    records: Sequence[bytes]

    @property
    def nchunks(self) -> int:
        return (len(self.records) + CHUNK - 1) // CHUNK

    def chunk(self, k: int) -> bytes:
        return b"".join(self.records[k * CHUNK : (k + 1) * CHUNK])


@dataclass
class SeededFeed:
    seed: str
    calls: int

    @property
    def nchunks(self) -> int:
        return (self.calls + CHUNK - 1) // CHUNK

    def chunk(self, k: int) -> bytes:
        chooser = RandomChooser(random.Random(f"{self.seed}:{k}"))
        count = min(CHUNK, self.calls - k * CHUNK)
        return b"".join(gen_call(chooser) for _ in range(count))


def call_at(feed: Feed, index: int) -> str:
    k, i = divmod(index, CHUNK)
    if not 0 <= k < feed.nchunks:
        return f"(call {index} is not in the script)"
    record = feed.chunk(k)[i * RECORD.size : (i + 1) * RECORD.size]
    if len(record) != RECORD.size:
        return f"(call {index} is not in the script)"
    return describe(record)


@dataclass
class WorkerEnd:
    index: int
    status: int  # a wait status
    pid: int
    timed_out: bool


@dataclass
class SlotResult:
    planned: int
    issued: int = 0
    cages: list[int] = field(default_factory=list)
    returncodes: list[int] = field(default_factory=list)
    worker_ends: list[WorkerEnd] = field(default_factory=list)
    fork_failures: int = 0
    unreaped: int = 0
    skipped_chunks: int = 0
    stalls: int = 0
    noise: list[str] = field(default_factory=list)  # unexpected output (stderr, odd lines)


@dataclass
class Outcome:
    slots: list[SlotResult]
    problems: list[str]  # internal errors and tracebacks, as reported
    warnings: Counter[str]
    neighbour_expected: bytes
    neighbour_output: bytes
    neighbour_returncode: int | None
    after_ok: bool
    seconds: float

    @property
    def issued(self) -> int:
        return sum(s.issued for s in self.slots)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[logging.LogRecord, str]] = []
        self.locate: Callable[[], str] = lambda: ""

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record, self.locate()))


class Locator:
    """Which fuzz call is running when something is logged: the cage making it (the one whose
    host call runs, else the one whose task runs), then its fuzz cage up its lineage, whose
    shared page holds the call's index (the driver's ``struct shared``)."""

    def __init__(self, mv: lind_async.Microvisor, feeds: Sequence[Feed]) -> None:
        self.mv, self.feeds = mv, feeds
        self.supervisors: dict[int, tuple[int, int]] = {}  # cage id -> (slot, page address)

    def _cages(self) -> dict[int, Any]:
        host = self.mv._host  # the runtime's side, for the test's eyes only
        return {} if host is None else {
            cid: cage for world in host.worlds.values() for cid, cage in world.cages.items()
        }

    def __call__(self) -> str:
        from lind_async.runtime import signals

        cages = self._cages()
        cage = signals.running_cage()
        if cage is None:
            task = asyncio.current_task()
            cage = next((c for c in cages.values() if task in c.tasks), None)
        if cage is None:
            return ""
        lineage, c = [], cage
        while c is not None and c.cage_id not in self.supervisors and len(lineage) < 64:
            lineage.append(c.cage_id)
            c = cages.get(c.parent_id)
        if c is None:
            return f"[cage {cage.cage_id}, not of a fuzz cage]"
        slot, address = self.supervisors[c.cage_id]
        if not lineage:
            return f"[fuzz cage {slot}'s supervisor {c.cage_id}]"
        try:
            cur, _, base = struct.unpack("<IIq", cage.mem.read(address, 16))
        except Exception as e:
            return f"[fuzz cage {slot}, cage {cage.cage_id}: call unknown ({e!r})]"
        index = base + cur
        return f"[fuzz cage {slot} call {index}: {call_at(self.feeds[slot], index)}]"


@contextlib.contextmanager
def captured_logs() -> Any:
    handler = _Records()
    loggers = [logging.getLogger("lind_async"), logging.getLogger("asyncio")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def neighbour_line(k: int) -> bytes:
    length = 1 + k * 37 % 4000
    total = sum((i * 7 + k) & 0xFF for i in range(length))
    return b"%d %d %d 1\n" % (k, total, k % 100)


def _wait_status_signal(status: int) -> int:
    """The signal a Linux wait status reports death by, or 0."""
    sig = status & 0x7F
    return sig if sig not in (0, 0x7F) else 0


async def _run_slot(
    mv: lind_async.Microvisor, driver: Path, i: int, feed: Feed, out: SlotResult, stall: float,
    locator: Locator,
) -> None:
    start = 0
    while start < feed.nchunks:
        proc = await mv.create_cage_exec(
            driver, str(CHUNK), str(WORKER_TIMEOUT_MS), str(start * CHUNK),
            stdin=lind_async.PIPE, stdout=lind_async.PIPE, stderr=lind_async.PIPE,
            root=Path(mv.root) / f"fz{i}", limits=LIMITS, argv0="fuzz_driver",
        )
        out.cages.append(proc.pid)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None

        async def feed_stdin(first: int, stdin: Any = proc.stdin) -> None:
            try:
                for k in range(first, feed.nchunks):
                    stdin.write(feed.chunk(k))
                    await stdin.drain()
                stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the fuzz cage ended early (one of its workers killed it)

        writer = asyncio.create_task(feed_stdin(start))
        errors = asyncio.create_task(proc.stderr.read())
        done_chunks, finished, quiet = start, False, 0
        while True:
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), stall)
            except TimeoutError:
                quiet += 1
                if quiet == 1:  # a worker may have stopped it (SIGSTOP): continue it
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(signal.SIGCONT)
                    continue
                out.stalls += 1
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                break
            quiet = 0
            if not line:
                break
            word, *rest = line.split()
            if word == b"S":
                locator.supervisors[proc.pid] = (i, int(rest[0]))
            elif word == b"P":
                done_chunks = int(rest[1]) // CHUNK
                out.issued = max(out.issued, int(rest[1]))
            elif word in (b"W", b"T"):
                end = WorkerEnd(int(rest[0]), int(rest[1]), int(rest[2]), word == b"T")
                out.worker_ends.append(end)
            elif word == b"F":
                out.fork_failures += 1
            elif word == b"Z":
                out.unreaped += 1
            elif word == b"DONE":
                finished = True
            else:
                out.noise.append(line.decode(errors="replace"))
        out.returncodes.append(await proc.wait())
        writer.cancel()
        err = await errors
        if err:
            out.noise.append(err.decode(errors="replace"))
        if finished:
            return
        # It ended before its script did: a worker killed it (kill -1, SIGKILL, ...). Start a
        # new one after the chunk it was on (the calls of that chunk are not counted).
        out.skipped_chunks += 1
        start = done_chunks + 1


async def fuzz(
    root: Path, driver: Path, neighbour: Path, feeds: Sequence[Feed], *, planned: Sequence[int]
) -> Outcome:
    """Run one fuzz cage per feed and a neighbour in one microvisor; report what happened."""
    problems: list[str] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, ctx: problems.append(f"event loop: {ctx}"))
    diagnostics = io.StringIO()
    slots = [SlotResult(planned=n) for n in planned]
    world, nb_root = root / "fuzz", root / "neighbour"
    for i in range(len(feeds)):
        (world / f"fz{i}").mkdir(parents=True)
    (nb_root / "nb").mkdir(parents=True)
    stall = 4 * WORKER_TIMEOUT_MS / 1000 + 20

    async def heartbeat() -> None:
        # A call that blocks the event loop itself freezes every cage and this harness too:
        # then, after a minute, faulthandler prints every thread's stack (the blocking call).
        while True:
            faulthandler.dump_traceback_later(60)
            await asyncio.sleep(5)

    beat = asyncio.create_task(heartbeat())
    t0 = time.monotonic()
    with captured_logs() as logs:
        async with lind_async.Microvisor(root=world, diagnostics=diagnostics) as mv:
            locator = logs.locate = Locator(mv, feeds)
            nb = await mv.create_cage_exec(
                neighbour, stdin=lind_async.PIPE, stdout=lind_async.PIPE, cwd="/nb",
                root=nb_root,
            )
            assert nb.stdin is not None and nb.stdout is not None
            nb_out = asyncio.create_task(nb.stdout.read())
            fuzzers = asyncio.gather(
                *(_run_slot(mv, driver, i, f, s, stall, locator) for i, (f, s) in enumerate(
                    zip(feeds, slots, strict=True)))
            )
            lines = 0
            while not fuzzers.done():
                nb.stdin.write(b"%d\n" % lines)
                await nb.stdin.drain()
                lines += 1
                await asyncio.wait([fuzzers], timeout=0.05)
            await fuzzers
            nb.stdin.close()
            neighbour_output = await asyncio.wait_for(nb_out, 60)
            neighbour_rc = await asyncio.wait_for(nb.wait(), 60)
            seconds = time.monotonic() - t0
            # The microvisor is alive: a new cage runs.
            after = await mv.create_cage_exec(
                neighbour, stdin=lind_async.PIPE, stdout=lind_async.PIPE, cwd="/nb",
                root=nb_root,
            )
            after_out, _ = await asyncio.wait_for(after.communicate(b"7\n"), 60)
            after_ok = after_out == neighbour_line(7) and after.returncode == 0
    beat.cancel()
    faulthandler.cancel_dump_traceback_later()
    warnings: Counter[str] = Counter()
    for record, where in logs.records:
        text = record.getMessage()
        if record.levelno >= logging.ERROR or record.exc_info or "internal error" in text:
            trace = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
            problems.append(f"{where}\n{record.name}: {text}\n{trace}")
        else:
            warnings[re.sub(r"\d+", "N", text)] += 1
    report = diagnostics.getvalue()
    if "Traceback" in report or "internal error" in report:
        problems.append(f"diagnostics: {report}")
    expected = b"".join(neighbour_line(k) for k in range(lines))
    return Outcome(slots, problems, warnings, expected, neighbour_output, neighbour_rc,
                   after_ok, seconds)


def check(outcome: Outcome, feeds: Sequence[Feed], label: str) -> None:
    """The fuzzer's assertions, with the calls involved named in the message."""
    failures: list[str] = []
    by_pid: dict[int, tuple[int, WorkerEnd]] = {}
    for i, slot in enumerate(outcome.slots):
        for end in slot.worker_ends:
            by_pid[end.pid] = (i, end)
    for problem in outcome.problems:
        culprit = ""
        found = re.search(r"(?:cage|grate) (\d+)", problem)
        if found and int(found.group(1)) in by_pid:
            i, end = by_pid[int(found.group(1))]
            culprit = f"[{label} cage {i} call {end.index}: {call_at(feeds[i], end.index)}]\n"
        failures.append(culprit + problem)
    for i, slot in enumerate(outcome.slots):
        for rc in slot.returncodes:
            if rc < 0 and -rc not in ORDINARY_SIGNALS:
                failures.append(f"{label} cage {i} ended with returncode {rc}")
        for end in slot.worker_ends:
            if _wait_status_signal(end.status) == SIGSYS:
                failures.append(
                    f"{label} cage {i}: a worker was killed by SIGSYS (an internal error) at call"
                    f" {end.index}: {call_at(feeds[i], end.index)}"
                )
        if slot.stalls:
            failures.append(f"{label} cage {i} stalled (no report for minutes, even after SIGCONT)")
        if slot.noise:
            failures.append(f"{label} cage {i} printed unexpected output: {slot.noise[:5]}")
    if outcome.neighbour_output != outcome.neighbour_expected or outcome.neighbour_returncode:
        failures.append(
            f"the neighbour's output differs (returncode {outcome.neighbour_returncode}):\n"
            f"{outcome.neighbour_output[-500:]!r}\nexpected\n{outcome.neighbour_expected[-500:]!r}"
        )
    if not outcome.after_ok:
        failures.append("a new cage did not run properly after the fuzzing")
    assert not failures, "\n\n".join(failures)


def summary(outcome: Outcome) -> str:
    ends = [e for s in outcome.slots for e in s.worker_ends]
    statuses = Counter(
        f"signal {sig}" if (sig := _wait_status_signal(e.status)) else f"exit {e.status >> 8}"
        for e in ends
    )
    lines = outcome.neighbour_expected.count(b"\n")
    return (
        f"{outcome.issued} calls issued (of {sum(s.planned for s in outcome.slots)} planned) by "
        f"{len(outcome.slots)} fuzz cages in {outcome.seconds:.1f} s; internal errors: "
        f"{len(outcome.problems)}; workers ended early: {len(ends)} "
        f"({sum(e.timed_out for e in ends)} by the watchdog; {dict(statuses.most_common(8))}); "
        f"fuzz cages restarted: {sum(s.skipped_chunks for s in outcome.slots)}; fork failures: "
        f"{sum(s.fork_failures for s in outcome.slots)}; neighbour lines: "
        f"{lines}; warnings: {dict(outcome.warnings)}"
    )


@pytest.fixture(scope="session")
def fuzz_programs() -> tuple[Path, Path]:
    from lind_async.toolchain.cc import compile_cached

    return (compile_cached(PROGRAMS / "fuzz_driver.c"),
            compile_cached(PROGRAMS / "fuzz_neighbour.c"))


# Random calls find fallocate(fd, 0, 0, huge) and pwrite at huge offsets: on the host's own disk
# that allocated ~78 GB in seconds once and filled it. RawPOSIX has no per-cage file-size limit,
# so the run holds the host process's RLIMIT_FSIZE (the microvisor runs in this process; Python
# ignores SIGXFSZ, so a write past it is EFBIG, which the cage gets like any errno).
FILE_SIZE_CAP = 256 << 20


@contextlib.contextmanager
def _file_size_cap() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    cap = FILE_SIZE_CAP if hard == resource.RLIM_INFINITY else min(FILE_SIZE_CAP, hard)
    resource.setrlimit(resource.RLIMIT_FSIZE, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def _run(feeds: Sequence[Feed], planned: Sequence[int], programs: tuple[Path, Path]) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="lind-fuzz-") as tmp, _file_size_cap():
        return asyncio.run(fuzz(Path(tmp), *programs, feeds, planned=planned))


EXAMPLES = int(os.environ.get("LIND_FUZZ_EXAMPLES", "6"))


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.large_base_example],
)
@given(scripts=st.lists(st.lists(call_records(), min_size=1, max_size=24), min_size=4, max_size=4))
def test_fuzz_hypothesis(fuzz_programs: tuple[Path, Path], scripts: list[list[bytes]]) -> None:
    feeds = [ListFeed(s) for s in scripts]
    outcome = _run(feeds, [len(s) for s in scripts], fuzz_programs)
    check(outcome, feeds, "hypothesis")


LONG_CALLS = os.environ.get("LIND_FUZZ_CALLS")


# The suite's 300 s per-test timeout, stretched for a long run (about 2 ms a call at worst).
@pytest.mark.slow
@pytest.mark.timeout(300 + int(LONG_CALLS or 0) // 500)
def test_fuzz_seeded(fuzz_programs: tuple[Path, Path]) -> None:
    total = LONG_CALLS
    cages = int(os.environ.get("LIND_FUZZ_CAGES", "16" if total else "4"))
    calls = int(total) if total else 2000 * cages
    seed = os.environ.get("LIND_FUZZ_SEED") or f"{random.getrandbits(32):08x}"
    per = [calls // cages + (1 if i < calls % cages else 0) for i in range(cages)]
    feeds = [SeededFeed(f"{seed}:{i}", n) for i, n in enumerate(per)]
    outcome = _run(feeds, per, fuzz_programs)
    print(f"\nfuzz (LIND_FUZZ_SEED={seed}): {summary(outcome)}")
    check(outcome, feeds, f"seed {seed}")
    # The fuzzer really fuzzed: most calls were made (a supervisor killed by its own worker
    # loses the rest of that chunk).
    assert outcome.issued >= 0.8 * calls, summary(outcome)
