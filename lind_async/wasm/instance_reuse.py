"""Kept instances: a dead cage's Store and instance, with its memory, made the next fork child's.

Theory of operation
-------------------
A fork child used to get a new Store and a new instance (wasmtime's instantiation, ~40 us with
the kept ``InstancePre``) and to delete them when it exited (~10 us more), while in a fork loop
the previous child, of the same module, has just exited. When a cage ends cleanly
(``runtime/cage.py``: ``Cage._finish``, after its address space was released), its main
instance is **kept** here instead of closed if all of this holds:

- the engine says the module's instance state lies in its exported mutable globals
  (``LindEngine.resettable``: ``instructions.state_in_exports`` decoded every body: no table
  can change, no memory of its own, every mutable global exported, segments dropped only by
  the start function);
- no call of it runs, it serves no grate, and its Store is the only one over its memory (no
  thread instance left);
- nothing but the instance holds the memory's handle (its reference count: the same "last user
  is gone" that lets a memory become a spare, ``instance_memory.py``).

Keeping it scrubs it first: its memory gets fresh anonymous zero pages over all of
``[0, size)`` (one ``mmap``, as a spare memory does: the dead cage's pages and its snapshot's
mapping go), and the Python side forgets the cage. A fork child of the
same module, imports (and their generation) and memory type and size then takes it
(:func:`take`): its memory is mapped copy-on-write from the parent's snapshot like a spare's
(``runtime/fork.py``), and *every* exported mutable global is set from the parent's, so the
instance's whole state is the parent's. Its start function does not run again (a fresh child's
would run it over the parent's copy: wasm-ld's ``__wasm_init_memory`` finds the memory
initialised and only drops the passive segments, which this instance's own start did). Nothing
of the dead cage stays readable: its memory is zeros then the parent's, its globals the
parent's, its tables what every instance's are.

At most :data:`KEPT` per engine (the oldest is closed when another is kept); a World's go when
it closes (:func:`drop`). A child that finds none is instantiated as before.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING

from . import capi, instance_memory

if TYPE_CHECKING:
    import wasmtime

    from .engine import LindEngine
    from .instance import HostImports, LindInstance

KEPT = 4
"""Instances kept per engine (a fork loop needs one; a shell's or server's few children more)."""

_Key = tuple[object, object, int, tuple[int, int], int]  # module, imports, gen, limits, pages
_kept: dict[LindEngine, list[tuple[_Key, LindInstance]]] = {}
_lock = threading.Lock()


def _key(module: wasmtime.Module, imports: HostImports, limits: tuple[int, int],
         pages: int) -> _Key:
    return (module, imports, imports.generation, limits, pages)


def keep(inst: LindInstance) -> bool:
    """Keep ``inst`` for a later fork child if it may be (see the module docstring): scrubbed,
    and True; else False (the caller closes it)."""
    memory = inst.memory
    if (inst.closed or inst._live or inst.serving or memory.stores != 1 or not memory.reusable
            or not inst.engine.resettable(inst.module)):
        return False
    # Holders of the handle: ``inst.memory``, the local ``memory`` and getrefcount's argument.
    if sys.getrefcount(memory) > 3:
        return False
    inst.park(None)  # forget the cage (its wasm state is the next one's to set)
    inst.data = inst.preempt_hook = inst.signal_frame = None
    if not instance_memory.zero(memory.ptr):
        return False
    key = _key(inst.module, inst.imports, memory.limits, memory.pages())
    with _lock:
        kept = _kept.setdefault(inst.engine, [])
        kept.append((key, inst))
        old = kept.pop(0)[1] if len(kept) > KEPT else None
    if old is not None:
        old.close()
    return True


def take(engine: LindEngine, module: wasmtime.Module, imports: HostImports,
         limits: tuple[int, int], pages: int) -> LindInstance | None:
    """A kept instance of ``module`` with ``imports`` over a memory of ``limits`` and ``pages``
    (all zeros), if there is one, with a new time slice."""
    key = _key(module, imports, limits, pages)
    with _lock:
        kept = _kept.get(engine)
        if not kept:
            return None
        for i in range(len(kept) - 1, -1, -1):
            if kept[i][0] == key:
                inst = kept.pop(i)[1]
                break
        else:
            return None
        if not kept:
            del _kept[engine]
    capi.context_set_epoch_deadline(inst.ctx, 1)  # its next wasm starts a whole time slice
    return inst


def drop(engine: LindEngine, imports: HostImports | None = None) -> None:
    """Close the instances kept for ``engine`` (only those made with ``imports``, if given)."""
    with _lock:
        kept = _kept.pop(engine, [])
        gone = [inst for key, inst in kept if imports is None or key[1] is imports]
        rest = [(key, inst) for key, inst in kept if imports is not None and key[1] is not imports]
        if rest:
            _kept[engine] = rest
    for inst in gone:
        inst.close()


def kept_count(engine: LindEngine) -> int:
    """How many instances ``engine`` keeps now (for tests)."""
    return len(_kept.get(engine, ()))
