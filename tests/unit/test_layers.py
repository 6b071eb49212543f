"""The package layers, checked on the source: every import, including ``TYPE_CHECKING`` ones and
imports inside functions, goes only to the packages a layer may use.

    abi  <  core  <  memory  <  rawposix  <  runtime (the process layer)  <  embed, cli
    abi  <  wasm (the wasmtime binding: no cages)  <  toolchain, runtime
    3i's routing tables and authority rules are pure state beside core: RawPOSIX may read them.

RawPOSIX sees cages through its kernel interface (``rawposix/kernel.py``) and never imports the
runtime; core is pure state and imports only the ABI; the wasm binding knows no cages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lind_async"

ALLOWED = {
    "abi": {"abi"},
    "core": {"abi", "core"},
    "memory": {"abi", "memory"},
    "rawposix": {"abi", "core", "memory", "rawposix", "threei.tables", "threei.authority"},
    "threei.tables": {"abi", "core", "threei.tables"},
    "threei.authority": {"abi", "core", "threei.tables", "threei.authority"},
    "wasm": {"abi", "wasm"},
    "toolchain": {"abi", "wasm", "toolchain"},
}


_PURE_THREEI = {"tables", "authority"}


def _imports(path: Path) -> set[str]:
    """The ``lind_async`` packages ``path`` imports from (absolute or relative)."""
    here = path.relative_to(PACKAGE.parent).with_suffix("").parts
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[: len(here) - node.level])
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            targets = [target]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for name in targets:
            parts = name.split(".")
            if parts[0] == "lind_async" and len(parts) > 1:
                # 3i's pure modules are a layer of their own: name them by module
                pure = len(parts) > 2 and parts[1] == "threei" and parts[2] in _PURE_THREEI
                found.add(".".join(parts[1:3]) if pure else parts[1])
    return found


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _modules(layer: str) -> list[Path]:
    single = PACKAGE / f"{layer.replace('.', '/')}.py"
    return [single] if single.exists() else sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_lies_below(layer: str) -> None:
    modules = _modules(layer)
    assert modules, f"no modules found for {layer}"
    wrong = {
        str(path.relative_to(PACKAGE)): sorted(_imports(path) - ALLOWED[layer])
        for path in modules
        if _imports(path) - ALLOWED[layer]
    }
    assert wrong == {}


def test_the_walk_sees_imports_inside_functions_and_type_checking() -> None:
    """The check itself: a lazy import and a ``TYPE_CHECKING`` import both count."""
    probe = PACKAGE / "rawposix" / "kernel.py"
    assert "core" in _imports(probe)  # a TYPE_CHECKING import
    assert "runtime" in _imports(PACKAGE / "cli.py")  # imports inside functions
