"""Check a linked cage module before anyone runs it.

wasm-ld can emit an invalid module without a warning (a wrong prototype is enough), and a symbol it
could not resolve may surface as an unexpected import.  Every module the ``cc`` driver links goes
through :func:`validate_module`: wasmtime's validator (threads + shared memory enabled, as the
runtime runs it) and then a check of the import section against the guest ABI — only
``env.memory`` (a shared memory) and the ``lind`` functions of ``abi/guest.py``'s
``ALLOWED_IMPORTS`` (``syscall``, ``syscall_wait``, ``fork``, ``threei_call``, ``signal_frame``,
``signal_return``) may be imported.

The import/export reader (``wasm/binary.py``) parses the binary format's sections without
compiling the module, so checking is cheap; what it cannot parse is an :class:`InvalidModule`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lind_async.abi.executable import module_bytes
from lind_async.abi.guest import ALLOWED_IMPORTS, FORK_IMPORT, REQUIRED_EXPORTS
from lind_async.toolchain.zig import ToolchainError
from lind_async.wasm.binary import (
    TAG_SECTION,
    MalformedModule,
    exported_functions,
    read_interface,
    sections,
)


class InvalidModule(ToolchainError):
    """The linked module is not a valid cage module."""


@contextmanager
def _parsing(what: str) -> Iterator[None]:
    try:
        yield
    except MalformedModule as e:
        raise InvalidModule(f"{what}: {e}") from None



GRATE_ENTRY = "pass_fptr_to_wt"
GRATE_ENTRY_PARAMS = ("i64",) * 14


def validate_grate(data: bytes, *, what: str = "module") -> None:
    """Raise :class:`InvalidModule` unless ``data`` exports a usable grate entry point:
    ``pass_fptr_to_wt(fn, cageid, a1, a1cage, …, a6, a6cage)`` taking fourteen 64-bit integers
    and returning an ``int`` or an ``int64_t``."""
    with _parsing(what):
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
    with _parsing("module"):
        imports, _ = read_interface(data)
        tags = any(i.kind == "tag" for i in imports)
        tags = tags or any(section == TAG_SECTION for section, _ in sections(data))
    forks = any((i.module, i.name) == FORK_IMPORT for i in imports)
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
    with _parsing(what):
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
