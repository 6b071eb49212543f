"""Cages on several worker processes (or Ray actors): ``lind_async.Pool``.

::

    async with lind_async.Pool(workers=4, root="sandbox") as pool:
        proc = await pool.create_cage_exec("app.c", stdin=lind_async.PIPE, stdout=lind_async.PIPE)
        out, _ = await proc.communicate(b"input")

Modules: ``client`` (the :class:`Pool`: workers, placement, failures), ``process`` (the
:class:`PoolProcess` it returns and its streams), ``wire`` (the frames), ``server`` (a worker's
side: cages on one microvisor), ``worker`` (the local worker process), ``local`` (the pool's
handle on one), ``ray_backend`` (Ray actors; imports ``ray`` only when used). Guide:
``docs/scaling.md``.
"""

from lind_async.pool.client import Pool, PoolModule
from lind_async.pool.process import PoolProcess, PoolStreamReader, PoolStreamWriter, WorkerLost

__all__ = [
    "Pool",
    "PoolModule",
    "PoolProcess",
    "PoolStreamReader",
    "PoolStreamWriter",
    "WorkerLost",
]
