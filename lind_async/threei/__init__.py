"""3i: the per-cage programmable routing of system calls, in one package.

Theory of operation
-------------------
Every system call a cage makes enters 3i with its number and six argument slots. The calling
cage's own routing table (:mod:`.tables`) maps numbers to routes; a call with no route goes to
RawPOSIX's table. A route names a *grate* — a Python object (:mod:`.python_grates`) or a cage whose
wasm handlers serve other cages' calls (:mod:`.wasm_grates`, a pool of worker instances) — and a
handler in it. A grate handles the call, or forwards it (``make_threei_call``) down its own table,
so grates stack; each hop records whose memory each argument names (*owners*), and
:mod:`.calls` checks every cross-cage access against :mod:`.authority`, the one module where
authority decisions live (who may name, route, copy into or signal whom).

Modules:

- :mod:`.tables` — routing tables (pure state: add, copy on fork, register, deregister);
- :mod:`.authority` — the authority rules and the in-flight call accounting they read;
- :mod:`.calls` — a hop: ``threei_call`` from a grate, composite memory views, deferred effects;
- :mod:`.guest_import` — the ``lind.threei_call`` import a C grate calls;
- :mod:`.python_grates` — the ``Grate`` base class Python grates subclass (``lind_async.Grate``);
- :mod:`.wasm_grates` — C grates: their worker instances and the hop into their handlers;
- :mod:`.ops` — 3i's own operations as system calls (1001-1003), interposable like any call.
"""
