"""Instances: one wasmtime Store + Instance per thread of execution, over a shared memory.

Theory of operation
-------------------
Guest modules import their linear memory (``env.memory``, *shared*) and their host
functions (module ``lind``), and export ``_start``, ``__stack_pointer``, ``__heap_base``.
``instantiate`` creates a fresh Store per instance, arms it for epoch async-yield
preemption, and links it against either a new ``SharedMemoryHandle`` (a new cage) or an
existing one (another thread / grate worker of the same cage: a second Store whose
instance sees the same bytes).

Linking: the memory is per cage, the host functions are not. ``HostImports`` keeps one
Linker per engine with every import defined once (the module-level trampolines of
``fiber.py``). The first instantiation over a memory clones it (``wasmtime_linker_clone``),
defines the memory in the clone, makes an ``InstancePre`` from it (the module's imports
resolved and type-checked once), deletes the clone, and keeps the ``InstancePre`` with the
memory (``instance_memory.keep_pre``: deleted with the memory, kept while it is a spare).
Every instance over that memory with the same module and import definitions
(``HostImports.generation``) — this one, a thread's, a fork child's or a new cage's that took
it as a spare — is made from it (``wasmtime_instance_pre_instantiate_async`` driven by
``fiber.drive_instantiation``), with no linker at all. Measured: defining the six ``lind``
imports in a new linker cost ~25 us per instantiation (each definition registers its function
type with the engine), a clone ~2 us; the linker's work around a fork child's instantiation
~26 -> ~9 us wall with the kept ``InstancePre``. (A module that imports no memory, or whose
imports cannot be resolved, is instantiated through a clone as before: its error says why.)

Invariants:
- ``SharedMemoryHandle.base`` is stable for the memory's life (shared memories never
  move: wasmtime reserves up to the declared maximum). ``view()`` is a cached
  ``memoryview`` over ``[base, base+size)`` re-derived when the size changed (guest or host
  ``memory.grow``); a view taken before a grow does not cover the new pages.
- A memory handle owns one reference (``wasmtime_sharedmemory_t``); every Store that
  imported it owns another, so the bytes live until the last user is gone. Each
  ``LindInstance`` counts itself on its memory until ``close`` (a memory some Store may
  still map is never made a fork child's spare: ``instance_memory.py``).
- ``LindInstance`` never calls wasm synchronously (an async import makes sync calls into
  the store fail). Only ``fiber.run_call`` calls into it.
- Export lookups (funcs, globals) are cached per instance; signatures per module.
"""

from __future__ import annotations

import ctypes
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import wasmtime

from . import capi, fiber, instance_memory
from .engine import LindEngine
from .instance_memory import SharedMemoryHandle as SharedMemoryHandle  # (re-exported)

_KINDS = {"i32": capi.KIND_I32, "i64": capi.KIND_I64}


def _kind(t: str | int | wasmtime.ValType) -> int:
    if isinstance(t, int):
        return t
    k = _KINDS.get(str(t))
    if k is None:
        raise ValueError(f"unsupported value type {t!r} (only i32/i64)")
    return k


def _valtype(k: int) -> wasmtime.ValType:
    return wasmtime.ValType.i32() if k == capi.KIND_I32 else wasmtime.ValType.i64()


# ---------------------------------------------------------------- module metadata
Sig = tuple[tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True)
class ModuleSpec:
    memory: tuple[str, str, int, int] | None  # (module, name, min pages, max pages)
    memtype: wasmtime.MemoryType | None
    funcs: dict[str, Sig]
    globals: dict[str, tuple[int, bool]]  # name -> (kind, mutable)
    func_imports: dict[tuple[str, str], Sig]
    # immutable exported globals' values, read once (their initializers are constants)
    constants: dict[str, int] = field(default_factory=dict)


_specs: weakref.WeakKeyDictionary[wasmtime.Module, ModuleSpec] = weakref.WeakKeyDictionary()


def _sig(ft: wasmtime.FuncType) -> Sig | None:
    try:
        return tuple(_kind(p) for p in ft.params), tuple(_kind(r) for r in ft.results)
    except ValueError:
        return None


def module_spec(module: wasmtime.Module) -> ModuleSpec:
    """Imports/exports of a module that the runtime cares about (cached per module)."""
    spec = _specs.get(module)
    if spec is not None:
        return spec
    memory = None
    memtype = None
    fimports: dict[tuple[str, str], Sig] = {}
    for imp in module.imports:
        ty = imp.type
        if isinstance(ty, wasmtime.MemoryType):
            if not ty.is_shared:
                raise ValueError(f"memory import {imp.module}.{imp.name} must be shared")
            lim = ty.limits
            if lim.max is None:
                raise ValueError("shared memory must declare a maximum")
            memory = (imp.module, imp.name or "", lim.min, lim.max)
            memtype = wasmtime.MemoryType(wasmtime.Limits(lim.min, lim.max), shared=True)
        elif isinstance(ty, wasmtime.FuncType):
            sig = _sig(ty)
            if sig is not None:
                fimports[(imp.module, imp.name or "")] = sig
    funcs: dict[str, Sig] = {}
    globs: dict[str, tuple[int, bool]] = {}
    for exp in module.exports:
        ty = exp.type
        if isinstance(ty, wasmtime.FuncType):
            sig = _sig(ty)
            if sig is not None:
                funcs[exp.name] = sig
        elif isinstance(ty, wasmtime.GlobalType):
            k = _KINDS.get(str(ty.content))
            if k is not None:
                globs[exp.name] = (k, ty.mutable)
    spec = ModuleSpec(memory, memtype, funcs, globs, fimports)
    _specs[module] = spec
    return spec


# ---------------------------------------------------------------- host imports
@dataclass(frozen=True)
class _ImportDef:
    module: str
    name: str
    params: tuple[int, ...]
    results: tuple[int, ...]
    key: int
    is_async: bool
    functype: wasmtime.FuncType  # kept alive: the linker copies it at each definition
    functype_ptr: int
    module_b: bytes
    name_b: bytes
    trampoline: Any = None  # a sync import's own ``capi.UNCHECKED_CALLBACK`` (None: the shared)


SYSCALL_PARAMS = ("i32", "i64", "i64", "i64", "i64", "i64", "i64")


class HostImports:
    """The Python side of a module's function imports.

    ``define_async``: the handler may return an int (completes inline) or an awaitable
    (suspends only the calling wasm call). ``define_sync``: never waits; cheaper, served
    by ``wasmtime_linker_define_func_unchecked``. Handlers are called as
    ``handler(instance, args)`` with ``args`` a tuple of **signed** ints.
    Imports the module does not declare are ignored; a declared import with another
    signature is an error at instantiation.
    """

    def __init__(self) -> None:
        self._defs: dict[tuple[str, str], _ImportDef] = {}
        self._keys: list[int] = []
        # Per engine (its address): a linker holding every import, defined once; each
        # instantiation clones it and adds the memory (defining a host function registers its
        # type with the engine each time: ~25 us for six of them, a clone ~2 us).
        self._linkers: dict[int, int] = {}
        self.generation = 0  # bumped by every definition: an InstancePre of an older one is stale
        # Modules whose function imports were checked against these definitions.
        self._checked: weakref.WeakSet[wasmtime.Module] = weakref.WeakSet()
        weakref.finalize(self, fiber.unregister_imports, self._keys)
        weakref.finalize(self, _delete_linkers, self._linkers)

    def _add(
        self,
        module: str,
        name: str,
        params: Sequence[str | int],
        results: Sequence[str | int],
        handler: Callable[..., Any],
        is_async: bool,
        trampoline: Any = None,
    ) -> None:
        p = tuple(_kind(x) for x in params)
        r = tuple(_kind(x) for x in results)
        key = fiber.register_import(f"{module}.{name}", p, r, handler, raw=not is_async)
        self._keys.append(key)
        old = self._defs.get((module, name))
        if old is not None:
            fiber.unregister_imports([old.key])
        _delete_linkers(self._linkers)  # (their definitions are out of date)
        self.generation += 1
        self._checked = weakref.WeakSet()
        ft = wasmtime.FuncType([_valtype(k) for k in p], [_valtype(k) for k in r])
        self._defs[(module, name)] = _ImportDef(
            module,
            name,
            p,
            r,
            key,
            is_async,
            ft,
            capi.addr(ft.ptr()),
            module.encode(),
            name.encode(),
            trampoline,
        )

    def define_async(
        self,
        module: str,
        name: str,
        params: Sequence[str | int],
        results: Sequence[str | int],
        handler: fiber.Handler,
    ) -> None:
        self._add(module, name, params, results, handler, True)

    def define_sync(
        self,
        module: str,
        name: str,
        params: Sequence[str | int],
        results: Sequence[str | int],
        handler: fiber.SyncHandler,
        *,
        trampoline: Any = None,
    ) -> None:
        """``trampoline``: a ``capi.UNCHECKED_CALLBACK`` (alive for the process) that serves
        the import itself, reading its arguments from and writing its result to the raw value
        array as wasmtime's unchecked calls do, and reporting failure as a trap pointer, as
        ``fiber``'s shared one does (``fiber.fail``) — for the hottest import (``lind.syscall``:
        ``runtime/syscall_entry.py``). ``handler`` then names it and serves nothing."""
        self._add(module, name, params, results, handler, False, trampoline)

    @classmethod
    def lind(
        cls,
        syscall: fiber.Handler,
        *,
        fork: fiber.Handler | None = None,
        sync_syscall: fiber.SyncHandler | None = None,
    ) -> HostImports:
        """A ``lind.syscall(i32, i64 x6) -> i64`` served as an *async* import (plus optional
        ``fork`` and a sync ``syscall_sync``): the shapes the fiber tests and micro-benchmarks
        drive. Cages get the microvisor's own set, ``microvisor.lind_imports()``."""
        h = cls()
        h.define_async("lind", "syscall", SYSCALL_PARAMS, ["i64"], syscall)
        if fork is not None:
            h.define_async("lind", "fork", [], ["i64"], fork)
        if sync_syscall is not None:
            h.define_sync("lind", "syscall_sync", SYSCALL_PARAMS, ["i64"], sync_syscall)
        return h

    def linker(self, engine: LindEngine, module: wasmtime.Module, spec: ModuleSpec) -> int:
        """A new linker (the caller deletes it) defining every import, for ``module`` whose
        function imports must have the signatures defined here (``ValueError`` if not)."""
        if module not in self._checked:
            for d in self._defs.values():
                want = spec.func_imports.get((d.module, d.name))
                if want is not None and want != (d.params, d.results):
                    raise ValueError(
                        f"import {d.module}.{d.name}: module expects another signature")
            self._checked.add(module)
        template = self._linkers.get(engine.ptr)
        if template is None:
            template = capi.linker_new(engine.ptr)
            try:
                self._define_into(template)
            except BaseException:
                capi.linker_delete(template)
                raise
            self._linkers[engine.ptr] = template
        return int(capi.linker_clone(template))

    def _define_into(self, linker: int) -> None:
        for d in self._defs.values():
            m = d.module_b
            n = d.name_b
            if d.is_async:
                err = capi.linker_define_async_func(
                    linker,
                    m,
                    len(m),
                    n,
                    len(n),
                    d.functype_ptr,
                    fiber.ASYNC_TRAMPOLINE,
                    d.key,
                    None,
                )
            else:
                err = capi.linker_define_func_unchecked(
                    linker,
                    m,
                    len(m),
                    n,
                    len(n),
                    d.functype_ptr,
                    d.trampoline or fiber.SYNC_TRAMPOLINE,
                    d.key,
                    None,
                )
            capi.check_error(err, f"defining {d.module}.{d.name}")


def _delete_linkers(linkers: dict[int, int]) -> None:
    for linker in linkers.values():
        capi.linker_delete(linker)
    linkers.clear()


# ---------------------------------------------------------------- instances
class FuncHandle:
    """A raw exported function of one instance (callable through ``fiber.run_call``)."""

    __slots__ = ("func", "instance", "name", "params", "results")

    def __init__(
        self,
        instance: LindInstance,
        name: str,
        func: Any,
        params: tuple[int, ...],
        results: tuple[int, ...],
    ) -> None:
        self.instance = instance
        self.name = name
        self.func = func
        self.params = params
        self.results = results


_EXTERN_OF = int(capi.wasmtime_extern_t.of.offset)  # the union after ``kind``: the handle


class _Values:
    """One value buffer per instance, reused by every global get and set (``i32``/``i64`` are
    its cell, read and written in place; ``kind`` is set before a set)."""

    __slots__ = ("addr", "i32", "i64", "val")

    def __init__(self) -> None:
        self.val = capi.wasmtime_val_t()
        self.addr = ctypes.addressof(self.val)
        self.i32: Any = ctypes.c_int32.from_address(self.addr + 8)  # (the union: capi's layout)
        self.i64: Any = ctypes.c_int64.from_address(self.addr + 8)


class LindInstance:
    """One Store + Instance. Attach anything (e.g. the cage) to ``.data``."""

    def __init__(
        self,
        engine: LindEngine,
        module: wasmtime.Module,
        imports: HostImports,
        memory: SharedMemoryHandle,
    ) -> None:
        self.engine = engine
        self.module = module
        self.imports = imports
        self.memory = memory
        self.spec = module_spec(module)
        # The Store (deleted by close, or by __del__ if never closed) and its context
        self.store: int = int(capi.store_new(engine.ptr, None, None) or 0)
        if not self.store:
            raise MemoryError("wasmtime_store_new")
        memory.store_opened()  # (until close: the memory is not reused while a Store has it)
        self.ctx: int = int(capi.store_context(self.store) or 0)
        capi.context_epoch_deadline_async_yield_and_update(self.ctx, 1)
        # That sets what happens at the deadline, not the deadline: a new store's is 0, already
        # passed, so its first wasm (the start function, or the first call) would yield at
        # once and cost a loop round trip. Its first slice starts now.
        capi.context_set_epoch_deadline(self.ctx, 1)
        self._inst = capi.wasmtime_instance_t()
        self._funcs: dict[str, FuncHandle] = {}
        self._globals: dict[str, tuple[Any, int, int]] = {}
        self._values: _Values | None = None
        self._live = False
        self.closed = False
        self.data: Any = None
        # A system call that had to wait, parked by the sync ``lind.syscall`` import until the
        # guest collects it through the async ``lind.syscall_wait`` import.
        self.parked: Awaitable[int] | None = None
        # Awaited by the fiber driver at each epoch yield of a call in this store (if set).
        self.preempt_hook: Callable[[], Awaitable[None]] | None = None
        # A grate's handler worker: it serves other cages' calls and takes none of the
        # grate's signals or stops (threei/wasm_grates.py).
        self.serving = False
        # A signal handler this thread's libc is running on its own stack (guest_signals.py).
        self.signal_frame: Any = None

    # ------------------------------------------------------------ exports
    def _export(self, name: str) -> Any:
        ext = capi.wasmtime_extern_t()
        raw = name.encode()
        found = capi.instance_export_get(
            self.ctx, ctypes.byref(self._inst), raw, len(raw), ctypes.byref(ext)
        )
        if not found:
            raise KeyError(f"no export named {name!r}")
        return ext

    def has_export(self, name: str) -> bool:
        return name in self.spec.funcs or name in self.spec.globals

    def func(self, name: str) -> FuncHandle:
        """Handle of an exported i32/i64 function (cached)."""
        fh = self._funcs.get(name)
        if fh is not None:
            return fh
        sig = self.spec.funcs.get(name)
        if sig is None:
            raise KeyError(f"no exported i32/i64 function named {name!r}")
        ext = self._export(name)
        if ext.kind != capi.EXTERN_FUNC:
            raise KeyError(f"export {name!r} is not a function")
        f = capi.wasmtime_func_t()
        ctypes.pointer(f)[0] = ext.of.func
        fh = FuncHandle(self, name, f, sig[0], sig[1])
        self._funcs[name] = fh
        return fh

    def _global(self, name: str) -> tuple[Any, int, int]:
        """(extern kept alive, address of its global handle, kind), looked up once."""
        g = self._globals.get(name)
        if g is None:
            info = self.spec.globals.get(name)
            if info is None:
                raise KeyError(f"no exported i32/i64 global named {name!r}")
            ext = self._export(name)
            if ext.kind != capi.EXTERN_GLOBAL:
                raise KeyError(f"export {name!r} is not a global")
            g = self._globals[name] = (ext, ctypes.addressof(ext) + _EXTERN_OF, info[0])
        return g

    def get_global(self, name: str) -> int:
        """Value of an exported i32/i64 global (signed)."""
        if (constant := self.spec.constants.get(name)) is not None:
            return constant
        g = self._globals.get(name) or self._global(name)
        v = self._values or self._new_values()
        capi.global_get_at(self.ctx, g[1], v.addr)
        value = int(v.i32.value if g[2] == capi.KIND_I32 else v.i64.value)
        if not self.spec.globals[name][1]:  # (immutable: the same in every instance)
            self.spec.constants[name] = value
        return value

    def set_global(self, name: str, value: int) -> None:
        """Set an exported mutable i32/i64 global (value wrapped to its width)."""
        g = self._globals.get(name) or self._global(name)
        v = self._values or self._new_values()
        kind = g[2]
        v.val.kind = kind
        if kind == capi.KIND_I32:
            v.i32.value = value  # (ctypes keeps the low 32 or 64 bits: the wrap)
        else:
            v.i64.value = value
        err = capi.global_set_at(self.ctx, g[1], v.addr)
        if err:
            capi.check_error(err, f"setting global {name}")

    def _new_values(self) -> _Values:
        v = self._values = _Values()
        return v

    def park(self, pending: Awaitable[int] | None) -> None:
        """Park ``pending`` for the guest's ``lind.syscall_wait``. One the guest never collected
        (a confused or hostile guest that ignored ``WOULD_WAIT``) is closed, not left dangling."""
        stale, self.parked = self.parked, pending
        close = getattr(stale, "close", None)
        if close is not None:
            close()

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Drop the Store (not the shared memory, which other instances may use)."""
        if self._live:
            raise fiber.StoreBusyError("cannot close an instance with a live call")
        if not self.closed:
            self.closed = True
            self.park(None)  # a call the guest never collected
            self._funcs.clear()
            self._globals.clear()
            store, self.store = self.store, 0
            capi.store_delete(store)
            self.memory.store_closed()

    def __del__(self) -> None:  # never closed: the Store goes, the memory's count stays up
        store = getattr(self, "store", 0)
        if store and not self.closed:
            self.store = 0
            capi.store_delete(store)


async def instantiate(
    engine: LindEngine,
    module: wasmtime.Module,
    imports: HostImports,
    *,
    memory: SharedMemoryHandle | None = None,
) -> LindInstance:
    """Instantiate ``module`` in a new Store over ``memory`` (a new shared memory if None)."""
    spec = module_spec(module)
    if memory is None:
        memory = SharedMemoryHandle.for_module(engine, module)
    inst = LindInstance(engine, module, imports, memory)
    try:
        pre = _pre(engine, module, imports, spec, memory, inst) if spec.memory is not None else 0
    except BaseException:
        inst.close()
        raise
    if pre:  # the module's imports resolved against this memory (kept for the next instance)

        def start(trap_ptr: int, err_ptr: int) -> int:
            return int(capi.instance_pre_instantiate_async(
                pre, inst.ctx, ctypes.byref(inst._inst), trap_ptr, err_ptr))

        try:
            await fiber.drive_instantiation(inst, start)
        except BaseException:
            if not inst.closed:
                inst.close()
            raise
        return inst
    try:  # (a module without a memory, or imports it cannot resolve: the linker says so)
        linker = imports.linker(engine, module, spec)
    except BaseException:
        inst.close()
        raise
    try:
        if spec.memory is not None:
            _define_memory(linker, spec, memory, inst)
        mod_ptr = capi.addr(module.ptr())

        def start(trap_ptr: int, err_ptr: int) -> int:
            return int(
                capi.linker_instantiate_async(
                    linker, inst.ctx, mod_ptr, ctypes.byref(inst._inst), trap_ptr, err_ptr
                )
            )

        try:
            await fiber.drive_instantiation(inst, start)
        except BaseException:
            inst.close()
            raise
    except BaseException:
        if not inst.closed:
            inst.close()
        raise
    finally:
        capi.linker_delete(linker)
    return inst


def _define_memory(linker: int, spec: ModuleSpec, memory: SharedMemoryHandle,
                   inst: LindInstance) -> None:
    assert spec.memory is not None
    mod_name, mem_name, _, _ = spec.memory
    ext = capi.wasmtime_extern_t()
    ext.kind = capi.EXTERN_SHAREDMEMORY
    ext.of.sharedmemory = ctypes.cast(memory.ptr, type(ext.of.sharedmemory))
    m = mod_name.encode()
    n = mem_name.encode()
    capi.check_error(
        capi.linker_define(linker, inst.ctx, m, len(m), n, len(n), ctypes.byref(ext)),
        "defining the shared memory",
    )


def _pre(engine: LindEngine, module: wasmtime.Module, imports: HostImports, spec: ModuleSpec,
         memory: SharedMemoryHandle, inst: LindInstance) -> int:
    """The InstancePre of ``module`` with ``imports`` over ``memory``: the one kept with the
    memory, else a new one (then kept); 0 when the module's imports cannot be resolved."""
    key = (module, imports, imports.generation)
    pre = instance_memory.pre_of(memory.ptr, key)
    if pre:
        return pre
    linker = imports.linker(engine, module, spec)
    try:
        _define_memory(linker, spec, memory, inst)
        made = ctypes.c_void_p(0)
        err = capi.linker_instantiate_pre(linker, capi.addr(module.ptr()), ctypes.byref(made))
    finally:
        capi.linker_delete(linker)
    if err:
        capi.error_delete(err)
        return 0
    pre = int(made.value or 0)
    if pre:
        instance_memory.keep_pre(memory.ptr, key, pre)
    return pre
