"""``fastio.slot_offsets``: where the compiled trampoline reads slotted attributes in place
(``native/fast_slots.h``). Each offset found must hold exactly that attribute's value; anything
that is not a plain slot of the class is 0 (the trampoline then uses ``getattr``)."""

from __future__ import annotations

import ctypes

from lind_async.core.fdtable import FdTable
from lind_async.rawposix import fastio
from lind_async.rawposix.host_file import HostFile


class _Base:
    __slots__ = ("a",)
    a: object


class _Slotted(_Base):
    __slots__ = ("b", "c")
    b: object
    c: object

    @property
    def d(self) -> int:
        return 1


class _Plain:
    def __init__(self) -> None:
        self.a = 1


class _NeedsArgs:
    __slots__ = ("a",)

    def __new__(cls, value: int) -> _NeedsArgs:
        return super().__new__(cls)


def _word(obj: object, offset: int) -> int | None:
    return ctypes.c_void_p.from_address(id(obj) + offset).value


def test_each_offset_holds_its_attribute() -> None:
    offsets = fastio.slot_offsets(_Slotted, ["a", "b", "c", "d", "missing"])
    assert all(offsets[:3]) and len(set(offsets[:3])) == 3
    assert offsets[3:] == [0, 0]  # a property, no attribute at all
    obj = _Slotted()
    values = [object(), object(), object()]
    obj.a, obj.b, obj.c = values
    assert [_word(obj, at) for at in offsets[:3]] == [id(v) for v in values]


def test_what_is_not_a_slot_is_zero() -> None:
    assert fastio.slot_offsets(_Plain, ["a"]) == [0]  # an instance dict's attribute
    assert fastio.slot_offsets(_NeedsArgs, ["a"]) == [0]  # cannot be made bare: getattr


def test_the_classes_the_trampoline_reads() -> None:
    file_names = ["refs", "fast", "_flags", "host_fd", "kind", "_key", "_host_append",
                  "guest_path", "_pos"]
    offsets = fastio.slot_offsets(HostFile, [*file_names, "status_flags"])
    assert all(offsets[:-1]) and offsets[-1] == 0  # status_flags: HostFile's property
    table = FdTable()
    fast, limit, entries = fastio.slot_offsets(FdTable, ["fast", "limit", "_entries"])
    assert _word(table, entries) == id(table._entries) and _word(table, limit) == id(table.limit)
    assert _word(table, fast) == id(table.fast)
