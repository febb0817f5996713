"""Building, storing and loading a catalog index."""

from .build import BuildError, BuildReport, build_index
from .catalog import Catalog, CatalogError, ColumnMap, open_catalog
from .store import (CatalogIndex, CatalogIndexError, IndexCorruptError, IndexMismatchError,
                    IndexNotFoundError, Match, Product)

__all__ = [
    "BuildError", "BuildReport", "build_index", "Catalog", "CatalogError", "ColumnMap", "open_catalog",
    "CatalogIndex", "CatalogIndexError", "IndexCorruptError", "IndexMismatchError", "IndexNotFoundError",
    "Match", "Product",
]
