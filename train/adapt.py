"""Learning a catalog's adaptation of its frozen encoder, from the catalog alone (`python -m train adapt`).

Each product's views in rooms (`index.views.rooms`) are embedded by the encoder, and a linear map of the
embeddings (`models.adaptation.Adaptation`) is fitted so that a view lands nearer its own catalog
photo than any other product's (InfoNCE over the whole catalog), the map kept near the identity.
The index is then written anew with its vectors mapped (`index.builder.adapted`); the engine maps queries alike.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from core.settings import SearchSettings
from index.builder.adapted import refuse_adapted, write_adapted
from index.catalog_index import CatalogIndex
from index.store.manifest import AdaptationInfo
from index.views.embedded import embed_views
from models.adaptation import Adaptation

log = logging.getLogger(__name__)

METHOD = "linear-infonce"


@dataclass(frozen=True)
class FitSettings:
    """How the map is fitted; chosen on the tune half of the dev scenes (docs/training.md)."""

    epochs: int = 30
    temperature: float = 0.05  # of the softmax over the catalog's products
    identity_weight: float = 0.01  # the pull of the map towards the identity (squared Frobenius distance)
    lr: float = 1e-3
    batch: int = 512
    held_share: float = 0.1  # views kept out of fitting, that `held_top1` is measured on
    seed: int = 0


@dataclass(frozen=True)
class FitReport:
    views: int
    held_top1_before: float  # held views whose nearest catalog photo is their own product's, frozen encoder
    held_top1_after: float  # the same, adapted
    seconds: float


def fit_adaptation(
    anchors: np.ndarray,
    views: np.ndarray,
    owners: np.ndarray,
    products: np.ndarray,
    settings: FitSettings = FitSettings(),
) -> tuple[Adaptation, FitReport]:
    """The map under which each of `views` (M, D) is nearest the catalog photo `anchors[owners[i]]`
    (anchors (R, D), one row per catalog photo), its product's other photos (`products`: (R,) a product
    number per row) counted with it rather than against it."""
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(settings.seed)
    order = torch.randperm(len(views), generator=generator)
    held = order[: int(len(views) * settings.held_share)]
    fitted = order[len(held) :]
    anchors_t, views_t = torch.as_tensor(anchors, dtype=torch.float32), torch.as_tensor(views, dtype=torch.float32)
    owners_t, products_t = torch.as_tensor(owners, dtype=torch.int64), torch.as_tensor(products, dtype=torch.int64)
    mean = anchors_t.mean(dim=0)
    identity = torch.eye(anchors.shape[1])
    matrix = torch.nn.Parameter(identity.clone())
    optimiser = torch.optim.Adam([matrix], lr=settings.lr)

    def logits(rows: torch.Tensor, centre: torch.Tensor = mean) -> torch.Tensor:
        """Each view of `rows` against every catalog photo, its product's other photos left out."""
        mapped = torch.nn.functional.normalize((views_t[rows] - centre) @ matrix, dim=1)
        catalog = torch.nn.functional.normalize((anchors_t - centre) @ matrix, dim=1)
        scores = mapped @ catalog.T / settings.temperature
        others = products_t[None, :] == products_t[owners_t[rows]][:, None]
        others[torch.arange(len(rows)), owners_t[rows]] = False
        return scores.masked_fill(others, float("-inf"))

    def top1(rows: torch.Tensor, centre: torch.Tensor = mean) -> float:
        with torch.no_grad():
            best = logits(rows, centre).argmax(dim=1)
        return float((products_t[best] == products_t[owners_t[rows]]).float().mean()) if len(rows) else float("nan")

    before = top1(held, torch.zeros_like(mean))  # the frozen encoder's own embeddings
    for _ in range(settings.epochs):
        for batch in fitted[torch.randperm(len(fitted), generator=generator)].split(settings.batch):
            loss = torch.nn.functional.cross_entropy(logits(batch), owners_t[batch])
            loss = loss + settings.identity_weight * ((matrix - identity) ** 2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    adaptation = Adaptation(mean.numpy().copy(), matrix.detach().numpy().copy())
    return adaptation, FitReport(
        len(fitted), round(before, 4), round(top1(held), 4), round(time.perf_counter() - start, 1)
    )


def adapt_index(
    index: CatalogIndex,
    encoder,
    *,
    per_photo: int = 4,
    settings: FitSettings = FitSettings(),
    padding: float = SearchSettings.crop_padding,
    out_dir: str | Path | None = None,
    progress: bool = True,
) -> tuple[Path, FitReport]:
    """Learn the adaptation of `index` (unadapted, built with `encoder`) and make the adapted index the
    live version of `out_dir` (default: the index's own directory)."""
    refuse_adapted(index)  # now, not after minutes of learning
    index.check_encoder(encoder)
    start = time.perf_counter()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    views, owners = embed_views(index, encoder, per_photo, padding, progress, settings.seed)
    product_of = {}
    products = np.array([product_of.setdefault(p.id, len(product_of)) for p in index.products], np.int64)
    anchors = index.vectors.sample(np.arange(len(index)))
    adaptation, report = fit_adaptation(anchors, views, owners, products, settings)
    log.info(
        "Held views with their own product nearest: %.3f frozen, %.3f adapted.",
        report.held_top1_before,
        report.held_top1_after,
    )
    figures = {
        "views": report.views,
        "per_photo": per_photo,
        "epochs": settings.epochs,
        "temperature": settings.temperature,
        "identity_weight": settings.identity_weight,
        "held_top1_before": report.held_top1_before,
        "held_top1_after": report.held_top1_after,
        "seconds": round(time.perf_counter() - start, 1),
    }
    info = AdaptationInfo(encoder.describe(), index.manifest.probe, METHOD, created, figures)
    return write_adapted(index, adaptation, info, out_dir), report
