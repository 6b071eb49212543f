"""Wasm execution core: engine, epoch ticker, instances over shared memory, fiber driver."""

from .engine import EngineConfig, LindEngine, ModuleError
from .fiber import Handler, StoreBusyError, SyncHandler, WasmTrap, run_call
from .instance import (
    FuncHandle,
    HostImports,
    LindInstance,
    SharedMemoryHandle,
    instantiate,
    module_spec,
)
from .ticker import EpochTicker

__all__ = [
    "EngineConfig",
    "EpochTicker",
    "FuncHandle",
    "Handler",
    "HostImports",
    "LindEngine",
    "LindInstance",
    "ModuleError",
    "SharedMemoryHandle",
    "StoreBusyError",
    "SyncHandler",
    "WasmTrap",
    "instantiate",
    "module_spec",
    "run_call",
]
