"""toolchain/signal_poll.py: signal polls inserted at loop headers of a linked module."""

from __future__ import annotations

import wasmtime

from lind_async.toolchain import signal_poll

# A loop that counts down from its argument, a nested loop, a block type that is a type index,
# and the instructions whose immediates the pass must step over (memory, constants, br_table,
# call_indirect, atomics, bulk memory, exceptions).
_WAT = """
(module
  (type $t (func (param i32) (result i32)))
  (import "env" "log" (func $log (param i32)))
  (import "env" "g" (global $imported (mut i32)))
  (memory 1 1 shared)
  (table 1 funcref)
  (tag $tag (param i32))
  (global $polls (mut i32) (i32.const 0))
  (global $iterations (mut i32) (i32.const 0))
  (export "polls" (global $polls))
  (export "iterations" (global $iterations))
  (func $poll (export "__lind_signal_poll")
    (global.set $polls (i32.add (global.get $polls) (i32.const 1))))
  (func (export "run") (param $n i32) (param $flag_at i32) (result i32)
    (local $x i64) (local $f f64)
    (i64.store offset=8 (i32.const 0) (i64.const -123456789))
    (local.set $f (f64.const 1.5))
    (drop (i32.atomic.rmw.add (i32.const 16) (i32.const 1)))
    (memory.fill (i32.const 32) (i32.const 0) (i32.const 4))
    (block $out
      (loop $again
        (global.set $iterations (i32.add (global.get $iterations) (i32.const 1)))
        (if (i32.eq (local.get $n) (local.get $flag_at))
          (then (call $log (local.get $n))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (block $inner (br_table $inner $inner (i32.const 0)))
        (drop (block $caught (result i32)
          (try_table (catch $tag $caught) (nop))
          (i32.const 0)))
        (br_if $again (i32.gt_s (local.get $n) (i32.const 0)))))
    i32.const 5
    loop (type $t) (param i32) (result i32)
    end
    drop
    (drop (call_indirect (type $t) (i32.const 1) (i32.const 0)))
    (i32.const 7))
  (elem (i32.const 0) $poll2)
  (func $poll2 (type $t) (local.get 0))
  (func $__libc_sigaction))
"""


def _module(wat: str = _WAT) -> bytes:
    return wasmtime.wat2wasm(wat)


def _without_names(data: bytes) -> bytes:
    out = bytearray(data[:8])
    for section, start, body, end in signal_poll._sections(data):
        if section != 0 or signal_poll._Reader(data, body, end).name() != "name":
            out += data[start:end]
    return bytes(out)


def _engine() -> wasmtime.Engine:
    config = wasmtime.Config()
    config.wasm_threads = True
    config.shared_memory = True
    config.wasm_exceptions = True
    return wasmtime.Engine(config)


def test_loop_headers_call_the_poll_while_the_flag_is_raised() -> None:
    data = signal_poll.instrument(_module())
    assert data is not None
    engine = _engine()
    module = wasmtime.Module(engine, data)
    store = wasmtime.Store(engine)
    imported = wasmtime.Global(store, wasmtime.GlobalType(wasmtime.ValType.i32(), True),
                               wasmtime.Val.i32(0))
    instance_box: list[wasmtime.Instance] = []

    def log(_n: int) -> None:  # raise the flag in the middle of the loop, as the runtime does
        flag = instance_box[0].exports(store)[signal_poll.FLAG]
        assert isinstance(flag, wasmtime.Global)
        flag.set_value(store, wasmtime.Val.i32(1))

    log_func = wasmtime.Func(store, wasmtime.FuncType([wasmtime.ValType.i32()], []), log)
    instance = wasmtime.Instance(store, module, [log_func, imported])
    instance_box.append(instance)
    exports = instance.exports(store)
    run = exports["run"]
    assert isinstance(run, wasmtime.Func)
    assert run(store, 10, 4) == 7
    polls, iterations, flag = exports["polls"], exports["iterations"], exports[signal_poll.FLAG]
    assert isinstance(polls, wasmtime.Global) and isinstance(iterations, wasmtime.Global)
    assert isinstance(flag, wasmtime.Global)
    assert iterations.value(store) == 10
    assert polls.value(store) == 1  # once, at the header after the flag went up; then cleared
    assert flag.value(store) == 0
    assert run(store, 3, 0) == 7  # flag never raised: no poll
    assert polls.value(store) == 1


def test_left_alone_without_a_poll_function_or_when_already_done() -> None:
    plain = wasmtime.wat2wasm("(module (func (loop)))")
    assert signal_poll.instrument(plain) is None
    once = signal_poll.instrument(_module())
    assert once is not None
    assert signal_poll.instrument(once) is None


def test_left_alone_when_an_instruction_is_not_known() -> None:
    simd = wasmtime.wat2wasm(
        '(module (func (export "__lind_signal_poll")) (global (mut i32) (i32.const 0))'
        " (func (loop (drop (v128.const i32x4 0 0 0 0)))))"
    )
    assert signal_poll.instrument(simd) is None


def test_uleb() -> None:
    assert signal_poll.uleb(0) == b"\x00"
    assert signal_poll.uleb(127) == b"\x7f"
    assert signal_poll.uleb(128) == b"\x80\x01"
    assert signal_poll.uleb(624485) == b"\xe5\x8e\x26"


def test_left_alone_when_no_sigaction_was_linked() -> None:
    """No function named *sigaction*: no handler can be installed, so no poll is needed."""
    without = _module(_WAT.replace("(func $__libc_sigaction)", "(func $other)"))
    assert signal_poll.function_names(without) is not None
    assert not signal_poll.may_install_handlers(without)
    assert signal_poll.instrument(without) is None
    # without a name section nothing can be told: instrumented
    assert signal_poll.function_names(_without_names(without)) is None
    assert signal_poll.instrument(_without_names(without)) is not None
    for name in ("sigaction", "__sigaction", "__libc_sigaction"):
        named = _module(_WAT.replace("$__libc_sigaction", f"${name}"))
        assert name in (signal_poll.function_names(named) or [])
        assert signal_poll.instrument(named) is not None
