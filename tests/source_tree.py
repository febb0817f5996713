"""The project's own modules and the imports between them, read from the source (nothing is imported)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from support import ROOT

PACKAGES = ("core", "models", "index", "search", "train", "web", "bench")


def project_modules(root: Path = ROOT) -> Iterator[tuple[Path, str]]:
    """Every module of the project outside tests/, as (path, dotted name); a package is its `__init__`."""
    yield root / "app.py", "app"
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            yield path, ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def imported_names(source: str, module: str, is_package: bool = False) -> frozenset[str]:
    """The dotted names `source` (the text of `module`) imports anywhere in it, a function's body and an
    `if TYPE_CHECKING:` block included, relative imports made absolute: for `from a import b`, both
    "a" and "a.b" (b may be a module or a name in a)."""
    here = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                base = f"{package}.{base}" if base else package
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return frozenset(found)


@cache
def source(path: Path) -> str:
    """A module's text, read once per test session."""
    return path.read_text(encoding="utf-8")


@cache
def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Each project module -> the project modules it imports (a package's `__init__` counts as a module)."""
    modules = {name: path for path, name in project_modules(root)}
    graph = {}
    for name, path in modules.items():
        names = imported_names(source(path), name, path.name == "__init__.py")
        graph[name] = {n for n in names if n in modules and n != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of `graph`: each strongly connected group of more than one module (Tarjan)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in order:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], order[nxt])
        if low[node] == order[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    return found
