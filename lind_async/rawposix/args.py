"""Decoders for raw 64-bit syscall argument slots (the uniform i64 convention of ``lind.syscall``).

Slots may arrive sign- or zero-extended; each decoder keeps exactly the bits its C type has.
"""

from __future__ import annotations

from lind_async.memory import pointer

__all__ = ["i32", "i64", "pointer", "size", "u32", "u64"]


def i32(arg: int) -> int:
    """A C ``int`` (fds, flags, signal numbers)."""
    value = arg & 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def u32(arg: int) -> int:
    """A C ``unsigned int`` / ``mode_t``."""
    return arg & 0xFFFFFFFF


def size(arg: int) -> int:
    """A ``size_t``: 32 bits on wasm32."""
    return arg & 0xFFFFFFFF


def i64(arg: int) -> int:
    """A 64-bit signed value (``off_t``, ``time_t``)."""
    value = arg & 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value & (1 << 63) else value


def u64(arg: int) -> int:
    return arg & 0xFFFFFFFFFFFFFFFF
