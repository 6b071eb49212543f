"""The package layers, checked on the source.

    abi < core < memory < rawposix < threei (3i) < runtime (the process layer) < embed, cli
    abi < wasm (the wasmtime binding: no cages) < toolchain, threei, runtime
    3i's routing tables and authority rules are pure state beside core: RawPOSIX may read them.

Two checks. The lower layers are strict: every import they make — including ``TYPE_CHECKING``
ones and imports inside functions — goes only to what lies below them (RawPOSIX sees cages
through its kernel interface, ``rawposix/kernel.py``, and never names the process layer, not even
for a type). And between all packages, the imports that run (everything but ``TYPE_CHECKING``
blocks) form no circle: a layer above may name a type of a layer below only for annotations.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
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


def _nodes(tree: ast.AST, *, with_type_checking: bool) -> Iterator[ast.AST]:
    """Every node of ``tree``; without ``if TYPE_CHECKING:`` bodies unless asked for."""
    for child in ast.iter_child_nodes(tree):
        test = getattr(child, "test", None) if isinstance(child, ast.If) else None
        guarded = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        if guarded and not with_type_checking:
            assert isinstance(child, ast.If)
            for node in child.orelse:
                yield node
                yield from _nodes(node, with_type_checking=False)
            continue
        yield child
        yield from _nodes(child, with_type_checking=with_type_checking)


def _imports(path: Path, *, with_type_checking: bool = True, modules: bool = True) -> set[str]:
    """The ``lind_async`` packages ``path`` imports from (absolute or relative); with
    ``modules``, 3i's pure modules are named as layers of their own."""
    here = path.relative_to(PACKAGE.parent).with_suffix("").parts
    found: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    for node in _nodes(tree, with_type_checking=with_type_checking):
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
                pure = modules and len(parts) > 2 and parts[1] == "threei" and (
                    parts[2] in _PURE_THREEI
                )
                found.add(".".join(parts[1:3]) if pure else parts[1])
    return found


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


def _package_graph() -> dict[str, set[str]]:
    """Package → the packages its running imports reach (``TYPE_CHECKING`` blocks left out)."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        package = parts[0].removesuffix(".py")
        reached = _imports(path, with_type_checking=False, modules=False) - {package}
        graph.setdefault(package, set()).update(reached)
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_no_import_circle_between_packages() -> None:
    graph = _package_graph()
    assert {"rawposix", "threei", "runtime", "wasm"} <= set(graph)
    assert _circles(graph) == []


def test_3i_runs_below_the_process_layer() -> None:
    graph = _package_graph()
    assert "runtime" not in graph["threei"]
    assert "runtime" not in graph["rawposix"]
    assert "threei" in graph["runtime"]


def test_the_checks_see_what_they_must() -> None:
    """The walk itself: a lazy import and a ``TYPE_CHECKING`` import both count for the strict
    check; the circle finder finds a circle."""
    assert "core" in _imports(PACKAGE / "rawposix" / "kernel.py")  # a TYPE_CHECKING import
    assert "core" not in _imports(PACKAGE / "rawposix" / "kernel.py", with_type_checking=False)
    assert "runtime" in _imports(PACKAGE / "cli.py")  # imports inside functions
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
