"""Arrows only go down: no module of colt_bridge or colt_tvm imports one that imports it back.

The modules are parsed, not imported. Every import counts, a lazy one inside a function too: it
hides a cycle from the import system, not from the reader.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from conftest import BRIDGE_DIR

PACKAGES = ("colt_bridge", "colt_tvm")


def package_modules(root: Path, packages) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under each package (a package is its __init__)."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def import_graph(root: Path, packages=PACKAGES) -> dict[str, set[str]]:
    """Module -> the modules of `packages` it imports. `from p import x` is an import of p.x when
    that is a module, else of p (its __init__)."""
    modules = package_modules(root, packages)

    def resolve(name: str) -> str | None:
        # `import a.b.c` where a.b.c is not a module of ours (a name, or a third-party module).
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        here = name if _is_package(path) else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base_parts = here.split(".")
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                if target.split(".")[0] not in packages:
                    continue
                resolved = resolve(target)
                if resolved is not None:
                    graph[name].add(resolved)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a -> ... -> a) per strongly connected component that has one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)

    cycles = []
    for component in components:
        start = min(component)
        # Breadth-first inside the component, back to the start: the shortest cycle through it.
        parents: dict[str, str] = {}
        frontier = [start]
        end = None
        while frontier and end is None:
            nxt = []
            for node in frontier:
                for succ in sorted(graph[node] & component):
                    if succ == start:
                        end = node
                        break
                    if succ not in parents:
                        parents[succ] = node
                        nxt.append(succ)
                if end is not None:
                    break
            frontier = nxt
        path = [end]
        while path[-1] != start:
            path.append(parents[path[-1]])
        cycles.append(list(reversed(path)) + [start])
    return cycles


def test_the_packages_have_no_import_cycle():
    graph = import_graph(Path(BRIDGE_DIR))
    assert "colt_bridge.measure" in graph and "colt_tvm.search" in graph
    # A measurer is reached through the measure package, which imports none of its users.
    assert "colt_bridge.measure" in graph["colt_bridge.task"]
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join("  " + " -> ".join(c) for c in cycles)


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_the_checker_finds_cycles(tmp_path):
    _write(
        tmp_path,
        {
            # The package's __init__ imports a submodule that takes a name from the __init__.
            "pkg/__init__.py": "from . import a\nVALUE = 1\n",
            "pkg/a.py": "from pkg import VALUE\n",
            # A subpackage's module that imports, lazily and relatively, one that imports it back.
            "pkg/sub/__init__.py": "",
            "pkg/sub/b.py": "from .c import C\n",
            "pkg/sub/c.py": "C = 1\ndef f():\n    from ..sub import b\n",
            # No cycle: d imports a module of the package, not the package.
            "pkg/d.py": "import os\nfrom pkg.sub.c import C\nfrom . import a\n",
        },
    )
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.d"] == {"pkg.sub.c", "pkg.a"}
    cycles = find_cycles(graph)
    assert sorted(cycles) == [["pkg", "pkg.a", "pkg"], ["pkg.sub.b", "pkg.sub.c", "pkg.sub.b"]]


def test_the_checker_passes_a_package_without_cycles(tmp_path):
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from .a import A\nfrom .b import B\n",
            "pkg/a.py": "from .base import Base\nclass A(Base): pass\n",
            "pkg/b.py": "from pkg.base import Base\nfrom . import base\nclass B(Base): pass\n",
            "pkg/base.py": "class Base: pass\n",
        },
    )
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg"] == {"pkg.a", "pkg.b"}
    assert find_cycles(graph) == []

