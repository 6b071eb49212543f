"""Raw ctypes declarations of the parts of the wasmtime C API that lind_async drives itself.

Theory of operation
-------------------
wasmtime-py does not wrap the async C API (call futures, async host functions, async
instantiation), so this module declares exactly what the runtime needs against the
``_libwasmtime.so`` that wasmtime-py ships (wasmtime 51.0.0).

Rules:
- Every declaration here was checked against the shipped library (``nm -D``) and
  wasmtime-py's generated ``_bindings.py`` for 50.0.1, and again for 51.0.0 (every function
  declared here, and the structures below, read the same in both), not against newer headers.
- We open our **own** ``ctypes.CDLL`` over the same file. ``dlopen`` returns the already
  loaded library (one copy of wasmtime in the process), but ctypes caches function
  objects per ``CDLL`` instance, so changing ``restype``/``argtypes`` here never alters
  wasmtime-py's own bindings (which, e.g., declare a return value for
  ``wasmtime_context_epoch_deadline_async_yield_and_update``; in 50 and 51 it returns void).
- Opaque handles (store context, module, linker, futures, traps, errors) are passed as
  plain integers (``c_void_p``): no per-call pointer type conversions on the hot path.
  Structures whose layout matters (``wasmtime_val_t``, ``wasmtime_extern_t`` ...) are
  reused from ``wasmtime._ffi`` so the layout is the one generated for the wheel.
- It is a ``CDLL`` (not ``PyDLL``): every foreign call releases the GIL. That is required:
  ``wasmtime_call_future_poll`` runs guest code for a whole time slice and the epoch ticker
  thread needs the GIL to tick the epoch that ends the slice.

Layouts relied upon (x86_64 / aarch64, 50.0.1 and 51.0.0):
- ``wasmtime_val_t``: 32 bytes; ``kind`` (u8) at offset 0, the value union at offset 8.
  An i32 occupies only the low 4 bytes of the union (the upper bytes may be garbage).
- ``wasmtime_val_raw_t``: 16 bytes; i32 in the low 4 bytes, i64 in the low 8 bytes.
- ``wasmtime_async_continuation_t``: ``{callback, env, finalizer}`` three pointers.
"""

from __future__ import annotations

import ctypes
from ctypes import (
    CFUNCTYPE,
    POINTER,
    c_bool,
    c_char_p,
    c_int,
    c_size_t,
    c_uint8,
    c_uint64,
    c_void_p,
)
from typing import Any

import wasmtime
from wasmtime import _ffi as wffi

LIB_PATH: str = str(wffi.filename)
lib = ctypes.CDLL(LIB_PATH)

# ---------------------------------------------------------------- structures (from the wheel)
wasmtime_val_t: Any = wffi.wasmtime_val_t
wasmtime_val_raw_t: Any = wffi.wasmtime_val_raw_t
wasmtime_extern_t: Any = wffi.wasmtime_extern_t
wasmtime_func_t: Any = wffi.wasmtime_func_t
wasmtime_global_t: Any = wffi.wasmtime_global_t
wasmtime_instance_t: Any = wffi.wasmtime_instance_t
wasm_byte_vec_t: Any = wffi.wasm_byte_vec_t

assert ctypes.sizeof(wasmtime_val_t) == 32, "unexpected wasmtime_val_t layout"
assert ctypes.sizeof(wasmtime_val_raw_t) == 16, "unexpected wasmtime_val_raw_t layout"

VAL_SIZE = 32
RAW_SIZE = 16

KIND_I32 = 0
KIND_I64 = 1
KIND_F32 = 2
KIND_F64 = 3

EXTERN_FUNC = 0
EXTERN_GLOBAL = 1
EXTERN_TABLE = 2
EXTERN_MEMORY = 3
EXTERN_SHAREDMEMORY = 4

WASM_PAGE = 65536

# ---------------------------------------------------------------- callback types
# void (*)(void *env, wasmtime_caller_t*, const wasmtime_val_t *args, size_t nargs,
#          wasmtime_val_t *results, size_t nresults, wasm_trap_t **trap_ret,
#          wasmtime_async_continuation_t *continuation_ret)
ASYNC_CALLBACK = CFUNCTYPE(
    None, c_void_p, c_void_p, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p, c_void_p
)
# bool (*)(void *env)
CONTINUATION_CALLBACK = CFUNCTYPE(c_bool, c_void_p)
# void (*)(void *env)
FINALIZER = CFUNCTYPE(None, c_void_p)
# wasm_trap_t *(*)(void *env, wasmtime_caller_t*, wasmtime_val_raw_t *args_and_results, size_t n)
UNCHECKED_CALLBACK = CFUNCTYPE(c_void_p, c_void_p, c_void_p, c_void_p, c_size_t)


def _decl(name: str, restype: Any, *argtypes: Any) -> Any:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


# ---------------------------------------------------------------- config / engine
config_async_stack_size_set = _decl(
    "wasmtime_config_async_stack_size_set", None, c_void_p, c_size_t
)
config_max_wasm_stack_set = _decl("wasmtime_config_max_wasm_stack_set", None, c_void_p, c_size_t)
config_memory_reservation_set = _decl(
    "wasmtime_config_memory_reservation_set", None, c_void_p, c_uint64
)
config_shared_memory_set = _decl("wasmtime_config_shared_memory_set", None, c_void_p, c_bool)
config_epoch_interruption_set = _decl(
    "wasmtime_config_epoch_interruption_set", None, c_void_p, c_bool
)
engine_increment_epoch = _decl("wasmtime_engine_increment_epoch", None, c_void_p)

# ---------------------------------------------------------------- store / context
# (a Store made here rather than by wasmtime.Store: ~1 us against ~3.5 for the wrapper's
# create and close, once per instance; wasm/instance.py)
store_new = _decl("wasmtime_store_new", c_void_p, c_void_p, c_void_p, c_void_p)
store_context = _decl("wasmtime_store_context", c_void_p, c_void_p)
store_delete = _decl("wasmtime_store_delete", None, c_void_p)
# In 50 and 51 this returns void (wasmtime-py's binding wrongly declares an error pointer).
context_epoch_deadline_async_yield_and_update = _decl(
    "wasmtime_context_epoch_deadline_async_yield_and_update", None, c_void_p, c_uint64
)
context_set_epoch_deadline = _decl("wasmtime_context_set_epoch_deadline", None, c_void_p, c_uint64)

# ---------------------------------------------------------------- linker
linker_new = _decl("wasmtime_linker_new", c_void_p, c_void_p)
linker_delete = _decl("wasmtime_linker_delete", None, c_void_p)
linker_clone = _decl("wasmtime_linker_clone", c_void_p, c_void_p)
linker_allow_shadowing = _decl("wasmtime_linker_allow_shadowing", None, c_void_p, c_bool)
linker_define = _decl(
    "wasmtime_linker_define",
    c_void_p,
    c_void_p,
    c_void_p,
    c_char_p,
    c_size_t,
    c_char_p,
    c_size_t,
    POINTER(wasmtime_extern_t),
)
linker_define_async_func = _decl(
    "wasmtime_linker_define_async_func",
    c_void_p,
    c_void_p,
    c_char_p,
    c_size_t,
    c_char_p,
    c_size_t,
    c_void_p,
    ASYNC_CALLBACK,
    c_void_p,
    c_void_p,
)
linker_define_func_unchecked = _decl(
    "wasmtime_linker_define_func_unchecked",
    c_void_p,
    c_void_p,
    c_char_p,
    c_size_t,
    c_char_p,
    c_size_t,
    c_void_p,
    UNCHECKED_CALLBACK,
    c_void_p,
    c_void_p,
)
linker_instantiate_async = _decl(
    "wasmtime_linker_instantiate_async",
    c_void_p,
    c_void_p,
    c_void_p,
    c_void_p,
    POINTER(wasmtime_instance_t),
    c_void_p,
    c_void_p,
)
linker_instantiate_pre = _decl(
    "wasmtime_linker_instantiate_pre", c_void_p, c_void_p, c_void_p, POINTER(c_void_p)
)
instance_pre_instantiate_async = _decl(
    "wasmtime_instance_pre_instantiate_async",
    c_void_p,
    c_void_p,
    c_void_p,
    POINTER(wasmtime_instance_t),
    c_void_p,
    c_void_p,
)
instance_pre_delete = _decl("wasmtime_instance_pre_delete", None, c_void_p)

# ---------------------------------------------------------------- calls / futures
func_call_async = _decl(
    "wasmtime_func_call_async",
    c_void_p,
    c_void_p,
    POINTER(wasmtime_func_t),
    c_void_p,
    c_size_t,
    c_void_p,
    c_size_t,
    c_void_p,
    c_void_p,
)
# The same function with every pointer passed as a plain address (an ``int``): a prepared call's
# buffers never move, and converting ints is the cheapest argument conversion ctypes has.
# (``lib[name]`` makes a separate function object, so ``func_call_async``'s types are untouched.)
func_call_async_addrs = lib["wasmtime_func_call_async"]
func_call_async_addrs.restype = c_void_p
func_call_async_addrs.argtypes = [c_void_p, c_void_p, c_void_p, c_size_t, c_void_p, c_size_t,
                                  c_void_p, c_void_p]
call_future_poll = _decl("wasmtime_call_future_poll", c_bool, c_void_p)
call_future_delete = _decl("wasmtime_call_future_delete", None, c_void_p)

# ---------------------------------------------------------------- instance exports / globals
instance_export_get = _decl(
    "wasmtime_instance_export_get",
    c_bool,
    c_void_p,
    POINTER(wasmtime_instance_t),
    c_char_p,
    c_size_t,
    POINTER(wasmtime_extern_t),
)
extern_delete = _decl("wasmtime_extern_delete", None, POINTER(wasmtime_extern_t))
global_get = _decl(
    "wasmtime_global_get", None, c_void_p, POINTER(wasmtime_global_t), POINTER(wasmtime_val_t)
)
global_set = _decl(
    "wasmtime_global_set", c_void_p, c_void_p, POINTER(wasmtime_global_t), POINTER(wasmtime_val_t)
)


def _decl_new(name: str, restype: Any, *argtypes: Any) -> Any:
    """As ``_decl``, but a function object of its own (``lib[name]``: ``getattr`` returns the
    one cached object per name, whose argument types ``_decl`` may have set otherwise)."""
    fn = lib[name]
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


# The same two with every argument an address: no pointer conversion per call (the hot path of
# ``LindInstance.get_global``/``set_global``, a few per fork).
global_get_at = _decl_new("wasmtime_global_get", None, c_void_p, c_void_p, c_void_p)
global_set_at = _decl_new("wasmtime_global_set", c_void_p, c_void_p, c_void_p, c_void_p)

# ---------------------------------------------------------------- shared memory
sharedmemory_new = _decl(
    "wasmtime_sharedmemory_new", c_void_p, c_void_p, c_void_p, POINTER(c_void_p)
)
sharedmemory_delete = _decl("wasmtime_sharedmemory_delete", None, c_void_p)
sharedmemory_data = _decl("wasmtime_sharedmemory_data", c_void_p, c_void_p)
sharedmemory_data_size = _decl("wasmtime_sharedmemory_data_size", c_size_t, c_void_p)
sharedmemory_size = _decl("wasmtime_sharedmemory_size", c_uint64, c_void_p)
sharedmemory_grow = _decl(
    "wasmtime_sharedmemory_grow", c_void_p, c_void_p, c_uint64, POINTER(c_uint64)
)
memorytype_isshared = _decl("wasmtime_memorytype_isshared", c_bool, c_void_p)
memorytype_maximum = _decl("wasmtime_memorytype_maximum", c_bool, c_void_p, POINTER(c_uint64))
memorytype_minimum = _decl("wasmtime_memorytype_minimum", c_uint64, c_void_p)

# ---------------------------------------------------------------- traps / errors
trap_new = _decl("wasmtime_trap_new", c_void_p, c_char_p, c_size_t)
trap_code = _decl("wasmtime_trap_code", c_bool, c_void_p, POINTER(c_uint8))
trap_message = _decl("wasm_trap_message", None, c_void_p, POINTER(wasm_byte_vec_t))
trap_delete = _decl("wasm_trap_delete", None, c_void_p)
error_message = _decl("wasmtime_error_message", None, c_void_p, POINTER(wasm_byte_vec_t))
error_delete = _decl("wasmtime_error_delete", None, c_void_p)
error_exit_status = _decl("wasmtime_error_exit_status", c_bool, c_void_p, POINTER(c_int))
byte_vec_delete = _decl("wasm_byte_vec_delete", None, POINTER(wasm_byte_vec_t))


# ---------------------------------------------------------------- helpers
def addr(p: Any) -> int:
    """Integer address of a ctypes pointer / wasmtime-py pointer (0 for NULL)."""
    v = ctypes.cast(p, c_void_p).value
    return int(v) if v else 0


def _take_vec(vec: Any) -> str:
    try:
        raw = ctypes.string_at(vec.data, vec.size) if vec.size else b""
    finally:
        byte_vec_delete(ctypes.byref(vec))
    return raw.rstrip(b"\0").decode("utf-8", "replace")


def take_error_message(err: int) -> str:
    """Message of an owned ``wasmtime_error_t*``; deletes the error."""
    vec = wasm_byte_vec_t()
    try:
        error_message(err, ctypes.byref(vec))
        return _take_vec(vec)
    finally:
        error_delete(err)


def check_error(err: int | None, what: str) -> None:
    """Raise ``wasmtime.WasmtimeError`` for a non-NULL owned error pointer."""
    if err:
        raise wasmtime.WasmtimeError(f"{what}: {take_error_message(err)}")


def take_trap(trap: int) -> tuple[str, wasmtime.TrapCode | None]:
    """Message and code of an owned ``wasm_trap_t*``; deletes the trap."""
    vec = wasm_byte_vec_t()
    code = c_uint8(0)
    try:
        trap_message(trap, ctypes.byref(vec))
        msg = _take_vec(vec)
        tc: wasmtime.TrapCode | None = None
        if trap_code(trap, ctypes.byref(code)):
            try:
                tc = wasmtime.TrapCode(code.value)
            except ValueError:
                tc = None
        return msg, tc
    finally:
        trap_delete(trap)


def fn_addr(cfunc: Any) -> int:
    """Address of a ctypes callback object (the object itself must be kept alive)."""
    return addr(cfunc)
