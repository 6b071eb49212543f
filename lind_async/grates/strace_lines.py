"""The ``strace`` grate's output, laid out as ``strace -f`` lays out its lines.

A call is *entered* (its :class:`Entry` holds the text known then, ``read(3, ``) and *finished*
with the rest. Nothing is written at entry: a call that finishes before any other line is due
is one line, ``read(3, "abc", 100) = 3``. When another line must be written while a call is open
(another cage's call, a signal, an exit), the open call is written first as
``read(3,  <unfinished ...>`` and its end later as ``<... read resumed>"abc", 100) = 3``, which is
strace's rule (it prints the entry at once and cuts it when another process's line comes).

Prefixes, as strace's: on a terminal stream (stderr), ``[pid N] `` (N padded to 5) only while more
than one traced cage is alive; in a file (``strace:FILE``, like ``strace -f -o FILE``), ``N `` (N
padded to 5) on every line. Cage ids are the guest's pids.
"""

from __future__ import annotations

from typing import TextIO


class Entry:
    """A call that has started and not yet been written in full."""

    __slots__ = ("head", "name", "pid")

    def __init__(self, pid: int, name: str, head: str) -> None:
        self.pid = pid
        self.name = name
        self.head = head  # "read(3, ": the call's text known at entry


class TraceLines:
    """Writes the lines; knows which calls are open and which cages are alive."""

    def __init__(self, out: TextIO, *, to_file: bool) -> None:
        self._out = out
        self._to_file = to_file
        self._open: Entry | None = None  # entered last, nothing written yet
        self.live: set[int] = set()  # traced cages that have not ended (for the prefix)
        self.in_flight: dict[int, list[Entry]] = {}  # per cage, its calls not yet finished

    def enter(self, pid: int, name: str, head: str) -> Entry:
        """A call starts: an open call of another cage (or thread) becomes unfinished."""
        self.live.add(pid)
        entry = Entry(pid, name, head)
        self._cut()
        self._open = entry
        self.in_flight.setdefault(pid, []).append(entry)
        return entry

    def finish(self, entry: Entry, tail: str, result: str) -> None:
        """The call returned: ``tail`` is the rest of its arguments, ``result`` after ``=``."""
        self._forget(entry)
        if self._open is entry:
            self._open = None
            self._write(entry.pid, f"{entry.head}{tail}) = {result}")
            return
        self._cut()
        self._write(entry.pid, f"<... {entry.name} resumed>{tail}) = {result}")

    def abandon(self, entry: Entry) -> None:
        """The call will never return (its cage ended in it), as strace ends such a call:
        ``read(3,  <unfinished ...>) = ?`` or ``<... read resumed> <unfinished ...>) = ?``."""
        if entry in self.in_flight.get(entry.pid, ()):
            self.finish(entry, " <unfinished ...>", "?")

    def event(self, pid: int, text: str) -> None:
        """A line of its own: ``+++ exited with 0 +++``, ``--- SIGCHLD {…} ---``."""
        self._cut()
        self._write(pid, text)

    def busy(self, pid: int) -> bool:
        """Is a call of cage ``pid`` in flight (started, not finished)?"""
        return bool(self.in_flight.get(pid))

    def _forget(self, entry: Entry) -> None:
        calls = self.in_flight.get(entry.pid)
        if calls is not None and entry in calls:
            calls.remove(entry)
            if not calls:
                del self.in_flight[entry.pid]

    def _cut(self) -> None:
        entry, self._open = self._open, None
        if entry is not None:
            self._write(entry.pid, f"{entry.head} <unfinished ...>")

    def _write(self, pid: int, text: str) -> None:
        if self._to_file:
            prefix = f"{pid:<5} "
        elif len(self.live) > 1:
            prefix = f"[pid {pid:5}] "
        else:
            prefix = ""
        self._out.write(prefix + text + "\n")
        self._out.flush()
