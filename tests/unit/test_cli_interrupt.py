"""Ctrl-C before a cage runs ends ``run`` with the shell's status 130 and no traceback, however
the interrupt arrives: bare, or wrapped by Python on its way out of a module being imported."""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence

import pytest

from lind_async import cli


def _wrapped_interrupt() -> None:
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as exc:  # as `__set_name__` failing inside a dataclass body does
        raise RuntimeError("Error calling __set_name__") from exc


@pytest.mark.parametrize("raise_it", [lambda: (_ for _ in ()).throw(KeyboardInterrupt()),
                                      _wrapped_interrupt])
def test_interrupt_is_status_130(monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str], raise_it: object) -> None:
    def command(argv: Sequence[str]) -> int:
        raise_it()  # type: ignore[operator]
        return 0

    monkeypatch.setitem(cli.COMMANDS, "run", command)
    assert cli.main(["run", "x.wasm"]) == 130
    assert capsys.readouterr() == ("", "")


def test_other_errors_still_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    def command(argv: Sequence[str]) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setitem(cli.COMMANDS, "run", command)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["run", "x.wasm"])


def test_no_coroutine_is_made_before_the_loop_module_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An interrupt while uvloop is imported leaves no coroutine behind (no 'never awaited')."""
    made: list[int] = []

    async def main() -> int:
        return 0

    def factory():  # type: ignore[no-untyped-def]
        made.append(1)
        return main()

    class Interrupting(types.ModuleType):
        def __getattr__(self, name: str) -> object:
            raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "uvloop", Interrupting("uvloop"))
    with pytest.raises(KeyboardInterrupt):
        cli._run_loop(factory, "uvloop")
    assert made == []
    assert cli._run_loop(factory, "asyncio") == 0
    assert made == [1]
