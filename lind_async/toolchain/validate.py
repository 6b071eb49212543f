"""Check a linked cage module before anyone runs it.

wasm-ld can emit an invalid module without a warning (a wrong prototype is enough), and a symbol it
could not resolve may surface as an unexpected import.  Every module the ``cc`` driver links goes
through :func:`validate_module`: wasmtime's validator (threads + shared memory enabled, as the
runtime runs it) and then a check of the import section against the guest ABI — only
``env.memory`` (a shared memory) and the ``lind`` functions of ``abi/guest.py``'s
``ALLOWED_IMPORTS`` (``syscall``, ``syscall_wait``, ``fork``, ``threei_call``, ``signal_frame``,
``signal_return``) may be imported.

The import/export reader is a small parser of the binary format's sections 2 (import) and 7
(export); it does not compile the module, so checking is cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lind_async.abi.executable import module_bytes
from lind_async.abi.guest import ALLOWED_IMPORTS, FORK_IMPORT, REQUIRED_EXPORTS
from lind_async.toolchain.wasm_reader import WasmReader
from lind_async.toolchain.zig import ToolchainError

_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}
_TAG_SECTION = 13


class InvalidModule(ToolchainError):
    """The linked module is not a valid cage module."""


@dataclass(frozen=True)
class Import:
    module: str
    name: str
    kind: str
    shared: bool = False  # memories only
    maximum: int | None = None  # memories only, in 64 KiB pages


@dataclass(frozen=True)
class Export:
    name: str
    kind: str


class _Reader(WasmReader):
    __slots__ = ()
    error = InvalidModule


def _sections(data: bytes) -> Iterator[tuple[int, _Reader]]:
    """Each section of a wasm binary (after the 8-byte header): ``(id, reader over its body)``."""
    r = _Reader(data, 8)
    while r.pos < r.end:
        section = r.byte()
        size = r.uleb()
        yield section, _Reader(data, r.pos, r.pos + size)
        r.pos += size


def read_interface(data: bytes) -> tuple[list[Import], list[Export]]:
    """The imports and exports of a wasm binary (after a launcher line, if it has one)."""
    data = module_bytes(data)
    if data[:8] != b"\0asm\x01\0\0\0":
        raise InvalidModule("not a wasm module (bad magic/version)")
    imports: list[Import] = []
    exports: list[Export] = []
    for section, body in _sections(data):
        if section == 2:
            for _ in range(body.uleb()):
                module, name, kind = body.name(), body.name(), body.byte()
                if kind == 0:
                    body.uleb()
                    imports.append(Import(module, name, "func"))
                elif kind == 1:
                    body.byte()
                    body.limits()
                    imports.append(Import(module, name, "table"))
                elif kind == 2:
                    _, maximum, shared = body.limits()
                    imports.append(Import(module, name, "memory", shared, maximum))
                elif kind == 3:
                    body.byte()
                    body.byte()
                    imports.append(Import(module, name, "global"))
                elif kind == 4:
                    body.byte()
                    body.uleb()
                    imports.append(Import(module, name, "tag"))
                else:
                    raise InvalidModule(f"unknown import kind {kind}")
        elif section == 7:
            for _ in range(body.uleb()):
                name, kind = body.name(), body.byte()
                body.uleb()
                exports.append(Export(name, _KINDS.get(kind, str(kind))))
    return imports, exports


_VALTYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128"}

Signature = tuple[tuple[str, ...], tuple[str, ...]]


def _valtype(r: _Reader) -> str:
    code = r.byte()
    if code in (0x63, 0x64):  # (ref null? heaptype)
        r.uleb()
        return "ref"
    return _VALTYPES.get(code, "ref")


def _read_functions(
    section: int, body: _Reader, types: list[Signature], functions: list[int]
) -> bool:
    """Read the type (1), import (2) and function (3) sections into ``types`` and
    ``functions`` (each function's type index, imported ones first); False for any other."""
    if section == 1:
        for _ in range(body.uleb()):
            if body.byte() != 0x60:
                raise InvalidModule("unsupported type in the type section")
            params = tuple(_valtype(body) for _ in range(body.uleb()))
            results = tuple(_valtype(body) for _ in range(body.uleb()))
            types.append((params, results))
    elif section == 2:
        for _ in range(body.uleb()):
            body.name()
            body.name()
            kind = body.byte()
            if kind == 0:
                functions.append(body.uleb())
            elif kind == 1:
                body.byte()
                body.limits()
            elif kind == 2:
                body.limits()
            elif kind == 3:
                body.byte()
                body.byte()
            elif kind == 4:
                body.byte()
                body.uleb()
    elif section == 3:
        functions += [body.uleb() for _ in range(body.uleb())]
    else:
        return False
    return True


def exported_functions(data: bytes) -> dict[str, Signature]:
    """The signature of each exported function: ``name -> (params, results)``."""
    types: list[Signature] = []
    functions: list[int] = []
    exports: dict[str, int] = {}
    for section, body in _sections(data):
        if _read_functions(section, body, types, functions):
            continue
        if section == 7:
            for _ in range(body.uleb()):
                name, kind = body.name(), body.byte()
                index = body.uleb()
                if kind == 0:
                    exports[name] = index
    return {
        name: types[functions[index]]
        for name, index in exports.items()
        if index < len(functions) and functions[index] < len(types)
    }


HANDLER_PARAMS = ("i64",) * 13


def handler_slots(data: bytes) -> frozenset[int] | None:
    """The function-table indices (``fn`` values) of a grate module that hold a function of
    Lind's handler type ``int (uint64_t x 13)`` (or one returning ``int64_t``), from the active
    element segments of table 0. None when the segments are not the simple kind a linker
    writes (an offset that is not a constant), so nothing can be said."""
    types: list[Signature] = []
    functions: list[int] = []
    slots: set[int] = set()
    for section, body in _sections(data):
        try:
            if _read_functions(section, body, types, functions):
                continue
        except InvalidModule:
            return None
        if section == 9:
            for _ in range(body.uleb()):
                flags = body.uleb()
                if flags not in (0, 2):
                    return None  # passive/declarative or expression segments: not a linker's
                if flags == 2 and body.uleb() != 0:
                    return None
                if body.byte() != 0x41:  # i32.const offset
                    return None
                offset = body.sleb()
                if body.byte() != 0x0B:
                    return None
                if flags == 2:
                    body.byte()  # elemkind funcref
                for i in range(body.uleb()):
                    func = body.uleb()
                    if func < len(functions) and functions[func] < len(types):
                        params, results = types[functions[func]]
                        if params == HANDLER_PARAMS and results in (("i32",), ("i64",)):
                            slots.add(offset + i)
    return frozenset(slots)


GRATE_ENTRY = "pass_fptr_to_wt"
GRATE_ENTRY_PARAMS = ("i64",) * 14


def validate_grate(data: bytes, *, what: str = "module") -> None:
    """Raise :class:`InvalidModule` unless ``data`` exports a usable grate entry point:
    ``pass_fptr_to_wt(fn, cageid, a1, a1cage, …, a6, a6cage)`` taking fourteen 64-bit integers
    and returning an ``int`` or an ``int64_t``."""
    signature = exported_functions(data).get(GRATE_ENTRY)
    if signature is None:
        raise InvalidModule(f"{what}: a grate must export {GRATE_ENTRY}")
    params, results = signature
    if params != GRATE_ENTRY_PARAMS or results not in (("i32",), ("i64",)):
        shown = f"({', '.join(params)}) -> ({', '.join(results)})"
        raise InvalidModule(
            f"{what}: {GRATE_ENTRY} has the wrong signature {shown}; expected "
            "int pass_fptr_to_wt(uint64_t fn, uint64_t cageid, uint64_t arg1, uint64_t arg1cage, "
            "…, uint64_t arg6, uint64_t arg6cage)"
        )


def post_link_needs(data: bytes) -> tuple[bool, bool]:
    """``(forks, uses_exceptions)``: does a linked module import ``lind.fork`` (so it needs
    asyncify), and does it use exception handling (a tag section: setjmp/longjmp, which needs the
    exnref translation)?"""
    imports, _ = read_interface(data)
    forks = any((i.module, i.name) == FORK_IMPORT for i in imports)
    tags = any(i.kind == "tag" for i in imports)
    tags = tags or any(section == _TAG_SECTION for section, _ in _sections(data))
    return forks, tags


@functools.cache
def _engine() -> Any:
    import wasmtime

    config = wasmtime.Config()
    config.wasm_threads = True
    config.shared_memory = True
    config.wasm_exceptions = True  # setjmp/longjmp (exnref)
    return wasmtime.Engine(config)


def validate_module(data: bytes, *, what: str = "module") -> None:
    """Raise :class:`InvalidModule` (naming the problem) unless ``data`` is a valid cage module
    (after a launcher line, if it has one: :mod:`lind_async.abi.executable`)."""
    import wasmtime

    data = module_bytes(data)
    try:
        wasmtime.Module.validate(_engine(), data)
    except wasmtime.WasmtimeError as e:
        raise InvalidModule(f"{what}: the linker produced an invalid wasm module: {e}") from None
    imports, exports = read_interface(data)
    for imp in imports:
        if (imp.module, imp.name) not in ALLOWED_IMPORTS:
            hint = ""
            if imp.kind == "func":
                hint = (
                    f" (`{imp.name}` is probably an undefined function: declare it, define it "
                    "or link the library that has it)"
                )
            raise InvalidModule(
                f"{what}: unexpected import {imp.module}.{imp.name} ({imp.kind}){hint}; "
                "a cage module may import only env.memory and lind's "
                + ", ".join(sorted(n for m, n in ALLOWED_IMPORTS if m == "lind"))
            )
        if (imp.module, imp.name) == ("env", "memory") and (imp.kind != "memory" or not imp.shared):
            raise InvalidModule(f"{what}: env.memory must be an imported shared memory")
    names = {e.name for e in exports}
    missing = [n for n in REQUIRED_EXPORTS if n not in names]
    if missing:
        raise InvalidModule(f"{what}: missing export(s) {', '.join(missing)}")
