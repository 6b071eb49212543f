"""RawPOSIX's syscall table without wasm: one row per Linux call, fixed-errno rows, its readers."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lind_async import cli
from lind_async.abi import syscalls as nr
from lind_async.abi.errno import ENOSYS, EPERM
from lind_async.grates.strace_decode import Plan, call_name
from lind_async.rawposix import table, table_index
from lind_async.rawposix.table import Fixed, Support, Syscall
from lind_async.threei import ops as threei_ops
from lind_async.threei.python_grates import Call, Grate

threei_ops.install()  # as every microvisor does: 3i's operations replace their placeholders
TABLE = table.load()
UNSUPPORTED = [entry for entry in TABLE.values() if entry.support is Support.UNSUPPORTED]
NO_CAGE: Any = None  # a fixed-errno handler never looks at its cage


def fake_call(number: int, *args: int) -> Call:
    padded = (*args, *([0] * (6 - len(args))))
    origin: Any = SimpleNamespace(cage_id=3)
    return Call(Grate(), Any, origin, number, padded, (3,) * 6)  # type: ignore[arg-type]


def test_three_i_operations_are_rows_of_the_layer_above() -> None:
    for number in table.EXTENDED:
        assert TABLE[number].support is Support.FULL
        assert TABLE[number].handler in {row[1] for row in threei_ops.ROWS}
    with pytest.raises(ValueError, match="RawPOSIX's"):
        table.extend([(nr.SYS_read, threei_ops.sys_register_handler, Support.FULL, "")])


def test_every_known_number_has_a_row() -> None:
    assert sorted(TABLE) == sorted(nr.NAMES)
    for number, entry in TABLE.items():
        assert entry.number == number and entry.name == nr.NAMES[number]


def test_names_come_from_the_constants_one_number_each() -> None:
    constants = {name: value for name, value in vars(nr).items() if name.startswith("SYS_")}
    assert len(nr.NAMES) == len(constants)  # no two constants share a number
    assert all(nr.NAMES[value] == name[4:] for name, value in constants.items())
    assert list(nr.NAMES) == sorted(nr.NAMES)
    assert (nr.NAMES[0], nr.NAMES[nr.SYS_fchmodat2], nr.NAMES[1003]) == (
        "read", "fchmodat2", "copy_handler_table_to_cage"
    )


def test_unsupported_rows_give_an_errno_and_a_reason() -> None:
    assert UNSUPPORTED
    for entry in UNSUPPORTED:
        assert isinstance(entry.handler, Fixed), entry.name
        assert entry.errno is not None and entry.errno > 0, entry.name
        assert entry.note.strip(), f"{entry.name} has no reason"
        assert entry.detail.startswith("E") and entry.note in entry.detail


def test_implemented_rows_have_no_fixed_errno() -> None:
    for entry in TABLE.values():
        if entry.support is not Support.UNSUPPORTED:
            assert entry.errno is None and entry.detail == entry.note, entry.name


@pytest.mark.parametrize("entry", UNSUPPORTED, ids=lambda e: e.name)
def test_unsupported_call_fails_with_its_errno_through_dispatch(entry: Syscall) -> None:
    assert table.dispatch(NO_CAGE, entry.number, 1, 2, 3, 4, 5, 6) == -(entry.errno or 0)


def test_chosen_errnos() -> None:
    """Privileged calls are refused as for an unprivileged process; missing features are
    ENOSYS (libc's fallbacks, e.g. clone3 → clone, rely on it)."""
    by_name = {entry.name: entry for entry in TABLE.values()}
    for name in ("reboot", "init_module", "ptrace", "mount", "settimeofday", "kexec_load"):
        assert by_name[name].errno == EPERM, name
    for name in ("io_uring_setup", "clone3", "close_range", "rseq", "create_module"):
        assert by_name[name].errno == ENOSYS, name


def test_a_number_outside_the_table_is_enosys() -> None:
    assert 999 not in TABLE
    assert table.dispatch(NO_CAGE, 999, 0, 0, 0, 0, 0, 0) == -ENOSYS


def test_rows_are_checked() -> None:
    entry = TABLE[nr.SYS_read]
    with pytest.raises(ValueError, match="two rows"):
        table._check(TABLE, nr.SYS_read, entry.handler, Support.FULL, "")
    fresh: dict[int, Syscall] = {}
    with pytest.raises(ValueError, match="without a reason"):
        table._check(fresh, nr.SYS_reboot, Fixed(EPERM), Support.UNSUPPORTED, "")
    with pytest.raises(ValueError, match="fixed errno"):
        table._check(fresh, nr.SYS_reboot, Fixed(EPERM), Support.PARTIAL, "why")
    with pytest.raises(ValueError, match="fixed errno"):
        table._check(fresh, nr.SYS_reboot, entry.handler, Support.UNSUPPORTED, "why")
    with pytest.raises(ValueError, match="not a Linux"):
        table._check(fresh, 999, entry.handler, Support.FULL, "")


def test_the_family_index_is_current() -> None:
    """``table_index.py`` (load_lazy's hint) names each row's family as the families are."""
    index = Path(table.__file__).with_name("table_index.py")
    assert index.read_text() == table.index_source(), "python -m lind_async.rawposix.table"


@pytest.fixture
def lazy(monkeypatch: pytest.MonkeyPatch) -> None:
    """RawPOSIX as a microvisor starts it: nothing built, every call a stand-in."""
    monkeypatch.setattr(table, "TABLE", {})
    monkeypatch.setattr(table, "_HANDLERS", {})
    table.load_lazy()


@pytest.mark.usefixtures("lazy")
def test_a_lazy_start_puts_a_family_in_place_on_its_first_call() -> None:
    assert sorted(table._HANDLERS) == sorted(nr.NAMES) and not table.TABLE
    assert all(table.has_row(n) for n in nr.NAMES) and not table.has_row(999)
    for number in table.EXTENDED:  # 3i's rows are in place from the start
        assert table._HANDLERS[number] is TABLE[number].handler
    reboot = TABLE[nr.SYS_reboot]
    assert table.dispatch(NO_CAGE, nr.SYS_reboot, 0, 0, 0, 0, 0, 0) == -EPERM
    family = next(f for f, numbers in table_index.FAMILY_ROWS.items() if nr.SYS_reboot in numbers)
    for number in table_index.FAMILY_ROWS[family]:  # the whole family, now the real handlers
        assert table._HANDLERS[number] is TABLE[number].handler
    assert table._HANDLERS[nr.SYS_reboot] is reboot.handler and not table.TABLE
    assert table.dispatch(NO_CAGE, 999, 0, 0, 0, 0, 0, 0) == -ENOSYS


def test_a_stale_index_builds_the_whole_table(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = {"fd": (nr.SYS_reboot,)}  # a row the index places wrongly; the others it lacks
    monkeypatch.setattr(table_index, "FAMILY_ROWS", wrong)
    for number in (nr.SYS_reboot, nr.SYS_io_uring_setup):
        monkeypatch.setattr(table, "TABLE", {})
        monkeypatch.setattr(table, "_HANDLERS", {})
        table.load_lazy()
        assert table.dispatch(NO_CAGE, number, 0, 0, 0, 0, 0, 0) == -(TABLE[number].errno or 0)
        assert sorted(table.TABLE) == sorted(TABLE)
        assert {n: e.handler for n, e in TABLE.items()} == table._HANDLERS


def test_strace_names_an_unsupported_call_from_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    call = fake_call(nr.SYS_io_uring_setup, 8, 0x1000)
    assert call_name(call) == "io_uring_setup"
    assert Plan(call).head.startswith("io_uring_setup(")
    renamed = dataclasses.replace(TABLE[nr.SYS_io_uring_setup], name="from_the_table")
    monkeypatch.setitem(table.TABLE, nr.SYS_io_uring_setup, renamed)
    assert call_name(call) == "from_the_table"
    assert call_name(fake_call(0x270F)) == "syscall_0x270f"


def test_matrix_hides_unsupported_rows_unless_all(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.cmd_syscalls([]) == 0
    out, err = capsys.readouterr()
    assert "reboot" not in out and " read " in out
    assert f"{len(UNSUPPORTED)} unsupported calls not shown: --all" in err
    assert cli.cmd_syscalls(["--all"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == len(TABLE) and not err
    line = next(line for line in out.splitlines() if " reboot " in line)
    assert line.split(None, 3) == [
        str(nr.SYS_reboot), "reboot", "unsupported", "EPERM: not permitted in a sandbox: "
        "rebooting the host",
    ]
