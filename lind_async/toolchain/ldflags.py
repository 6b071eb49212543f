"""GNU ``ld`` options that build systems pass through the compiler driver, made fit for wasm-ld.

Theory of operation
-------------------
A cage program is one static wasm module, so many ELF linker options have nothing to act on.
:func:`translate` rewrites the linker's share of a command line (``-Wl,…``, ``-Xlinker …``,
``-z …``) in order:

* **ignored** (:data:`IGNORED`, :data:`IGNORED_WITH_VALUE`, :data:`IGNORED_Z`): options about
  shared objects, dynamic sections, ELF headers and symbol versions (``--as-needed``, ``-rpath
  DIR``, ``--hash-style=…``, ``-z relro`` …), and ``--start-group``/``--end-group``/``-(``/``-)``:
  wasm-ld, like every lld, remembers each archive's symbol index and pulls a member whenever a
  later input needs it, so archives that refer to each other in a cycle link without a group;
* **recorded**: ``-r``/``--relocatable``/``-i`` (a relocatable link, see the driver);
* everything else goes to wasm-ld unchanged (``--gc-sections``, ``--wrap=…``, ``-Map=…``,
  ``--export=…`` …), which reports what it does not know.

A ``--whole-archive`` left on at the end is closed with ``--no-whole-archive``, so libc and the
driver's own archives that follow are not loaded whole (gcc users always pair the two; the libc
gcc adds would break the same way).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Input = TypeVar("Input")

IGNORED = frozenset({
    "--as-needed", "--no-as-needed", "--start-group", "--end-group", "-(", "-)",
    "--sort-common", "--enable-new-dtags", "--disable-new-dtags", "--eh-frame-hdr",
    "--no-eh-frame-hdr", "--warn-common", "--allow-shlib-undefined",
    "--no-allow-shlib-undefined", "--no-undefined", "--no-keep-memory", "--copy-dt-needed-entries",
    "--no-copy-dt-needed-entries", "--cref", "--discard-all", "--discard-locals", "-X", "-x",
    "--push-state", "--pop-state", "--warn-shared-textrel", "--no-add-needed", "--add-needed",
    "--relax", "--no-relax", "--sort-section=name", "--sort-section=alignment",
})
"""GNU ld flags with nothing to do in a static wasm link (or, for groups, already done)."""

IGNORED_WITH_VALUE = frozenset({
    "-rpath", "--rpath", "-rpath-link", "--rpath-link", "--dynamic-linker", "-dynamic-linker",
    "--version-script", "--hash-style", "--exclude-libs", "--sort-common", "--icf",
    "--sort-section", "-soname", "--soname", "-h", "-R", "--just-symbols", "--audit",
    "--default-symver", "-plugin", "-plugin-opt",
})
"""Ignored options that take a value, joined (``--hash-style=gnu``) or as the next argument."""

_SEPARATE = frozenset({"-rpath", "-rpath-link", "-dynamic-linker", "--dynamic-linker",
                       "--version-script", "-soname", "-h", "-R", "-plugin", "-plugin-opt",
                       "--rpath", "--rpath-link", "--exclude-libs", "--hash-style", "--audit"})
"""Of those, the ones whose value may be the next argument."""

IGNORED_Z = frozenset({
    "relro", "norelro", "now", "lazy", "noexecstack", "execstack", "defs", "nodefs", "origin",
    "nodelete", "nodlopen", "text", "notext", "combreloc", "nocombreloc", "separate-code",
    "noseparate-code", "ibt", "shstk", "muldefs", "nocopyreloc", "global", "initfirst",
    "interpose", "noextern-protected-data", "undefs",
})
"""``-z`` keywords of ELF linkers (wasm-ld knows only ``-z stack-size=N``)."""

RELOCATABLE = frozenset({"-r", "--relocatable", "-i"})


@dataclass
class LinkerArgs(Generic[Input]):
    args: list[Input | str] = field(default_factory=list)
    """What goes to wasm-ld, in order (other inputs, such as sources, kept in place)."""
    relocatable: bool = False


def _ignored_joined(arg: str) -> bool:
    name, eq, _ = arg.partition("=")
    return bool(eq) and name in IGNORED_WITH_VALUE


def translate(items: Iterable[Input | str]) -> LinkerArgs[Input]:
    """The wasm-ld arguments for GNU ld ``items`` (each one argument as ld would see it; items
    that are not strings pass through)."""
    out: LinkerArgs[Input] = LinkerArgs()
    whole_archive = False
    it = iter(items)
    for arg in it:
        if not isinstance(arg, str):
            out.args.append(arg)
            continue
        if arg in IGNORED or _ignored_joined(arg):
            continue
        if arg in _SEPARATE:
            next(it, None)  # its value, as ld would take it
            continue
        if arg in RELOCATABLE:
            out.relocatable = True
            continue
        if arg == "-z":
            value = next(it, None)
            if not isinstance(value, str):  # "-z" last, or before a source: wasm-ld says so
                out.args += [arg] if value is None else [arg, value]
            elif value.partition("=")[0] not in IGNORED_Z:
                out.args += [arg, value]
            continue
        if arg.startswith("-z") and arg[2:].partition("=")[0] in IGNORED_Z:
            continue
        if arg in ("--whole-archive", "-whole-archive"):
            whole_archive = True
        elif arg in ("--no-whole-archive", "-no-whole-archive"):
            whole_archive = False
        out.args.append(arg)
    if whole_archive:
        out.args.append("--no-whole-archive")
    return out
