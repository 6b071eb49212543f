"""Refuse modules that were not built for the lind guest ABI, with a message saying why."""

from __future__ import annotations

import weakref

import wasmtime

from lind_async.abi.guest import FUNCTION_IMPORTS, REQUIRED_EXPORTS, SYSCALL_IMPORT
from lind_async.wasm.engine import ModuleError
from lind_async.wasm.instance import SYSCALL_PARAMS, module_spec

_HINT = "build it with `python -m lind_async cc`"
# Modules that passed: a module does not change, and reading its import list back through the C
# API (names, types) cost ~40 us at every spawn of the same module.
_passed: weakref.WeakSet[wasmtime.Module] = weakref.WeakSet()


def check_lind_abi(module: wasmtime.Module, name: str) -> None:
    """Raise :class:`ModuleError` unless ``module`` is a lind cage program."""
    if module in _passed:
        return
    try:
        spec = module_spec(module)
    except ValueError as exc:
        raise ModuleError(f"{name}: not a lind cage module: {exc}; {_HINT}") from None
    foreign = sorted(
        f"{imp.module}.{imp.name}"
        for imp in module.imports
        if isinstance(imp.type, wasmtime.FuncType)
        and (imp.module, imp.name) not in FUNCTION_IMPORTS
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (" …" if len(foreign) > 3 else "")
        raise ModuleError(f"{name}: built for a different ABI (imports {shown}); {_HINT}")
    if spec.memory is None:
        raise ModuleError(f"{name}: does not import a shared linear memory; {_HINT}")
    syscall_sig = spec.func_imports.get(SYSCALL_IMPORT)
    if syscall_sig is not None and len(syscall_sig[0]) != len(SYSCALL_PARAMS):
        raise ModuleError(f"{name}: lind.syscall has the wrong signature; {_HINT}")
    missing = [e for e in REQUIRED_EXPORTS if e not in spec.funcs and e not in spec.globals]
    if missing:
        raise ModuleError(f"{name}: missing export(s) {', '.join(missing)}; {_HINT}")
    _passed.add(module)
