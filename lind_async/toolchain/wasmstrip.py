"""``lind-strip``: drop a cage module's custom sections (names, debug info, producers).

A linked module's custom sections (id 0) carry only metadata: ``name`` (function names in
backtraces), ``.debug_*`` (DWARF), ``producers``, ``target_features``. The runtime reads none of
them — it looks at the type, import, function, export, element and tag sections only
(:mod:`lind_async.toolchain.validate`) — so removing them never changes what a program does; it
makes the module smaller and its traps show bare function indexes.

* default, ``-s``, ``--strip-all``, ``--strip-unneeded``: every custom section goes;
* ``-g``, ``-S``, ``-d``, ``--strip-debug``: only ``.debug_*`` (and source-map) sections go;
* ``-R NAME``, ``--remove-section=NAME``: that custom section goes too.

Relocatable objects (a ``linking`` section: ``.o`` files) and archives are left unchanged — their
custom sections are the linker's relocation and symbol tables.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lind_async.abi.executable import module_bytes, split_launcher
from lind_async.toolchain.outputs import publish, writes_through

WASM_MAGIC = b"\0asm"
ARCHIVE_MAGIC = b"!<arch>\n"
USAGE = """\
usage: lind-strip [-s|--strip-all] [-g|-S|--strip-debug] [-R NAME] [-o OUTPUT] FILE...

Remove custom sections (names, debug info) from lind_async cage modules; objects and archives
are left as they are.
"""


class StripError(Exception):
    """A file cannot be stripped; ``str()`` is the message."""


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise StripError("truncated wasm module")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def _sections(data: bytes) -> Iterator[tuple[int, str | None, int, int]]:
    """``(id, custom name or None, start, end)`` of each section, ``start`` at its id byte."""
    pos = 8
    while pos < len(data):
        start = pos
        section = data[pos]
        size, body = _uleb(data, pos + 1)
        end = body + size
        if end > len(data):
            raise StripError("truncated wasm module")
        name = None
        if section == 0:
            length, at = _uleb(data, body)
            name = data[at:at + length].decode("utf-8", "replace")
        yield section, name, start, end
        pos = end


def custom_sections(data: bytes) -> list[str]:
    """The names of a wasm file's custom sections, in order (after a launcher line, if any)."""
    data = module_bytes(data)
    if data[:4] != WASM_MAGIC or len(data) < 8:
        raise StripError("file format not recognized")
    return [name for _, name, _, _ in _sections(data) if name is not None]


def is_relocatable(data: bytes) -> bool:
    return "linking" in custom_sections(data)


@dataclass
class Options:
    debug_only: bool = False
    remove: set[str] = field(default_factory=set)
    output: str | None = None
    files: list[str] = field(default_factory=list)


def _drop(name: str, opts: Options) -> bool:
    if name in opts.remove:
        return True
    if opts.debug_only:
        return name.startswith(".debug_") or name in ("sourceMappingURL",
                                                      "external_debug_info")
    return True


def strip_module(data: bytes, opts: Options) -> bytes:
    """``data`` without the custom sections ``opts`` selects (a linked module only)."""
    if data[:4] != WASM_MAGIC or len(data) < 8:
        raise StripError("file format not recognized")
    kept = [data[:8]]
    for section, name, start, end in _sections(data):
        if section == 0 and name is not None and _drop(name, opts):
            continue
        kept.append(data[start:end])
    return b"".join(kept)


def strip_file(path: Path, output: Path, opts: Options) -> None:
    data = path.read_bytes()
    launcher, module = split_launcher(data)  # a launcher line stays, the module is stripped
    if data.startswith(ARCHIVE_MAGIC) or (data[:4] == WASM_MAGIC and is_relocatable(data)):
        result = data
    else:
        result = launcher + strip_module(module, opts)
    if output == path and result == data:
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.",
                               dir=None if writes_through(output) else output.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(result)
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        publish(Path(tmp), output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse(argv: Sequence[str]) -> Options | None:
    """The options, or ``None`` for ``--help``."""
    opts = Options()
    it = iter(argv)
    for arg in it:
        if arg in ("-h", "--help"):
            return None
        if arg in ("-s", "--strip-all", "--strip-unneeded", "-x", "-X", "-p",
                   "--preserve-dates", "--discard-all", "--discard-locals"):
            continue
        if arg in ("-g", "-S", "-d", "--strip-debug"):
            opts.debug_only = True
        elif arg in ("-R", "-o"):
            value = next(it, None)
            if value is None:
                raise StripError(f"option requires an argument -- '{arg[1:]}'")
            if arg == "-o":
                opts.output = value
            else:
                opts.remove.add(value)
        elif arg.startswith("--remove-section="):
            opts.remove.add(arg.partition("=")[2])
        elif arg.startswith("-o") and len(arg) > 2:
            opts.output = arg[2:]
        elif arg.startswith("-") and arg != "-":
            raise StripError(f"unrecognized option '{arg}'")
        else:
            opts.files.append(arg)
    if not opts.files:
        raise StripError("no input file specified")
    if opts.output is not None and len(opts.files) > 1:
        raise StripError("-o needs a single input file")
    return opts


def main(argv: Sequence[str]) -> int:
    try:
        opts = parse(argv)
    except StripError as e:
        sys.stderr.write(f"lind-strip: {e}\n{USAGE}")
        return 1
    if opts is None:
        sys.stdout.write(USAGE)
        return 0
    status = 0
    for name in opts.files:
        path = Path(name)
        try:
            strip_file(path, Path(opts.output) if opts.output else path, opts)
        except (StripError, OSError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            sys.stderr.write(f"lind-strip: {name}: {why}\n")
            status = 1
    return status
