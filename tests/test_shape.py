"""The shape a reader can hold: no import circles, no function over 60 lines, no module over 450 lines
(outside tests/), and each folder's `__init__.py` saying in one line what it holds."""

import ast
from fnmatch import fnmatch

import pytest

from source_tree import PACKAGES, ROOT, cycles, import_graph, imported_names, project_modules

LONGEST_FUNCTION = 60
LONGEST_MODULE = 450


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    assert len(graph) > 60
    found = cycles(graph)
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(group) for group in found)


@pytest.mark.parametrize(
    "modules, circles",
    [
        ({"a": "import b", "b": "def f():\n    import a"}, [["a", "b"]]),  # inside a function counts
        (
            {"a": "from b import x", "b": "from c import y", "c": "if TYPE_CHECKING:\n    from a import z"},
            [["a", "b", "c"]],
        ),  # around a loop, for types only
        ({"a": "import b", "b": "import c", "c": "import os"}, []),
    ],
)
def test_the_check_finds_circles_however_they_are_written(modules, circles):
    graph = {
        name: {n for n in imported_names(source, name) if n in modules and n != name}
        for name, source in modules.items()
    }
    assert cycles(graph) == circles


def test_relative_imports_are_read_against_their_package():
    assert "index.errors" in imported_names("from ..errors import IndexCorruptError", "index.store.versions")
    assert "index.store.manifest" in imported_names("from .manifest import Manifest", "index.store.versions")
    assert "index.builder.hub" in imported_names("from index.builder import hub", "index.__main__")


def test_functions_and_modules_are_short_enough_to_hold():
    long = []
    for path, module in project_modules():
        source = path.read_text(encoding="utf-8")
        lines = len(source.splitlines())
        if lines > LONGEST_MODULE:
            long.append(f"{module}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > LONGEST_FUNCTION:
                    long.append(f"{module}.{node.name} (line {node.lineno}): {length} lines")
    assert not long, "\n".join(long)


def test_each_folder_says_in_one_line_what_it_holds():
    packages = sorted(p for package in PACKAGES for p in (ROOT / package).rglob("__init__.py"))
    assert len(packages) >= 10
    for path in packages:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        doc = ast.get_docstring(tree)
        assert doc and "\n" not in doc, f"{path.relative_to(ROOT)} needs a one-line docstring"


def test_pytest_collects_every_folder_of_tests(pytestconfig):
    # pytest skips folders named like build outputs (build, dist, venv...): a folder of tests so named would
    # silently never run. (This is why index/'s folder for making an index is builder/, not build/.)
    patterns = pytestconfig.getini("norecursedirs")
    folders = [p for p in (ROOT / "tests").rglob("*") if p.is_dir() and p.name != "__pycache__"]
    assert len(folders) >= 10
    skipped = [str(f.relative_to(ROOT)) for f in folders if any(fnmatch(f.name, pattern) for pattern in patterns)]
    assert not skipped, f"pytest's norecursedirs ({patterns}) skips {skipped}"
