"""The initial process stack image a cage starts with, laid out as a Linux kernel lays it out.

Pure function, no I/O. Below the stack top, from high to low addresses: the argument and
environment strings, 16 ``AT_RANDOM`` bytes, then (16-byte aligned) the word vector
``argc, argv[0..n-1], NULL, envp[...], NULL, (type, value) auxv pairs…, AT_NULL, 0`` with 32-bit
little-endian words (wasm32 pointers). The cage's ``__stack_pointer`` is set to ``argc``'s address
and lind-musl's ``_start`` reads its arguments from there, like musl's ``_start_c(long *p)``.

A layout depends only on the stack top, the strings and the ids, so small ones are remembered:
a service starting the same program with the same arguments over and over (a cage per request)
lays the image out once and afterwards only copies it with fresh ``AT_RANDOM`` bytes in.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from lind_async.abi import flags as F
from lind_async.abi.guest import ARG_MAX


class ImageTooLarge(ValueError):
    """Arguments and environment exceed ``ARG_MAX`` or the stack (E2BIG)."""


@dataclass(frozen=True, slots=True)
class StackImage:
    start: int  # lowest address written == the initial stack pointer (address of argc)
    data: bytes


_Layout = tuple[int, bytes, int]  # start, the image with zeros for AT_RANDOM, their offset
_layouts: dict[tuple[object, ...], _Layout] = {}
_REMEMBERED = 256  # layouts kept (each at most _SMALL bytes); the table is emptied when full
_SMALL = 4096


def build_stack_image(
    top: int,
    argv: Sequence[bytes],
    envp: Sequence[bytes],
    *,
    random16: bytes,
    ids: tuple[int, int, int, int],
    stack_floor: int = 0,
) -> StackImage:
    """Lay out argv/envp/auxv just below ``top`` (exclusive). ``ids`` = uid, euid, gid, egid."""
    if len(random16) != 16:
        raise ValueError("AT_RANDOM needs 16 bytes")
    key = (top, stack_floor, ids, *argv, None, *envp)
    layout = _layouts.get(key)
    if layout is None:
        layout = _lay_out(top, argv, envp, ids, stack_floor)
        if len(layout[1]) <= _SMALL:
            if len(_layouts) >= _REMEMBERED:
                _layouts.clear()
            _layouts[key] = layout
    start, image, at = layout
    return StackImage(start, b"".join((image[:at], random16, image[at + 16 :])))


def _lay_out(
    top: int,
    argv: Sequence[bytes],
    envp: Sequence[bytes],
    ids: tuple[int, int, int, int],
    stack_floor: int,
) -> _Layout:
    strings = [a + b"\0" for a in argv] + [e + b"\0" for e in envp]
    if any(b"\0" in s[:-1] for s in strings):
        raise ValueError("argument or environment string contains NUL")
    blob_size = sum(len(s) for s in strings)
    if blob_size > ARG_MAX:
        raise ImageTooLarge("argument list too long")
    strings_start = top - blob_size
    random_at = (strings_start - 16) & ~15
    pointers: list[int] = []
    cursor = strings_start
    for s in strings:
        pointers.append(cursor)
        cursor += len(s)
    argv_ptrs, env_ptrs = pointers[: len(argv)], pointers[len(argv) :]
    uid, euid, gid, egid = ids
    auxv = [
        (F.AT_PAGESZ, F.PAGE_SIZE),
        (F.AT_UID, uid),
        (F.AT_EUID, euid),
        (F.AT_GID, gid),
        (F.AT_EGID, egid),
        (F.AT_SECURE, 0),
        (F.AT_RANDOM, random_at),
        (F.AT_EXECFN, argv_ptrs[0] if argv_ptrs else 0),
        (F.AT_NULL, 0),
    ]
    words = [len(argv), *argv_ptrs, 0, *env_ptrs, 0]
    for pair in auxv:
        words.extend(pair)
    vector = struct.pack(f"<{len(words)}I", *(w & 0xFFFFFFFF for w in words))
    start = (random_at - len(vector)) & ~15
    if start < stack_floor:
        raise ImageTooLarge("arguments do not fit on the stack")
    image = bytearray(top - start)
    image[0 : len(vector)] = vector
    image[strings_start - start :] = b"".join(strings)
    return start, bytes(image), random_at - start
