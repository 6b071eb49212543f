"""PreparedCall: a grate entry point's fourteen arguments, written only where they changed,
arrive exactly as given — whatever mix of repeated, changed, out-of-range and generic calls."""

from __future__ import annotations

from typing import Any

from wasmtime import wat2wasm

from lind_async.wasm import HostImports, LindEngine, instantiate
from lind_async.wasm.prepared_call import PreparedCall

from .conftest import Runner

_P14 = " ".join(["i64"] * 14)
# entry(p0..p13) = sum of p_i * (i + 1), wrapping (every argument and its position count);
# entry32 is the same truncated to an i32 (Lind's int-returning entry point).
_SUM = "\n".join(
    f"local.get {i} i64.const {i + 1} i64.mul" + ("" if i == 0 else " i64.add") for i in range(14)
)
WAT = f"""
(module
  (import "env" "memory" (memory 1 1 shared))
  (func (export "entry") (param {_P14}) (result i64) {_SUM})
  (func (export "entry32") (param {_P14}) (result i32) {_SUM} i32.wrap_i64)
)
"""


def _expected(params: list[int], bits: int = 64) -> int:
    total = sum((p % 2**64) * (i + 1) for i, p in enumerate(params)) % 2**bits
    return total - 2**bits if total >= 2 ** (bits - 1) else total


def _flat(first: int, second: int, values: Any, tags: Any) -> list[int]:
    params = [first, second]
    for value, tag in zip(values, tags, strict=True):
        params += [value, tag]
    return params


def test_call_pairs_writes_what_changed(engine: LindEngine, run: Runner[Any]) -> None:
    async def main() -> None:
        module = engine.load_module(wat2wasm(WAT))
        instance = await instantiate(engine, module, HostImports())
        for export, bits in (("entry", 64), ("entry32", 32)):
            call = PreparedCall(instance, export)
            owners = (7,) * 6
            cases: list[tuple[int, int, Any, Any]] = [
                (1, 7, (0, 0, 0, 0, 0, 0), owners),
                (1, 7, (0, 0, 0, 0, 0, 0), owners),  # the same again: nothing rewritten
                (1, 7, (5, 0, 0, 0, 0, 9), owners),  # two values changed
                (1, 7, (5, 0, 0, 0, 0, 9), (7, 7, 7, 7, 7, 8)),  # another owners tuple
                (1, 7, (5, 0, 0, 0, 0, 9), owners),  # and back
                (2, 8, (5, 0, 0, 0, 0, 9), owners),  # another handler and caller
                (2, 8, (-1, 2**63 - 1, -(2**63), 3, 4, 5), owners),
                (2, 8, (2**64 - 1, 2**64, 1, 1, 1, 1), owners),  # outside int64: wrapped
                (2, 8, (2**64 - 1, 2**64, 1, 1, 1, 1), owners),
                (2, 8, [6, 5, 4, 3, 2, 1], [7, 7, 7, 7, 7, 7]),  # lists, not tuples
                (2, 8, (6, 5, 4, 3, 2, 1), owners),
            ]
            for first, second, values, tags in cases:
                result = call.call_pairs(first, second, values, tags)
                assert isinstance(result, int)
                assert result == _expected(_flat(first, second, values, tags), bits)
            # the generic call in between, then call_pairs with what it wrote last time
            generic = list(range(100, 114))
            assert call(generic) == _expected(generic, bits)
            first, second, values, tags = cases[-1]
            assert call.call_pairs(first, second, values, tags) == _expected(
                _flat(first, second, values, tags), bits
            )

    run(main())
