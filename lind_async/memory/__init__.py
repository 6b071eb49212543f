"""Guest memory: everything that touches a cage's linear memory from the host side.

Theory of operation
-------------------
A cage's linear memory is one host mapping that never moves. The host reaches it only through
this package, which sits below RawPOSIX and the runtime and imports neither:

- :mod:`.access` — :class:`GuestMemory`, the bounds-checked zero-copy accessor, and
  :meth:`GuestMemory.host_range`, the only way to turn a guest range into a host address;
- :mod:`.composite` — :class:`CompositeMemory`, the several-owner view of a call made on another
  cage's behalf (3i), addressed by ``key << 32 | offset``;
- :mod:`.pointers` — decoding pointers: the syscall slot, and pointers stored in guest structs
  (iovecs, pointer vectors), which stay in their struct's memory;
- :mod:`.faults` — the SIGBUS guard that keeps a file shrunk under a shared mapping the
  toucher's fault, not the microvisor's;
- :mod:`.cow` — copy-on-write linear memory for fork: a host memfd snapshot per address space;
- :mod:`.copy` — copying the used pages of one linear memory into another (fork, for a memory
  without a snapshot).

Every guest ``(addr, length)`` is checked on Python integers before use (nothing wraps); a
failed check is ``EFAULT``. ``tests/unit/test_memory_boundary.py`` keeps host-address
arithmetic on guest memory inside this package.
"""

from lind_async.memory.access import GuestMemory, LinearMemory
from lind_async.memory.composite import CompositeMemory
from lind_async.memory.pointers import pointer

__all__ = ["CompositeMemory", "GuestMemory", "LinearMemory", "pointer"]
