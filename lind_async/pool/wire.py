"""The pool's wire protocol: frames between the pool (the client) and a worker.

Theory of operation
-------------------
A worker and the pool exchange **frames** over one byte stream (a unix socket pair for local
workers; Ray method calls carry the same bytes for the Ray backend). A frame is a 9-byte header
``<length u32, kind u8, channel u32>`` and ``length`` bytes of payload. A **channel** is one
cage started through the pool (its stdio, signals and exit status) or one ``load``; the pool
numbers channels, channel 0 is the worker itself.

The two directions are not trusted alike. What the pool sends a worker (a spawn request is a
pickle: programs, limits, Python grates) comes from the embedder's own process, and the worker
is code it started. What comes back is parsed as hostile input: every kind has a fixed payload
shape (:func:`check_from_worker`) and a size bound (:data:`MAX_FROM_WORKER`), payloads are plain
integers, raw bytes or small JSON objects of known keys, and never a pickle. A frame that breaks
any rule raises :class:`CorruptFrame`, which fails *that worker* (it is killed and replaced, its
cages report a lost worker), never the pool.

Flow control is per stream, by credit: a worker sends at most ``credit`` bytes of a cage's
stdout or stderr before the pool grants more (it grants what its reader has consumed), so a
reader that stops reading stops the cage's writes, as an OS pipe would. The pool's writes to a
cage's stdin are acknowledged once the cage's pipe has taken them; ``drain`` waits on those.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any

HEADER = struct.Struct("<IBI")
INT = struct.Struct("<i")
UINT = struct.Struct("<I")
CREDIT_MSG = struct.Struct("<BI")
EXIT_MSG = struct.Struct("<iB")

# pool -> worker
SPAWN = 1  # pickle: SpawnRequest
STDIN = 2  # bytes for the cage's stdin
STDIN_EOF = 3  # close the cage's stdin once everything before has gone in
CREDIT = 4  # <stream u8, n u32>: the pool consumed n more bytes of that stream
CLOSE_READ = 5  # <stream u8>: the pool stopped reading that stream
SIGNAL = 6  # <signo i32>
KILL_ALL = 7  # kill the cage and all it started; answered by KILLED
LOAD = 8  # pickle: a program to compile into the shared on-disk cache; answered by DONE
SHUTDOWN = 9  # kill every cage, close the microvisor, exit

# worker -> pool
READY = 64  # JSON {"pid": int}: the worker runs (channel 0)
SPAWNED = 65  # <pid i32>: the cage runs
ERROR = 66  # JSON {"type": str, "message": str}: a spawn or load failed
OUTPUT = 67  # <stream u8> + bytes: what the cage wrote to stdout (1) or stderr (2)
OUTPUT_EOF = 68  # <stream u8>
ACK = 69  # <n u32>: n more bytes of stdin went into the cage's pipe
STDIN_BROKEN = 70  # the cage no longer reads its stdin
EXIT = 71  # <returncode i32, alone u8>: alone = nothing it started is still running
KILLED = 72  # the KILL_ALL is done
DONE = 73  # a LOAD is done

STDOUT = 1
STDERR = 2

MAX_FROM_WORKER = (1 << 20) + 16  # an output chunk is at most 1 MiB (plus its stream byte)
MAX_TO_WORKER = 1 << 30  # a spawn may carry a module's bytes
MAX_JSON = 4096
ERROR_TYPES = frozenset(
    {
        "FileNotFoundError",
        "PermissionError",
        "IsADirectoryError",
        "NotADirectoryError",
        "OSError",
        "ValueError",
        "TypeError",
        "RuntimeError",
        "LookupError",
        "KeyError",
    }
)


class CorruptFrame(Exception):
    """A frame that breaks the protocol: the worker that sent it is failed."""


def frame(kind: int, channel: int, payload: bytes | bytearray | memoryview = b"") -> bytes:
    return HEADER.pack(len(payload), kind, channel) + bytes(payload)


def int_frame(kind: int, channel: int, value: int) -> bytes:
    return frame(kind, channel, INT.pack(value))


def json_frame(kind: int, channel: int, obj: dict[str, Any]) -> bytes:
    return frame(kind, channel, json.dumps(obj).encode()[:MAX_JSON])


class Parser:
    """Splits a byte stream into ``(kind, channel, payload)`` frames, at most ``max_payload``
    bytes each (a longer one is :class:`CorruptFrame`)."""

    def __init__(self, max_payload: int) -> None:
        self._buf = bytearray()
        self._max = max_payload

    def feed(self, data: bytes | bytearray | memoryview) -> Iterator[tuple[int, int, bytes]]:
        buf = self._buf
        buf += data
        pos = 0
        end = len(buf)
        size = HEADER.size
        try:
            while end - pos >= size:
                length, kind, channel = HEADER.unpack_from(buf, pos)
                if length > self._max:
                    raise CorruptFrame(f"frame of {length} bytes (at most {self._max})")
                if end - pos - size < length:
                    break
                start = pos + size
                pos = start + length
                yield kind, channel, bytes(buf[start:pos])
        finally:
            del buf[:pos]


def check_from_worker(kind: int, payload: bytes) -> Any:
    """The decoded payload of a worker's frame, checked; :class:`CorruptFrame` otherwise.

    Returns an ``int`` (SPAWNED, ACK), ``(returncode, alone)`` (EXIT), ``(stream, bytes)``
    (OUTPUT), a stream number
    (OUTPUT_EOF), a checked ``dict`` (READY, ERROR) or ``None`` (the empty kinds)."""
    if kind == SPAWNED:
        _exact(kind, payload, INT.size)
        return INT.unpack(payload)[0]
    if kind == EXIT:
        _exact(kind, payload, EXIT_MSG.size)
        code, alone = EXIT_MSG.unpack(payload)
        return code, bool(alone)
    if kind == ACK:
        _exact(kind, payload, UINT.size)
        return UINT.unpack(payload)[0]
    if kind == OUTPUT:
        if len(payload) < 1 or payload[0] not in (STDOUT, STDERR):
            raise CorruptFrame("OUTPUT without a stream")
        return payload[0], payload[1:]
    if kind == OUTPUT_EOF:
        _exact(kind, payload, 1)
        if payload[0] not in (STDOUT, STDERR):
            raise CorruptFrame("OUTPUT_EOF without a stream")
        return payload[0]
    if kind in (STDIN_BROKEN, KILLED, DONE):
        _exact(kind, payload, 0)
        return None
    if kind == READY:
        obj = _json(payload)
        if not isinstance(obj.get("pid"), int):
            raise CorruptFrame("READY without a pid")
        return obj
    if kind == ERROR:
        obj = _json(payload)
        if not isinstance(obj.get("type"), str) or not isinstance(obj.get("message"), str):
            raise CorruptFrame("ERROR without a type and message")
        return obj
    raise CorruptFrame(f"unknown frame kind {kind}")


def error_of(obj: dict[str, Any], what: str) -> Exception:
    """The exception a worker's ERROR frame stands for (a known builtin type, else
    ``RuntimeError``); the message says it came from a worker."""
    import builtins

    name = obj["type"]
    message = obj["message"][:1000]
    if name in ERROR_TYPES:
        cls: type[Exception] = getattr(builtins, name)
        return cls(message)
    return RuntimeError(f"{what}: {name}: {message}")


def _exact(kind: int, payload: bytes, size: int) -> None:
    if len(payload) != size:
        raise CorruptFrame(f"frame kind {kind}: {len(payload)} bytes, expected {size}")


def _json(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_JSON:
        raise CorruptFrame("JSON payload too long")
    try:
        obj = json.loads(payload.decode())
    except (UnicodeDecodeError, ValueError):
        raise CorruptFrame("bad JSON payload") from None
    if not isinstance(obj, dict):
        raise CorruptFrame("JSON payload is not an object")
    return obj
