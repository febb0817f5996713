"""What can be wrong with an index on disk; every message says what to do."""

from core.errors import LookalikeError


class CatalogIndexError(LookalikeError):
    """Base class for index problems."""


class IndexNotFoundError(CatalogIndexError):
    pass


class IndexCorruptError(CatalogIndexError):
    pass


class IndexMismatchError(CatalogIndexError):
    pass
