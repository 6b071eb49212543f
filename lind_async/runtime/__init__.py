"""The process layer: cages (one program's process state and the task running it), the world of
one microvisor (ids, the process table, wait queues, ``SIGCHLD``, host stdio), threads, fork,
vfork, signal delivery, resource limits, and the guest's ``lind.syscall`` entry.

It knows cages; the wasm binding beneath it (``lind_async.wasm``: engine, instances, fibers, the
epoch ticker) knows wasmtime but no cages, and RawPOSIX beside it (``lind_async.rawposix``) sees a
cage only through its kernel interface (``rawposix/kernel.py``), which this layer implements.
"""
