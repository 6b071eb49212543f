"""wasm/instructions.py: which modules keep every bit of an instance's state in its exported
mutable globals (a dead fork child's instance may then serve the next child: any instruction
that changes a table, a memory of its own, a mutable global not exported, a segment dropped
outside the start function makes the answer no)."""

from __future__ import annotations

import pytest
import wasmtime

from lind_async.wasm.instructions import state_in_exports

HEAD = """
  (import "env" "memory" (memory 1 1 shared))
  (global $sp (export "__stack_pointer") (mut i32) (i32.const 1024))
  (global $k i32 (i32.const 5))
  (table 2 funcref)
  (func $f (result i32) (i32.const 1))
  (elem (i32.const 0) $f $f)
"""


def _module(body: str, head: str = HEAD) -> bytes:
    return wasmtime.wat2wasm(f"(module {head} {body})")


def test_a_module_like_the_toolchains_is_resettable() -> None:
    body = """
      (data "abc")
      (func $init (memory.init 0 (i32.const 0) (i32.const 0) (i32.const 3)) (data.drop 0))
      (start $init)
      (func (export "run") (result i32)
        (global.set $sp (i32.sub (global.get $sp) (i32.const 16)))
        (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
        (memory.fill (i32.const 0) (i32.const 0) (i32.const 4))
        (drop (table.get 0 (i32.const 0)))
        (drop (block (result i32) (br_table 0 0 (i32.const 7) (i32.const 0))))
        (i32.add (table.size 0) (call_indirect (result i32) (i32.const 0)))
        (i32.add (global.get $k)))
    """
    assert state_in_exports(_module(body))


@pytest.mark.parametrize("body", [
    '(func (table.set 0 (i32.const 0) (ref.null func)))',
    '(func (drop (table.grow 0 (ref.null func) (i32.const 1))))',
    '(func (table.fill 0 (i32.const 0) (ref.null func) (i32.const 1)))',
    '(func (table.copy (i32.const 0) (i32.const 1) (i32.const 1)))',
    '(elem $e func $f) (func (table.init $e (i32.const 0) (i32.const 0) (i32.const 1)))',
    '(elem $e func $f) (func (elem.drop $e))',
    '(data "x") (func (data.drop 0))',
    '(global $hidden (mut i32) (i32.const 0))',
    '(global $f64 (export "f") (mut f64) (f64.const 0))',
    '(memory 1)',
    '(func (drop (v128.const i64x2 0 0)))',
], ids=["table.set", "table.grow", "table.fill", "table.copy", "table.init", "elem.drop",
        "data.drop", "hidden global", "f64 global", "own memory", "simd"])
def test_state_outside_the_exported_globals(body: str) -> None:
    assert not state_in_exports(_module(body))


def test_imported_table_or_mutable_global() -> None:
    assert not state_in_exports(_module("", '(import "env" "t" (table 1 funcref))'))
    assert not state_in_exports(_module("", '(import "env" "g" (global (mut i32)))'))
    assert state_in_exports(_module("", '(import "env" "g" (global i32))'))


def test_not_a_module() -> None:
    assert not state_in_exports(b"")
    assert not state_in_exports(b"\0asm\x01\0\0\0\x0a\xff")


def _grow_module(sub_opcode: bytes) -> bytes:
    """A module whose one function runs ``table.grow``, its 0xFC sub-opcode (15) encoded as
    ``sub_opcode`` (a LEB: wasm allows padding one, and the engine accepts it)."""
    def section(number: int, content: bytes) -> bytes:
        return bytes([number, len(content)]) + content
    body = b"\x00\xd0\x70\x41\x01\xfc" + sub_opcode + b"\x00\x1a\x0b"
    return (b"\0asm\x01\0\0\0" + section(1, b"\x01\x60\x00\x00") + section(3, b"\x01\x00")
            + section(4, b"\x01\x70\x00\x01") + section(10, b"\x01" + bytes([len(body)]) + body))


@pytest.mark.parametrize("sub_opcode", [b"\x0f", b"\x8f\x00", b"\x8f\x80\x80\x80\x00"],
                         ids=["one byte", "padded to two", "padded to five"])
def test_a_padded_sub_opcode_is_still_seen(sub_opcode: bytes) -> None:
    module = _grow_module(sub_opcode)
    wasmtime.Module.validate(wasmtime.Engine(), module)  # a module a guest could hand us
    assert not state_in_exports(module)
