"""Embedding a catalog on a Ray cluster with Ray Data, for a build on one machine to merge.

The cluster reads the catalog's parquet files itself (the id and image columns alone), and its actors
(one a GPU where the cluster has them) decode each photo, make its thumbnail and border colour as a
build does (`index.builder.build`), embed it, and write (id, sha256, vector, border, thumbnail) into parquet
shards. The build then takes each photo from the shards by (product id, content digest): `Shards`, an
`index.builder.build.Embedded`. What the shards lack is embedded here, so a lost shard costs time, not the
result. Ray is an optional install (requirements-scale.txt), imported only here.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import time
import uuid
from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

import numpy as np

from core.boxes import centre_crop
from core.errors import LookalikeError
from core.settings import CatalogSettings
from index.catalog.catalog import Catalog
from index.catalog.fetch import is_url
from index.catalog.image_reader import decode, digest
from index.catalog.tables import StoredImage
from index.catalog.values import as_text
from index.store.products import DIGEST_BYTES

from .build import BuildReport, border_colour, build_index, save_thumbnail
from .embedded import Embedded

log = logging.getLogger(__name__)
CPUS_PER_ACTOR = 4  # torch threads of an actor on CPUs: past a few, another actor does more than more threads
PROBE_TOLERANCE = 1e-2  # the same weights on a GPU (TF32 convolutions) and here differ far less; other weights more
BLOCKS_PER_ACTOR = 4  # at least: an actor never waits for another's block, and a lost one costs a quarter of its work
SHARD_ROWS = 10_000  # photos a shard file holds at most: what a lost one costs to embed again here
GROUP_ROWS = 256  # rows of a shard's row group: the thumbnails the build reads at once
PACKAGES = ("core", "models", "index")  # the project's code, shipped to the nodes of a cluster Ray connects to


class RayError(LookalikeError):
    """Ray is missing, or the catalog cannot be embedded on it."""


def build_on_ray(
    catalog: Catalog, encoder, out_dir: str | Path, *, address: str, shards: str | None = None, **build_options
) -> BuildReport:
    """`index.builder.build.build_index` with the photos embedded on the Ray cluster at `address` ("local": one
    started here; "auto": the one this machine is part of; "ray://host:10001": through Ray Client) into
    shards under `shards` (default: ray-shards in the index directory; on a cluster of several machines,
    storage every node writes to and this one reads: a shared folder, s3://...). The run's own shards are
    deleted once the build is done."""
    run = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    folder = f"{(shards or str(Path(out_dir).resolve() / 'ray-shards')).rstrip('/')}/{run}"
    batch_size = build_options.get("batch_size", CatalogSettings.batch_size)
    share = build_options.get("photo_share", CatalogSettings.photo_share)
    embedded = embed_on_ray(catalog, encoder, folder, address, batch_size, photo_share=share)
    try:
        report = build_index(catalog, encoder, out_dir, embedded=embedded, **build_options)
    finally:
        embedded.remove()
    here = report.products - report.reused
    if here:
        log.warning(
            "Took %d photos from the Ray shards; embedded %d here, which the shards lacked (a lost shard, or "
            "--ray-shards not on storage every node writes to).",
            report.reused,
            here,
        )
    else:
        log.info("Took all %d photos from the Ray shards.", report.reused)
    return report


def embed_on_ray(
    catalog: Catalog,
    encoder,
    folder: str,
    address: str = "local",
    batch_size: int = CatalogSettings.batch_size,
    shard_rows: int = SHARD_ROWS,
    photo_share: float = CatalogSettings.photo_share,
) -> Shards:
    """Every photo of `catalog` held in its parquet files (or in local files) embedded by `encoder` (loaded
    by name on each actor; the middle `photo_share` of each photo's sides) on Ray, into parquet shards in
    `folder`; uses the Ray this process is connected to, if any, else connects to `address` (see
    `build_on_ray`) for the run."""
    source = _Source.of(catalog)
    ray = _ray()
    started = not ray.is_initialized()
    try:
        if started:
            _connect(ray, address)
        _embed_shards(ray, source, encoder, folder, batch_size, shard_rows, photo_share)
    except (ray.exceptions.RayError, ConnectionError) as exc:  # a worker's error comes back wrapped, with its trace
        raise RayError(f"Embedding on Ray ({address}) failed: {_last_line(exc)}") from exc
    finally:
        if started and ray.is_initialized():
            ray.shutdown()
    shards = Shards(folder)
    if not shards.keys:
        log.warning(
            "Found no embeddings in %s: every photo is embedded here. On a cluster of several machines, "
            "--ray-shards must be storage every node writes to and this machine reads.",
            folder,
        )
    elif shards.dim != encoder.dim:
        raise RayError(f"The shards in {folder} hold {shards.dim}-d vectors; the encoder makes {encoder.dim}-d ones.")
    return shards


def _connect(ray, address: str) -> None:
    if address == "local":
        ray.init(include_dashboard=False)
    else:  # the nodes have the dependencies installed; the project's code goes with the job
        root = Path(__file__).resolve().parents[2]
        ray.init(address=address, runtime_env={"py_modules": [str(root / p) for p in PACKAGES]})


def _embed_shards(
    ray, source: _Source, encoder, folder: str, batch_size: int, shard_rows: int, photo_share: float
) -> None:
    """The catalog's photos embedded by actors sized to the cluster (one a GPU, or a few CPU threads each)."""
    start = time.perf_counter()
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    threads = 1 if gpus else max(1, min(CPUS_PER_ACTOR, cpus - 1))
    actors = gpus or max(1, (cpus - 1) // threads)  # on CPUs, one left to read and write with
    dataset = source.dataset(ray, blocks=BLOCKS_PER_ACTOR * actors, batch_size=batch_size)
    dataset.map_batches(
        _Embedder,
        batch_size=batch_size,
        batch_format="pyarrow",
        concurrency=actors,
        num_gpus=1 if gpus else 0,
        num_cpus=1 if gpus else threads,
        fn_constructor_kwargs={
            "encoder": encoder.name,
            "device": "cuda" if gpus else "cpu",
            "threads": threads,
            "precision": encoder.precision,
            "runtime": encoder.runtime,
            "probe": np.asarray(encoder.probe()),
            "ids": source.ids,
            "columns": source.columns,
            "photo_share": photo_share,
        },
    ).write_parquet(folder, max_rows_per_file=shard_rows, row_group_size=min(GROUP_ROWS, shard_rows))
    plural = "s" * (actors > 1)
    log.info(
        "Embedded the catalog's photos on Ray (%d %s) in %.1f s.",
        actors,
        f"GPU actor{plural}" if gpus else f"CPU actor{plural} of {threads} thread{'s' * (threads > 1)}",
        time.perf_counter() - start,
    )


class Shards(Embedded):
    """The photos embedded on Ray, from the parquet shards in a folder (or s3://... and the like): vectors,
    ids, digests and borders read whole; thumbnails a row group at a time, as the build asks for them."""

    def __init__(self, folder: str):
        import pyarrow.fs as pafs
        import pyarrow.parquet as pq

        self.root: str  # the shards' folder, in `fs`
        self.fs, self.root = pafs.FileSystem.from_uri(folder) if "://" in folder else (pafs.LocalFileSystem(), folder)
        found = self.fs.get_file_info(pafs.FileSelector(self.root, allow_not_found=True))
        self.files = sorted(info.path for info in found if info.path.endswith(".parquet"))
        keys: dict[tuple[str, bytes], int] = {}
        vectors, borders, self.at, self.starts = [], [], [], []
        for i, path in enumerate(self.files):
            with self.fs.open_input_file(path) as f:
                parquet = pq.ParquetFile(f)
                table = parquet.read(columns=["id", "sha256", "vector", "border"])
                sizes = [parquet.metadata.row_group(g).num_rows for g in range(parquet.metadata.num_row_groups)]
            for product, sha in zip(table.column("id").to_pylist(), table.column("sha256").to_pylist()):
                keys[(product, sha)] = len(keys)
            vectors.append(_rows_of(table.column("vector"), np.float32))
            borders.append(_rows_of(table.column("border"), np.float64))
            self.at += [(i, row) for row in range(len(table))]
            self.starts.append([0, *accumulate(sizes)])
        super().__init__(keys, np.concatenate(borders) if borders else np.zeros((0, 3)))
        self._vectors = np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32)
        self._group = lru_cache(maxsize=8)(self._read_group)

    @property
    def dim(self) -> int:
        return self._vectors.shape[1]

    def vectors(self, keys: np.ndarray) -> np.ndarray:
        return self._vectors[keys]

    def thumbnail(self, key: int, path: Path) -> None:
        file, row = self.at[key]
        group = bisect_right(self.starts[file], row) - 1
        path.write_bytes(self._group(file, group)[row - self.starts[file][group]])

    def remove(self) -> None:
        """Delete the shards (they were made for one build)."""
        import pyarrow.fs as pafs

        if self.fs.get_file_info(self.root).type != pafs.FileType.NotFound:
            self.fs.delete_dir(self.root)

    def _read_group(self, file: int, group: int) -> list[bytes]:
        import pyarrow.parquet as pq

        with self.fs.open_input_file(self.files[file]) as f:
            return pq.ParquetFile(f).read_row_group(group, columns=["thumbnail"]).column(0).to_pylist()


class _Source:
    """What Ray reads of a catalog: its parquet files (the id and image columns, and the ids of the products
    the build takes, since filters and a cap leave rows out), or its photos' local files by product id."""

    def __init__(
        self,
        files: list[str] | None = None,
        columns: tuple[str, str] = ("id", "image"),
        ids: frozenset[str] | None = None,
        photos: list[dict] | None = None,
    ):
        self.files, self.columns, self.ids, self.photos = files, columns, ids, photos

    @classmethod
    def of(cls, catalog: Catalog) -> _Source:
        stored, ids, photos = set(), set(), []
        for item in catalog:
            if isinstance(item.image, StoredImage) and item.image.column == catalog.columns["image"]:
                stored.add(item.image.table.files.files)
                ids.add(item.id)
            elif isinstance(item.image, (str, Path)) and not is_url(item.image):
                photos.append({"id": item.id, "image": str(item.image)})
        if stored:
            id_column, image_column = catalog.columns["id"], catalog.columns["image"]
            if id_column is None:
                raise RayError("A catalog embedded on Ray needs an id column; name it with --id-column.")
            assert image_column is not None  # the photos stored are in it
            return cls(
                files=list(next(iter(stored))),
                columns=(id_column, image_column),
                ids=frozenset(ids),
            )
        if photos:
            return cls(photos=photos)
        raise RayError(
            "Ray embeds photos stored in the catalog's own parquet files, or in local files (on storage "
            "every node reads); this catalog's photos are neither (web links, or stored by id elsewhere)."
        )

    def dataset(self, ray, blocks: int, batch_size: int):
        if self.photos is not None:
            blocks = max(1, min(blocks, len(self.photos) // batch_size))  # a block holds a batch at least
            return ray.data.from_items(self.photos, override_num_blocks=blocks)
        assert self.files is not None  # a source holds its photos, or the parquet files that do (`of`)
        files, filesystem = self.files, None
        if "://" in files[0]:  # hf://datasets/... and other fsspec addresses
            import fsspec
            from pyarrow.fs import FSSpecHandler, PyFileSystem

            fs = fsspec.core.url_to_fs(files[0])[0]
            files, filesystem = [fsspec.core.url_to_fs(f)[1] for f in files], PyFileSystem(FSSpecHandler(fs))
        # Blocks by count, not by size (Ray's default): a few hundred MB of photos would be one block, one actor's.
        return ray.data.read_parquet(
            files,
            filesystem=filesystem,
            columns=list(dict.fromkeys(self.columns)),
            override_num_blocks=max(len(files), blocks),
        )


class _Embedder:
    """A Ray actor: batches of (id, image) rows -> shard rows; a photo that cannot be read is left out
    (the build reads it again, and reports it)."""

    def __init__(
        self,
        encoder: str,
        device: str,
        threads: int,
        precision: str,
        runtime: str,
        probe: np.ndarray,
        ids: frozenset[str] | None,
        columns: tuple[str, str],
        photo_share: float,
    ):
        import torch

        from models.encoder import load_encoder

        torch.set_num_threads(threads)
        self.encoder = load_encoder(encoder, device=device, precision=precision, runtime=runtime)
        found = self.encoder.probe()
        if found.shape != probe.shape or not np.allclose(found, probe, atol=PROBE_TOLERANCE):
            raise RayError(
                f"The encoder {encoder!r} on {socket.gethostname()} is not the one the build uses "
                f"(another embedding of the probe image): install the same model on every node."
            )
        self.ids, self.columns, self.photo_share = ids, columns, photo_share

    def __call__(self, batch):
        import pyarrow as pa

        ids, digests, images = [], [], []
        for product, value in zip(*(batch.column(c).to_pylist() for c in self.columns)):
            product = as_text(product)
            if self.ids is not None and product not in self.ids:
                continue
            found = digest(value)
            if found is None:
                continue
            image = decode(value)
            if isinstance(image, tuple):
                continue
            ids.append(product)
            digests.append(found)
            images.append(image)
        vectors = (
            self.encoder.embed_images([centre_crop(image, self.photo_share) for image in images])
            if images
            else np.zeros((0, self.encoder.dim), np.float32)
        )
        thumbnails = []
        for image in images:
            buffer = io.BytesIO()
            save_thumbnail(image, buffer)  # as the build saves its thumbnails
            thumbnails.append(buffer.getvalue())
        borders = np.array([border_colour(image) for image in images], np.float64).reshape(-1, 3)
        return pa.table(
            {
                "id": pa.array(ids, pa.string()),
                "sha256": pa.array(digests, pa.binary(DIGEST_BYTES)),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()), vectors.shape[1]),
                "border": pa.FixedSizeListArray.from_arrays(pa.array(borders.ravel(), pa.float64()), 3),
                "thumbnail": pa.array(thumbnails, pa.binary()),
            }
        )


def _rows_of(column, dtype) -> np.ndarray:
    """A column of fixed-size lists as an (N, size) array."""
    values = column.combine_chunks()
    return np.asarray(values.flatten(), dtype).reshape(len(values), values.type.list_size)


def _last_line(exc: Exception) -> str:
    """What went wrong, without the remote traceback Ray puts before it."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(exc).__name__


def _ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report sent home
    try:
        import ray
        import ray.data
        import ray.exceptions
    except ImportError as exc:
        raise RayError("Embedding on Ray needs Ray Data: pip install -r requirements-scale.txt") from exc
    return ray
