"""Putting a tool's finished output where the command line named it, as native tools do.

lind-cc and lind-strip build their output beside it and rename it into place, so a reader never
sees half a program. A rename replaces whatever the name is, though, and ``-o`` may name
something that is not a file of ours to replace: a symbolic link (ld writes its target), a pipe
or FIFO, ``/dev/stdout``, or ``/dev/null`` (``cc -o /dev/null x.c``, "does it link?"; as root a
rename would put a regular file where the device was). For such a name the bytes are written
through it instead, and the name itself is left as it was.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def writes_through(output: Path) -> bool:
    """Whether ``output`` exists and is not a regular file we may replace (a symbolic link,
    a device, a FIFO or a socket): it is written through, never renamed over."""
    try:
        mode = os.lstat(output).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def publish(tmp: Path, output: Path) -> None:
    """Put the finished file ``tmp`` at ``output`` and remove ``tmp``: renamed into place, or
    copied through ``output`` when :func:`writes_through` says so (a regular file it reaches,
    e.g. a link's target, gets ``tmp``'s permission bits, as ld gives them)."""
    if not writes_through(output):
        os.replace(tmp, output)
        return
    try:
        data = tmp.read_bytes()
        mode = os.stat(tmp).st_mode & 0o7777
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    finally:
        tmp.unlink(missing_ok=True)
