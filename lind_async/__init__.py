"""lind_async: an asyncio/uvloop microvisor running untrusted wasm32 C programs in cages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from lind_async.embed import (
        DEVNULL,
        PIPE,
        STDOUT,
        CageProcess,
        CageStreamReader,
        CageStreamWriter,
        CompletedCage,
        HostStdio,
        Limits,
        Microvisor,
        OutputTooLarge,
        RootPool,
        create_cage_exec,
        default_microvisor,
    )
    from lind_async.pool import Pool, PoolProcess, WorkerLost
    from lind_async.threei.python_grates import (
        Call,
        Forward,
        Grate,
        GrateError,
        handles,
        load_grate,
    )

# Public names, imported on first use (so `import lind_async` stays cheap for the CLI).
_LAZY = {
    "Call": "lind_async.threei.python_grates",
    "Forward": "lind_async.threei.python_grates",
    "Grate": "lind_async.threei.python_grates",
    "GrateError": "lind_async.threei.python_grates",
    "handles": "lind_async.threei.python_grates",
    "load_grate": "lind_async.threei.python_grates",
    # the embedding API (docs/embedding.md)
    "CageProcess": "lind_async.embed",
    "CageStreamReader": "lind_async.embed",
    "CageStreamWriter": "lind_async.embed",
    "CompletedCage": "lind_async.embed",
    "OutputTooLarge": "lind_async.embed",
    "RootPool": "lind_async.embed",
    "DEVNULL": "lind_async.embed",
    "HostStdio": "lind_async.embed",
    "Limits": "lind_async.embed",
    "Microvisor": "lind_async.embed",
    "PIPE": "lind_async.embed",
    "STDOUT": "lind_async.embed",
    "create_cage_exec": "lind_async.embed",
    "default_microvisor": "lind_async.embed",
    # many workers (docs/scaling.md)
    "Pool": "lind_async.pool",
    "PoolProcess": "lind_async.pool",
    "WorkerLost": "lind_async.pool",
}

__all__ = [
    "DEVNULL",
    "PIPE",
    "STDOUT",
    "CageProcess",
    "CageStreamReader",
    "CageStreamWriter",
    "Call",
    "CompletedCage",
    "Forward",
    "Grate",
    "GrateError",
    "HostStdio",
    "Limits",
    "Microvisor",
    "OutputTooLarge",
    "Pool",
    "PoolProcess",
    "RootPool",
    "WorkerLost",
    "__version__",
    "create_cage_exec",
    "default_microvisor",
    "handles",
    "load_grate",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lind_async' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain attribute reads, not this call
    return value
