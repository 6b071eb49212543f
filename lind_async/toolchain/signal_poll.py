"""Signal polls at loop headers: let a computing thread run a signal handler on its own stack.

Theory of operation
-------------------
A signal that arrives while a cage computes is noticed by the runtime at a preemption point (an
epoch yield), where there is no system call to answer. wasm cannot call into a suspended stack,
so the runtime used to run such a handler on a second instance (the *signal instance*), from
which it can neither ``longjmp`` back into the interrupted frames nor ``fork``. This pass lets
the interrupted thread run the handler itself, soon after:

* it adds a mutable ``i32`` global, exported as :data:`FLAG` (``0``), one per instance, i.e.
  per thread;
* at the start of every ``loop`` body it inserts::

      global.get $flag
      if
        i32.const 0
        global.set $flag
        call $__lind_signal_poll
      end

  which costs a load and a not-taken branch per iteration while no signal is pending.

The runtime raises the flag of the main instance at a preemption point
(``runtime/guest_signals.request_poll``); the next loop header calls libc's exported
``__lind_signal_poll`` (``guest/src/lind/signal.c``), which asks the runtime for the handler and
runs it on the thread's stack, exactly as one due at a system call's return. The call is an
ordinary call site, so this pass runs *before* Asyncify: a handler that forks unwinds through it.

The rewriting is done here, on the linked binary, because Binaryen has no pass that inserts code
at loop headers. It decodes every instruction of every body (to find ``loop`` opcodes and their
block types), copies everything else byte for byte, and re-encodes the body sizes. Only the
instruction set the toolchain emits is known (MVP, sign extension, saturating conversions, bulk
memory, reference types, atomics, legacy and exnref exception handling); a module with anything
else (SIMD, GC…) is left as it is (:func:`instrument` returns ``None``), which only means its
handlers at preemption points keep running on the signal instance.

A program that cannot install a handler needs no polls: the runtime only raises the flag for a
thread that has guest handlers to run (``guest_signals.request_poll``). libc installs handlers
only through its ``sigaction`` functions (``signal``, ``sigset`` and ``bsd_signal`` call them), so
when wasm-ld's name section (kept by ``--strip-debug``) names no function with ``sigaction`` in
its name, the module is left as it is (:func:`may_install_handlers`). A setjmp program that uses
setjmp only for its own error handling, with no signal handler, thus keeps its loops free of the
flag test (in Lua's interpreter loop the test was ~1 % of the run time). A module without a name
section (``-s``) is instrumented as before; a program that calls ``rt_sigaction`` through
``syscall()`` itself gets its handlers run on the signal instance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from lind_async.wasm.binary import WasmReader
from lind_async.wasm.instructions import blocktype as _blocktype
from lind_async.wasm.instructions import count_imports
from lind_async.wasm.instructions import skip_immediates as _skip_immediates

POLL_FUNCTION = "__lind_signal_poll"
FLAG = "__lind_signal_poll_flag"

_CUSTOM, _TYPE, _IMPORT, _FUNC, _GLOBAL, _EXPORT, _CODE = 0, 1, 2, 3, 6, 7, 10
_FUNCTION_NAMES = 1  # the name section's subsection of function names
HANDLER_INSTALLERS = "sigaction"
"""A function whose name contains this can install a signal handler (musl's ``sigaction``,
``__sigaction``, ``__libc_sigaction``)."""
_EXPORT_FUNC, _EXPORT_GLOBAL = 0, 3


class Unsupported(ValueError):
    """An instruction or section this pass does not decode."""


def uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class _Reader(WasmReader):
    __slots__ = ()
    error = Unsupported


def _sections(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """``(id, start of the section, start of its body, end)`` for each section."""
    if data[:8] != b"\0asm\x01\0\0\0":
        raise Unsupported("not a wasm module")
    r = _Reader(data, 8)
    while r.pos < r.end:
        start = r.pos
        section = r.byte()
        size = r.uleb()
        yield section, start, r.pos, r.pos + size
        r.pos += size


def splice_body(data: bytes, start: int, end: int,
                replace: Callable[[int, int, int], bytes | None]) -> tuple[bytes, int]:
    """One function body (locals + code) with every instruction for which ``replace(op, at,
    after)`` gives bytes replaced by them (``data[at:after]`` is the instruction, immediates
    included); the new body bytes and how many were replaced."""
    r = _Reader(data, start, end)
    for _ in range(r.uleb()):  # local declarations: count, type
        r.skip_leb()
        _blocktype(r)
    out = bytearray()
    copied = start
    count = 0
    while r.pos < end:
        at = r.pos
        op = r.byte()
        _skip_immediates(op, r)
        new = replace(op, at, r.pos)
        if new is not None:
            out += data[copied:at]
            out += new
            copied = r.pos
            count += 1
    if r.pos != end:
        raise Unsupported("a body overran its size")
    out += data[copied:end]
    return bytes(out), count


def _instrument_body(data: bytes, start: int, end: int, snippet: bytes) -> tuple[bytes, int]:
    """One function body (locals + code) with ``snippet`` after every loop header; the new body
    bytes and how many loops it has."""
    return splice_body(data, start, end,
                       lambda op, at, after: data[at:after] + snippet if op == 0x03 else None)


def _count_imports(data: bytes, start: int, end: int) -> tuple[int, int]:
    """(imported functions, imported globals)."""
    funcs, globs, _foreign = count_imports(_Reader(data, start, end))
    return funcs, globs


def _exports(data: bytes, start: int, end: int) -> dict[str, tuple[int, int]]:
    r = _Reader(data, start, end)
    found: dict[str, tuple[int, int]] = {}
    for _ in range(r.uleb()):
        name = r.name()
        kind = r.byte()
        found[name] = (kind, r.uleb())
    return found


def _section(section: int, body: bytes) -> bytes:
    return bytes([section]) + uleb(len(body)) + body


def named_functions(data: bytes, start: int, end: int) -> list[tuple[int, str]] | None:
    """The (index, name) pairs of the function names in the custom section whose body is
    ``data[start:end]``: None unless it is the name section, [] if it names no function."""
    r = _Reader(data, start, end)
    if r.name() != "name":
        return None
    while r.pos < end:
        sub = r.byte()
        size = r.uleb()
        if sub != _FUNCTION_NAMES:
            r.pos += size
            continue
        return [(r.uleb(), r.name()) for _ in range(r.uleb())]
    return []


def function_names(data: bytes) -> list[str] | None:
    """The names in the module's name section (function names only), None without one."""
    for section, _start, body, end in _sections(data):
        if section == _CUSTOM:
            named = named_functions(data, body, end)
            if named is not None:
                return [name for _index, name in named]
    return None


def may_install_handlers(data: bytes) -> bool:
    """False only when the name section shows that no libc ``sigaction`` was linked in."""
    try:
        names = function_names(data)
    except (Unsupported, IndexError, UnicodeDecodeError):
        return True
    return names is None or any(HANDLER_INSTALLERS in name for name in names)


def instrument(data: bytes) -> bytes | None:
    """``data`` with signal polls at its loop headers, or None when it cannot or need not be
    (no ``__lind_signal_poll`` export, already instrumented, no way to install a signal handler,
    or an instruction not decoded)."""
    try:
        if not may_install_handlers(data):
            return None
        return _instrument(data)
    except (Unsupported, IndexError):
        return None


def _instrument(data: bytes) -> bytes | None:
    where = {section: (start, body, end) for section, start, body, end in _sections(data)}
    if _EXPORT not in where or _CODE not in where or _GLOBAL not in where:
        return None
    exports = _exports(data, where[_EXPORT][1], where[_EXPORT][2])
    poll = exports.get(POLL_FUNCTION)
    if poll is None or poll[0] != _EXPORT_FUNC or FLAG in exports:
        return None
    imported_globals = 0
    if _IMPORT in where:
        _funcs, imported_globals = _count_imports(data, where[_IMPORT][1], where[_IMPORT][2])

    # the flag: a new mutable i32 global, exported
    g = _Reader(data, where[_GLOBAL][1], where[_GLOBAL][2])
    count = g.uleb()
    flag = imported_globals + count
    globals_body = uleb(count + 1) + data[g.pos:where[_GLOBAL][2]] + bytes(
        [0x7F, 0x01, 0x41, 0x00, 0x0B])
    e = _Reader(data, where[_EXPORT][1], where[_EXPORT][2])
    n_exports = e.uleb()
    exports_body = (uleb(n_exports + 1) + data[e.pos:where[_EXPORT][2]]
                    + uleb(len(FLAG)) + FLAG.encode() + bytes([_EXPORT_GLOBAL]) + uleb(flag))

    snippet = (b"\x23" + uleb(flag) + b"\x04\x40" + b"\x41\x00" + b"\x24" + uleb(flag)
               + b"\x10" + uleb(poll[1]) + b"\x0b")
    c = _Reader(data, where[_CODE][1], where[_CODE][2])
    bodies = bytearray(uleb(n_bodies := c.uleb()))
    for _ in range(n_bodies):
        size = c.uleb()
        body, _loops = _instrument_body(data, c.pos, c.pos + size, snippet)
        bodies += uleb(len(body)) + body
        c.pos += size

    out = bytearray(data[:8])
    for section, start, _body, end in _sections(data):
        if section == _GLOBAL:
            out += _section(section, globals_body)
        elif section == _EXPORT:
            out += _section(section, exports_body)
        elif section == _CODE:
            out += _section(section, bytes(bodies))
        else:
            out += data[start:end]
    return bytes(out)
