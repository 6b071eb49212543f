"""Descriptions the C trampoline may serve itself: the record pool shared with
``native/syscall_entry.c``.

Theory of operation
-------------------
The hottest calls — ``read``, ``write``, ``pread64``, ``pwrite64``, ``lseek`` on a regular file
inside the root or on ``/dev/null`` — are answered by the compiled ``lind.syscall`` trampoline
without entering Python, when nothing but RawPOSIX would see them. What it needs to know is
written only here and in ``core/fdtable.py``, by Python, never by a guest:

- a **record** per eligible open file description (:class:`HostFile` of a regular file;
  ``/dev/null``'s :class:`NullDevice` shares one per access mode): 16 bytes in one
  process-wide array, ``(pos, host_fd, ops, kind)``. ``pos`` *is* the description's file offset
  (``HostFile.pos`` reads and writes it), so ``dup``/``fork`` sharers and both paths see one
  offset. ``ops`` says which calls C may take: the owner recomputes it whenever a status flag or
  the host fd's append mode changes, so an ``O_APPEND`` or ``O_PATH`` description, or one whose
  access mode forbids the call, is always Python's. A record index is the description's
  ``fast`` attribute (0: none); it goes back to the pool when the description is released (its
  last descriptor closed, so no fd table names it), after which the description keeps its
  offset itself.
- a **fast table** per fd table (``FdTable.fast``): for each descriptor below
  ``FAST_FDS``, the record index of its description or 0, kept equal to it by every table
  mutation before it returns (``core/fdtable.py``).

C takes a call only if the cage's 3i table is empty, no signal is pending, it is not stopped, no
fault is flagged, the descriptor's record allows the call, and the guest range passes the same
check as ``GuestMemory.buffer``; it answers only a complete transfer (a page-cache hit, a full
write) and leaves everything else — errors, short or would-block reads, offsets out of range — to
the Python path, which redoes the call from the start (positional: nothing was consumed).

The trampoline also answers ``open`` of a plain regular file and ``close`` of such a file's
descriptor (``native/syscall_files.c``): it makes the description by calling
:class:`HostFile` (whose ``__init__`` takes its record, as here) and, for a last descriptor,
returns the record to :data:`FREE` as ``HostFile.release`` does.

Without the C trampoline the records still hold the offsets; nothing else reads them.
"""

from __future__ import annotations

import ctypes
import sys
import types
from collections.abc import Sequence

OP_READ, OP_WRITE, OP_SEEK = 1, 2, 4
KIND_FILE, KIND_NULL = 1, 2  # a regular host file; /dev/null

RECORDS = 1 << 16  # eligible descriptions alive at once in this process (more: Python's path)
_ARRAY = (ctypes.c_int64 * (2 * RECORDS))()  # calloc'd: untouched pages cost nothing
ADDRESS = ctypes.addressof(_ARRAY)
# A record is struct { int64 pos; int32 host_fd; uint8 ops, kind; uint16 unused; }: word 2i is
# record i's offset (WORDS), int 4i+2 its host fd and 4i+3 ``ops | kind << 8`` (INTS).
WORDS = memoryview(_ARRAY).cast("B").cast("q")
INTS = memoryview(_ARRAY).cast("B").cast("i")
FREE: list[int] = []  # records to reuse (free() appends; owners may inline it)
_next = [1]  # record 0 is "none"


def new(host_fd: int) -> int:
    """A fresh record for a regular file (offset 0, no calls allowed yet), or 0 when the pool
    is used up (the description then keeps its offset itself and is always Python's)."""
    if FREE:
        index = FREE.pop()
    else:
        index = _next[0]
        if index >= RECORDS:
            return 0
        _next[0] = index + 1
    WORDS[2 * index] = 0
    INTS[4 * index + 2] = host_fd
    INTS[4 * index + 3] = KIND_FILE << 8
    return index


def free(index: int) -> None:
    """The description is released: C may no longer take calls for it (no fd table names it
    by now), and the record may serve another."""
    INTS[4 * index + 3] = 0
    FREE.append(index)


def _null_record(ops: int) -> int:
    index = new(-1)
    INTS[4 * index + 3] = ops | KIND_NULL << 8
    return index


# /dev/null has no offset and its access mode never changes: one shared record per mode, never
# written by C (its reads, writes and seeks move nothing) and never freed.
_NULL = {
    (True, False): _null_record(OP_READ | OP_SEEK),
    (False, True): _null_record(OP_WRITE | OP_SEEK),
    (True, True): _null_record(OP_READ | OP_WRITE | OP_SEEK),
    (False, False): _null_record(OP_SEEK),
}


def null_record(readable: bool, writable: bool) -> int:
    return _NULL[(readable, writable)]


def _class_attribute(cls: type, name: str) -> object:
    """``name`` as ``cls`` defines or inherits it, without running any descriptor (what
    ``inspect.getattr_static`` finds for a class, at a tenth of its cost)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


def slot_offsets(cls: type, names: Sequence[str]) -> list[int]:
    """Where each named ``__slots__`` attribute of ``cls``'s instances is stored: its byte
    offset in the object, for the trampoline to read (and, for a new description, write) it in
    place instead of through ``getattr`` (~30 ns each, ~30 per ``open``+``close``); 0 for a name
    that is not a plain slot of ``cls`` (the trampoline then uses ``getattr``).

    Found, not assumed: a fresh instance gets a sentinel of its own in each slot and the one
    word of the object holding a sentinel's address is its slot (none or several: 0). All
    zeros if the object's type pointer is not the word after its reference count (a CPython
    build whose object header the C code does not know, or a class that cannot be made
    without arguments)."""
    try:
        obj = cls.__new__(cls)  # type: ignore[call-overload]
    except Exception:  # (a __new__ of its own that wants arguments: getattr, then)
        return [0] * len(names)
    size: int = cls.__basicsize__
    if ctypes.c_void_p.from_address(id(obj) + 8).value != id(cls):
        return [0] * len(names)
    slots = [name for name in names
             if isinstance(_class_attribute(cls, name), types.MemberDescriptorType)]
    sentinels = {name: object() for name in slots}
    for name, sentinel in sentinels.items():
        setattr(obj, name, sentinel)
    raw = ctypes.string_at(id(obj), size)
    for name in slots:
        delattr(obj, name)
    words: dict[bytes, list[int]] = {}
    for at in range(16, size - 7, 8):
        words.setdefault(raw[at:at + 8], []).append(at)
    offsets = []
    for name in names:
        sentinel = sentinels.get(name)
        hits = words.get(id(sentinel).to_bytes(8, sys.byteorder), []) if sentinel else []
        offsets.append(hits[0] if len(hits) == 1 else 0)
    return offsets


def give_slot_offsets(lib: ctypes.PyDLL, classes: Sequence[type]) -> int:
    """Hand the compiled trampoline (``lib``, loaded as a ``PyDLL``) the slot offsets of
    ``classes`` (``native/fast_slots.h``'s order) for every name it reads; 0 on success."""
    lib.lind_field_names.restype = ctypes.c_char_p
    lib.lind_field_names.argtypes = ()
    names = (lib.lind_field_names() or b"").decode().split(",")
    offsets = [at for cls in classes for at in slot_offsets(cls, names)]
    lib.lind_fast_slots.restype = ctypes.c_int
    lib.lind_fast_slots.argtypes = (ctypes.py_object, ctypes.c_void_p)
    array = (ctypes.c_int64 * len(offsets))(*offsets)
    return int(lib.lind_fast_slots(tuple(classes), ctypes.addressof(array)))
