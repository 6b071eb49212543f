"""Advisory file locks (``flock`` and ``fcntl`` record locks) as pure state, no I/O, no waiting.

Theory of operation
-------------------
Every cage of this process is in these tables, keyed by the host file's identity (``st_dev``,
``st_ino``): they decide conflicts *between cages* (with POSIX per-process semantics, deadlock
detection and the holder's pid for ``F_GETLK``). Other processes — another microvisor on the same
root, a host program — are excluded by host locks that ``rawposix/host_locks.py`` keeps equal to
the *union* of these tables: per byte the strongest lock any cage holds (:meth:`RecordTable.union`,
:meth:`FlockTable.level`), changed by the smallest host edits (:func:`host_changes`), gaining
locks before giving any up so a refused gain can be rolled back. The two Linux lock families are
independent of each other and are kept in two tables:

- :class:`FlockTable` — ``flock(2)``: a whole-file shared or exclusive lock owned by an *open file
  description* (so ``dup`` and ``fork`` share it). Converting a held lock first drops it (Linux
  does the same: a conversion is not atomic);
- :class:`RecordTable` — ``fcntl(2)`` byte-range locks. A POSIX record lock is owned by a process
  (a cage), an OFD lock by an open file description; both kinds conflict with each other. Ranges
  are half-open ``[start, end)`` with :data:`OFFSET_MAX` meaning "to the end of any file". Setting
  a lock over an owner's own locks replaces them in that range (splitting and merging, so an
  owner's locks on a file never overlap); unlocking removes the range.

The methods never wait: they answer "granted" or "conflict" and say which files changed, and the
runtime (``rawposix/locks.py``) parks waiters and wakes them when a file's locks change. Deadlock
detection (``EDEADLK``) looks at the waits-for graph of POSIX owners, as Linux does.
"""

from __future__ import annotations

from dataclasses import dataclass

FileKey = tuple[int, int]  # host (st_dev, st_ino)
OFFSET_MAX = (1 << 63) - 1

F_RDLCK = 0
F_WRLCK = 1
F_UNLCK = 2


# Lock strength per byte (or per file for flock), ordered so that a larger level is stronger.
UNLOCKED, READ, WRITE = 0, 1, 2
Segment = tuple[int, int, int]  # [start, end) at a level (READ/WRITE, or UNLOCKED in a change)


@dataclass(frozen=True, slots=True)
class Owner:
    """Who holds a lock: a process (``posix``: ``ident`` is the pid inside ``world``, which tells
    apart equal pids of two roots of one process) or a description (``ident`` is its identity)."""

    ident: int
    posix: bool
    world: int = 0

    @property
    def pid(self) -> int:
        """``l_pid`` as ``F_GETLK`` reports it: the pid, or -1 for an OFD lock."""
        return self.ident if self.posix else -1


# -- flock ----------------------------------------------------------------------------------------
class FlockTable:
    """Whole-file locks owned by open file descriptions (any hashable identity)."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: dict[FileKey, dict[int, bool]] = {}  # key -> {owner: exclusive}

    def holders(self, key: FileKey) -> dict[int, bool]:
        return dict(self._held.get(key, {}))

    def conflicts(self, key: FileKey, owner: int, exclusive: bool) -> bool:
        for other, other_exclusive in self._held.get(key, {}).items():
            if other != owner and (exclusive or other_exclusive):
                return True
        return False

    def try_lock(self, key: FileKey, owner: int, exclusive: bool) -> tuple[bool, bool]:
        """Take (or convert to) the lock if no other owner conflicts.

        Returns ``(granted, changed)``; ``changed`` says the file's locks changed (a conversion
        that must wait has already dropped the old lock, which waiters should see).
        """
        held = self._held.get(key)
        current = held.get(owner) if held else None
        if current is not None and current == exclusive:
            return True, False
        if self.conflicts(key, owner, exclusive):
            if current is not None:
                self.unlock(key, owner)
                return False, True
            return False, False
        self._held.setdefault(key, {})[owner] = exclusive
        return True, current is not None and current and not exclusive

    def level(self, key: FileKey) -> int:
        """The union of the file's flock locks: WRITE if one is exclusive, READ if any, else 0."""
        held = self._held.get(key)
        if not held:
            return UNLOCKED
        return WRITE if any(held.values()) else READ

    def unlock(self, key: FileKey, owner: int) -> bool:
        """Drop ``owner``'s lock; returns whether it had one."""
        held = self._held.get(key)
        if not held or owner not in held:
            return False
        del held[owner]
        if not held:
            del self._held[key]
        return True


# -- record locks ---------------------------------------------------------------------------------
@dataclass(slots=True)
class RecordLock:
    owner: Owner
    start: int
    end: int  # exclusive; OFFSET_MAX: to the end of any file
    write: bool

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


class RecordTable:
    """Byte-range locks of POSIX owners (cages) and OFD owners (descriptions)."""

    __slots__ = ("_locks", "_waiting")

    def __init__(self) -> None:
        self._locks: dict[FileKey, list[RecordLock]] = {}
        self._waiting: dict[Owner, Owner] = {}  # POSIX waiter -> the owner it waits for

    def locks(self, key: FileKey) -> list[RecordLock]:
        return sorted(self._locks.get(key, []), key=lambda lk: (lk.start, lk.owner.ident))

    def conflict(
        self, key: FileKey, owner: Owner, start: int, end: int, write: bool
    ) -> RecordLock | None:
        """The first lock of another owner that a lock ``[start, end)`` would conflict with."""
        for lock in self.locks(key):
            if lock.owner != owner and lock.overlaps(start, end) and (write or lock.write):
                return lock
        return None

    def set(self, key: FileKey, owner: Owner, start: int, end: int, kind: int) -> bool:
        """``F_SETLK``: take, change or (``F_UNLCK``) drop ``[start, end)``; False on conflict."""
        if kind != F_UNLCK and self.conflict(key, owner, start, end, kind == F_WRLCK):
            return False
        kept: list[RecordLock] = []
        for lock in self._locks.get(key, []):
            if lock.owner != owner or not lock.overlaps(start, end):
                kept.append(lock)
                continue
            if lock.start < start:
                kept.append(RecordLock(owner, lock.start, start, lock.write))
            if lock.end > end:
                kept.append(RecordLock(owner, end, lock.end, lock.write))
        if kind != F_UNLCK:
            kept.append(RecordLock(owner, start, end, kind == F_WRLCK))
            kept = _merge(kept, owner)
        if kept:
            self._locks[key] = kept
        else:
            self._locks.pop(key, None)
        return True

    def owner_locks(self, key: FileKey, owner: Owner) -> list[RecordLock]:
        """A copy of ``owner``'s locks on the file (to :meth:`restore` after a refused change)."""
        return [
            RecordLock(lk.owner, lk.start, lk.end, lk.write)
            for lk in self._locks.get(key, [])
            if lk.owner == owner
        ]

    def restore(self, key: FileKey, owner: Owner, saved: list[RecordLock]) -> None:
        """Put back ``owner``'s locks on the file as :meth:`owner_locks` saw them."""
        kept = [lk for lk in self._locks.get(key, []) if lk.owner != owner] + saved
        if kept:
            self._locks[key] = kept
        else:
            self._locks.pop(key, None)

    def union(self, key: FileKey) -> list[Segment]:
        """Per byte the strongest lock any owner holds on the file: sorted, disjoint segments,
        adjacent ones of one level merged, unlocked bytes left out."""
        return _union([(lk.start, lk.end, WRITE if lk.write else READ)
                       for lk in self._locks.get(key, [])])

    def release(self, owner: Owner, key: FileKey | None = None) -> list[FileKey]:
        """Drop every lock of ``owner`` (on ``key`` only, if given); returns the files changed."""
        changed = []
        for k in [key] if key is not None else list(self._locks):
            locks = self._locks.get(k)
            if not locks:
                continue
            kept = [lock for lock in locks if lock.owner != owner]
            if len(kept) != len(locks):
                changed.append(k)
                if kept:
                    self._locks[k] = kept
                else:
                    del self._locks[k]
        return changed

    # -- deadlock detection (POSIX owners only, as Linux) --------------------------------------
    def would_deadlock(self, waiter: Owner, blocker: Owner) -> bool:
        """Whether ``waiter`` waiting for ``blocker`` closes a cycle of POSIX waiters."""
        if not (waiter.posix and blocker.posix):
            return False
        seen = set()
        current: Owner | None = blocker
        while current is not None and current not in seen:
            if current == waiter:
                return True
            seen.add(current)
            current = self._waiting.get(current)
        return False

    def start_wait(self, waiter: Owner, blocker: Owner) -> None:
        if waiter.posix and blocker.posix:
            self._waiting[waiter] = blocker

    def end_wait(self, waiter: Owner) -> None:
        self._waiting.pop(waiter, None)


def _merge(locks: list[RecordLock], owner: Owner) -> list[RecordLock]:
    """Coalesce ``owner``'s adjacent or overlapping locks of the same type."""
    mine = sorted((lk for lk in locks if lk.owner == owner), key=lambda lk: lk.start)
    others = [lk for lk in locks if lk.owner != owner]
    merged: list[RecordLock] = []
    for lock in mine:
        last = merged[-1] if merged else None
        if last is not None and last.write == lock.write and lock.start <= last.end:
            last.end = max(last.end, lock.end)
        else:
            merged.append(RecordLock(owner, lock.start, lock.end, lock.write))
    return others + merged


def _union(pieces: list[Segment]) -> list[Segment]:
    """Sweep over the pieces' ends (``O(n log n)``: a cage may hold many locks on one file)."""
    events: dict[int, list[int]] = {}  # position -> [change in readers, change in writers]
    for start, end, level in pieces:
        slot = 0 if level == READ else 1
        events.setdefault(start, [0, 0])[slot] += 1
        events.setdefault(end, [0, 0])[slot] -= 1
    out: list[Segment] = []
    readers = writers = 0
    level, since = UNLOCKED, 0
    for pos in sorted(events):
        readers += events[pos][0]
        writers += events[pos][1]
        now = WRITE if writers else READ if readers else UNLOCKED
        if now != level:
            if level != UNLOCKED:
                out.append((since, pos, level))
            level, since = now, pos
    return out


def host_changes(old: list[Segment], new: list[Segment]) -> tuple[list[Segment], list[Segment]]:
    """The edits turning the host's locks ``old`` into ``new`` (both as :meth:`RecordTable.union`
    gives them): ``(gains, losses)``, each ``(start, end, new level)``. Gains raise a range's
    level and may be refused by another process; losses lower it (to UNLOCKED included) and
    cannot be. Apply every gain first: undoing one is a loss, which always succeeds. Each edit
    covers bytes of one old level, so an edit is undone by setting that level again."""
    events: dict[int, list[int | None]] = {}  # position -> [old level from here, new level]
    for slot, segments in ((0, old), (1, new)):
        for _start, end, _level in segments:
            events.setdefault(end, [None, None])[slot] = UNLOCKED
        for start, _end, level in segments:  # a segment starting where another ends wins
            events.setdefault(start, [None, None])[slot] = level
    gains: list[Segment] = []
    losses: list[Segment] = []
    from_level = [UNLOCKED, UNLOCKED]  # the old level of the last gain, of the last loss
    was = now = UNLOCKED
    last = 0
    for pos in sorted(events):
        if was != now:
            which = 0 if now > was else 1
            edits = losses if which else gains
            if edits and edits[-1][1] == last and edits[-1][2] == now and from_level[which] == was:
                edits[-1] = (edits[-1][0], pos, now)
            else:
                edits.append((last, pos, now))
                from_level[which] = was
        old_here, new_here = events[pos]
        was = was if old_here is None else old_here
        now = now if new_here is None else new_here
        last = pos
    return gains, losses


def byte_range(start: int, length: int) -> tuple[int, int] | None:
    """``[start, end)`` of a ``struct flock`` range already made absolute; None if invalid.

    ``length`` 0 means "to the end of any file"; a negative length covers the bytes before
    ``start`` (POSIX 2008).
    """
    if length > 0:
        end = start + length
        if end - 1 > OFFSET_MAX:
            return None
    elif length == 0:
        end = OFFSET_MAX
    else:
        start, end = start + length, start
    if start < 0:
        return None
    return start, end
