"""The host's socket sysctls, read once: in-process sockets size their buffers as the host's
kernel would (``net.core.[rw]mem_default``/``_max``, ``net.unix.max_dgram_qlen``), falling back
to Linux's defaults where ``/proc/sys`` cannot be read."""

from __future__ import annotations


def _read(name: str, default: int) -> int:
    try:
        with open(f"/proc/sys/{name}", encoding="ascii") as f:
            value = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return default
    return value if value > 0 else default


WMEM_DEFAULT = _read("net/core/wmem_default", 212_992)
RMEM_DEFAULT = _read("net/core/rmem_default", 212_992)
WMEM_MAX = _read("net/core/wmem_max", 212_992)
RMEM_MAX = _read("net/core/rmem_max", 212_992)
MAX_DGRAM_QLEN = _read("net/unix/max_dgram_qlen", 10)
SOCK_MIN_SNDBUF = 4608  # 2 * (2048 + SKB_TRUESIZE(0)) on x86_64
SOCK_MIN_RCVBUF = 2304
