"""Flag and constant values of the guest ABI (musl's generic bits + Linux x86_64 kernel values).

Pure data (and two predicates on the access mode). Values are written out instead of taken
from ``os`` because they are the guest's contract, not the host's (``O_LARGEFILE`` for instance
differs between the two).
"""

from typing import Final

# open(2) flags (musl arch/generic/bits/fcntl.h)
O_ACCMODE: Final = 0o3
O_RDONLY: Final = 0o0
O_WRONLY: Final = 0o1
O_RDWR: Final = 0o2
O_CREAT: Final = 0o100
O_EXCL: Final = 0o200
O_NOCTTY: Final = 0o400
O_TRUNC: Final = 0o1000
O_APPEND: Final = 0o2000
O_NONBLOCK: Final = 0o4000
O_DSYNC: Final = 0o10000
O_ASYNC: Final = 0o20000
O_DIRECT: Final = 0o40000
O_LARGEFILE: Final = 0o100000
O_DIRECTORY: Final = 0o200000
O_NOFOLLOW: Final = 0o400000
O_NOATIME: Final = 0o1000000
O_CLOEXEC: Final = 0o2000000
O_SYNC: Final = 0o4010000
O_PATH: Final = 0o10000000
O_TMPFILE: Final = 0o20200000

# File status flags that F_SETFL may change (Linux).
SETFL_MASK: Final = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME

AT_FDCWD: Final = -100
AT_SYMLINK_NOFOLLOW: Final = 0x100
AT_REMOVEDIR: Final = 0x200
AT_EACCESS: Final = 0x200
AT_SYMLINK_FOLLOW: Final = 0x400
AT_EMPTY_PATH: Final = 0x1000

# fcntl(2)
F_DUPFD: Final = 0
F_GETFD: Final = 1
F_SETFD: Final = 2
F_GETFL: Final = 3
F_SETFL: Final = 4
F_DUPFD_CLOEXEC: Final = 1030
FD_CLOEXEC: Final = 1

SEEK_SET: Final = 0
SEEK_CUR: Final = 1
SEEK_END: Final = 2

# access(2)
F_OK: Final = 0
X_OK: Final = 1
W_OK: Final = 2
R_OK: Final = 4

# mmap(2)
PROT_NONE: Final = 0
PROT_READ: Final = 1
PROT_WRITE: Final = 2
PROT_EXEC: Final = 4
MAP_SHARED: Final = 0x01
MAP_PRIVATE: Final = 0x02
MAP_FIXED: Final = 0x10
MAP_ANONYMOUS: Final = 0x20
MAP_NORESERVE: Final = 0x4000
MAP_FIXED_NOREPLACE: Final = 0x100000

# ioctl(2)
TCGETS: Final = 0x5401
TIOCGWINSZ: Final = 0x5413
FIONBIO: Final = 0x5421

# clocks
CLOCK_REALTIME: Final = 0
CLOCK_MONOTONIC: Final = 1
CLOCK_PROCESS_CPUTIME_ID: Final = 2
CLOCK_THREAD_CPUTIME_ID: Final = 3
CLOCK_MONOTONIC_RAW: Final = 4
CLOCK_REALTIME_COARSE: Final = 5
CLOCK_MONOTONIC_COARSE: Final = 6
CLOCK_BOOTTIME: Final = 7
TIMER_ABSTIME: Final = 1

# rt_sigprocmask
SIG_BLOCK: Final = 0
SIG_UNBLOCK: Final = 1
SIG_SETMASK: Final = 2
NSIG: Final = 64
SIGKILL: Final = 9
SIGSEGV: Final = 11
SIGSTOP: Final = 19

# getrandom
GRND_NONBLOCK: Final = 1
GRND_RANDOM: Final = 2

# auxv types
AT_NULL: Final = 0
AT_PAGESZ: Final = 6
AT_UID: Final = 11
AT_EUID: Final = 12
AT_GID: Final = 13
AT_EGID: Final = 14
AT_SECURE: Final = 23
AT_RANDOM: Final = 25
AT_EXECFN: Final = 31

# Guest page size (the vmmap's granule; wasm pages are 64 KiB).
PAGE_SIZE: Final = 4096
WASM_PAGE_SIZE: Final = 65536
PATH_MAX: Final = 4096

# poll(2) events (Linux; epoll's EPOLLIN… share the low bits)
POLLIN: Final = 0x001
POLLPRI: Final = 0x002
POLLOUT: Final = 0x004
POLLERR: Final = 0x008
POLLHUP: Final = 0x010
POLLNVAL: Final = 0x020
POLLRDNORM: Final = 0x040
POLLRDBAND: Final = 0x080
POLLWRNORM: Final = 0x100
POLLWRBAND: Final = 0x200
POLLRDHUP: Final = 0x2000

# sockets (Linux x86_64; musl's generic bits/socket.h)
AF_UNSPEC: Final = 0
AF_UNIX: Final = 1
AF_INET: Final = 2
AF_INET6: Final = 10
SOCK_STREAM: Final = 1
SOCK_DGRAM: Final = 2
SOCK_RAW: Final = 3
SOCK_SEQPACKET: Final = 5
SOCK_TYPE_MASK: Final = 0xF
SOCK_NONBLOCK: Final = 0o4000
SOCK_CLOEXEC: Final = 0o2000000
MSG_OOB: Final = 0x1
MSG_PEEK: Final = 0x2
MSG_DONTROUTE: Final = 0x4
MSG_CTRUNC: Final = 0x8
MSG_TRUNC: Final = 0x20
MSG_DONTWAIT: Final = 0x40
MSG_EOR: Final = 0x80
MSG_WAITALL: Final = 0x100
MSG_NOSIGNAL: Final = 0x4000
MSG_MORE: Final = 0x8000
MSG_CMSG_CLOEXEC: Final = 0x40000000
SHUT_RD: Final = 0
SHUT_WR: Final = 1
SHUT_RDWR: Final = 2
SOL_SOCKET: Final = 1
SO_DEBUG: Final = 1
SO_REUSEADDR: Final = 2
SO_TYPE: Final = 3
SO_ERROR: Final = 4
SO_DONTROUTE: Final = 5
SO_BROADCAST: Final = 6
SO_SNDBUF: Final = 7
SO_RCVBUF: Final = 8
SO_KEEPALIVE: Final = 9
SO_OOBINLINE: Final = 10
SO_PRIORITY: Final = 12
SO_LINGER: Final = 13
SO_REUSEPORT: Final = 15
SO_PASSCRED: Final = 16
SO_PEERCRED: Final = 17
SO_RCVLOWAT: Final = 18
SO_SNDLOWAT: Final = 19
SO_RCVTIMEO: Final = 20
SO_SNDTIMEO: Final = 21
SO_ACCEPTCONN: Final = 30
SO_PROTOCOL: Final = 38
SO_DOMAIN: Final = 39
SCM_RIGHTS: Final = 1
SCM_CREDENTIALS: Final = 2
IPPROTO_IP: Final = 0
IPPROTO_TCP: Final = 6
IPPROTO_UDP: Final = 17
IPPROTO_IPV6: Final = 41
IP_TOS: Final = 1
IP_TTL: Final = 2
IP_MULTICAST_TTL: Final = 33
IP_MULTICAST_LOOP: Final = 34
IPV6_UNICAST_HOPS: Final = 16
IPV6_MULTICAST_HOPS: Final = 18
IPV6_MULTICAST_LOOP: Final = 19
IPV6_V6ONLY: Final = 26
TCP_NODELAY: Final = 1
TCP_MAXSEG: Final = 2
TCP_CORK: Final = 3
TCP_KEEPIDLE: Final = 4
TCP_KEEPINTVL: Final = 5
TCP_KEEPCNT: Final = 6
TCP_DEFER_ACCEPT: Final = 9
TCP_QUICKACK: Final = 12
TCP_USER_TIMEOUT: Final = 18
FIONREAD: Final = 0x541B

# epoll(7)
EPOLL_CLOEXEC: Final = O_CLOEXEC
EPOLL_CTL_ADD: Final = 1
EPOLL_CTL_DEL: Final = 2
EPOLL_CTL_MOD: Final = 3
EPOLLIN: Final = 0x001
EPOLLPRI: Final = 0x002
EPOLLOUT: Final = 0x004
EPOLLERR: Final = 0x008
EPOLLHUP: Final = 0x010
EPOLLRDNORM: Final = 0x040
EPOLLRDBAND: Final = 0x080
EPOLLWRNORM: Final = 0x100
EPOLLWRBAND: Final = 0x200
EPOLLMSG: Final = 0x400
EPOLLRDHUP: Final = 0x2000
EPOLLEXCLUSIVE: Final = 1 << 28
EPOLLWAKEUP: Final = 1 << 29
EPOLLONESHOT: Final = 1 << 30
EPOLLET: Final = 1 << 31

# eventfd(2), timerfd_create(2), signalfd(2)
EFD_SEMAPHORE: Final = 1
EFD_CLOEXEC: Final = O_CLOEXEC
EFD_NONBLOCK: Final = O_NONBLOCK
TFD_CLOEXEC: Final = O_CLOEXEC
TFD_NONBLOCK: Final = O_NONBLOCK
TFD_TIMER_ABSTIME: Final = 1
TFD_TIMER_CANCEL_ON_SET: Final = 2
SFD_CLOEXEC: Final = O_CLOEXEC
SFD_NONBLOCK: Final = O_NONBLOCK

# select(2): fd_set is FD_SETSIZE bits in 32-bit longs on wasm32
FD_SETSIZE: Final = 1024

# mmap(2) / mremap(2) / msync(2) / madvise(2) (Linux generic values)
MAP_TYPE: Final = 0x0F
MAP_SHARED_VALIDATE: Final = 0x03
MAP_GROWSDOWN: Final = 0x0100
MAP_DENYWRITE: Final = 0x0800
MAP_EXECUTABLE: Final = 0x1000
MAP_LOCKED: Final = 0x2000
MAP_POPULATE: Final = 0x8000
MAP_NONBLOCK: Final = 0x10000
MAP_STACK: Final = 0x20000
MAP_HUGETLB: Final = 0x40000
MAP_SYNC: Final = 0x80000
MAP_UNINITIALIZED: Final = 0x4000000
MREMAP_MAYMOVE: Final = 1
MREMAP_FIXED: Final = 2
MREMAP_DONTUNMAP: Final = 4
MS_ASYNC: Final = 1
MS_INVALIDATE: Final = 2
MS_SYNC: Final = 4
MADV_NORMAL: Final = 0
MADV_RANDOM: Final = 1
MADV_SEQUENTIAL: Final = 2
MADV_WILLNEED: Final = 3
MADV_DONTNEED: Final = 4
MADV_FREE: Final = 8
MADV_REMOVE: Final = 9
MADV_DONTFORK: Final = 10
MADV_DOFORK: Final = 11
MADV_MERGEABLE: Final = 12
MADV_UNMERGEABLE: Final = 13
MADV_HUGEPAGE: Final = 14
MADV_NOHUGEPAGE: Final = 15
MADV_DONTDUMP: Final = 16
MADV_DODUMP: Final = 17
MADV_WIPEONFORK: Final = 18
MADV_KEEPONFORK: Final = 19
MADV_COLD: Final = 20
MADV_PAGEOUT: Final = 21
MADV_POPULATE_READ: Final = 22
MADV_POPULATE_WRITE: Final = 23

# Filesystem calls (fs family): utimensat, renameat2, flock, statx, file types.
UTIME_NOW: Final = (1 << 30) - 1
UTIME_OMIT: Final = (1 << 30) - 2
RENAME_NOREPLACE: Final = 1
RENAME_EXCHANGE: Final = 2
RENAME_WHITEOUT: Final = 4
LOCK_SH: Final = 1
LOCK_EX: Final = 2
LOCK_NB: Final = 4
LOCK_UN: Final = 8
STATX_BASIC_STATS: Final = 0x7FF
AT_STATX_SYNC_TYPE: Final = 0x6000


def reads(flags: int) -> bool:
    """Whether an open with these flags may read: access mode O_RDONLY or O_RDWR. Linux's
    mode 3 (both bits) may do neither: it checks read and write permission and gives a
    descriptor only for calls such as ``ioctl`` and ``fstat``."""
    return (flags & O_ACCMODE) + 1 & 1 != 0


def writes(flags: int) -> bool:
    """Whether an open with these flags may write: access mode O_WRONLY or O_RDWR."""
    return (flags & O_ACCMODE) + 1 & 2 != 0
