"""The runnable program file: an optional ``#!`` launcher line, then the wasm module's bytes.

Theory of operation
-------------------
``lind-cc`` writes a linked program as ``#!/path/to/lind-async-exec\\n`` followed by the module
(``\\0asm`` …), mode 0755, so that the host's kernel runs ``./a.out`` through the launcher, which
runs it in a cage (that is how ``configure`` runs its test programs). Everything that *loads*
such a file — the engine, a cage's ``execve``, ``lind-strip``, validation — calls
:func:`split_launcher` and uses only the module after the line: the line is skipped, never
followed, so a cage exec'ing the file gets the wasm module and nothing on the host runs. The line
counts only when the module's magic follows it directly; any other ``#!`` file is a script.
"""

from __future__ import annotations

WASM_MAGIC = b"\0asm"
MAX_LAUNCHER_LINE = 4096
"""The longest ``#!`` line skipped before a module (kernels read at most 256 bytes of it)."""


def split_launcher(data: bytes) -> tuple[bytes, bytes]:
    """``(line, module)``: the ``#!…\\n`` line before a wasm module (``b""`` when there is none)
    and the rest. A ``#!`` file whose first line is not followed by ``\\0asm`` is not split."""
    if not data.startswith(b"#!"):
        return b"", data
    end = data.find(b"\n", 0, MAX_LAUNCHER_LINE)
    if end < 0 or data[end + 1:end + 5] != WASM_MAGIC:
        return b"", data
    return data[:end + 1], data[end + 1:]


def module_bytes(data: bytes) -> bytes:
    """``data`` without a launcher line."""
    return split_launcher(data)[1]


def launcher_line(interpreter: str) -> bytes:
    """The line naming ``interpreter`` (an absolute path, or a name found with ``env``)."""
    if not interpreter.startswith("/"):
        return f"#!/usr/bin/env {interpreter}\n".encode()
    return f"#!{interpreter}\n".encode()
