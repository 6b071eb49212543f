"""What a cage's fds 0, 1 and 2 are, from ``stdin=``/``stdout=``/``stderr=`` as in asyncio.

- ``None``: the microvisor's own stdio (the host process's fds 0, 1, 2, used without blocking);
- :data:`PIPE`: an in-process pipe whose other end the host reads or writes (``pipes.py``); the
  host's readers have ``create_cage_exec``'s ``limit`` (asyncio's ``StreamReader`` limit: the
  longest line ``readline`` returns, and half the buffer size at which reading pauses);
- :data:`DEVNULL`: ``/dev/null``;
- :data:`STDOUT` (``stderr`` only): the same open file description as ``stdout``;
- an ``int`` fd or an object with ``fileno()``: a host file, pipe, terminal or non-blocking
  socket. The cage gets its own description of it (pipes and terminals are reopened non-blocking
  through ``/proc/self/fd``, so the host's flags never change; files are ``dup``-ed and share
  their offset with the host's). The caller keeps its fd; the cage's copy is closed when the
  last process holding it exits;
- :class:`HostStdio` ``(fd, metadata=True)``: the same, and the cage may also change the host
  object's mode, owner, size and times (``fchmod``, ``fchown``, ``ftruncate``, ``fallocate``,
  ``futimens``), which are ``EPERM`` otherwise.

A host object given this way is a capability to read and write that stream, never a name: no
call gives the cage a name for it inside its root or wider access to it
(``lind_async/rawposix/foreign.py``).

The constants have asyncio's values, so ``asyncio.subprocess.PIPE`` and friends work too.
"""

from __future__ import annotations

import contextlib
import os
import stat as stat_mod
from dataclasses import dataclass, field
from typing import Protocol

from lind_async.abi.flags import O_RDONLY, O_WRONLY
from lind_async.embed.pipes import READ_LIMIT, PipeSink, PipeSource
from lind_async.rawposix.devices import NullDevice
from lind_async.rawposix.files import FileOps
from lind_async.rawposix.foreign import grant_metadata
from lind_async.rawposix.host_stream import HostStream

PIPE = -1
STDOUT = -2
DEVNULL = -3


class HasFileno(Protocol):
    def fileno(self) -> int: ...


@dataclass(frozen=True)
class HostStdio:
    """A host fd (or an object with ``fileno()``) for a cage's stdio, with what the cage may do
    to the host object beyond reading and writing it: ``metadata=True`` lets it change the
    object's mode, owner, size and times (default: ``EPERM``). Never a name for it."""

    file: int | HasFileno
    metadata: bool = False


StdioSpec = int | HasFileno | HostStdio | None


@dataclass
class Stdio:
    """The cage's three descriptions (``None``: the microvisor's own), and the host's pipe ends."""

    files: list[FileOps | None] = field(default_factory=list)
    stdin: PipeSource | None = None
    stdout: PipeSink | None = None
    stderr: PipeSink | None = None

    def abandon(self) -> None:
        """The cage was never started: give back everything made for it."""
        for end in (self.stdin, self.stdout, self.stderr):
            if end is not None:
                end.release()
        for file in {id(f): f for f in self.files if f is not None}.values():
            if file.refs == 0:
                file.release()


def _host_file(spec: int | HasFileno, status_flags: int, name: str) -> FileOps:
    fd = spec if isinstance(spec, int) else spec.fileno()
    try:
        st = os.fstat(fd)
    except OSError as exc:
        raise ValueError(f"{name}: {fd} is not an open file descriptor ({exc.strerror})") from None
    if stat_mod.S_ISSOCK(st.st_mode):
        if os.get_blocking(fd):
            raise ValueError(
                f"{name}: a blocking socket cannot be a cage's stdio (it would block the event "
                "loop); make it non-blocking first"
            )
        return HostStream(os.dup(fd), status_flags, nonblocking=True, tty=False)
    return HostStream.adopt(fd, status_flags)


def resolve(
    stdin: StdioSpec, stdout: StdioSpec, stderr: StdioSpec, *, limit: int = READ_LIMIT
) -> Stdio:
    """Build the cage's stdio; ``limit`` is the host readers' buffer limit (asyncio's
    ``StreamReader`` limit). On an error, whatever was made so far is released."""
    if limit <= 0:
        raise ValueError("Limit cannot be <= 0")  # asyncio's check and words, before any work
    out = Stdio()
    try:
        out.files.append(one(out, stdin, O_RDONLY, "stdin", limit))
        out.files.append(one(out, stdout, O_WRONLY, "stdout", limit))
        if stderr == STDOUT:
            out.files.append(out.files[1])
        else:
            out.files.append(one(out, stderr, O_WRONLY, "stderr", limit))
    except BaseException:
        with contextlib.suppress(Exception):
            out.abandon()
        raise
    return out


def one(
    out: Stdio, spec: StdioSpec, status_flags: int, name: str, limit: int
) -> FileOps | None:
    if spec is None:
        return None
    if spec == PIPE:
        if status_flags == O_RDONLY:
            out.stdin = PipeSource()
            return out.stdin.cage_end
        sink = PipeSink(limit=limit)
        if name == "stdout":
            out.stdout = sink
        else:
            out.stderr = sink
        return sink.cage_end
    if isinstance(spec, HostStdio):
        stream = one(out, _checked_host(spec.file, name), status_flags, name, limit)
        if stream is not None and spec.metadata:
            grant_metadata(stream)
        return stream
    if spec == DEVNULL:
        return NullDevice(status_flags)
    if spec == STDOUT:
        raise ValueError(f"{name}: STDOUT is only meaningful for stderr")
    if isinstance(spec, int) and spec < 0:
        raise ValueError(f"{name}: bad value {spec}")
    if isinstance(spec, bool) or not (isinstance(spec, int) or hasattr(spec, "fileno")):
        raise TypeError(f"{name}: expected None, PIPE, DEVNULL, an fd or a file object")
    return _host_file(spec, status_flags, name)


def _checked_host(file: int | HasFileno, name: str) -> int | HasFileno:
    """``HostStdio`` wraps a host fd or file object only (not PIPE, DEVNULL…)."""
    if isinstance(file, bool) or (isinstance(file, int) and file < 0):
        raise ValueError(f"{name}: HostStdio needs a host fd or a file object, not {file!r}")
    if not (isinstance(file, int) or hasattr(file, "fileno")):
        raise TypeError(f"{name}: HostStdio needs a host fd or a file object")
    return file
