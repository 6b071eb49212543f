"""Per-cage credentials: real, effective, saved and filesystem uid and gid, supplementary groups.

Theory of operation
-------------------
A top-level cage starts with the credentials of the user running the microvisor (often root
here). From there a cage changes its own credentials by Linux's rules (``setuid(2)``,
``setreuid(2)``, ``setresuid(2)``, ``setfsuid(2)``, ``setgroups(2)``): with an effective uid of
0 anything goes (Linux's ``CAP_SETUID``/``CAP_SETGID``, which a cage has exactly while its
effective uid is 0); otherwise only among the ids it already holds, so a cage that dropped its
privileges completely cannot regain them (``EPERM``). A fork inherits its creator's credentials
at the moment of the fork; ``execve`` keeps them (no set-user-id bits).

The credentials are bookkeeping: files are still checked by the host with the host user's
rights. They decide one thing besides what the id calls report: who may signal whom
(:func:`may_kill`, Linux's ``kill_ok_by_cred``), used by ``threei/authority.py`` rule 5.

Storage is lazy so that only the process table is needed: a cage without an entry has the
credentials of its nearest creator that has one (a fork copies by sharing). Before a cage's
credentials change, every live cage that resolves to it gets its own copy of the old ones, so a
fork never sees its creator's later changes.

Pure state: no I/O; tested directly (``tests/unit/test_creds.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from lind_async.abi.errno import EINVAL, EPERM, GuestError
from lind_async.core.proctable import ProcTable

NGROUPS_MAX = 65536
_UNCHANGED = 0xFFFFFFFF  # (uid_t)-1: "leave this id as it is"


@dataclass(frozen=True, slots=True)
class Creds:
    ruid: int
    euid: int
    suid: int
    fsuid: int
    rgid: int
    egid: int
    sgid: int
    fsgid: int
    groups: tuple[int, ...] = ()

    @classmethod
    def of_user(cls, uid: int, gid: int, groups: tuple[int, ...] = ()) -> Creds:
        return cls(uid, uid, uid, uid, gid, gid, gid, gid, groups)

    @property
    def privileged(self) -> bool:
        """``CAP_SETUID``/``CAP_SETGID``/``CAP_KILL``: an effective uid of 0."""
        return self.euid == 0

    # -- uids ----------
    def setuid(self, uid: int) -> Creds:
        uid = _required(uid)
        if self.privileged:
            return replace(self, ruid=uid, euid=uid, suid=uid, fsuid=uid)
        if uid in (self.ruid, self.suid):
            return replace(self, euid=uid, fsuid=uid)
        raise GuestError(EPERM)

    def setreuid(self, ruid: int, euid: int) -> Creds:
        r, e = _id(ruid), _id(euid)
        if not self.privileged and (
            (r is not None and r not in (self.ruid, self.euid))
            or (e is not None and e not in (self.ruid, self.euid, self.suid))
        ):
            raise GuestError(EPERM)
        new_r = self.ruid if r is None else r
        new_e = self.euid if e is None else e
        # The saved id follows the effective one when the real id is set or the effective id
        # is set to something other than the old real id.
        new_s = new_e if r is not None or (e is not None and e != self.ruid) else self.suid
        return replace(self, ruid=new_r, euid=new_e, suid=new_s, fsuid=new_e)

    def setresuid(self, ruid: int, euid: int, suid: int) -> Creds:
        ids = (_id(ruid), _id(euid), _id(suid))
        held = (self.ruid, self.euid, self.suid)
        if not self.privileged and any(i is not None and i not in held for i in ids):
            raise GuestError(EPERM)
        r, e, s = (old if new is None else new for new, old in zip(ids, held, strict=True))
        return replace(self, ruid=r, euid=e, suid=s, fsuid=e)

    def setfsuid(self, fsuid: int) -> Creds:
        """The new credentials (unchanged when not allowed: ``setfsuid`` never fails)."""
        uid = _id(fsuid)
        if uid is None:
            return self
        if self.privileged or uid in (self.ruid, self.euid, self.suid, self.fsuid):
            return replace(self, fsuid=uid)
        return self

    # -- gids ----------
    def setgid(self, gid: int) -> Creds:
        gid = _required(gid)
        if self.privileged:
            return replace(self, rgid=gid, egid=gid, sgid=gid, fsgid=gid)
        if gid in (self.rgid, self.sgid):
            return replace(self, egid=gid, fsgid=gid)
        raise GuestError(EPERM)

    def setregid(self, rgid: int, egid: int) -> Creds:
        r, e = _id(rgid), _id(egid)
        if not self.privileged and (
            (r is not None and r not in (self.rgid, self.egid))
            or (e is not None and e not in (self.rgid, self.egid, self.sgid))
        ):
            raise GuestError(EPERM)
        new_r = self.rgid if r is None else r
        new_e = self.egid if e is None else e
        new_s = new_e if r is not None or (e is not None and e != self.rgid) else self.sgid
        return replace(self, rgid=new_r, egid=new_e, sgid=new_s, fsgid=new_e)

    def setresgid(self, rgid: int, egid: int, sgid: int) -> Creds:
        ids = (_id(rgid), _id(egid), _id(sgid))
        held = (self.rgid, self.egid, self.sgid)
        if not self.privileged and any(i is not None and i not in held for i in ids):
            raise GuestError(EPERM)
        r, e, s = (old if new is None else new for new, old in zip(ids, held, strict=True))
        return replace(self, rgid=r, egid=e, sgid=s, fsgid=e)

    def setfsgid(self, fsgid: int) -> Creds:
        gid = _id(fsgid)
        if gid is None:
            return self
        if self.privileged or gid in (self.rgid, self.egid, self.sgid, self.fsgid):
            return replace(self, fsgid=gid)
        return self

    def setgroups(self, groups: tuple[int, ...]) -> Creds:
        if len(groups) > NGROUPS_MAX:
            raise GuestError(EINVAL)
        if not self.privileged:
            raise GuestError(EPERM)
        return replace(self, groups=tuple(g & _UNCHANGED for g in groups))


def _id(value: int) -> int | None:
    """A uid/gid argument (32 bits); None for -1 ("unchanged")."""
    value &= _UNCHANGED
    return None if value == _UNCHANGED else value


def _required(value: int) -> int:
    """An id where -1 is ``EINVAL`` (``setuid(-1)``)."""
    checked = _id(value)
    if checked is None:
        raise GuestError(EINVAL)
    return checked


def may_kill(sender: Creds, target: Creds) -> bool:
    """Linux's ``kill_ok_by_cred``: the sender's real or effective uid is the target's real or
    saved uid, or the sender is privileged (``CAP_KILL``)."""
    return sender.privileged or bool(
        {sender.ruid, sender.euid} & {target.ruid, target.suid}
    )


class CredTable:
    """The credentials of every cage of one process table (see the module docstring)."""

    __slots__ = ("_creds", "_procs", "initial")

    def __init__(self, procs: ProcTable, initial: Creds) -> None:
        self._procs = procs
        self.initial = initial  # a top-level cage's
        self._creds: dict[int, Creds] = {}

    def _owner(self, pid: int) -> int | None:
        """The cage whose entry ``pid`` resolves to (None: the initial credentials)."""
        if pid in self._creds:
            return pid
        if pid not in self._procs:
            return None
        for ancestor in self._procs.get(pid).lineage:
            if ancestor in self._creds:
                return ancestor
        return None

    def get(self, pid: int) -> Creds:
        owner = self._owner(pid)
        return self.initial if owner is None else self._creds[owner]

    def set(self, pid: int, creds: Creds) -> None:
        """``pid``'s credentials become ``creds``; cages that shared its old ones keep them."""
        self._creds[pid] = self.get(pid)
        self._freeze(pid)
        self._creds[pid] = creds
        for gone in [p for p in self._creds if p not in self._procs]:
            self._freeze(gone)  # reaped: the cages it created keep their copy
            del self._creds[gone]

    def _freeze(self, pid: int) -> None:
        """Every live cage that resolves to ``pid``'s entry gets its own copy of it."""
        creds = self._creds[pid]
        for other in self._procs.live():
            if other not in self._creds and self._owner(other) == pid:
                self._creds[other] = creds


def host_creds() -> Creds:
    """The credentials of the user running the microvisor: a top-level cage's."""
    uid, gid = os.getuid(), os.getgid()
    return Creds(uid, os.geteuid(), uid, os.geteuid(), gid, os.getegid(), gid, os.getegid(),
                 tuple(os.getgroups()))
