"""Flag and constant values of the guest ABI (musl's generic bits + Linux x86_64 kernel values).

Pure data. Values are written out instead of taken from ``os`` because they are the guest's
contract, not the host's (``O_LARGEFILE`` for instance differs between the two).
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
