"""Reading the wasm binary format without compiling: LEB128 primitives, sections, a module's
imports and exports, function signatures, and the table slots holding grate handlers.

Pure parsing over ``bytes`` (no wasmtime): the toolchain checks what it links with it
(``toolchain/validate.py``, ``toolchain/signal_poll.py``) and the engine learns which table
slots of a grate module hold handlers (``engine.handler_slots``). A truncated or malformed input
raises :class:`MalformedModule` (a reader subclass may name its own exception).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from lind_async.abi.executable import module_bytes


class WasmReader:
    """Reads ``data[pos:end]`` forward; running past ``end`` raises :attr:`error`."""

    __slots__ = ("data", "end", "pos")
    error: ClassVar[type[Exception]] = ValueError

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos = data, pos
        self.end = len(data) if end is None else end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise self.error("truncated wasm module")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uleb(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result

    def sleb(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result - (1 << shift) if b & 0x40 else result

    def skip_leb(self) -> None:
        while self.byte() & 0x80:
            pass

    def name(self) -> str:
        n = self.uleb()
        if self.pos + n > self.end:
            raise self.error("truncated wasm module")
        s = self.data[self.pos : self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return s

    def limits(self) -> tuple[int, int | None, bool]:
        """A memory's or table's limits: (minimum, maximum or None, shared)."""
        flags = self.byte()
        minimum = self.uleb()
        maximum = self.uleb() if flags & 1 else None
        return minimum, maximum, bool(flags & 2)


_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}
TAG_SECTION = 13


class MalformedModule(ValueError):
    """The bytes are not the wasm binary format (truncated, or a construct this reader rejects)."""


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
    error = MalformedModule


def sections(data: bytes) -> Iterator[tuple[int, _Reader]]:
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
        raise MalformedModule("not a wasm module (bad magic/version)")
    imports: list[Import] = []
    exports: list[Export] = []
    for section, body in sections(data):
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
                    raise MalformedModule(f"unknown import kind {kind}")
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
                raise MalformedModule("unsupported type in the type section")
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
    for section, body in sections(data):
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
    for section, body in sections(data):
        try:
            if _read_functions(section, body, types, functions):
                continue
        except MalformedModule:
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
