"""The embedding API: run cages from an async Python program, like ``asyncio`` subprocesses.

::

    async with lind_async.Microvisor(root="sandbox") as mv:
        proc = await mv.create_cage_exec("app.c", "--flag", stdin=lind_async.PIPE,
                                         stdout=lind_async.PIPE)
        out, _ = await proc.communicate(b"input")

Modules: ``microvisor`` (the :class:`Microvisor`), ``process`` (:class:`CageProcess`),
``streams`` (its stdio streams), ``stdio`` (``PIPE``/``DEVNULL``/``STDOUT`` and host files),
``pipes`` (the host ends of in-process pipes), ``capture`` (``Microvisor.run``), ``roots``
(:class:`RootPool`, clean roots for a cage per request), ``modules`` (the module cache),
``bridge`` (asyncio, uvloop and trio), ``default`` (the module-level :func:`create_cage_exec`).
Limits are ``lind_async.runtime.limits.Limits``. Guide: ``docs/embedding.md``.
"""

from lind_async.embed.capture import CompletedCage, OutputTooLarge
from lind_async.embed.default import create_cage_exec, default_microvisor
from lind_async.embed.microvisor import Microvisor
from lind_async.embed.process import CageProcess
from lind_async.embed.roots import RootPool
from lind_async.embed.stdio import DEVNULL, PIPE, STDOUT, HostStdio
from lind_async.embed.streams import CageStreamReader, CageStreamWriter
from lind_async.runtime.limits import Limits

__all__ = [
    "DEVNULL",
    "PIPE",
    "STDOUT",
    "CageProcess",
    "CageStreamReader",
    "CageStreamWriter",
    "CompletedCage",
    "HostStdio",
    "Limits",
    "Microvisor",
    "OutputTooLarge",
    "RootPool",
    "create_cage_exec",
    "default_microvisor",
]
