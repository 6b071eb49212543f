"""Decoding function bodies: the immediates of each instruction, and what a module's code can
change in its own instance.

Theory of operation
-------------------
:func:`skip_immediates` steps over one instruction's immediates, for the instruction set the
toolchain emits (MVP, sign extension, saturating conversions, bulk memory, reference types,
atomics, legacy and exnref exception handling); anything else raises the reader's ``error``. The
signal-poll pass (``toolchain/signal_poll.py``) rewrites bodies with it.

:func:`state_in_exports` decides whether everything an instance of a module holds besides its
imported memory can be put back from the outside, which is what lets a dead fork child's Store
and instance serve the next child of the same module (``wasm/instance_reuse.py``). An
instance's own state is its globals, its tables, its own memories and which data and element
segments were dropped. The answer is yes only when:

- the module defines no memory and imports no table and no mutable global;
- every global it defines that is mutable is an exported ``i32``/``i64`` (the runtime sets all
  of those from the parent at every fork);
- no instruction can change a table (``table.set``/``grow``/``fill``/``copy``/``init``,
  ``elem.drop``): its tables then always hold what its element segments put there;
- ``data.drop`` appears only in the start function (wasm-ld's ``__wasm_init_memory`` drops the
  passive segments at each instantiation, so every instance that ran it has the same ones);
- every body decodes (an instruction this reader does not know: no).
Decoding a 40 KB module takes ~7 ms in Python; the engine keeps the answer with its compiled
module (``wasm/engine.py``).
"""

from __future__ import annotations

from .binary import WasmReader

VERSION = 2
"""Of :func:`state_in_exports`'s answers: bumped whenever a change makes it answer otherwise for
some module (2: a padded ``0xFC`` sub-opcode read as the LEB it is), so that an answer an older
version kept on disk (``wasm/engine.py``) is never read."""

_VALTYPES = frozenset({0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F, 0x69, 0x40})

# -- instructions: how many immediate bytes follow each opcode -------------------------------
_NONE = frozenset(
    {0x00, 0x01, 0x05, 0x0A, 0x0B, 0x0F, 0x19, 0x1A, 0x1B, 0xD1, 0xD3, 0xD4}
    | set(range(0x45, 0xC5))
)
_ONE_U32 = frozenset(
    {0x07, 0x08, 0x09, 0x0C, 0x0D, 0x10, 0x12, 0x14, 0x15, 0x18, 0x20, 0x21, 0x22, 0x23, 0x24,
     0x25, 0x26, 0x3F, 0x40, 0xD2, 0xD5, 0xD6}
)
_BLOCKS = frozenset({0x02, 0x03, 0x04, 0x06})
_FC_NONE = frozenset(range(0, 8))
_FC_ONE = frozenset({9, 11, 13, 15, 16, 17})
_FC_TWO = frozenset({8, 10, 12, 14})


def blocktype(r: WasmReader) -> None:
    if r.data[r.pos] in _VALTYPES:
        r.pos += 1
    else:
        r.skip_leb()  # a type index (s33)


def _memarg(r: WasmReader) -> None:
    align = r.uleb()
    if align & 0x40:
        r.uleb()  # memory index (multi-memory)
    r.uleb()


def skip_immediates(op: int, r: WasmReader) -> None:
    """Step over the immediates of the instruction whose opcode ``op`` was just read."""
    if op in _NONE:
        return
    if op in _ONE_U32:
        r.skip_leb()
    elif op in _BLOCKS:
        blocktype(r)
    elif 0x28 <= op <= 0x3E:
        _memarg(r)
    elif op in (0x41, 0x42):
        r.skip_leb()
    elif op == 0x43:
        r.pos += 4
    elif op == 0x44:
        r.pos += 8
    elif op in (0x11, 0x13):  # call_indirect: type, table
        r.skip_leb()
        r.skip_leb()
    elif op == 0x0E:  # br_table
        for _ in range(r.uleb() + 1):
            r.skip_leb()
    elif op == 0x1C:  # select t*
        for _ in range(r.uleb()):
            blocktype(r)
    elif op == 0xD0:  # ref.null heaptype
        blocktype(r)
    elif op == 0x1F:  # try_table
        blocktype(r)
        for _ in range(r.uleb()):
            kind = r.byte()
            if kind in (0, 1):
                r.skip_leb()
            r.skip_leb()
    elif op == 0xFC:
        sub = r.uleb()
        if sub in _FC_NONE:
            return
        if sub in _FC_ONE:
            r.skip_leb()
        elif sub in _FC_TWO:
            r.skip_leb()
            r.skip_leb()
        else:
            raise r.error(f"0xfc {sub}")
    elif op == 0xFE:
        sub = r.uleb()
        if sub == 0x03:
            r.byte()  # atomic.fence
        else:
            _memarg(r)
    else:
        raise r.error(f"opcode {op:#x}")


# -- what the code can change in its instance --------------------------------------------------
_TABLE_SET = 0x26
_FC_TABLE_CHANGES = frozenset({12, 13, 14, 15, 17})  # table.init, elem.drop, .copy, .grow, .fill
_FC_DATA_DROP = 9
_I32, _I64 = 0x7F, 0x7E


class _Reader(WasmReader):
    __slots__ = ()
    error = ValueError


def _skip_limits(r: WasmReader) -> None:
    flags = r.byte()
    r.uleb()
    if flags & 1:
        r.uleb()


def _skip_const_expr(r: WasmReader) -> None:
    while True:
        op = r.byte()
        if op == 0x0B:
            return
        skip_immediates(op, r)


def count_imports(r: WasmReader) -> tuple[int, int, bool]:
    """(imported functions, imported globals, whether a table or a mutable global is)."""
    funcs = globs = 0
    foreign_state = False
    for _ in range(r.uleb()):
        r.name()
        r.name()
        kind = r.byte()
        if kind == 0:
            r.uleb()
            funcs += 1
        elif kind == 1:
            r.byte()
            _skip_limits(r)
            foreign_state = True
        elif kind == 2:
            _skip_limits(r)
        elif kind == 3:
            r.byte()
            foreign_state |= r.byte() != 0
            globs += 1
        elif kind == 4:
            r.byte()
            r.uleb()
        else:
            raise r.error(f"import kind {kind}")
    return funcs, globs, foreign_state


def _body_ok(r: WasmReader, end: int, is_start: bool) -> bool:
    for _ in range(r.uleb()):  # local declarations: count, type
        r.skip_leb()
        blocktype(r)
    while r.pos < end:
        op = r.byte()
        if op == _TABLE_SET:
            return False
        if op == 0xFC:
            at = r.pos
            sub = r.uleb()  # (a LEB: one byte for every sub-opcode, or more with padding)
            r.pos = at
            if sub in _FC_TABLE_CHANGES or (sub == _FC_DATA_DROP and not is_start):
                return False
        skip_immediates(op, r)
    return r.pos == end


def state_in_exports(data: bytes) -> bool:
    """Whether an instance of ``data`` holds no state but its exported mutable ``i32``/``i64``
    globals and what every instantiation gives it (see the module docstring)."""
    try:
        return _state_in_exports(data)
    except (ValueError, IndexError):
        return False


def _state_in_exports(data: bytes) -> bool:
    if data[:8] != b"\0asm\x01\0\0\0":
        return False
    r = _Reader(data, 8)
    imported_funcs = 0
    imported_globals = 0
    mutable: set[int] = set()  # global indices (imports counted) of mutable i32/i64 globals
    exported: set[int] = set()
    start = -1
    code: tuple[int, int] | None = None
    while r.pos < r.end:
        section = r.byte()
        end = r.uleb() + r.pos
        s = _Reader(data, r.pos, end)
        if section == 2:
            imported_funcs, imported_globals, foreign = count_imports(s)
            if foreign:
                return False
        elif section == 5 and s.uleb():
            return False  # a memory of its own
        elif section == 6:
            for i in range(s.uleb()):
                valtype, is_mutable = s.byte(), s.byte()
                if is_mutable:
                    if valtype not in (_I32, _I64):
                        return False
                    mutable.add(imported_globals + i)
                _skip_const_expr(s)
        elif section == 7:
            for _ in range(s.uleb()):
                s.name()
                kind, index = s.byte(), s.uleb()
                if kind == 3:
                    exported.add(index)
        elif section == 8:
            start = s.uleb()
        elif section == 10:
            code = (r.pos, end)
        r.pos = end
    if not mutable <= exported:
        return False
    if code is None:
        return True
    c = _Reader(data, code[0], code[1])
    for i in range(c.uleb()):
        size = c.uleb()
        body_end = c.pos + size
        if not _body_ok(_Reader(data, c.pos, body_end), body_end,
                        imported_funcs + i == start):
            return False
        c.pos = body_end
    return True

