"""The index directory: versions written beside the live one, made live atomically, checked at load.

Layout of an index directory:
    DIR/CURRENT             name of the live version and its manifest's SHA-256, replaced atomically
                            when a build finishes
    DIR/v-<utc time>-<id>/  manifest.json and what the build wrote: the product table (index.store.products),
                            the vectors (index.vectors), images/<row>.jpg
A build writes a new version beside the live one and only then flips CURRENT, so a build that
dies half way leaves the earlier index loadable. The manifest holds every other file's SHA-256,
checked at load: a damaged version is refused, never served. What the files hold is not this module's business.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from index.errors import CatalogIndexError, IndexCorruptError, IndexNotFoundError

from .manifest import Manifest, sha256

MANIFEST = "manifest.json"
STALE_AFTER_S = 24 * 3600  # a build still running after this long is taken for dead
THUMBNAILS = "images/"
# A version's thumbnails are checked before it is served up to this many; above, while it is served, so that
# a million of them (a minute of checking) do not hold its first search back. They change no search's answer.
THUMBNAILS_CHECKED_AT_LOAD = 20_000


def open_version(
    directory: str | Path, required: Callable[[Manifest], Sequence[str]]
) -> tuple[Path, Manifest, dict[str, str]]:
    """The live version of the index in `directory` and its manifest, every file checked against its
    checksum, among them the files `required` says such a manifest's version must hold; but the
    thumbnails of a version holding more than THUMBNAILS_CHECKED_AT_LOAD, which are returned (name ->
    checksum) for `verify` to check after the version is served."""
    version, digest = _pointer(directory)
    manifest = Manifest.read(version / MANIFEST, digest)
    later = {name: d for name, d in manifest.checksums.items() if name.startswith(THUMBNAILS)}
    if len(later) <= THUMBNAILS_CHECKED_AT_LOAD:
        later = {}
    _verify(version, {name: d for name, d in manifest.checksums.items() if name not in later}, required(manifest))
    return version, manifest, later


def verify(version: Path, checksums: dict[str, str]) -> None:
    """Check the files `checksums` names in `version`; IndexCorruptError, naming the first damaged one."""
    _verify(version, checksums, ())


def read_live_manifest(directory: str | Path) -> Manifest:
    """The manifest of the live version, without loading its vectors."""
    version, digest = _pointer(directory)
    return Manifest.read(version / MANIFEST, digest)


def live_version(directory: str | Path) -> Path:
    """The version directory CURRENT points to."""
    return _pointer(directory)[0]


def _pointer(directory: str | Path) -> tuple[Path, str]:
    """The live version's directory and its manifest's SHA-256, as CURRENT records them."""
    directory = Path(directory)
    pointer = directory / "CURRENT"
    if not pointer.is_file():
        raise IndexNotFoundError(
            f"No index at {directory}. Build one with `python -m index build --source SRC --out {directory}`."
        )
    try:
        fields = pointer.read_bytes().decode("ascii").split()
    except UnicodeDecodeError as exc:
        raise IndexCorruptError(f"{pointer} is damaged; rebuild the index.") from exc
    if len(fields) == 1 and fields[0].startswith("v-"):  # format 1 named the version alone
        raise IndexCorruptError(
            f"{directory} holds an index of an earlier format, without checksums; rebuild it "
            f"with `python -m index build`."
        )
    if len(fields) != 2:
        raise IndexCorruptError(f"{pointer} is damaged; rebuild the index.")
    name, digest = fields
    version = directory / name
    if version.parent != directory or not name.startswith("v-") or not version.is_dir():
        raise IndexCorruptError(f"{pointer} names a missing version {name!r}; rebuild the index.")
    return version, digest


def _verify(version: Path, checksums: dict[str, str], required: Sequence[str]) -> None:
    """Refuse a version whose files are not the ones its build wrote."""
    for name in required:
        if name not in checksums:
            raise IndexCorruptError(f"{version / 'manifest.json'} has no checksum of {name}; rebuild the index.")
    for name, digest in checksums.items():
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise IndexCorruptError(f"{version / 'manifest.json'} names a file outside the version; rebuild the index.")
        path = version / name
        try:
            actual = file_sha256(path)
        except OSError as exc:
            raise IndexCorruptError(f"{path} is missing or unreadable; rebuild the index.") from exc
        if actual != digest:
            raise IndexCorruptError(f"{path} is damaged: it is not the file its build wrote. Rebuild the index.")


class VersionWriter:
    """Writes a new version of the index directory into `folder`; `commit(manifest)` makes it live, atomically.

    Use as a context manager: leaving the block without `commit()` removes the partial version.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(self.directory)
        name = f"v-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S-%f')}-{uuid.uuid4().hex[:4]}"
        self.folder = self.directory / f".building-{os.getpid()}-{name}"
        self.final = self.directory / name
        self.folder.mkdir(parents=True)

    def __enter__(self) -> VersionWriter:
        return self

    def __exit__(self, *exc) -> None:
        if self.folder.exists():
            shutil.rmtree(self.folder, ignore_errors=True)

    def commit(self, manifest: Manifest) -> Path:
        """Checksum every file written into `folder`, write `manifest` with them, and make the version live."""
        checksums = {
            path.relative_to(self.folder).as_posix(): file_sha256(path)
            for path in sorted(self.folder.rglob("*"))
            if path.is_file()
        }
        text = replace(manifest, checksums=checksums).to_json().encode("utf-8")
        (self.folder / MANIFEST).write_bytes(text)
        _fsync_tree(self.folder)
        try:
            previous = live_version(self.directory)
        except CatalogIndexError:
            previous = None
        os.replace(self.folder, self.final)
        tmp = self.directory / f".CURRENT-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.write_text(f"{self.final.name}\n{sha256(text)}\n", encoding="ascii")
        _fsync_file(tmp)
        os.replace(tmp, self.directory / "CURRENT")
        # The version before stays, so that a running app's thumbnails stay valid until it reloads.
        for old in self.directory.glob("v-*"):
            if old.is_dir() and old not in (self.final, previous):
                shutil.rmtree(old, ignore_errors=True)
        return self.final


def _remove_leftovers(directory: Path) -> None:
    """Remove what killed builds left: partial versions and pointers whose process is gone."""
    for leftover in [*directory.glob(".building-*"), *directory.glob(".CURRENT-*")]:
        pid = leftover.name.split("-")[1]
        if _running(int(pid) if pid.isdigit() else 0) and time.time() - leftover.stat().st_mtime < STALE_AFTER_S:
            continue
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    return True


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def link_or_copy(source: Path, target: Path) -> None:
    """`target` as the file `source`: a hard link where the file system allows (a version's files are
    never written again, so versions may share them), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            _fsync_file(path)
