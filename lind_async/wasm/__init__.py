"""The wasm binding: engine and module cache, epoch ticker, instances over shared memory, the fiber
driver (wasmtime's async C API through ctypes). It knows wasmtime and fibers, but no cages."""

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
