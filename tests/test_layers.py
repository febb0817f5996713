"""Dependencies point one way: a module imports only packages of lower layers, and its own package.

core  <  models  <  index  <  search  <  train  <  web  <  app.py, bench/
"""

import pytest

from source_tree import import_graph, imported_names, project_modules, source

LAYERS = {"core": 0, "models": 1, "index": 2, "search": 3, "train": 4, "web": 5, "bench": 6, "app": 6}


def layer_of(module: str) -> int:
    """`module` is dotted, e.g. "search.engine"; a package's `__main__` is on its package's floor."""
    return LAYERS[module.split(".")[0]]


def imports(source: str, module: str) -> set[str]:
    """The top-level packages that `source` (the text of `module`) imports, anywhere in it."""
    return {name.split(".")[0] for name in imported_names(source, module)}


def violations(source: str, module: str) -> list[str]:
    own = module.split(".")[0]
    return [
        f"{module} (layer {layer_of(module)}) imports {package} (layer {LAYERS[package]})"
        for package in sorted(imports(source, module) & set(LAYERS))
        if package != own and LAYERS[package] >= layer_of(module)
    ]


def test_every_module_imports_only_lower_layers():
    modules = list(project_modules())
    assert len(modules) > 60  # the walk found the project, its folders' modules among them
    found = [v for path, module in modules for v in violations(source(path), module)]
    assert not found, "\n".join(found)


# Each library's objects stay behind one seam; torch and faiss thread counts are set in models.runtime.
CONFINED = {
    "faiss": {"index.vectors.faiss", "models.runtime"},
    "ultralytics": {"models.detector"},
    "transformers": {"models.encoder"},
    "onnxruntime": {"models.exported"},
    "pymilvus": {"index.vectors.milvus"},
}


def test_libraries_are_used_behind_their_seams():
    modules = list(project_modules())
    used = {library: {m for path, m in modules if library in imports(source(path), m)} for library in CONFINED}
    assert used == CONFINED


def test_gradio_is_the_page_s_alone():
    modules = list(project_modules())
    users = {m for path, m in modules if "gradio" in imports(source(path), m)}
    assert users and all(m == "app" or m.startswith("web.") for m in users), users


@pytest.mark.parametrize(
    "module, source, bad",
    [
        ("core.types", "from search.engine import Engine", True),
        ("index.store.versions", "def f():\n    import search.engine", True),  # a lazy import counts too
        ("models.encoder", "from index.store import versions", True),
        ("bench.quality", "import app", True),  # same layer, another package
        ("web.layout", "import app", True),
        ("app", "from web.layout import Page", False),
        (
            "index.builder.build",
            "from core.images import load_image\nfrom ..store.versions import VersionWriter",
            False,
        ),
        ("index.__main__", "from search.engine import load_engine", True),  # a command is on its package's floor
        ("train.__main__", "from search.engine import load_engine", False),
        ("search.engine", "from index.catalog_index import CatalogIndex\nimport numpy", False),
    ],
)
def test_the_check_tells_a_lower_layer_importing_a_higher_one(module, source, bad):
    assert bool(violations(source, module)) is bad


# Inside index/, its folders by floor: reading a catalog at the bottom; the index on disk and its vectors side
# by side above it (the manifest records a vector spec, a Milvus backend reads the product table); the loaded
# index above them; views of its photos in rooms above it; building and keeping one on top; the command line
# above all. errors.py is below them all.
ROOMS = {"catalog": 0, "store": 1, "vectors": 1, "catalog_index": 2, "views": 3, "builder": 4, "__main__": 5}


def room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "index" and len(parts) > 1 and parts[1] in ROOMS else None


def floor_violations(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{module} ({room_of(module)}) imports {other} ({room_of(other)})"
        for module, imported in graph.items()
        if room_of(module)
        for other in imported
        if room_of(other) and ROOMS[room_of(other)] > ROOMS[room_of(module)]
    ]


def test_index_folders_import_only_lower_floors():
    found = floor_violations(import_graph())
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "module, other, bad",
    [
        ("index.catalog.open", "index.store.products", True),
        ("index.store.products", "index.catalog_index", True),
        ("index.vectors.faiss", "index.builder.build", True),
        ("index.store.manifest", "index.vectors.backend", False),  # side by side
        ("index.builder.update", "index.catalog_index", False),
        ("index.views.embedded", "index.builder.hubbed", True),
        ("index.builder.hubbed", "index.views.embedded", False),
        ("index.catalog_index", "index.errors", False),
    ],
)
def test_the_floor_check_tells_a_folder_importing_a_higher_one(module, other, bad):
    assert bool(floor_violations({module: {other}})) is bad
