"""The memory package stays the only code that turns guest memory into host addresses, and sits
below RawPOSIX, the runtime and the grates (an AST check of the source tree)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "lind_async"
MEMORY = PACKAGE / "memory"

# wasm/instance_memory.py owns the wasmtime shared-memory handle: it reads the host base from
# wasmtime (sharedmemory_data) and is what GuestMemory is built over. capi.py declares the call.
BASE_OWNERS = {"wasm/instance_memory.py"}
DATA_OWNERS = {"wasm/instance_memory.py", "wasm/capi.py"}
LOWER = ("lind_async.runtime", "lind_async.rawposix", "lind_async.grates", "lind_async.grate",
         "lind_async.embed", "lind_async.cli")


def _sources() -> list[tuple[str, ast.Module]]:
    return [(path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(), str(path)))
            for path in sorted(PACKAGE.rglob("*.py"))]


def _violations() -> list[str]:
    found = []
    for rel, tree in _sources():
        if rel.startswith("memory/"):
            continue
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                private = node.attr == "_base" and "mem" in ast.unparse(node.value)
                if (node.attr == "base" or private) and rel not in BASE_OWNERS:
                    found.append(f"{where}: .{node.attr} (a memory's host base)")
                if node.attr in ("sharedmemory_data", "memory_data") and rel not in DATA_OWNERS:
                    found.append(f"{where}: .{node.attr} (wasmtime's host base)")
                if node.attr in ("from_buffer", "from_buffer_copy"):
                    found.append(f"{where}: .{node.attr} (a host address of a buffer)")
    return found


def test_no_host_address_arithmetic_on_guest_memory_outside_the_package() -> None:
    assert _violations() == [], "use GuestMemory.host_range(addr, n) (lind_async/memory/access.py)"


def test_the_check_sees_the_forbidden_patterns() -> None:
    tree = ast.parse("host = cage.mem.base + addr\nx = ctypes.c_char.from_buffer(view)\n")
    attrs = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
    assert "base" in attrs and "from_buffer" in attrs  # (the walk above flags both)


def _imports(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):  # every import, also inside functions and TYPE_CHECKING blocks
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_the_memory_package_imports_nothing_above_it() -> None:
    bad = [
        f"{path.name}: {name}"
        for path in sorted(MEMORY.glob("*.py"))
        for name in _imports(ast.parse(path.read_text()))
        if any(name == top or name.startswith(top + ".") for top in LOWER)
    ]
    assert bad == []
