"""The ``lind-cc`` command line, read the way gcc reads it.

Theory of operation
-------------------
:func:`expand_response_files` first replaces every ``@FILE`` by the arguments in FILE (whitespace
separated, ``'…'``/``"…"`` quoting and backslash escapes, nested ``@`` files allowed); an ``@FILE``
that does not exist stays as it is, as in gcc.

:func:`parse` then sorts each argument into one of:

* the **driver's own** options (``--stack-size``, ``--max-memory``, ``--grate``, ``--precompile``,
  ``--no-launcher``,
  ``--help``, ``--print-sysroot``, ``--print-cmake-toolchain``);
* **queries** (``--version``, ``-dumpmachine``, ``-print-file-name=…`` …): answered without
  compiling (:mod:`lind_async.toolchain.queries`);
* **linker** options (``-l``, ``-L``, ``-Wl,…``, ``-Xlinker``, ``-u``, ``-z``, ``-s``, ``-static``,
  ``-nostdlib``, ``-r`` …), which only matter when linking; GNU ld's own options among them are
  made fit for wasm-ld by :mod:`lind_async.toolchain.ldflags`;
* everything else, in order, for **clang**: flags, ``-x LANG``, ``-o FILE`` and the inputs.

The mode is gcc's: the earliest stage asked for wins (``-E``/``-M``/``-MM`` preprocess,
``-fsyntax-only`` checks, ``-S`` emits assembly, ``-c`` compiles), else the inputs are linked.
Non-linking modes hand :attr:`Invocation.clang_args` to clang unchanged; linking compiles each
source (``-x`` or its suffix says it is one) and links the objects with the other inputs, in
command-line order.
"""

from __future__ import annotations

import enum
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lind_async.toolchain.ldflags import translate
from lind_async.toolchain.zig import ToolchainError

MAX_RESPONSE_DEPTH = 16

# clang/gcc options whose value is the next argument (when not joined).
SEPARATE_VALUE = frozenset({
    "-I", "-D", "-U", "-A", "-F", "-include", "-imacros", "-isystem", "-iquote", "-idirafter",
    "-iprefix", "-iwithprefix", "-iwithprefixbefore", "-imultilib", "-isysroot", "--sysroot",
    "-MF", "-MT", "-MQ", "-Xclang", "-mllvm", "-std", "--std", "-arch", "-target", "--target",
    "-Xpreprocessor", "-Xassembler", "-dumpbase", "-dumpdir", "-aux-info", "--param",
})
# Linker options whose value is the next argument (when not joined).
_LINK_SEPARATE = frozenset({"-l", "-L", "-u", "-z", "-T"})
# Linker-only flags clang must not see outside a link (gcc ignores them there too).
_LINK_FLAGS = frozenset({
    "-static", "-static-libgcc", "-shared-libgcc", "-static-pie", "-pie", "-no-pie", "-rdynamic",
    "-s", "-nostartfiles", "-nostdlib", "-nodefaultlibs", "-nolibc", "-shared", "-r",
})
_DRIVER_SIZES = ("--stack-size", "--max-memory")
_QUERY_PREFIXES = ("-print-", "--print-")
_QUERY_FLAGS = frozenset({"--version", "-dumpversion", "-dumpfullversion", "-dumpmachine"})
DRIVER_PRINT = frozenset({"--print-sysroot", "--print-cmake-toolchain"})

# gcc's language for a suffix; anything else is a linker input.
LANGUAGES = {
    ".c": "c", ".i": "cpp-output", ".h": "c-header", ".s": "assembler",
    ".S": "assembler-with-cpp", ".sx": "assembler-with-cpp",
    ".cc": "c++", ".cp": "c++", ".cxx": "c++", ".cpp": "c++", ".c++": "c++", ".C": "c++",
    ".ii": "c++-cpp-output",
}


class Mode(enum.Enum):
    PREPROCESS = "-E"
    SYNTAX_ONLY = "-fsyntax-only"
    ASSEMBLE = "-S"
    COMPILE = "-c"
    LINK = "link"


_MODE_ORDER = [Mode.PREPROCESS, Mode.SYNTAX_ONLY, Mode.ASSEMBLE, Mode.COMPILE, Mode.LINK]


@dataclass(frozen=True)
class Source:
    """An input clang compiles: ``path`` (``-`` is stdin) in ``language`` (gcc's ``-x`` name)."""

    path: str
    language: str


@dataclass
class Invocation:
    mode: Mode = Mode.LINK
    clang_args: list[str] = field(default_factory=list)
    """The user's arguments for clang, in order (inputs, ``-x``, ``-o`` included)."""
    compile_flags: list[str] = field(default_factory=list)
    """Flags for compiling each source when linking (no inputs, ``-x``, ``-o``)."""
    link_items: list[Source | str] = field(default_factory=list)
    """What the link sees, in order: sources (compiled first), linker inputs and options."""
    inputs: list[str] = field(default_factory=list)
    output: str | None = None
    stack_size: str | None = None
    max_memory: str | None = None
    grate: bool = False
    precompile: bool = False
    no_launcher: bool = False
    help: bool = False
    verbose: bool = False
    shared: bool = False
    nostartfiles: bool = False
    nodefaultlibs: bool = False
    strip_all: bool = False
    relocatable: bool = False
    """``-r`` (or ``-Wl,-r``): combine the objects into one relocatable object, nothing else."""
    queries: list[str] = field(default_factory=list)
    dependency_file: str | None = None
    dependency_target: bool = False
    writes_dependencies: bool = False

    @property
    def sources(self) -> list[Source]:
        return [item for item in self.link_items if isinstance(item, Source)]

    @property
    def debug(self) -> bool:
        """``-g`` (any level but ``-g0``, the last one wins): keep debug info in the module."""
        levels = [f for f in self.compile_flags if f.startswith("-g") and not f.startswith("-gz")]
        return bool(levels) and levels[-1] != "-g0"


# --------------------------------------------------------------------------------------------------
# response files


def expand_response_files(argv: Sequence[str], depth: int = 0) -> list[str]:
    """Replace each readable ``@FILE`` by its arguments (gcc's quoting rules)."""
    out: list[str] = []
    for arg in argv:
        if not arg.startswith("@") or len(arg) == 1:
            out.append(arg)
            continue
        try:
            text = Path(arg[1:]).read_text()
        except OSError:
            out.append(arg)  # gcc: not a readable file, so an ordinary argument
            continue
        if depth >= MAX_RESPONSE_DEPTH:
            raise ToolchainError(f"{arg}: response files nested too deeply")
        try:
            words = shlex.split(text, posix=True)
        except ValueError as e:
            raise ToolchainError(f"{arg}: {e}") from None
        out += expand_response_files(words, depth + 1)
    return out


# --------------------------------------------------------------------------------------------------
# parsing


def _language_of(path: str, forced: str | None) -> str | None:
    if forced is not None:
        return forced
    if path == "-":
        return None
    return LANGUAGES.get(Path(path).suffix)


def parse(argv: Sequence[str]) -> Invocation:
    """Sort a (response-file expanded) command line; raises :class:`ToolchainError` on misuse."""
    inv = Invocation()
    modes: set[Mode] = set()
    forced_language: str | None = None
    it: Iterator[str] = iter(argv)

    def value(flag: str) -> str:
        try:
            return next(it)
        except StopIteration:
            raise ToolchainError(f"missing argument to '{flag}'") from None

    def clang(*args: str, compile_too: bool = True) -> None:
        inv.clang_args.extend(args)
        if compile_too:
            inv.compile_flags.extend(args)

    for arg in it:
        # --- the driver's own options
        if arg in ("-h", "--help"):
            inv.help = True
        elif arg == "--grate":
            inv.grate = True
        elif arg == "--precompile":
            inv.precompile = True
        elif arg == "--no-launcher":
            inv.no_launcher = True
        elif arg in DRIVER_PRINT:
            inv.queries.append(arg)
        elif arg in _DRIVER_SIZES or arg.startswith(tuple(f"{s}=" for s in _DRIVER_SIZES)):
            name, eq, v = arg.partition("=")
            size = v if eq else value(name)
            if name == "--stack-size":
                inv.stack_size = size
            else:
                inv.max_memory = size
        # --- queries
        elif arg in _QUERY_FLAGS or arg.startswith(_QUERY_PREFIXES):
            inv.queries.append(arg)
        # --- mode, output, language
        elif arg in ("-E", "-M", "-MM"):
            modes.add(Mode.PREPROCESS)
            clang(arg, compile_too=False)
        elif arg == "-fsyntax-only":
            modes.add(Mode.SYNTAX_ONLY)
            clang(arg, compile_too=False)
        elif arg == "-S":
            modes.add(Mode.ASSEMBLE)
            clang(arg, compile_too=False)
        elif arg == "-c":
            modes.add(Mode.COMPILE)
            clang(arg, compile_too=False)
        elif arg == "-o" or (arg.startswith("-o") and len(arg) > 2):
            inv.output = value(arg) if arg == "-o" else arg[2:]
            clang("-o", inv.output, compile_too=False)
        elif arg == "-x" or (arg.startswith("-x") and len(arg) > 2):
            lang = value(arg) if arg == "-x" else arg[2:]
            forced_language = None if lang == "none" else lang
            clang("-x", lang, compile_too=False)
        elif arg == "-v":
            inv.verbose = True
            clang(arg)
        # --- dependency output (kept for every compile)
        elif arg in ("-MD", "-MMD"):
            inv.writes_dependencies = True
            clang(arg)
        elif arg in ("-MF", "-MT", "-MQ") or (arg[:3] in ("-MF", "-MT", "-MQ") and len(arg) > 3):
            flag, v = (arg, value(arg)) if len(arg) == 3 else (arg[:3], arg[3:])
            if flag == "-MF":
                inv.dependency_file = v
            else:
                inv.dependency_target = True
            clang(flag, v)
        # --- the linker's
        elif arg.startswith("-Wl,"):
            inv.link_items += [x for x in arg[4:].split(",") if x]
        elif arg == "-Xlinker":
            inv.link_items.append(value(arg))
        elif arg in _LINK_SEPARATE:
            inv.link_items += [arg, value(arg)]
        elif arg[:2] in ("-l", "-L") and len(arg) > 2:
            inv.link_items.append(arg)
        elif arg in _LINK_FLAGS or arg.startswith("-fuse-ld="):
            if arg == "-shared":
                inv.shared = True
            elif arg == "-s":
                inv.strip_all = True
            elif arg == "-r":
                inv.relocatable = True
            elif arg in ("-nostartfiles", "-nostdlib"):
                inv.nostartfiles = True
            if arg in ("-nostdlib", "-nodefaultlibs", "-nolibc"):
                inv.nodefaultlibs = True
        # --- everything else is clang's
        elif arg in SEPARATE_VALUE:
            clang(arg, value(arg))
        elif arg.startswith("-") and arg != "-":
            clang(arg)
        else:
            inv.inputs.append(arg)
            clang(arg, compile_too=False)
            language = _language_of(arg, forced_language)
            # "-" without -x stays a plain item: linking refuses it as gcc does.
            inv.link_items.append(Source(arg, language) if language else arg)
    inv.mode = next(m for m in _MODE_ORDER if m in modes or m is Mode.LINK)
    linker = translate(inv.link_items)  # GNU ld options: ignored, recorded or kept
    inv.link_items = linker.args
    inv.relocatable |= linker.relocatable
    return inv
