"""A longjmp throws from the frame that called it: ``__wasm_longjmp`` inlined at its call sites.

Theory of operation
-------------------
clang's SjLj lowering turns ``longjmp(env, val)`` into a call to libc's ``__wasm_longjmp``, which
throws the ``__c_longjmp`` tag (``guest/src/setjmp/longjmp.c``). wasmtime's throw walks the stack
from the throwing frame to the catching one and pays for every frame on the way (~30 ns each on
the dev machine, wasmtime 50 and 51: a bare throw+catch one frame up ~175 ns, three frames up
~245 ns), so the libc function's own frame was a sixth of a longjmp's whole cost.

libc keeps that function to exactly::

    local.get 0  local.get 1  call $__lind_sjlj_args  throw $__c_longjmp  [unreachable] end

(``__lind_sjlj_args`` does the rest of a longjmp and returns the pointer to throw). This pass,
run on the linked module, finds ``__wasm_longjmp`` by the name section (wasm-ld keeps it), checks
that its body is that sequence, and replaces every ``call $__wasm_longjmp`` in the module with
``call $__lind_sjlj_args  throw $__c_longjmp``: the function's body put in place of the call
(its two arguments are already on the stack in its parameters' order), which is an exact
inlining: a ``throw`` is caught by the same handlers as a call that throws. Calls through the
function table, and the function itself, stay as they were.

Anything unexpected (no name section, another body, an instruction the decoder of
:mod:`lind_async.wasm.instructions` does not know) leaves the module as it is
(:func:`inline_longjmp` returns None): the program then only keeps the extra frame.
"""

from __future__ import annotations

from lind_async.toolchain.signal_poll import (
    _CODE,
    _CUSTOM,
    _IMPORT,
    Unsupported,
    _count_imports,
    _Reader,
    _section,
    _sections,
    named_functions,
    splice_body,
    uleb,
)

LONGJMP = "__wasm_longjmp"
_CALL, _THROW, _LOCAL_GET, _UNREACHABLE, _END = 0x10, 0x08, 0x20, 0x00, 0x0B


def inline_longjmp(data: bytes) -> bytes | None:
    """``data`` with every direct call of ``__wasm_longjmp`` replaced by its body, or None when
    there is nothing to do or the module is not as expected."""
    try:
        return _inline(data)
    except (Unsupported, IndexError, UnicodeDecodeError):
        return None


def _function_index(data: bytes, start: int, end: int, wanted: str) -> int | None:
    """The index the name section's function names give ``wanted`` (None if absent)."""
    named = named_functions(data, start, end) or []
    return next((index for index, name in named if name == wanted), None)


def _thrower(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """(callee, tag) when the body at ``start:end`` is ``local.get 0, local.get 1, call
    callee, throw tag`` (then optionally ``unreachable``) and ``end``."""
    r = _Reader(data, start, end)
    if r.uleb() != 0:  # ... declares locals: it does more than that
        return None
    if data[r.pos:r.pos + 4] != bytes([_LOCAL_GET, 0, _LOCAL_GET, 1]):
        return None
    r.pos += 4
    if r.byte() != _CALL:
        return None
    callee = r.uleb()
    if r.byte() != _THROW:
        return None
    tag = r.uleb()
    rest = data[r.pos:end]
    if rest not in (bytes([_END]), bytes([_UNREACHABLE, _END])):
        return None
    return callee, tag


def _rewrite_body(data: bytes, start: int, end: int, target: int,
                  inlined: bytes) -> tuple[bytes, int]:
    """One body with each ``call target`` replaced by ``inlined``; how many there were."""
    def call_of_target(op: int, at: int, after: int) -> bytes | None:
        return inlined if op == _CALL and _Reader(data, at + 1, after).uleb() == target else None
    return splice_body(data, start, end, call_of_target)


def longjmp_calls(data: bytes) -> int | None:
    """How many direct calls of ``__wasm_longjmp`` the module makes (None: no such function,
    or a module this pass cannot read)."""
    try:
        found = _find(data)
        if found is None:
            return None
        spans, target, _imported = found
        return sum(_rewrite_body(data, start, end, target, b"")[1] for start, end in spans)
    except (Unsupported, IndexError, UnicodeDecodeError):
        return None


def _find(data: bytes) -> tuple[list[tuple[int, int]], int, int] | None:
    """The function bodies' spans, ``__wasm_longjmp``'s index and the imported functions'
    count (None when the name section does not name it or it is not a body here)."""
    where: dict[int, tuple[int, int, int]] = {}
    target = None
    for section, start, body, end in _sections(data):
        where.setdefault(section, (start, body, end))
        if section == _CUSTOM and target is None:
            target = _function_index(data, body, end, LONGJMP)
    if target is None or _CODE not in where:
        return None
    imported = _count_imports(data, *where[_IMPORT][1:])[0] if _IMPORT in where else 0
    c = _Reader(data, where[_CODE][1], where[_CODE][2])
    spans = []
    for _ in range(c.uleb()):
        size = c.uleb()
        spans.append((c.pos, c.pos + size))
        c.pos += size
    if not imported <= target < imported + len(spans):
        return None
    return spans, target, imported


def _inline(data: bytes) -> bytes | None:
    found = _find(data)
    if found is None:
        return None
    spans, target, imported = found
    thrower = _thrower(data, *spans[target - imported])
    if thrower is None:
        return None
    callee, tag = thrower
    inlined = bytes([_CALL]) + uleb(callee) + bytes([_THROW]) + uleb(tag)
    bodies = bytearray(uleb(len(spans)))
    total = 0
    for i, (start, end) in enumerate(spans):
        if i == target - imported:
            body = data[start:end]
        else:
            body, count = _rewrite_body(data, start, end, target, inlined)
            total += count
        bodies += uleb(len(body)) + body
    if total == 0:
        return None
    code = next(s for s in _sections(data) if s[0] == _CODE)
    return data[:code[1]] + _section(_CODE, bytes(bodies)) + data[code[3]:]
