"""GNU ld options through lind-cc, archives wasm-ld can search, and relocatable links."""

from __future__ import annotations

from pathlib import Path

import pytest

from lind_async.toolchain.cmdline import Source, parse
from lind_async.toolchain.ldflags import translate

from .test_driver import lind, lind_cc, ok, write
from .wasm_runner import run


def test_meaningless_options_are_dropped_with_their_values() -> None:
    got = translate(["--as-needed", "-rpath", "/opt/lib", "--hash-style=gnu", "-z", "relro",
                     "-znow", "--start-group", "x.a", "--end-group", "--gc-sections",
                     "-z", "stack-size=65536", "--sort-common", "-soname", "libx.so.1",
                     "--wrap=malloc"])
    assert got.args == ["x.a", "--gc-sections", "-z", "stack-size=65536", "--wrap=malloc"]
    assert not got.relocatable


def test_sources_stay_in_place_and_whole_archive_is_closed() -> None:
    inv = parse(["a.c", "-Wl,--whole-archive,libw.a", "-Wl,-r", "b.o"])
    assert inv.link_items == [Source("a.c", "c"), "--whole-archive", "libw.a", "b.o",
                              "--no-whole-archive"]
    assert inv.relocatable
    assert parse(["-r", "-nostdlib", "a.o"]).relocatable


MAIN = '#include <stdio.h>\nint first(void);\nint main(void) { printf("%d\\n", first()); }\n'


@pytest.fixture
def cycle(sysroot: Path, tmp_path: Path) -> Path:
    """liba.a: first() calls second() in libb.a, which calls third() back in liba.a; in liba.a
    the member defining third() comes before the one that needs it."""
    write(tmp_path / "main.c", MAIN)
    write(tmp_path / "a3.c", "int third(void) { return 3; }\n")
    write(tmp_path / "a1.c", "int second(void);\nint first(void) { return 100 + second(); }\n")
    write(tmp_path / "b2.c", "int third(void);\nint second(void) { return 20 + third(); }\n")
    ok(lind_cc("-c", "main.c", "a3.c", "a1.c", "b2.c", cwd=tmp_path))
    ok(lind("lind-ar", "rcs", "liba.a", "a3.o", "a1.o", cwd=tmp_path))
    ok(lind("lind-ar", "rcs", "libb.a", "b2.o", cwd=tmp_path))
    return tmp_path


def test_archive_cycle_links_with_or_without_a_group(cycle: Path) -> None:
    for group in ([], ["-Wl,--start-group"]):
        ends = ["-Wl,--end-group"] if group else []
        ok(lind_cc("-o", "app", "main.o", *group, "-L.", "-la", "-lb", *ends, "-Wl,--as-needed",
                   "-Wl,-z,relro,-z,now", "-Wl,--sort-common", "-Wl,-rpath,/usr/lib",
                   cwd=cycle))
        result = run(cycle / "app", ["app"])
        assert (result.exit_code, result.stdout) == (0, b"123\n")


def symbol_index(archive: Path) -> list[bytes] | None:
    """The names in an ar archive's GNU symbol index (its ``/`` member), or None without one."""
    data = archive.read_bytes()
    assert data[:8] == b"!<arch>\n"
    header = data[8:68]
    if header[:16].rstrip() != b"/":
        return None
    size = int(header[48:58])
    body = data[68:68 + size]
    count = int.from_bytes(body[:4], "big")
    return body[4 + 4 * count:].split(b"\0")[:count]


def test_ar_writes_a_symbol_index(cycle: Path) -> None:
    """lind-ar rcs indexes the wasm objects' symbols (ranlib adds an index to an archive made
    without one). wasm-ld (lld 18) also reads an archive without one, from its members' own
    symbol tables, so both link."""
    assert sorted(symbol_index(cycle / "liba.a") or []) == [b"first", b"third"]
    ok(lind("lind-ar", "rcS", "libnoindex.a", "a3.o", "a1.o", cwd=cycle))
    assert symbol_index(cycle / "libnoindex.a") is None
    ok(lind_cc("-o", "app", "main.o", "libnoindex.a", "libb.a", cwd=cycle))
    assert run(cycle / "app", ["app"]).stdout == b"123\n"
    ok(lind("lind-ranlib", "libnoindex.a", cwd=cycle))
    assert sorted(symbol_index(cycle / "libnoindex.a") or []) == [b"first", b"third"]


def test_relocatable_link(cycle: Path) -> None:
    ok(lind_cc("-r", "-nostdlib", "-o", "ab.o", "a1.o", "b2.c", "a3.o", cwd=cycle))
    assert (cycle / "ab.o").read_bytes()[:4] == b"\0asm"
    ok(lind_cc("-o", "app", "main.c", "ab.o", cwd=cycle))
    assert run(cycle / "app", ["app"]).stdout == b"123\n"
    ok(lind_cc("-Wl,-r", "-o", "ab2.o", "a1.o", "b2.o", "a3.o", cwd=cycle))
    ok(lind_cc("-o", "app2", "main.o", "ab2.o", cwd=cycle))
    assert run(cycle / "app2", ["app2"]).stdout == b"123\n"
