"""Tuning the last block of a catalog's encoder on its own photos (`python -m train block`).

Each product's views in rooms (`train.views`) are embedded by a copy of the encoder whose image pass,
from its last block on (`models.tuning.tail_names`), learns to put a view nearer its own catalog photo
than any other product's: InfoNCE against the batch's catalog photos and each view's nearest others,
all embedded by the block as it is at that step, with a pull of the views' and the catalog photos'
embeddings towards the frozen ones. The catalog is then embedded anew with the tuned block and written
as a new version of the index, with the tuned weights beside it (`index.builder.adapted.write_tuned`);
the engine embeds queries alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from core.images import WHITE
from core.settings import SearchSettings
from index.builder.adapted import refuse_adapted, write_tuned
from index.catalog_index import CatalogIndex
from index.store.manifest import AdaptationInfo
from index.views.embedded import Thumbnails
from index.views.rooms import prepared_views, room_views
from models import tuning


@dataclass(frozen=True)
class BlockSettings:
    """How the block is tuned; chosen on the tune half of the dev scenes (docs/training.md)."""

    per_photo: int = 2  # views made of each catalog photo, each epoch
    epochs: int = 1
    batch: int = 256  # views a step
    lr: float = 1e-4
    temperature: float = 0.05  # of the softmax over the catalog's photos
    pull: float = 1.0  # weight of the views' and catalog photos' cosine distance from their frozen embeddings
    negatives: int = 2  # each view's nearest catalog photos, embedded anew each step as its hard negatives
    held_share: float = 0.1  # products whose views are kept out of tuning, that `held_top1` is measured on
    held_most: int = 500  # at most this many: their views are held in memory to be embedded twice
    seed: int = 0


@dataclass(frozen=True)
class BlockReport:
    views: int  # views tuned on
    weights: int  # weights tuned
    held_top1_before: float  # held views whose nearest catalog photo is of their own product, frozen encoder
    held_top1_after: float  # the same, tuned
    seconds: float


class _Tuner:
    """The copy of the encoder being tuned, and how it embeds with or without gradients."""

    def __init__(self, encoder, settings: BlockSettings):
        self.encoder, self.settings = encoder, settings
        self.copy = tuning.copy_of(encoder)  # its batch norms keep their statistics: the model is in eval mode
        self.copy.precision = "float32"  # tuned in float32, whatever the searches run at
        names = set(tuning.tail_names(self.copy.model))
        self.tail = {name: p for name, p in self.copy.model.named_parameters() if name in names}
        for name, parameter in self.copy.model.named_parameters():
            parameter.requires_grad_(name in names)

    def embed(self, images) -> torch.Tensor:
        """RGB images -> (N, D) unit vectors; with gradients through the tail where they are enabled."""
        return self.embed_prepared(self.encoder.prepare(images))

    def embed_prepared(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.copy.features(pixels).float(), dim=1)

    @torch.no_grad()
    def embed_all(self, photos: Thumbnails, progress: bool = False) -> torch.Tensor:
        step = 32
        parts = [
            self.embed([photos[i] for i in range(start, min(start + step, len(photos)))])
            for start in tqdm(range(0, len(photos), step), desc="Embedding the catalog", disable=not progress)
        ]
        return torch.cat(parts)

    def weights(self) -> tuning.BlockTuning:
        return tuning.BlockTuning({name: p.detach().float().cpu().numpy() for name, p in self.tail.items()})


def tune_block(
    index: CatalogIndex,
    encoder,
    *,
    settings: BlockSettings = BlockSettings(),
    padding: float = SearchSettings.crop_padding,
    out_dir: str | Path | None = None,
    progress: bool = True,
) -> tuple[Path, BlockReport]:
    """Tune the last block of `encoder` (the one `index`, unadapted, was built with) to the index's
    catalog, and make the index embedded with it the live version of `out_dir` (default: the index's own)."""
    refuse_adapted(index)  # now, not after minutes of tuning
    index.check_encoder(encoder)
    start, created = time.perf_counter(), datetime.now(UTC).isoformat(timespec="seconds")
    tuner = _Tuner(encoder, settings)
    product_of: dict[str, int] = {}
    products = torch.as_tensor([product_of.setdefault(p.id, len(product_of)) for p in index.products])
    frozen = torch.as_tensor(index.vectors.sample(np.arange(len(index))), dtype=torch.float32)
    rng = np.random.default_rng(settings.seed)
    kept_out = min(int(len(product_of) * settings.held_share), settings.held_most)
    held = set(rng.permutation(len(product_of))[:kept_out].tolist())
    fitted = np.array([row for row in range(len(index)) if int(products[row]) not in held], np.int64)
    seen = _tune(tuner, index, products, frozen, fitted, rng, padding, progress)
    vectors = tuner.embed_all(Thumbnails(index, share=index.manifest.photo_share), progress)
    held_rows = np.array([row for row in range(len(index)) if int(products[row]) in held], np.int64)
    before, after = _held_top1(index, encoder, tuner, held_rows, products, frozen, vectors, padding)
    seconds = round(time.perf_counter() - start, 1)
    report = BlockReport(seen, sum(p.numel() for p in tuner.tail.values()), before, after, seconds)
    figures = {
        "views": report.views,
        "weights": report.weights,
        "epochs": settings.epochs,
        "lr": settings.lr,
        "held_top1_before": before,
        "held_top1_after": after,
        "seconds": seconds,
    }
    info = AdaptationInfo(encoder.describe(), index.manifest.probe, tuning.METHOD, created, figures, tuning.FILE)
    return write_tuned(index, tuner.weights(), vectors.cpu().numpy(), info, out_dir), report


def _tune(tuner, index, products, frozen, fitted, rng, padding: float, progress: bool) -> int:
    """Tune `tuner`'s tail on views of the `fitted` rows of `index`; the number of views it saw."""
    settings, background = tuner.settings, index.manifest.background or WHITE
    photos = Thumbnails(index, share=index.manifest.photo_share)  # as the build embedded them
    optimiser = torch.optim.Adam(tuner.tail.values(), lr=settings.lr)
    bank, seen = frozen.clone(), 0  # each catalog photo as last embedded: where the hard negatives are found
    total = len(fitted) * settings.per_photo * settings.epochs
    with tqdm(total=total, desc="Tuning", unit="view", disable=not progress) as bar:
        for epoch in range(settings.epochs):
            shuffled, seed = Thumbnails(index, rng.permutation(fitted)), settings.seed + epoch
            batches = prepared_views(
                shuffled, settings.per_photo, background, padding, seed, settings.batch, tuner.encoder.prepare
            )
            for owners, pixels in batches:
                owners_t = torch.as_tensor(owners)
                embedded = tuner.embed_prepared(pixels)
                rows = torch.unique(owners_t)
                # Every candidate embedded as the block now is: against a stale bank of negatives, views and
                # their photos learnt to leave it together (a first run's catalog kept a cosine of 0.63 to its
                # frozen self).
                nearest = (embedded.detach() @ bank.T).topk(settings.negatives, dim=1).indices.flatten()
                negatives = torch.as_tensor(np.setdiff1d(nearest.unique().numpy(), rows.numpy()), dtype=torch.int64)
                catalog = tuner.embed([photos[int(row)] for row in rows])
                with torch.no_grad():
                    others = tuner.embed([photos[int(row)] for row in negatives]) if len(negatives) else catalog[:0]
                candidates = torch.cat([rows, negatives])
                loss = _loss(tuner, embedded, pixels, owners_t, candidates, torch.cat([catalog, others]), products)
                loss = loss + settings.pull * (1 - (catalog * frozen[rows]).sum(dim=1)).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                bank[rows], bank[negatives] = catalog.detach(), others
                seen += len(owners)
                bar.update(len(owners))
        bar.total = bar.n  # a view mostly hidden in its room is left out: the bar ends where the views did
    return seen


def _loss(tuner, embedded, pixels, owners, candidates, catalog, products) -> torch.Tensor:
    """InfoNCE of the views (`embedded`, made of `pixels`) against the catalog photos `candidates`
    (embedded as `catalog`), their `owners`' photos the positives and the same products' other photos no
    negatives; plus the views' pull towards what the frozen encoder makes of them."""
    logits = embedded @ catalog.T / tuner.settings.temperature
    same = products[candidates][None, :] == products[owners][:, None]
    positive = candidates[None, :] == owners[:, None]
    frozen = torch.as_tensor(tuner.encoder.embed_prepared(pixels)).to(embedded.device)
    drift = (1 - (embedded * frozen).sum(dim=1)).mean()
    targets = positive.int().argmax(dim=1)
    return F.cross_entropy(logits.masked_fill(same & ~positive, float("-inf")), targets) + tuner.settings.pull * drift


def _held_top1(index, encoder, tuner, rows, products, frozen, vectors, padding) -> tuple[float, float]:
    """The share of views of the held `rows` (their products' every photo) whose nearest catalog photo is
    of their own product, by the frozen encoder and by the tuned one."""
    if not len(rows):
        return float("nan"), float("nan")
    settings, background = tuner.settings, index.manifest.background or WHITE
    views = list(room_views(Thumbnails(index, rows), settings.per_photo, background, padding, settings.seed + 1))
    owners = products[torch.as_tensor([int(rows[i]) for _, i in views])]
    images = [view for view, _ in views]
    with torch.no_grad():
        tuned = tuner.embed(images)
    embedded = torch.as_tensor(encoder.embed_images(images))

    def top1(queries: torch.Tensor, catalog: torch.Tensor) -> float:
        return round(float((products[(queries @ catalog.T).argmax(dim=1)] == owners).float().mean()), 4)

    return top1(embedded, frozen), top1(tuned, vectors)
