"""The house has no circles: no module of ``nnaccel`` depends, through any chain of imports,
on itself (docs/design.md, "Layout"). Every import counts, at module level or inside a function:
a function-level import is a dependency all the same, only a later one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nnaccel

ROOT = Path(nnaccel.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """The nnaccel modules that ``path`` imports (a name imported from a package counts as its
    submodule when there is one, else as the package)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:
                    found.add(sub)
                elif target in modules:
                    found.add(target)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in ROOT.rglob("*.py")}
    modules = set(paths)
    return {name: _imports(path, name, modules) for name, path in paths.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _package_parents(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's ``__init__`` may import its own submodules (to re-export them); that edge
    and the submodule's import of a sibling through the package are not a circle of the
    house, so edges from a package to its own children are dropped."""
    return {v: {w for w in ws if not w.startswith(v + ".")} for v, ws in graph.items()}


def test_the_import_graph_has_no_cycle() -> None:
    cycles = _cycles(_package_parents(import_graph()))
    assert cycles == [], f"import cycles inside nnaccel: {cycles}"


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_network_holds_value_types_only() -> None:
    graph = import_graph()
    formats = {m for m in graph if m.startswith(("nnaccel.netformat", "nnaccel.onnxio",
                                                 "nnaccel.sparsity", "nnaccel.loader"))}
    assert graph["nnaccel.network"] & formats == set()
