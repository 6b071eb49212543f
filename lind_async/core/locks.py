"""Advisory file locks (``flock`` and ``fcntl`` record locks) as pure state, no I/O, no waiting.

Theory of operation
-------------------
Every cage lives in this one process, so locks between cages need no host ``flock``/``fcntl``: a
table keyed by the host file's identity (``st_dev``, ``st_ino``) is the whole truth. The two
Linux lock families are independent of each other and are kept in two tables:

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


@dataclass(frozen=True, slots=True)
class Owner:
    """Who holds a lock: a process (``posix``: ``ident`` is the pid) or a description."""

    ident: int
    posix: bool

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
