"""Reference grates, shipped with the package. The Python ones are loaded by name
(``run --grate strace``) through ``lind_async.threei.python_grates.BUILTIN_GRATES``; the C ones
(``imfs.c``, ``strace.c``, ``passthrough.c``) are sources compiled with ``cc --grate``, and a lane
member may name one without a directory (``namespace:/tmp=imfs.c``). See README.md beside this
file."""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent


def c_source(name: str) -> Path:
    """The shipped C grate ``name`` (``"imfs.c"`` or ``"imfs"``)."""
    return DIRECTORY / (name if name.endswith(".c") else f"{name}.c")
