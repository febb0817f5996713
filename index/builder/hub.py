"""An index on the Hugging Face Hub: pushed as a dataset repository, served from the local Hub cache.

`hf://datasets/OWNER/NAME@REVISION` names one. The repository holds an index directory as it is on
disk (`CURRENT` and the live version) plus a card, so a downloaded snapshot loads, and is checked,
like any index folder. The revision (a commit, best, or a branch or tag) pins what is served.
"""

from __future__ import annotations

import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.settings import CatalogSettings
from index.errors import IndexNotFoundError
from index.store.manifest import Manifest
from index.store.versions import live_version, read_live_manifest
from index.vectors.backends import backend_files, describe

SCHEME = "hf://datasets/"
REPO = re.compile(r"[\w.-]+/[\w.-]+")


@dataclass(frozen=True)
class HubIndex:
    repo: str  # OWNER/NAME, a dataset repository
    revision: str | None = None  # None: the main branch, as it is at download time

    def __str__(self) -> str:
        return f"{SCHEME}{self.repo}" + (f"@{self.revision}" if self.revision else "")


def hub_index(location: str) -> HubIndex | None:
    """The Hub index `location` names (`hf://datasets/OWNER/NAME[@REVISION]`), or None for a folder."""
    if not location.startswith(SCHEME):
        return None
    repo, _, revision = location[len(SCHEME) :].partition("@")
    if not REPO.fullmatch(repo) or location.endswith("@"):
        raise IndexNotFoundError(
            f"{location!r} is not a Hub index; write hf://datasets/OWNER/NAME or hf://datasets/OWNER/NAME@REVISION."
        )
    return HubIndex(repo, revision or None)


def download(index: HubIndex) -> Path:
    """The snapshot of `index` in the local Hub cache, downloaded unless it is there already; offline
    (HF_HUB_OFFLINE=1), only a snapshot already cached at that revision is used."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    try:
        return Path(snapshot_download(index.repo, repo_type="dataset", revision=index.revision))
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        raise IndexNotFoundError(
            f"The index {index} is not in the local Hub cache at revision {index.revision or 'main'} and the Hub "
            f"cannot be reached ({type(exc).__name__}). Download it once with network, or point "
            f"LOOKALIKE_INDEX_DIR at a folder."
        ) from exc
    except HfHubHTTPError as exc:
        raise IndexNotFoundError(f"Could not get the index {index} from the Hub: {exc}") from exc


def stage(directory: str | Path, out: str | Path, license: str) -> Path:
    """Write into `out` what `push` uploads: `CURRENT`, the live version of the index in `directory`,
    and a card (README.md) saying what it is, how it was built and under which license."""
    directory, out = Path(directory), Path(out)
    manifest = read_live_manifest(directory)
    version = live_version(directory)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(version, out / version.name)
    shutil.copy2(directory / "CURRENT", out / "CURRENT")
    (out / "README.md").write_text(card(manifest, license), encoding="utf-8")
    return out


def push(directory: str | Path, repo: str, license: str, *, private: bool = False) -> str:
    """Upload the live version of the index in `directory` to the dataset repository `repo` (made when
    missing), replacing the versions there; the commit's id, to pin the index with."""
    from huggingface_hub import HfApi

    api = HfApi()
    with tempfile.TemporaryDirectory() as tmp:
        staged = stage(directory, Path(tmp) / "index", license)
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo,
            repo_type="dataset",
            folder_path=staged,
            commit_message=f"Lookalike index {live_version(directory).name}",
            delete_patterns=["v-*/**", "CURRENT"],
        )  # earlier versions go
    return commit.oid


def card(manifest: Manifest, license: str) -> str:
    source = manifest.source
    built_from = source.describe() + (f" (revision {source.revision})" if source.revision else "")
    reading = [
        f"configuration {source.config}" if source.config else "",
        f"rows where {source.kept}" if source.kept else "",
    ]
    reading_text = "; ".join(r for r in reading if r)
    return f"""---
license: {license}
pretty_name: Lookalike index of {source.title}
tags:
- lookalike
- faiss
- image-retrieval
---

# Lookalike index of {source.title}

A catalog index for [Lookalike](https://github.com/lookalike/lookalike), the photo-to-product search
app: {manifest.products:,} product photos of {built_from}{f" ({reading_text})" if reading_text else ""},
embedded with `{manifest.encoder.name}` ({manifest.encoder.dim}-d), built {manifest.created}, index
format {manifest.format}.

Catalog: {source.credit or "see the source dataset's card for its license and attribution"}.

## Use

```bash
LOOKALIKE_INDEX_DIR=hf://datasets/OWNER/NAME@COMMIT python app.py
```

Pin the commit: the app checks every file against the checksums in the version's `manifest.json`,
and the encoder against the probe embedding stored there, so a damaged or mismatched index is refused.

## Contents

`CURRENT` names the live version `v-*/`: {", ".join(f"`{name}`" for name in backend_files(manifest.vectors))}
({describe(manifest.vectors)}), `products.parquet` (one product per row: id, name, category, price,
link, text attributes), `kinds.json` (each product's kind), `images/<row>.jpg` (thumbnails) and
`manifest.json`. Nothing is pickled.

## How it was built

```bash
{build_command(manifest)}
python -m index push --repo OWNER/NAME --index ./index
```

With: {", ".join(f"{k} {v}" for k, v in manifest.versions.items())}.
"""


def build_command(manifest: Manifest) -> str:
    """The `python -m index build` command that builds this index again (its catalog at its revision)."""
    source = manifest.source
    parts = ["python -m index build", f"--source {source.id or source.path}", f"--encoder {manifest.encoder.name}"]
    if source.revision:
        parts.append(f"--revision {source.revision}")
    if source.config:
        parts.append(f"--config {source.config}")
    if source.split and source.split != "train":
        parts.append(f"--split {source.split}")
    if source.kept:
        parts.append(f"--keep {source.kept}")
    if source.limit:
        parts.append(f"--limit {source.limit}")
    if source.name:
        parts.append(f"--name {shlex.quote(source.name)}")
    if manifest.photo_share != 1:
        parts.append(f"--photo-share {manifest.photo_share:g}")
    close_up_share = manifest.close_ups.share if manifest.close_ups else 1.0
    if close_up_share != CatalogSettings.close_up_share:
        parts.append(f"--close-up-share {close_up_share:g}")
    parts.append("--out ./index")
    return " ".join(parts)
