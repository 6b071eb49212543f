"""A minimal synchronous runner for toolchain tests (not the product runtime).

Runs a cage module with a handful of emulated system calls — write, writev, brk, anonymous mmap,
munmap, ioctl (ENOTTY), set_tid_address, getpid, rt_sigprocmask, exit/exit_group — enough to check
that lind-musl programs start, print and allocate.  Output is captured, not written to the terminal.
"""

from __future__ import annotations

import ctypes
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime._sharedmemory import SharedMemory

ENOSYS, ENOTTY = 38, 25


class _Shared(SharedMemory):
    # wasmtime-py 50.0.1 passes a pointer-to-pointer in these two.
    def _as_extern(self) -> Any:
        union = ffi.wasmtime_extern_union(sharedmemory=self.ptr())
        return ffi.wasmtime_extern_t(ffi.WASMTIME_EXTERN_SHAREDMEMORY, union)

    def size(self) -> int:
        return int(ffi.wasmtime_sharedmemory_size(self.ptr()))


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Result:
    exit_code: int | None
    stdout: bytes = b""
    stderr: bytes = b""
    syscalls: list[int] = field(default_factory=list)


def run(path: Path, argv: list[str], env: list[str] | None = None) -> Result:
    config = wasmtime.Config()
    config.wasm_threads = True
    config.shared_memory = True
    engine = wasmtime.Engine(config)
    module = wasmtime.Module.from_file(engine, str(path))
    store = wasmtime.Store(engine)
    memtype = next(i.type for i in module.imports if (i.module, i.name) == ("env", "memory"))
    assert isinstance(memtype, wasmtime.MemoryType)
    shm = _Shared(engine, memtype)
    linker = wasmtime.Linker(engine)
    linker.define(store, "env", "memory", shm)
    out: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
    result = Result(None)
    heap = {"brk": 0, "top": 0}

    def mem() -> Any:
        n = shm.data_len()
        return (ctypes.c_ubyte * n).from_address(ctypes.addressof(shm.data_ptr().contents))

    def grow_to(addr: int) -> None:
        if addr > shm.data_len():
            shm.grow((addr - shm.data_len() + 65535) // 65536)

    def syscall(nr: int, a1: int, a2: int, a3: int, a4: int, a5: int, a6: int) -> int:
        result.syscalls.append(nr)
        m = mem()
        if nr == 1:  # write
            out.setdefault(a1, bytearray()).extend(bytes(m[a2 : a2 + a3]))
            return a3
        if nr == 20:  # writev
            total = 0
            for i in range(a3):
                base, length = struct.unpack_from("<II", m, a2 + 8 * i)
                out.setdefault(a1, bytearray()).extend(bytes(m[base : base + length]))
                total += length
            return total
        if nr in (60, 231):  # exit, exit_group
            raise _Exit(a1)
        if nr == 12:  # brk: grows only while nothing was mapped above it
            if a1 > heap["brk"] and heap["brk"] == heap["top"]:
                grow_to(a1)
                heap["brk"] = heap["top"] = a1
            return heap["brk"]
        if nr == 9:  # mmap, anonymous only
            if not a4 & 0x20:
                return -ENOSYS
            start = (heap["top"] + 4095) & ~4095
            heap["top"] = start + ((a2 + 4095) & ~4095)
            grow_to(heap["top"])
            return start
        if nr in (11, 14):  # munmap, rt_sigprocmask
            return 0
        if nr == 16:
            return -ENOTTY
        if nr == 218:
            return 1
        if nr == 39:
            return 100
        return -ENOSYS

    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
    linker.define_func("lind", "syscall", wasmtime.FuncType([i32] + [i64] * 6, [i64]), syscall)
    linker.define_func("lind", "fork", wasmtime.FuncType([], [i64]), lambda: -ENOSYS)
    instance = linker.instantiate(store, module)
    exports = instance.exports(store)
    heap_base, sp, start = exports["__heap_base"], exports["__stack_pointer"], exports["_start"]
    assert isinstance(heap_base, wasmtime.Global) and isinstance(sp, wasmtime.Global)
    assert isinstance(start, wasmtime.Func)
    heap["brk"] = heap["top"] = (heap_base.value(store) + 4095) & ~4095
    grow_to(heap["top"])
    _write_stack_image(mem(), sp.value(store), argv, env or [], lambda v: sp.set_value(store, v))
    try:
        start(store)
    except _Exit as e:
        result.exit_code = e.code
    except wasmtime.WasmtimeError as e:
        cause = e.__cause__ or e.__context__
        if not isinstance(cause, _Exit):
            raise
        result.exit_code = cause.code
    result.stdout, result.stderr = bytes(out[1]), bytes(out[2])
    return result


def _write_stack_image(m: Any, top: int, argv: list[str], env: list[str], set_sp: Any) -> None:
    strings = [s.encode() + b"\0" for s in (*argv, *env)]
    blob = b"".join(strings)
    at = top - len(blob)
    random_at = (at - 16) & ~15
    pointers = []
    cursor = at
    for s in strings:
        pointers.append(cursor)
        cursor += len(s)
    auxv = [(6, 4096), (11, 0), (12, 0), (13, 0), (14, 0), (23, 0), (25, random_at), (0, 0)]
    words = [len(argv), *pointers[: len(argv)], 0, *pointers[len(argv) :], 0]
    for pair in auxv:
        words += pair
    vector = struct.pack(f"<{len(words)}I", *words)
    start = (random_at - len(vector)) & ~15
    m[at : at + len(blob)] = blob
    m[random_at : random_at + 16] = os.urandom(16)
    m[start : start + len(vector)] = vector
    set_sp(start)
