"""The microvisor's single wasmtime Engine and its compiled-module cache.

Theory of operation
-------------------
One ``LindEngine`` per microvisor. The engine is configured once and never changes:
epoch interruption (preemption by async yield, see ``ticker.py``), wasm threads + shared
memory (a cage's threads are separate Stores over one shared linear memory), bulk memory,
and reference types. Async execution needs no knob in 50.0.1 (every engine can run
``*_async`` calls). Turning reference types *off* aborts the process in 50.0.1 (it is
required by other enabled proposals), so it is forced on.

Invariants:
- ``max_wasm_stack < async_stack_size`` (else wasmtime aborts at engine creation); checked
  here and raised as ``ValueError`` before reaching wasmtime. The difference is the native
  stack left for host code (our Python syscall handlers run on the fiber stack!), so at
  least 256 KiB of headroom is demanded. The fiber stacks themselves come from
  ``instance_stacks.py`` (kept from one Store to the next instead of mapped per Store).
- Compiling is slow (~0.5 s for a 100 KB module), deserializing is ~0.2 ms, so
  ``load_module`` keeps an in-memory map ``sha256 -> Module`` and, when ``cache_dir`` is
  set, an on-disk cache of serialized modules. The disk key covers the module bytes, every
  engine setting that affects code generation, the wasmtime version and the host machine;
  a stale or corrupt cache entry is simply recompiled and overwritten (wasmtime itself also
  refuses artifacts from an incompatible engine).
- A precompiled ``.cwasm`` (``precompile``) is native code: loading one is only safe from a
  trusted source (it is never validated like wasm). ``load_module`` accepts it only by
  path/bytes the caller hands over; cages' programs should normally be ``.wasm``.
- Every failure to turn input into a Module is a ``ModuleError`` with a readable message.

Rejected: wasmtime's own cache (``Config.cache``) - it needs a TOML config file, gives no
control over the key or location, and still hashes+validates the wasm on every load.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import wasmtime

from lind_async.abi.executable import module_bytes
from lind_async.wasm.binary import handler_slots

from . import capi, instance_stacks, instructions

_GRATE_MARKER = b"__lind_default_grate_entry"
_FORK_MARKER = b"\x04fork"  # (the name of the ``lind.fork`` import, with its length)

WASM_MAGIC = b"\0asm"
ELF_MAGIC = b"\x7fELF"


class ModuleError(Exception):
    """The input could not be turned into a wasmtime Module (malformed, not wasm, ...)."""


@dataclass(frozen=True)
class EngineConfig:
    time_slice: float = 0.005
    """Preemption slice in seconds: the epoch ticks this often while wasm is running."""
    async_stack_size: int = 17 << 20
    """Size of each fiber's native stack (wasm frames + host handlers); reserved, not committed:
    only the pages a fiber touches cost memory."""
    max_wasm_stack: int = 16 << 20
    """Wasm stack limit; must be below ``async_stack_size``. Sized from the 8 MiB main stack
    (``toolchain/cc.py``): wasm keeps most locals on this native stack, not in linear memory, so
    a recursion that a program bounds by its own stack-pointer guard must not exhaust this first
    (that would be a trap where the program expects its own error). Twice the main stack: a
    frame's native part is larger than its linear-memory part (an interpreter's recursion used
    ~1.5x), and with an equal 8 MiB a guard 6 MiB below the top trapped first
    (tests/e2e/test_real_patterns.py, js_stack.c)."""
    memory_reservation: int | None = None
    """Virtual bytes reserved per linear memory (None: wasmtime default, 4 GiB)."""
    cache_dir: Path | None = None
    """Directory of serialized compiled modules (None: in-memory cache only)."""
    cranelift_opt_level: str = "speed"
    extra_key: tuple[str, ...] = field(default=())
    """Anything else that must separate cache entries."""

    def validate(self) -> None:
        if self.time_slice <= 0:
            raise ValueError("time_slice must be > 0")
        if self.max_wasm_stack <= 0 or self.async_stack_size <= 0:
            raise ValueError("stack sizes must be > 0")
        if self.max_wasm_stack + (256 << 10) > self.async_stack_size:
            raise ValueError(
                "max_wasm_stack must be at least 256 KiB below async_stack_size "
                f"(got {self.max_wasm_stack} vs {self.async_stack_size}); wasmtime aborts "
                "the process otherwise and host handlers need native stack"
            )
        if self.memory_reservation is not None and self.memory_reservation < capi.WASM_PAGE:
            raise ValueError("memory_reservation too small")


@functools.cache
def wasmtime_version() -> str:
    """The installed wasmtime-py's version (part of the module cache key). Read from the name of
    the one ``wasmtime-VERSION.dist-info`` beside the package when there is one:
    ``importlib.metadata`` costs ~10 ms of imports (email, zipfile, csv...) at every start."""
    site = Path(wasmtime.__file__).parent.parent
    with contextlib.suppress(OSError):
        found = [n for n in os.listdir(site)
                 if n.startswith("wasmtime-") and n.endswith(".dist-info")]
        if len(found) == 1:
            return found[0].removeprefix("wasmtime-").removesuffix(".dist-info")
    from importlib import metadata

    try:
        return metadata.version("wasmtime")
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


class LindEngine:
    """The wasmtime Engine every cage of one microvisor shares."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        cfg = config or EngineConfig()
        cfg.validate()
        self.config = cfg
        wcfg = wasmtime.Config()
        wcfg.epoch_interruption = True
        wcfg.wasm_threads = True
        wcfg.shared_memory = True
        wcfg.wasm_bulk_memory = True
        wcfg.wasm_reference_types = True
        wcfg.wasm_exceptions = True  # setjmp/longjmp (exnref; on by default in 50, stated)
        wcfg.cranelift_opt_level = cfg.cranelift_opt_level
        cptr = capi.addr(wcfg.ptr())
        capi.config_async_stack_size_set(cptr, cfg.async_stack_size)
        capi.config_max_wasm_stack_set(cptr, cfg.max_wasm_stack)
        if cfg.memory_reservation is not None:
            capi.config_memory_reservation_set(cptr, cfg.memory_reservation)
        instance_stacks.install(wcfg.ptr())  # fiber stacks kept from Store to Store
        self.engine = wasmtime.Engine(wcfg)  # consumes wcfg
        self.ptr: int = capi.addr(self.engine.ptr())
        self._modules: dict[str, wasmtime.Module] = {}
        # Grate modules with lind-musl's default entry: their handler table slots (register
        # checks a handler id against them; see threei/authority.py, rule 3).
        self._handler_slots: weakref.WeakKeyDictionary[wasmtime.Module, frozenset[int]] = (
            weakref.WeakKeyDictionary()
        )
        # Modules that may fork, and whether an instance's state is all in its exported
        # globals (``instructions.state_in_exports``): a dead child's instance may then serve
        # the next child (``instance_reuse.py``). Kept on disk beside the compiled module.
        self._resettable: weakref.WeakKeyDictionary[wasmtime.Module, bool] = (
            weakref.WeakKeyDictionary()
        )
        self._settings_key = "|".join(
            [
                f"wasmtime={wasmtime_version()}",
                f"machine={platform.machine()}",
                f"async_stack={cfg.async_stack_size}",
                f"max_wasm_stack={cfg.max_wasm_stack}",
                f"reservation={cfg.memory_reservation}",
                f"opt={cfg.cranelift_opt_level}",
                "features=epoch,threads,shared,bulk,reftypes,exceptions",
                *cfg.extra_key,
            ]
        )
        from .ticker import EpochTicker  # local: ticker imports nothing from here at runtime

        self.ticker = EpochTicker(self.ptr, cfg.time_slice)

    # ------------------------------------------------------------ modules
    def cache_key(self, wasm: bytes) -> str:
        h = hashlib.sha256()
        h.update(wasm)
        h.update(b"\0")
        h.update(self._settings_key.encode())
        return h.hexdigest()

    def load_module(self, src: str | os.PathLike[str] | bytes | bytearray) -> wasmtime.Module:
        """Compile (or fetch from cache) a wasm module; also accepts a ``.cwasm``. A ``#!``
        launcher line before a module is skipped (:mod:`lind_async.abi.executable`)."""
        data = module_bytes(self._read(src))
        if data[:4] == ELF_MAGIC:
            return self._deserialize_cwasm(src, data)
        if data[:4] != WASM_MAGIC:
            raise ModuleError(f"{_describe(src)}: not a WebAssembly module (bad magic)")
        key = self.cache_key(data)
        mod = self._modules.get(key)
        if mod is not None:
            return mod
        mod = self._load_cached(key)
        if mod is None:
            mod = self._compile(src, data)
            self._store_cached(key, mod)
        self._modules[key] = mod
        if _GRATE_MARKER in data:
            slots = handler_slots(data)
            if slots is not None:
                self._handler_slots[mod] = slots
        if _FORK_MARKER in data:
            self._resettable[mod] = self._state_in_exports(key, data)
        return mod

    def resettable(self, module: wasmtime.Module) -> bool:
        """Whether every instance of ``module`` can be put back into any state its siblings
        may be in by setting its exported globals (``instructions.state_in_exports``); known
        for modules loaded here that may fork, else False."""
        return self._resettable.get(module, False)

    def _state_in_exports(self, key: str, data: bytes) -> bool:
        """The module's answer, from the disk cache (as trusted as the compiled code beside it;
        named by the analysis's version) or decoded (~7 ms for 40 KB) and written there."""
        path = self._cache_path(key)
        side = None if path is None else path.with_suffix(f".state{instructions.VERSION}")
        if side is not None:
            with contextlib.suppress(OSError):
                kept = side.read_bytes()
                if kept in (b"0", b"1"):
                    return kept == b"1"
        answer = instructions.state_in_exports(data)
        if side is not None:
            with contextlib.suppress(OSError):
                _atomic_write(side, b"1" if answer else b"0")
        return answer

    def handler_slots(self, module: wasmtime.Module) -> frozenset[int] | None:
        """The valid handler ids of a grate module whose entry takes function-table indices;
        None when its entry is its own (its handler ids are its business)."""
        return self._handler_slots.get(module)

    def clear_modules(self) -> None:
        """Forget the in-memory module cache (a module loaded from a ``.cwasm`` keeps its file
        open while alive: the owner of the engine drops them when it closes)."""
        self._modules.clear()

    def precompile(
        self, src: str | os.PathLike[str] | bytes | bytearray, dst: str | os.PathLike[str]
    ) -> Path:
        """Compile ``src`` and write the serialized module (``.cwasm``) to ``dst``."""
        mod = self.load_module(src)
        out = Path(dst)
        _atomic_write(out, bytes(mod.serialize()))
        return out

    def _read(self, src: str | os.PathLike[str] | bytes | bytearray) -> bytes:
        if isinstance(src, bytes | bytearray):
            return bytes(src)
        try:
            return Path(src).read_bytes()
        except OSError as e:
            raise ModuleError(f"{src}: cannot read module: {e}") from e

    def _compile(self, src: object, data: bytes) -> wasmtime.Module:
        try:
            return wasmtime.Module(self.engine, data)
        except wasmtime.WasmtimeError as e:
            raise ModuleError(
                f"{_describe(src)}: invalid WebAssembly module: {_one_line(e)}"
            ) from e

    def _deserialize_cwasm(self, src: object, data: bytes) -> wasmtime.Module:
        try:
            if isinstance(src, str | os.PathLike):
                return wasmtime.Module.deserialize_file(self.engine, os.fspath(src))
            return wasmtime.Module.deserialize(self.engine, data)
        except wasmtime.WasmtimeError as e:
            raise ModuleError(
                f"{_describe(src)}: not a usable precompiled module for this engine: {_one_line(e)}"
            ) from e

    def _cache_path(self, key: str) -> Path | None:
        d = self.config.cache_dir
        return None if d is None else Path(d) / f"{key}.cwasm"

    def _load_cached(self, key: str) -> wasmtime.Module | None:
        path = self._cache_path(key)
        if path is None or not path.is_file():
            return None
        try:
            return wasmtime.Module.deserialize_file(self.engine, str(path))
        except wasmtime.WasmtimeError:
            # stale / corrupt entry: recompile and overwrite
            return None

    def _store_cached(self, key: str, mod: wasmtime.Module) -> None:
        path = self._cache_path(key)
        if path is None:
            return
        # a cache that cannot be written is just a slower start
        with contextlib.suppress(OSError):
            _atomic_write(path, bytes(mod.serialize()))


def _one_line(error: BaseException) -> str:
    """wasmtime's multi-line "X\n\nCaused by:\n    Y" as ``X: Y`` (CLI errors are one line)."""
    parts = [
        line.strip()
        for line in str(error).splitlines()
        if line.strip() and line.strip() != "Caused by:"
    ]
    return ": ".join(parts)


def _describe(src: object) -> str:
    if isinstance(src, bytes | bytearray):
        return f"<{len(src)} bytes>"
    return str(src)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".cwasm")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
