"""Shared fixtures for the wasm execution core tests.

Each async test body is run through ``run``: a fresh event loop per call, parametrized
over the stock asyncio loop and uvloop, so every behaviour is checked on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import uvloop
from wasmtime import wat2wasm

from lind_async.wasm import EngineConfig, LindEngine

T = TypeVar("T")
Runner = Callable[[Coroutine[Any, Any, T]], T]

# A guest shaped like a lind cage: shared imported memory, the lind syscall import,
# __stack_pointer / __heap_base exports, plus small functions the tests drive.
GUEST_WAT = r"""
(module
  (import "env" "memory" (memory 1 64 shared))
  (import "lind" "syscall" (func $sys (param i32 i64 i64 i64 i64 i64 i64) (result i64)))
  (global $sp (export "__stack_pointer") (mut i32) (i32.const 65536))
  (global (export "__heap_base") i32 (i32.const 4096))
  (global (export "counter64") (mut i64) (i64.const -5))
  (type $v_i (func (result i32)))
  (type $i_i (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $ret7)
  (func $ret7 (type $v_i) i32.const 7)

  (func (export "_start"))
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "id64") (param i64) (result i64) local.get 0)
  (func (export "id32") (param i32) (result i32) local.get 0)

  ;; syscall(nr, a1, 2, 3, 4, 5, -1) -> result
  (func (export "sys") (param i32 i64) (result i64)
    local.get 0 local.get 1
    i64.const 2 i64.const 3 i64.const 4 i64.const 5 i64.const -1
    call $sys)

  ;; call syscall nr 0 `n` times, return the sum of results
  (func (export "sys_loop") (param $n i32) (result i64) (local $acc i64)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $acc (i64.add (local.get $acc)
        (call $sys (i32.const 0) (i64.const 1) (i64.const 0) (i64.const 0)
                   (i64.const 0) (i64.const 0) (i64.const 0))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    local.get $acc)

  ;; sum of i for i in [0, n): a long computation with a checkable result
  (func (export "spin") (param $n i64) (result i64) (local $i i64) (local $acc i64)
    (block $done (loop $l
      (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
      (local.set $acc (i64.add (local.get $acc) (i64.mul (local.get $i) (i64.const 3))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $l)))
    local.get $acc)

  (func (export "trap_unreachable") unreachable)
  (func (export "trap_oob") (result i32) i32.const -4 i32.load)
  (func (export "trap_sig") (result i32) i32.const 0 i32.const 0 call_indirect (type $i_i))
  (func $rec (export "trap_stack") (param i32) (result i32)
    local.get 0 i32.const 1 i32.add call $rec i32.const 1 i32.add)

  (func (export "store32") (param i32 i32) local.get 0 local.get 1 i32.atomic.store)
  (func (export "load32") (param i32) (result i32) local.get 0 i32.atomic.load)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "size") (result i32) memory.size)
)
"""


@pytest.fixture(scope="session")
def guest_wasm() -> bytes:
    return bytes(wat2wasm(GUEST_WAT))


@pytest.fixture(scope="session")
def engine() -> Iterator[LindEngine]:
    eng = LindEngine(EngineConfig(time_slice=0.005))
    yield eng
    eng.ticker.stop()


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Runner[Any]:
    def runner(coro: Coroutine[Any, Any, T]) -> T:
        if request.param == "uvloop":
            return uvloop.run(coro)
        return asyncio.run(coro)

    return runner
