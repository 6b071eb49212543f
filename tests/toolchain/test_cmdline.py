"""How lind-cc reads a command line (no compiler runs here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lind_async.toolchain.cmdline import Mode, Source, expand_response_files, parse
from lind_async.toolchain.zig import ToolchainError


@pytest.mark.parametrize("args, mode", [
    (["x.c"], Mode.LINK),
    (["-c", "x.c"], Mode.COMPILE),
    (["-S", "-c", "x.c"], Mode.ASSEMBLE),
    (["-c", "-E", "x.c"], Mode.PREPROCESS),  # the earliest stage wins, as in gcc
    (["-MM", "x.c"], Mode.PREPROCESS),
    (["-fsyntax-only", "-c", "x.c"], Mode.SYNTAX_ONLY),
    (["-MD", "x.c"], Mode.LINK),  # -MD/-MMD ride along a compile
])
def test_mode(args: list[str], mode: Mode) -> None:
    assert parse(args).mode is mode


def test_link_order_and_what_clang_sees() -> None:
    inv = parse(["-O1", "a.o", "-lm", "-I", "inc", "b.c", "-Wl,--export=f,-z,x", "-x", "c",
                 "stdin-ish", "-x", "none", "lib.a", "-Xlinker", "--no-entry", "-o", "prog",
                 "-static", "-L/lib"])
    assert inv.link_items == ["a.o", "-lm", Source("b.c", "c"), "--export=f", "-z", "x",
                              Source("stdin-ish", "c"), "lib.a", "--no-entry", "-L/lib"]
    assert inv.compile_flags == ["-O1", "-I", "inc"]
    # clang gets everything but the linker's options, in order (for -c, -E, ...)
    assert inv.clang_args == ["-O1", "a.o", "-I", "inc", "b.c", "-x", "c", "stdin-ish",
                              "-x", "none", "lib.a", "-o", "prog"]
    assert inv.output == "prog"


def test_driver_options_and_queries_stay_out_of_clangs_way() -> None:
    inv = parse(["--stack-size", "64K", "--max-memory=16M", "--grate", "--precompile", "-v",
                 "-dumpmachine", "-print-file-name=libc.a", "x.c"])
    assert (inv.stack_size, inv.max_memory, inv.grate, inv.precompile, inv.verbose) == (
        "64K", "16M", True, True, True)
    assert inv.queries == ["-dumpmachine", "-print-file-name=libc.a"]
    assert inv.clang_args == ["-v", "x.c"]


def test_stdin_is_a_source_only_with_a_language() -> None:
    assert parse(["-x", "c", "-"]).link_items == [Source("-", "c")]
    assert parse(["-"]).link_items == ["-"]


@pytest.mark.parametrize("flags, debug", [
    ([], False), (["-g"], True), (["-g3"], True), (["-g", "-g0"], False), (["-gz"], False),
])
def test_debug_follows_the_last_g(flags: list[str], debug: bool) -> None:
    assert parse([*flags, "x.c"]).debug is debug


def test_missing_value_is_an_error() -> None:
    with pytest.raises(ToolchainError, match="missing argument to '-o'"):
        parse(["x.c", "-o"])


def test_response_files_nest_and_quote(tmp_path: Path) -> None:
    inner = tmp_path / "inner.rsp"
    inner.write_text("-DB='two words' \"-DC=a\\\"q\"\n")
    outer = tmp_path / "outer.rsp"
    outer.write_text(f"-DA=1 @{inner}\n x.c")
    assert expand_response_files(["-c", f"@{outer}", "@missing.rsp"]) == [
        "-c", "-DA=1", "-DB=two words", '-DC=a"q', "x.c", "@missing.rsp"]


def test_response_file_loop_is_an_error(tmp_path: Path) -> None:
    loop = tmp_path / "loop.rsp"
    loop.write_text(f"@{loop}")
    with pytest.raises(ToolchainError, match="nested too deeply"):
        expand_response_files([f"@{loop}"])
