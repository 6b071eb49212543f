"""wasm32 struct layouts of the guest ABI: the one description shared by RawPOSIX and the toolchain.

Pure data.  Each :class:`StructLayout` is what a cage's lind-musl puts in (or expects in) its
linear memory at a pointer argument of a system call: the struct's C name, a little-endian
``struct`` format with every padding byte explicit (so ``struct.pack_into(layout.fmt, mem, addr,
*values)`` writes the whole struct), the field list (name, ``struct`` code, offset, size) and the
total size.  Padding fields are named ``__…`` and are always written as zero;
:meth:`StructLayout.pack_into` fills them (and any field left out) for you.

The guest is ILP32 with 64-bit ``time_t``, ``off_t``, ``ino_t``, ``dev_t``, ``blkcnt_t``.  Wherever
it
was possible the wasm32 layout was chosen to equal the Linux x86_64 kernel layout, so the bytes the
runtime writes are the bytes x86_64 Linux would write: ``struct stat`` (narrow fields carry explicit
high-half padding), ``struct timespec`` (``tv_nsec`` is a 32-bit ``long`` + 32 bits of padding),
``struct timeval``, ``struct flock``, ``struct rlimit``, ``linux_dirent64``.  Structures made of
``long``\\s or pointers (``iovec``, ``k_sigaction``, ``epoll_event``, ``termios``…) have the ILP32
layout the guest really has.

``tests/toolchain/test_layouts.py`` compiles a C program against the sysroot that prints ``sizeof``
and
``offsetof`` of every field listed here (where the struct exists in C) and checks them against this
module.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

PAGE_SIZE: Final = 4096
"""Guest page size (``AT_PAGESZ``, ``sysconf(_SC_PAGESIZE)``); wasm's 64 KiB pages are unrelated."""

FieldValue = int | bytes


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    code: str  # struct format code of this field alone, e.g. "Q", "i", "65s", "4x"
    offset: int
    size: int

    @property
    def is_padding(self) -> bool:
        return self.name.rpartition(".")[2].startswith("__")


@dataclass(frozen=True, slots=True)
class StructLayout:
    c_name: str  # the C spelling, e.g. "struct stat"
    fmt: str  # little-endian struct format of the whole struct, padding explicit
    fields: tuple[Field, ...]
    size: int
    c_checked: bool = True  # the layout test checks it against a C definition

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.c_name} has no field {name!r}")

    def offset(self, name: str) -> int:
        return self.field(name).offset

    def pack(self, **values: FieldValue) -> bytes:
        """The struct's bytes; fields left out (padding included) are zero."""
        return struct.pack(self.fmt, *self._ordered(values))

    def pack_into(self, buffer: bytearray | memoryview, offset: int, **values: FieldValue) -> None:
        """Write the struct at ``buffer[offset:]``; fields left out (padding included) are zero."""
        struct.pack_into(self.fmt, buffer, offset, *self._ordered(values))

    def unpack_from(self, buffer: bytes | bytearray | memoryview, offset: int = 0
                    ) -> dict[str, FieldValue]:
        """Read the struct at ``buffer[offset:]`` into ``{field: value}`` (padding left out)."""
        raw = struct.unpack_from(self.fmt, buffer, offset)
        named = [f for f in self.fields if not f.code.endswith("x")]
        return {f.name: v for f, v in zip(named, raw, strict=True) if not f.is_padding}

    def _ordered(self, values: Mapping[str, FieldValue]) -> list[FieldValue]:
        known = {f.name for f in self.fields}
        unknown = set(values) - known
        if unknown:
            raise KeyError(f"{self.c_name} has no field(s) {sorted(unknown)}")
        out: list[FieldValue] = []
        for f in self.fields:
            if f.code.endswith("x"):
                continue
            default: FieldValue = b"" if f.code.endswith("s") else 0
            out.append(values.get(f.name, default))
        return out


ALL: Final[list[StructLayout]] = []
"""Every layout defined here, in definition order (tests/toolchain/test_layouts.py checks each
against the C headers: a new layout is checked by being defined)."""


def _layout(c_name: str, spec: Sequence[tuple[str, str]], *, size: int | None = None,
            c_checked: bool = True) -> StructLayout:
    fields: list[Field] = []
    offset = 0
    for name, code in spec:
        width = struct.calcsize("<" + code)
        fields.append(Field(name, code, offset, width))
        offset += width
    if size is None:
        size = offset
    elif size > offset:  # trailing padding
        fields.append(Field("__tail", f"{size - offset}x", offset, size - offset))
    elif size < offset:
        raise ValueError(f"{c_name}: fields take {offset} bytes, more than its size {size}")
    fmt = "<" + "".join(f.code for f in fields)
    assert struct.calcsize(fmt) == size, c_name
    layout = StructLayout(c_name, fmt, tuple(fields), size, c_checked)
    ALL.append(layout)
    return layout


def _timespec(prefix: str) -> list[tuple[str, str]]:
    return [(f"{prefix}.tv_sec", "q"), (f"{prefix}.tv_nsec", "i"), (f"{prefix}.__pad", "i")]


TIMESPEC: Final = _layout("struct timespec", [
    ("tv_sec", "q"),
    ("tv_nsec", "i"),
    ("__pad", "i"),  # musl's unnamed 32-bit padding; the high half of the kernel's 64-bit tv_nsec
])

TIMEVAL: Final = _layout("struct timeval", [("tv_sec", "q"), ("tv_usec", "q")])

ITIMERVAL: Final = _layout("struct itimerval", [
    ("it_interval.tv_sec", "q"), ("it_interval.tv_usec", "q"),
    ("it_value.tv_sec", "q"), ("it_value.tv_usec", "q"),
])

STAT: Final = _layout("struct stat", [
    ("st_dev", "Q"),
    ("st_ino", "Q"),
    ("st_nlink", "I"),
    ("__st_nlink_hi", "I"),
    ("st_mode", "I"),
    ("st_uid", "I"),
    ("st_gid", "I"),
    ("__pad0", "I"),
    ("st_rdev", "Q"),
    ("st_size", "q"),
    ("st_blksize", "i"),
    ("__st_blksize_hi", "i"),
    ("st_blocks", "q"),
    *_timespec("st_atim"),
    *_timespec("st_mtim"),
    *_timespec("st_ctim"),
    ("__unused", "24s"),
])
"""fstat/stat/lstat/newfstatat (5/4/6/262) write this directly into the caller's buffer (144 bytes,
the x86_64 kernel layout)."""

IOVEC: Final = _layout("struct iovec", [("iov_base", "I"), ("iov_len", "I")])

UTSNAME: Final = _layout("struct utsname", [
    ("sysname", "65s"), ("nodename", "65s"), ("release", "65s"),
    ("version", "65s"), ("machine", "65s"), ("domainname", "65s"),
])

LINUX_DIRENT64: Final = _layout("struct dirent", [
    ("d_ino", "Q"),
    ("d_off", "q"),
    ("d_reclen", "H"),
    ("d_type", "B"),
    ("d_name", "0s"),  # NUL-terminated name at offset 19; the record is d_reclen bytes
])
"""getdents64 (217) records, the kernel layout; the C ``struct dirent`` shares its field offsets.  A
record is ``19 + len(name) + 1`` bytes rounded up to 8 (``d_reclen``)."""

WINSIZE: Final = _layout("struct winsize", [
    ("ws_row", "H"), ("ws_col", "H"), ("ws_xpixel", "H"), ("ws_ypixel", "H"),
])

KERNEL_SIGSET: Final = _layout("kernel sigset_t", [("sig", "Q")], c_checked=False)
"""The kernel signal set of rt_sigprocmask, rt_sigaction…: 64 bits, bit ``sig - 1`` (size 8)."""

K_SIGACTION: Final = _layout("struct k_sigaction", [
    ("handler", "I"),  # function-table index, or SIG_DFL (0) / SIG_IGN (1)
    ("flags", "I"),  # SA_* (no SA_RESTORER)
    ("mask", "Q"),  # KERNEL_SIGSET (two 32-bit words in C, 4-byte aligned)
    ("unused", "I"),
])
"""rt_sigaction (13) act/oldact, as lind-musl passes it (guest/arch/wasm32/ksigaction.h)."""

POLLFD: Final = _layout("struct pollfd", [("fd", "i"), ("events", "h"), ("revents", "h")])

RLIMIT: Final = _layout("struct rlimit", [("rlim_cur", "Q"), ("rlim_max", "Q")])

FLOCK: Final = _layout("struct flock", [
    ("l_type", "h"), ("l_whence", "h"), ("__pad0", "4x"),
    ("l_start", "q"), ("l_len", "q"), ("l_pid", "i"), ("__pad1", "4x"),
])

TMS: Final = _layout("struct tms", [
    ("tms_utime", "i"), ("tms_stime", "i"), ("tms_cutime", "i"), ("tms_cstime", "i"),
])

EPOLL_EVENT: Final = _layout("struct epoll_event", [
    ("events", "I"), ("__pad", "4x"), ("data", "Q"),
])
"""Not packed on wasm32 (it is on x86_64): 16 bytes, ``data`` at offset 8."""

TERMIOS: Final = _layout("struct termios", [
    ("c_iflag", "I"), ("c_oflag", "I"), ("c_cflag", "I"), ("c_lflag", "I"),
    ("c_line", "B"), ("c_cc", "32s"), ("__pad", "3x"),
    ("__c_ispeed", "I"), ("__c_ospeed", "I"),
])
"""musl's struct termios, which TCGETS/TCSETS* (ioctl) pass as is: the kernel's 36-byte termios is
its prefix (``c_cc`` has 19 kernel entries)."""

KERNEL_RUSAGE: Final = _layout("kernel struct rusage", [
    ("ru_utime.tv_sec", "q"), ("ru_utime.tv_usec", "q"),
    ("ru_stime.tv_sec", "q"), ("ru_stime.tv_usec", "q"),
    *[(name, "q") for name in (
        "ru_maxrss", "ru_ixrss", "ru_idrss", "ru_isrss", "ru_minflt", "ru_majflt", "ru_nswap",
        "ru_inblock", "ru_oublock", "ru_msgsnd", "ru_msgrcv", "ru_nsignals", "ru_nvcsw",
        "ru_nivcsw",
    )],
], c_checked=False)
"""getrusage (98) / wait4 (61): the x86_64 kernel layout (18 64-bit words); libc converts it to the
guest's ILP32 ``struct rusage``."""

SOCKADDR_IN: Final = _layout("struct sockaddr_in", [
    ("sin_family", "H"), ("sin_port", "2s"), ("sin_addr", "4s"), ("sin_zero", "8s"),
])
"""AF_INET addresses; ``sin_port`` and ``sin_addr`` are in network byte order (kept as bytes)."""

SOCKADDR_IN6: Final = _layout("struct sockaddr_in6", [
    ("sin6_family", "H"), ("sin6_port", "2s"), ("sin6_flowinfo", "I"),
    ("sin6_addr", "16s"), ("sin6_scope_id", "I"),
])

SOCKADDR_UN: Final = _layout("struct sockaddr_un", [("sun_family", "H"), ("sun_path", "108s")])

MSGHDR: Final = _layout("struct msghdr", [
    ("msg_name", "I"), ("msg_namelen", "I"), ("msg_iov", "I"), ("msg_iovlen", "i"),
    ("msg_control", "I"), ("msg_controllen", "I"), ("msg_flags", "i"),
])
"""sendmsg/recvmsg (46/47): the ILP32 layout (pointers and ``socklen_t`` are 32-bit, no padding)."""

CMSGHDR: Final = _layout("struct cmsghdr", [
    ("cmsg_len", "I"), ("cmsg_level", "i"), ("cmsg_type", "i"),
])
"""Control messages: the data follows the 12-byte header; records are 4-byte aligned (CMSG_ALIGN
uses ``sizeof(size_t)``)."""

LINGER: Final = _layout("struct linger", [("l_onoff", "i"), ("l_linger", "i")])

UCRED: Final = _layout("struct ucred", [("pid", "i"), ("uid", "I"), ("gid", "I")])

ITIMERSPEC: Final = _layout("struct itimerspec",
                            [*_timespec("it_interval"), *_timespec("it_value")])
"""timerfd_settime (286) / timerfd_gettime (287)."""

FD_SET: Final = _layout("fd_set", [("fds_bits", "128s")])
"""select/pselect6: FD_SETSIZE (1024) bits as 32 ``unsigned long``\\s (bit ``fd % 32`` of word
``fd / 32``), which on a little-endian guest is simply bit ``fd`` of the 128 bytes."""

PSELECT6_SIGMASK: Final = _layout("pselect6 sigmask pair", [("ss", "Q"), ("ss_len", "Q")],
                                  c_checked=False)
"""pselect6's 6th argument: ``{const sigset_t *ss; size_t ss_len;}`` as two ``syscall_arg_t``
(``long long`` in lind-musl's wasm32 port: musl passes ``(syscall_arg_t[]){mask, _NSIG/8}``)."""

SIGNALFD_SIGINFO: Final = _layout("struct signalfd_siginfo", [
    ("ssi_signo", "I"), ("ssi_errno", "i"), ("ssi_code", "i"), ("ssi_pid", "I"),
    ("ssi_uid", "I"), ("ssi_fd", "i"), ("ssi_tid", "I"), ("ssi_band", "I"),
    ("ssi_overrun", "I"), ("ssi_trapno", "I"), ("ssi_status", "i"), ("ssi_int", "i"),
    ("ssi_ptr", "Q"), ("ssi_utime", "Q"), ("ssi_stime", "Q"), ("ssi_addr", "Q"),
    ("ssi_addr_lsb", "H"), ("__pad2", "2x"), ("ssi_syscall", "i"), ("ssi_call_addr", "Q"),
    ("ssi_arch", "I"),
], size=128)
"""read(2) of a signalfd: one 128-byte record per signal (the same on every Linux arch)."""

STATFS: Final = _layout("struct statfs", [
    ("f_type", "I"), ("f_bsize", "I"),
    ("f_blocks", "Q"), ("f_bfree", "Q"), ("f_bavail", "Q"),
    ("f_files", "Q"), ("f_ffree", "Q"),
    ("f_fsid", "8s"),  # fsid_t: int __val[2]
    ("f_namelen", "I"), ("f_frsize", "I"), ("f_flags", "I"), ("f_spare", "16s"),
], size=88)
"""statfs/fstatfs (137/138): musl's generic struct with 32-bit ``unsigned long`` (88 bytes)."""


def _statx_timestamp(prefix: str) -> list[tuple[str, str]]:
    return [(f"{prefix}.tv_sec", "q"), (f"{prefix}.tv_nsec", "I"), (f"{prefix}.__pad", "I")]


STATX: Final = _layout("struct statx", [
    ("stx_mask", "I"), ("stx_blksize", "I"), ("stx_attributes", "Q"),
    ("stx_nlink", "I"), ("stx_uid", "I"), ("stx_gid", "I"), ("stx_mode", "H"), ("__pad0", "2x"),
    ("stx_ino", "Q"), ("stx_size", "Q"), ("stx_blocks", "Q"), ("stx_attributes_mask", "Q"),
    *_statx_timestamp("stx_atime"), *_statx_timestamp("stx_btime"),
    *_statx_timestamp("stx_ctime"), *_statx_timestamp("stx_mtime"),
    ("stx_rdev_major", "I"), ("stx_rdev_minor", "I"),
    ("stx_dev_major", "I"), ("stx_dev_minor", "I"),
    ("__pad1", "112x"),
])
"""statx (332): fixed-width fields, the kernel layout on every architecture (256 bytes)."""


def _ipc_perm(prefix: str) -> list[tuple[str, str]]:
    return [(f"{prefix}.key", "i"), (f"{prefix}.uid", "I"), (f"{prefix}.gid", "I"),
            (f"{prefix}.cuid", "I"), (f"{prefix}.cgid", "I"), (f"{prefix}.mode", "I"),
            (f"{prefix}.seq", "i"), (f"{prefix}.__pad1", "4x"), (f"{prefix}.__pad2", "4x")]


SHMID_DS: Final = _layout("struct shmid_ds", [
    *_ipc_perm("shm_perm"), ("shm_segsz", "I"),
    ("shm_atime", "q"), ("shm_dtime", "q"), ("shm_ctime", "q"),
    ("shm_cpid", "i"), ("shm_lpid", "i"), ("shm_nattch", "I"), ("__pad1", "4x"), ("__pad2", "4x"),
], size=88)
"""shmctl (31) IPC_STAT/IPC_SET: musl's generic struct, ILP32 with 64-bit ``time_t`` (musl passes
``IPC_64`` and, for wasm32, never converts: ``IPC_STAT`` is 2, not the time64 0x102)."""

SEMID_DS: Final = _layout("struct semid_ds", [
    *_ipc_perm("sem_perm"), ("__pad0", "4x"), ("sem_otime", "q"), ("sem_ctime", "q"),
    ("sem_nsems", "H"), ("__sem_nsems_pad", "2x"), ("__unused3", "4x"), ("__unused4", "4x"),
], size=72)
"""semctl (66) IPC_STAT/IPC_SET (the 4th argument is ``union semun``, a pointer here)."""

MSQID_DS: Final = _layout("struct msqid_ds", [
    *_ipc_perm("msg_perm"), ("__pad0", "4x"),
    ("msg_stime", "q"), ("msg_rtime", "q"), ("msg_ctime", "q"),
    ("msg_cbytes", "I"), ("msg_qnum", "I"), ("msg_qbytes", "I"),
    ("msg_lspid", "i"), ("msg_lrpid", "i"), ("__unused", "8x"),
], size=96)
"""msgctl (71) IPC_STAT/IPC_SET."""

SEMBUF: Final = _layout("struct sembuf", [("sem_num", "H"), ("sem_op", "h"), ("sem_flg", "h")])
"""semop (65) / semtimedop (220): an array of these."""

MSGBUF_MTYPE: Final = _layout("msgbuf mtype", [("mtype", "i")], c_checked=False)
"""msgsnd (69) / msgrcv (70): the message's ``long mtype`` (32 bits on wasm32), its text right
after it."""
