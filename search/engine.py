"""The one search call used by the app, the API, the CLI and the benchmarks, and the one way to load it."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
from PIL import Image, ImageOps

from core.images import ImageInput, load_image
from core.settings import Settings, SettingsError
from core.types import SELECTION, WHOLE_PHOTO, Detections, Filters, Match, ObjectResult, SearchResult, TextResult, Where
from index.ensure import ensure_index
from index.catalog_index import CatalogIndex
from index.text import TOKEN
from models.detector import Detector, load_detector
from models.encoder import Encoder
from models.runtime import set_threads

from .boxes import clip_boxes, crop, letterbox, mirror_boxes, nms, pad_boxes, photo_regions
from .fusion import fuse_rankings
from .grouping import DEPTH as GROUP_DEPTH
from .grouping import fuse_best, group_lookalikes
from .query import Query, QueryError, check_box, check_filters, split_price

WHITE = (255, 255, 255)
# The catalog agrees that a crop shows a kind as far as a product of that kind is near the top of
# the crop's nearest this many products in the whole catalog.
AGREEMENT_NEIGHBOURS = 10
# How many of each crop's nearest products of the catalog's own kinds are weighed to find its kinds.
OTHER_DEPTH = 20
# Words or popularity re-rank this many of an object's nearest products (and as many of those the words name).
RERANK_DEPTH = 100
# Text search fuses this many products of each ranking (keywords, and the text tower's where there is one).
TEXT_DEPTH = 100


@dataclass(frozen=True, eq=False)
class _Refinement:
    """What a query's words and filters change in every product list of its photo."""

    filters: Filters
    rows: np.ndarray | None  # the rows the filters keep; None: every row
    text_vector: np.ndarray | None  # (D,) the words by the encoder's text tower, where it has one
    relevance: np.ndarray | None  # (rows,) each product's keyword relevance to the words, where they match any
    named: np.ndarray | None  # the rows the words match

    @property
    def reranks(self) -> bool:
        return self.relevance is not None


class Engine:
    """The models and the index, run as `settings` say; `search` is safe to call from several threads.

    An object's score is what its acceptance is decided on: it is kept when the score reaches the
    confidence threshold `conf`. Without kinds it is the detector's confidence. With kinds
    (`settings.kinds`, from the catalog's categories) it is the stronger of two witnesses: the
    detector's confidence, and the catalog's agreement (`_agreement`: high when a product of its kind
    is among the crop's very nearest in the whole catalog), so the catalog can vouch for a detection
    the detector was unsure of (down to `settings.low_conf`). Each object is then searched
    among the products of its kind, and the detector looks only for the classes the catalog sells.
    The catalog's kinds no detector class covers are looked for in the photo's regions too
    (`settings.other_kinds`), scored by the catalog's agreement alone. The whole photo is one more
    object when few were found (`settings.whole_photo_upto`), and the only one when none passed.
    Without a detector, the whole photo is the query.
    """

    def __init__(self, detector: Detector | None, encoder: Encoder, index: CatalogIndex,
                 settings: Settings | None = None):
        settings = settings or Settings()
        self.detector, self.encoder, self.index, self.settings = detector, encoder, index, settings
        kinds = None
        if settings.kinds == "category":
            kinds = index.table.kinds
        self.kinds = kinds if kinds else None  # a catalog without any known kind searches everything
        if self.kinds and detector is not None:  # an open-vocabulary detector's classes are the catalog's kinds
            detector.learn_kinds(self.kinds.classes + tuple(self.kinds.others))
        self.labels = self._labels()
        # The products of the catalog's own kinds (no detector class), when the engine looks for them in regions.
        wanted = detector is not None and self.kinds and self.kinds.others and settings.other_kinds
        self._other_rows = np.fromiter(self.kinds.other_of_row, np.int64) if wanted else None
        self.background = index.manifest.background or WHITE
        self._popularity = _percentiles([p.popularity for p in index.products]) if settings.popularity_weight else None

    def _labels(self) -> tuple[str, ...]:
        """The detector classes this engine looks for: with kinds, every class the catalog sells."""
        if self.detector is None:
            return ()
        names = tuple(self.detector.names.values())
        # The catalog's own kinds too, where a detector trained on them (`python -m train detector`) or
        # told them (open vocabulary) runs. Not else: the kind rules choose which of a general
        # detector's classes a shop's products are.
        told = self.settings.catalog_detector or self.detector.open_vocabulary
        others = tuple(self.kinds.others) if self.kinds and told else ()
        wanted = self.kinds.classes + others if self.kinds else self.settings.class_list
        if wanted is None:
            return names
        if not set(wanted) & set(names):
            raise SettingsError(f"None of the classes {list(wanted)} is known to the detector "
                                f"{self.settings.detector}; it knows {sorted(names)}.")
        return tuple(c for c in wanted if c in names)

    def search(self, photo: ImageInput, top_k: int | None = None, conf: float | None = None, *,
               box: Sequence[float] | None = None, words: str = "", filters: Filters = Filters()) -> SearchResult:
        """Detect objects in `photo`, embed each crop, and return each object's top-`k` products.

        `top_k` and `conf` default to the settings'. `box` (pixel xyxy): search that region alone, no
        detector involved. `words` refine every product list ("in green", "under 300"); `filters`
        narrow it, inside the index search.
        """
        return self.search_many([Query(photo, top_k, conf, None if box is None else tuple(box), words, filters)])[0]

    def search_many(self, queries: Sequence[Query]) -> list[SearchResult]:
        """`search` for several queries at once: one detector batch and one encoder batch for all of
        them, which is what lets a server answer a crowd faster than one visitor after another.
        Each result is the one `search` gives for its query alone; the timings are the batch's."""
        top_ks = [self.settings.top_k if q.top_k is None else q.top_k for q in queries]
        confs = [self.settings.conf if q.conf is None else q.conf for q in queries]
        t0 = time.perf_counter()
        images = [load_image(q.photo, self.settings.max_pixels) for q in queries]
        boxes = [None if q.box is None else check_box(q.box, image.size) for q, image in zip(queries, images)]
        refinements = self._refinements(queries)
        searched = [i for i, box in enumerate(boxes) if box is None]  # a region the user chose needs no detector
        found = [Detections.empty() for _ in queries]
        for i, detections in zip(searched, self._detect([images[i] for i in searched], [confs[i] for i in searched])):
            found[i] = detections
        regions = [photo_regions(*image.size)[: 1 if self._other_rows is None else None] if box is None
                   else np.array([box], np.float64) for image, box in zip(images, boxes)]
        t1 = time.perf_counter()
        vectors = self.encoder.embed_images([crop for image, detections, boxes in zip(images, found, regions)
                                             for crop in self._crops(image, detections.boxes) +
                                             self._crops(image, boxes, padding=0.0)])
        t2 = time.perf_counter()
        ends = np.cumsum([len(detections) + len(boxes) for detections, boxes in zip(found, regions)])
        results = []
        for image, box, detections, regions_, end, k, c, refine in zip(images, boxes, found, regions, ends, top_ks,
                                                                        confs, refinements):
            crops = vectors[end - len(detections) - len(regions_):end]
            if box is None:
                objects = self._objects(image, detections, regions_, crops, k, c, refine)
            else:
                [products] = self._rank(crops, k, None, refine)
                objects = [ObjectResult(SELECTION, box, None, products)]
            results.append((image, [self._judged(o) for o in objects]))
        timings = {"detect": (t1 - t0) * 1000, "embed": (t2 - t1) * 1000, "search": (time.perf_counter() - t2) * 1000}
        timings = {stage: round(ms, 1) for stage, ms in timings.items()}
        return [SearchResult(objects, all(o.label == WHOLE_PHOTO for o in objects), image.size, dict(timings))
                for image, objects in results]

    def search_text(self, words: str, top_k: int | None = None, filters: Filters = Filters()) -> TextResult:
        """The catalog's products for `words` ("oak bookcase", "velvet armchair under 300"): its keyword
        ranking (BM25 over its text columns) and, with a CLIP-family encoder, its text tower's ranking
        of the product photos, fused by rank."""
        t0 = time.perf_counter()
        k = self.settings.top_k if top_k is None else top_k
        words, filters = split_price(words, check_filters(filters))
        rows = self.index.table.rows_where(Where.of(filters))
        if not TOKEN.search(words):
            raise QueryError("Type some words to search for, e.g. \"oak bookcase\".")
        named, relevance = self.index.table.text.search(words)
        if rows is not None:
            keep = np.isin(named, rows)
            named, relevance = named[keep], relevance[keep]
        rankings = [self._distinct([Match(self.index.products[row], float(r)) for row, r in zip(named, relevance)],
                                   TEXT_DEPTH)]
        matched_by = ["keywords"] if rankings[0] else []
        if self.encoder.reads_text:
            [by_photo] = self.index.search(self.encoder.embed_texts([words]), TEXT_DEPTH, where=_rows(rows))
            rankings.append(by_photo)
            matched_by.append("photos")
        products = fuse_rankings([r for r in rankings if r], k)
        return TextResult(words, filters, products, tuple(matched_by),
                          {"search": round((time.perf_counter() - t0) * 1000, 1)})

    @staticmethod
    def _distinct(matches: list[Match], k: int) -> list[Match]:
        """`matches` with each product once (its first photo), at most `k`."""
        seen, kept = set(), []
        for match in matches:
            if match.product.id not in seen and len(kept) < k:
                seen.add(match.product.id)
                kept.append(match)
        return kept

    def _refinements(self, queries: Sequence[Query]) -> list[_Refinement]:
        """Each query's words and filters read once; the text tower embeds all the queries' words at once."""
        parsed = [split_price(q.words or "", check_filters(q.filters)) for q in queries]
        texts = sorted({words for words, _ in parsed if TOKEN.search(words)})
        vectors = dict(zip(texts, self.encoder.embed_texts(texts))) if texts and self.encoder.reads_text else {}
        refinements = []
        for words, filters in parsed:
            named, relevance = self.index.table.text.search(words) if words else (np.zeros(0, np.int64), None)
            dense = None
            if named.size:
                dense = np.zeros(len(self.index), np.float64)
                dense[named] = relevance
            refinements.append(_Refinement(filters, self.index.table.rows_where(Where.of(filters)), vectors.get(words), dense,
                                           named if named.size else None))
        return refinements

    def _objects(self, image: Image.Image, detections: Detections, regions: np.ndarray, vectors: np.ndarray,
                 top_k: int, conf: float, refine: _Refinement) -> list[ObjectResult]:
        """One photo's objects, from its detections and regions and their crops' `vectors` (in that order)."""
        box_vectors, region_vectors = vectors[: len(detections)], vectors[len(detections):]
        # Each crop's nearest products in the whole catalog, which the catalog's agreement is read from.
        near = self.index.search(vectors, AGREEMENT_NEIGHBOURS) if self.kinds else None
        box_near = near[: len(detections)] if near is not None else None
        objects = self._match(detections, box_vectors, box_near, conf, top_k, image.size, refine) \
            if len(detections) else []
        room = self.settings.other_kinds
        if self.kinds:  # at most `other_kinds` objects of the catalog's own kinds (a catalog detector's), best first
            own = [o.label not in self.kinds.rows for o in objects]
            objects = [o for o, mine, n in zip(objects, own, np.cumsum(own)) if not mine or n <= room]
            room -= min(sum(own), room)
        detected = len(objects)
        if self._other_rows is not None and room:
            objects += self._other_kinds(vectors, np.concatenate([clip_boxes(detections.boxes, *image.size), regions]),
                                         near, conf, top_k, refine, room, found={o.label for o in objects})
        if detected <= self.settings.whole_photo_upto:  # 0 <= upto: always when nothing was found
            [matches] = self._rank(region_vectors[:1], top_k, None, refine)
            whole = ObjectResult(WHOLE_PHOTO, (0, 0, image.width, image.height), None, matches)
            # One object found or none: the photo is most likely of one product, so the whole photo leads.
            objects.insert(0 if detected <= 1 else len(objects), whole)
        return objects

    def _detect(self, images: list[Image.Image], confs: list[float]) -> list[Detections]:
        """Each photo's candidate detections: down to `settings.low_conf` with kinds (the catalog may
        vouch for them), else down to its `conf`."""
        if self.detector is None or not images:
            return [Detections.empty() for _ in images]
        s = self.settings
        floors = [min(s.low_conf, conf) if self.kinds else conf for conf in confs]
        # A second look at the mirrored photo finds objects the first pass scored too low.
        looks = images + ([ImageOps.mirror(image) for image in images] if s.detect_mirrored else [])
        seen = self.detector.detect(looks, conf=min(floors), classes=self.labels)
        results = []
        for i, (image, floor) in enumerate(zip(images, floors)):
            found = seen[i]
            if s.detect_mirrored:
                mirrored = seen[len(images) + i]
                found += Detections(mirror_boxes(mirrored.boxes, image.width), mirrored.scores, mirrored.labels)
                kept = nms(found.boxes, found.scores, found.labels, s.iou)
                # The limit holds for the detector's classes and the catalog's own kinds apart, so that
                # a catalog detector's many unsure boxes do not push out the detector's.
                own = np.array([self.kinds is not None and found.labels[j] not in self.kinds.rows for j in kept], bool)
                rank = np.where(own, np.cumsum(own), np.cumsum(~own))  # each box's place among its own side
                found = found[np.asarray(kept, np.int64)[rank <= s.max_objects]]
            # The batch was detected down to its lowest floor: each photo keeps what its own allows.
            found = found[found.scores >= floor]
            if self.kinds:
                found = found[[label in self.kinds for label in found.labels]]
            results.append(found)
        return results

    def _match(self, detections: Detections, vectors: np.ndarray, near: list[list[Match]] | None, conf: float,
               top_k: int, size: tuple[int, int], refine: _Refinement) -> list[ObjectResult]:
        """The detections that pass `conf`, each with its products; `near`: each crop's nearest products
        in the whole catalog (with kinds)."""
        scores = np.maximum(detections.scores, self._agreement(near, detections.labels)) if self.kinds \
            else detections.scores
        kept = np.flatnonzero(scores >= conf)
        kept = kept[np.argsort(-scores[kept], kind="stable")]
        detections = replace(detections[kept], scores=scores[kept])
        vectors = vectors[kept]
        if not len(detections):
            return []
        depth = max(top_k, GROUP_DEPTH)  # grouping compares the top GROUP_DEPTH whatever top_k is
        if self.kinds:
            ranked = [self._rank(vectors[i:i + 1], depth, self.kinds.rows_of(label), refine)[0]
                      for i, label in enumerate(detections.labels)]
        else:
            ranked = self._rank(vectors, depth, None, refine)
        if self.settings.group_objects:
            groups = group_lookalikes(detections.labels, ranked)
        else:
            groups = [[i] for i in range(len(detections))]
        boxes = clip_boxes(detections.boxes, *size)
        objects = []
        for members in groups:
            best = members[0]
            objects.append(ObjectResult(detections.labels[best], tuple(int(round(v)) for v in boxes[best]),
                                        float(detections.scores[best]),
                                        fuse_best([ranked[i] for i in members], top_k, self._order_key(refine))))
        return objects

    def _other_kinds(self, vectors: np.ndarray, boxes: np.ndarray, near: list[list[Match]], conf: float,
                     top_k: int, refine: _Refinement, room: int, found: set[str]) -> list[ObjectResult]:
        """Objects of the catalog's kinds that no detector class covers, seen in any of the crops.

        Every crop (the detections' and the photo's regions) is compared with those products; the
        kinds are taken in the order of their best single match, one object each, the crop of that
        match as its box, while the catalog's agreement on that crop reaches `conf`; at most `room`
        of them. Kinds already `found` (by a detector that knows the catalog's kinds) are not looked for again.
        """
        pairs = [(m.score, q, self.kinds.other_of_row[m.product.row])
                 for q, found in enumerate(self.index.search(vectors, OTHER_DEPTH, where=_rows(self._other_rows)))
                 for m in found]
        objects, seen = [], set(found)
        for _, q, noun in sorted(pairs, key=lambda p: -p[0]):
            if len(objects) == room:
                break
            if noun in seen:
                continue
            seen.add(noun)
            [score] = self._agreement([near[q]], [noun])
            if score >= conf:
                [matches] = self._rank(vectors[q:q + 1], top_k, self.kinds.others[noun], refine)
                objects.append(ObjectResult(noun, tuple(int(round(v)) for v in boxes[q]), float(score), matches))
        return objects

    def _rank(self, vectors: np.ndarray, k: int, kind_rows: np.ndarray | None,
              refine: _Refinement) -> list[list[Match]]:
        """Each of `vectors`' top-`k` products among its kind's rows (None: all), as the query's words
        and filters have them: a category filter replaces the kind, a price range narrows it; words
        move the products they name up (`settings.words_weight`) and, with a text tower, join the
        query vector; popularity breaks near-ties (`settings.popularity_weight`)."""
        rows = kind_rows
        if refine.rows is not None:
            rows = refine.rows if refine.filters.categories or kind_rows is None else np.intersect1d(kind_rows,
                                                                                                       refine.rows)
        if refine.text_vector is not None:  # "this, but in green": the photo and the words, one vector
            vectors = vectors + refine.text_vector
            vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        if not refine.reranks and self._popularity is None:
            return self.index.search(vectors, k, where=_rows(rows))
        depth = max(k, RERANK_DEPTH)
        ranked = self.index.search(vectors, depth, where=_rows(rows))
        if refine.named is not None:  # the products the words name, however far down the photo puts them
            named = refine.named if rows is None else np.intersect1d(refine.named, rows)
            ranked = [found + more for found, more in zip(ranked, self.index.search(vectors, depth, where=_rows(named)))]
        key = self._order_key(refine)
        return [self._distinct(sorted(found, key=key, reverse=True), k) for found in ranked]

    def _order_key(self, refine: _Refinement):
        """What a product list is ordered by: the similarity, plus the words' and popularity's lifts."""
        relevance, popularity = refine.relevance, self._popularity
        words_weight, popularity_weight = self.settings.words_weight, self.settings.popularity_weight

        def key(match: Match) -> float:
            row = match.product.row
            return (match.score + (words_weight * relevance[row] if relevance is not None else 0.0)
                    + (popularity_weight * popularity[row] if popularity is not None else 0.0))
        return key

    def _judged(self, obj: ObjectResult) -> ObjectResult:
        """`obj` with how close its best product is, on the index's calibrated scale."""
        calibration = self.index.manifest.calibration
        if not obj.products or calibration is None:
            return obj
        closeness = calibration.closeness(max(m.score for m in obj.products))
        return replace(obj, closeness=round(closeness, 3), close_match=closeness >= self.settings.close_level)

    def _agreement(self, near: list[list[Match]], kinds) -> np.ndarray:
        """The catalog's agreement that each crop shows its kind: `settings.catalog_weight` times
        (11 - r) / 10, where r is the rank (1 to 10) of the first product of that kind among the
        crop's 10 nearest in the whole catalog (`near`); 0 when none of them is of it."""
        is_of = self.kinds.is_of
        ranks = [next((r for r, m in enumerate(found) if is_of(m.product.row, kind)), AGREEMENT_NEIGHBOURS)
                 for kind, found in zip(kinds, near)]  # from 0; AGREEMENT_NEIGHBOURS for none
        return self.settings.catalog_weight * (AGREEMENT_NEIGHBOURS - np.asarray(ranks, np.float64)) / AGREEMENT_NEIGHBOURS

    def _crops(self, image: Image.Image, boxes: np.ndarray, padding: float | None = None) -> list[Image.Image]:
        cut = letterbox if self.settings.crop_style == "catalog" else crop
        padding = self.settings.crop_padding if padding is None else padding
        boxes = clip_boxes(pad_boxes(boxes, padding), image.width, image.height)
        return [cut(image, box, self.background) for box in boxes]


def _percentiles(values: list[float | None]) -> np.ndarray | None:
    """Each value's percentile among the known ones, in [0, 1]; 0 for unknown; None when none is known."""
    known = np.array([v if v is not None else np.nan for v in values], np.float64)
    finite = np.isfinite(known)
    if not finite.any():
        return None
    ordered = np.sort(known[finite])
    found = np.zeros(len(values))
    found[finite] = np.searchsorted(ordered, known[finite], side="right") / len(ordered)
    return found


def load_engine(settings: Settings, *, build_index: bool = False, progress: bool = True) -> Engine:
    """The pipeline `settings` describe: the index (built first with `build_index`, see
    `index.ensure.ensure_index`), the encoder it was built with (unless the settings name one),
    and the detector."""
    set_threads(settings.threads)
    index, encoder = ensure_index(settings, build=build_index, progress=progress)
    return Engine(load_detector(settings), encoder, index, settings)


def _rows(rows):
    return None if rows is None else Where(rows=rows)
