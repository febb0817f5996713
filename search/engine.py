"""The one search call used by the app, the API, the CLI and the benchmarks, and the one way to load it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from PIL import Image, ImageOps

from core.boxes import box_area, clip_boxes, letterbox, mirror_boxes, nms, pad_boxes, photo_regions, pixel_box
from core.images import WHITE, ImageInput, detail, load_image
from core.protocols import ImageEncoder, ObjectDetector
from core.settings import SearchSettings, Settings, SettingsError
from core.types import SELECTION, WHOLE_PHOTO, Detections, Filters, Match, ObjectResult, SearchResult, TextResult, Where
from index.builder.ensure import ensure_index
from index.catalog_index import CatalogIndex
from index.store.text import TOKEN
from models.adaptation import IndexEncoder
from models.detector import load_detector
from models.runtime import set_threads

from .fusion import distinct, order_key, row_lifts
from .grouping import DEPTH as GROUP_DEPTH
from .grouping import fuse_best, group_lookalikes, one_per_thing, same_thing
from .kinds import AGREEMENT_NEIGHBOURS, agreement, lifted_by_kinds
from .photo import Crop, Photo, Request, label_of, near_of, vectors_of
from .query import (
    Query,
    check_box,
    check_conf,
    check_filters,
    check_photo_size,
    check_top_k,
    check_within,
    check_words,
    split_price,
)
from .words import search_words

# How many of each crop's nearest products of the catalog's own kinds are weighed to find its kinds.
OTHER_DEPTH = 20
# Words, popularity or kinds re-rank this many of an object's nearest products (and as many the words name).
RERANK_DEPTH = 100
# A region with less detail than this (core.images.detail) is blank: a plain colour, a smooth gradient,
# a bare wall (2 at most, measured), never a region of the benchmarks' rooms (42 and up) or one of their
# product photos (31 and up), nor a small lamp on a plain wall.
BLANK_DETAIL = 8.0
# The detector sees a photo of twice this many pixels a side or more shrunk by a whole factor, its mirror
# image too: it resizes to its input size (640) anyway, and two copies of a 40-megapixel photo hold 240 MB.
DETECT_SHRINK_FROM = 1280
# Crops of twice this many pixels a side or more are shrunk before the encoder's own resizing
# (core.boxes.letterbox): it bounds what a batch of big photos holds, and leaves smaller crops as they are.
CROP_SHRINK_FROM = 1024
# The catalog's own kinds are not looked for in a crop of more than this share of the photo (`_other_kinds`).
MOST_OF_PHOTO = 0.6


class Engine:
    """The models and the index, run as `settings` say; `search` is safe to call from several threads.

    An object's score is what its acceptance is decided on: it is kept when the score reaches the
    confidence threshold `conf`. Without kinds it is the detector's confidence. With kinds (the
    index's: each product's kind, from the catalog's categories) it is the stronger of two witnesses:
    the detector's confidence, and the catalog's agreement (`_agreement`: high when a product of its
    kind is among the crop's very nearest in the whole catalog), so the catalog can vouch for a
    detection the detector was unsure of (down to `settings.low_conf`). Each object is then searched
    among the products of its kind, and the detector looks only for the classes the catalog sells.
    The catalog's kinds no detector class covers are looked for in the photo's regions too
    (`settings.other_kinds`), scored by the catalog's agreement alone. The whole photo is one more
    object when few were found (`settings.whole_photo_upto`), and the only one when none passed.
    Without a detector, the whole photo is the query.
    """

    def __init__(
        self,
        detector: ObjectDetector | None,
        encoder: ImageEncoder,
        index: CatalogIndex,
        settings: SearchSettings | None = None,
    ):
        self.detector, self.encoder, self.index = detector, index.query_encoder(encoder), index
        self.settings = settings = settings or SearchSettings()
        kinds = index.table.kinds
        self.kinds = kinds if kinds else None  # a catalog without any known kind searches everything
        self.labels = self._labels()
        # The catalog's own kinds (no detector class), where the engine looks for them in the photo's regions.
        others = self.kinds.others if detector is not None and self.kinds and settings.other_kinds else ()
        self._own_kinds = Where(kinds=tuple(others)) if others else None
        self.background = index.manifest.background or WHITE
        # Each row's lift whatever the query: its popularity (settings.popularity_weight), less its hubness, lowered
        # more in a photo of one product (settings.close_up_hub_weight), that of its middle where it has close-ups.
        popularity = index.table.popularity.tolist()
        self._lifts = row_lifts(popularity, settings.popularity_weight, index.hubness, settings.hub_weight)
        hubness = index.hubness if index.close_ups is None else index.close_up_hubness
        self._close_up_lifts = row_lifts(popularity, settings.popularity_weight, hubness, settings.close_up_hub_weight)

    def _labels(self) -> tuple[str, ...]:
        """The detector classes this engine looks for: with kinds, every class the catalog sells."""
        if self.detector is None:
            return ()
        names = tuple(self.detector.names.values())
        # The catalog's own kinds too, where the detector knows them (one trained on them with
        # `python -m train detector`, or an open vocabulary told them). Not else: the kind rules choose
        # which of a general detector's classes a shop's products are.
        others = tuple(self.kinds.others) if self.kinds and self.detector.knows_catalog_kinds else ()
        wanted = self.kinds.classes + others if self.kinds else self.settings.class_list
        if wanted is None:
            return names
        if not set(wanted) & set(names):
            raise SettingsError(
                f"None of the classes {list(wanted)} is known to the detector; it knows {sorted(names)}."
            )
        return tuple(c for c in wanted if c in names)

    @property
    def frozen_encoder(self) -> ImageEncoder:  # the one the index was built with, without its adaptation
        return self.encoder.base if isinstance(self.encoder, IndexEncoder) else self.encoder

    def with_index(self, index: CatalogIndex) -> Engine:
        """The same models and settings over another version of the index (`search.starting` reloads)."""
        return Engine(self.detector, self.frozen_encoder, index, self.settings)

    def warm_up(self) -> None:
        """One search of a plain 4:3 photo, so that a server's first visitor does not wait for what a
        first search sets up: the models' first passes at their batch shapes, the index's first search."""
        self.search(Image.new("RGB", (1024, 768), self.background))

    def search(
        self,
        photo: ImageInput,
        top_k: int | None = None,
        conf: float | None = None,
        *,
        box: Sequence[float] | None = None,
        words: str = "",
        filters: Filters = Filters(),
    ) -> SearchResult:
        """Detect objects in `photo`, embed each crop, and return each object's top-`k` products.

        `top_k` and `conf` default to the settings'. `box` (pixel xyxy): search that region alone, no
        detector involved. `words` refine every product list ("in green", "under 300"); `filters`
        narrow it, inside the index search.
        """
        return self.search_many([Query(photo, top_k, conf, None if box is None else tuple(box), words, filters)])[0]

    def search_many(self, queries: Sequence[Query]) -> list[SearchResult]:
        """`search` for several queries at once: one detector batch and one encoder batch for all of
        them, which is what lets a server answer a crowd faster than one visitor after another.
        Each result is the one `search` gives for its query alone; the timings are the batch's.

        The stages, in order: read each photo and what it asks; detect (one batch); cut the crops;
        embed every crop (one batch); then each photo's objects.
        """
        t0 = time.perf_counter()
        photos = self._read(queries)
        self._detect([photo for photo in photos if photo.selection is None])
        for photo in photos:
            self._cut(photo)
        t1 = time.perf_counter()
        self._embed(photos)
        t2 = time.perf_counter()
        for photo in photos:
            photo.objects = [self._judged(o) for o in self._objects(photo)]
        timings = {"detect": (t1 - t0) * 1000, "embed": (t2 - t1) * 1000, "search": (time.perf_counter() - t2) * 1000}
        timings = {stage: round(ms, 1) for stage, ms in timings.items()}
        return [photo.result(timings) for photo in photos]

    def search_text(self, words: str, top_k: int | None = None, filters: Filters = Filters()) -> TextResult:
        """The catalog's products for `words` ("oak bookcase", "velvet armchair under 300"): its keyword
        ranking (BM25 over its text columns) and, with a CLIP-family encoder, its text tower's ranking
        of the product photos, fused by rank."""
        return search_words(self.index, self.encoder, words, self._top_k(top_k), filters)

    def _top_k(self, asked: int | None) -> int:
        """How many products a request gets: what it asked, checked, or the settings'."""
        return self.settings.top_k if asked is None else check_top_k(asked)

    # The stages, in the order search_many runs them.

    def _read(self, queries: Sequence[Query]) -> list[Photo]:
        """Each query's photo decoded and what it asks read once; the text tower embeds all their words at once."""
        parsed = [split_price(check_words(q.words), check_filters(q.filters)) for q in queries]
        texts = sorted({words for words, _ in parsed if TOKEN.search(words)})
        vectors = dict(zip(texts, self.encoder.embed_texts(texts))) if texts and self.encoder.reads_text else {}
        photos = []
        for query, (words, filters) in zip(queries, parsed):
            check_within(filters, self.index.table)
            image = load_image(query.photo, self.settings.max_pixels)
            check_photo_size(image.size)
            named, relevance = self.index.table.text.search(words) if words else (np.zeros(0, np.int64), None)
            dense = None
            if named.size:
                dense = np.zeros(len(self.index), np.float64)
                dense[named] = relevance
            conf = self.settings.conf if query.conf is None else check_conf(query.conf)
            request = Request(
                self._top_k(query.top_k), conf, filters, vectors.get(words), dense, named if named.size else None
            )
            photos.append(Photo(image, request, None if query.box is None else check_box(query.box, image.size)))
        return photos

    def _detect(self, photos: list[Photo]) -> None:
        """Each photo's candidate detections: down to `settings.low_conf` with kinds (the catalog may
        vouch for them), else down to its `conf`."""
        if self.detector is None or not photos:
            return
        s = self.settings
        factors = [max(1, max(photo.image.size) // DETECT_SHRINK_FROM) for photo in photos]
        images = [photo.image.reduce(k) if k > 1 else photo.image for photo, k in zip(photos, factors)]
        floors = [min(s.low_conf, photo.request.conf) if self.kinds else photo.request.conf for photo in photos]
        # A second look at the mirrored photo finds objects the first pass scored too low.
        looks = images + ([ImageOps.mirror(image) for image in images] if s.detect_mirrored else [])
        seen = self.detector.detect(looks, conf=min(floors), classes=self.labels)
        for i, (photo, floor, k) in enumerate(zip(photos, floors, factors)):
            found = seen[i]
            if s.detect_mirrored:
                found = self._both_looks(self.detector, found, seen[len(photos) + i], images[i].width)
            found = Detections(clip_boxes(found.boxes * k, *photo.image.size), found.scores, found.labels)
            # The batch was detected down to its lowest floor: each photo keeps what its own allows.
            found = found[found.scores >= floor]
            if self.kinds:
                found = found[[label in self.kinds for label in found.labels]]
            photo.detections = found

    def _both_looks(self, detector: ObjectDetector, found: Detections, mirrored: Detections, width: int) -> Detections:
        """The boxes of a photo and of its mirror image as one set, the detector's NMS and box limit applied."""
        found += Detections(mirror_boxes(mirrored.boxes, width), mirrored.scores, mirrored.labels)
        kept = nms(found.boxes, found.scores, found.labels, detector.iou)
        # The limit holds for the detector's classes and the catalog's own kinds apart, so that
        # a catalog detector's many unsure boxes do not push out the detector's.
        own = np.array([self.kinds is not None and found.labels[j] not in self.kinds.rows for j in kept], bool)
        rank = np.where(own, np.cumsum(own), np.cumsum(~own))  # each box's place among its own side
        return found[np.asarray(kept, np.int64)[rank <= detector.max_objects]]

    def _cut(self, photo: Photo) -> None:
        """The photo's crops: each detection's box, padded; and its regions (the whole photo, and its halves
        and centre where the catalog's own kinds are looked for), or the user's selection alone."""
        width, height = photo.image.size
        if photo.selection is not None:
            regions = np.array([photo.selection], np.float64)
        else:
            regions = photo_regions(width, height)[: 1 if self._own_kinds is None else None]
        found = photo.detections
        photo.found = [
            Crop(box, image, label, float(score))
            for box, image, label, score in zip(
                clip_boxes(found.boxes, width, height),
                self._crops(photo, found.boxes, self.settings.crop_padding),
                found.labels,
                found.scores,
            )
        ]
        photo.regions = [Crop(box, image) for box, image in zip(regions, self._crops(photo, regions, 0.0))]
        if photo.selection is None:
            # Judged on a copy at most about 512 px: detail looks at 64 px, and a phone photo's own
            # pixels would cost ~100 ms a search.
            small = photo.image.reduce(max(1, max(photo.image.size) // 512))
            scale = small.width / width
            for crop in photo.regions:
                crop.blank = detail(small.crop(pixel_box(crop.box * scale))) < BLANK_DETAIL

    def _crops(self, photo: Photo, boxes: np.ndarray, padding: float) -> list:
        """`boxes` padded and cut out of the photo, each centred on a square of the catalog photos'
        background, as a catalog photo is."""
        boxes = clip_boxes(pad_boxes(boxes, padding), photo.image.width, photo.image.height)
        return [letterbox(photo.image, box, self.background, CROP_SHRINK_FROM) for box in boxes]

    def _embed(self, photos: list[Photo]) -> None:
        """Every crop of every photo embedded in one batch."""
        crops = [crop for photo in photos for crop in photo.crops]
        for crop, vector in zip(crops, self.encoder.embed_images([crop.image for crop in crops])):
            crop.vector = vector

    def _objects(self, photo: Photo) -> list[ObjectResult]:
        """A photo's objects, from its embedded crops: a selection searched alone, or the detections that
        pass, at most `other_kinds` of the catalog's own kinds (one where at most one object was found), and the
        whole photo when few were found."""
        request = photo.request
        if photo.selection is not None:
            [products] = self._rank(vectors_of(photo.regions), request.top_k, (), request, voted=True)
            return [ObjectResult(SELECTION, photo.selection, None, products)]
        if self.kinds:  # each crop's nearest products in the whole catalog, which the catalog's agreement is read from
            for crop, near in zip(photo.crops, self.index.search(vectors_of(photo.crops), AGREEMENT_NEIGHBOURS)):
                crop.near = near
        objects, room = self._own_kinds_limited(one_per_thing(self._detected(photo), request.top_k))
        found = len(objects)
        close_up = found <= 1  # most likely a photo of one product
        if self._own_kinds is not None and room:  # a close-up: one, as a second is seldom its product's kind
            others = self._other_kinds(photo, min(room, 1) if close_up else room, objects)
            objects = one_per_thing(objects + others, request.top_k) if others else objects
        if request.filters:  # a couch among "Chairs" has no product: hidden, and said so (SearchResult.hidden)
            photo.hidden = [o.label for o in objects if not o.products]
            objects = [o for o in objects if o.products]
        # 0 <= upto: always when nothing was found, or when the filters hid all that was
        if found <= self.settings.whole_photo_upto or not objects:
            # One object found or none: the photo is most likely of one product, so the whole photo leads,
            # leaning to the kind of its nearest products (a room's sweeps every kind).
            one = close_up or not objects
            [matches] = self._rank(vectors_of(photo.regions[:1]), request.top_k, (), request, voted=one)
            # A blank photo looks like many a plain product on white: its nearest are never a match.
            closeness, close = (0.0, False) if photo.regions[0].blank else (None, None)
            whole = ObjectResult(WHOLE_PHOTO, (0, 0, *photo.image.size), None, matches, closeness, close)
            objects.insert(0 if one else len(objects), whole)
        return objects

    def _detected(self, photo: Photo) -> list[ObjectResult]:
        """The detections whose score passes `conf`, best first, each with its products; look-alikes of a
        kind (a dining set's chairs, a chair boxed twice) are one object."""
        found, request = photo.found, photo.request
        if not found:
            return []
        scores = np.array([crop.score for crop in found], np.float64)
        if self.kinds:
            scores = np.maximum(scores, self._agreement([near_of(c) for c in found], [c.label for c in found]))
        kept = np.flatnonzero(scores >= request.conf)
        kept = kept[np.argsort(-scores[kept], kind="stable")]
        crops = [found[i] for i in kept]
        if not crops:
            return []
        depth = max(request.top_k, GROUP_DEPTH)  # grouping compares the top GROUP_DEPTH whatever top_k is

        def ranked_as(asked: Request) -> list[list[Match]]:
            if self.kinds:
                return [self._rank(vectors_of([crop]), depth, (label_of(crop),), asked)[0] for crop in crops]
            return self._rank(vectors_of(crops), depth, (), asked)

        ranked = ranked_as(request)
        # Look-alikes are told by the photo alone: words and filters re-rank the products, not what is found.
        alike = ranked_as(request.plain()) if request.refines else ranked
        return [
            ObjectResult(
                label_of(crops[members[0]]),
                pixel_box(crops[members[0]].box),
                float(scores[kept[members[0]]]),
                fuse_best([ranked[i] for i in members], request.top_k, self._order_key(request)),
            )
            for members in group_lookalikes([label_of(crop) for crop in crops], alike)
        ]

    def _own_kinds_limited(self, objects: list[ObjectResult]) -> tuple[list[ObjectResult], int]:
        """`objects` with at most `other_kinds` of the catalog's own kinds (a catalog detector's), best
        first; and the room left for more of them."""
        room = self.settings.other_kinds
        if not self.kinds:
            return objects, room
        own = [o.label not in self.kinds.rows for o in objects]
        objects = [o for o, mine, n in zip(objects, own, np.cumsum(own)) if not mine or n <= room]
        return objects, room - min(sum(own), room)

    def _other_kinds(self, photo: Photo, room: int, found: list[ObjectResult]) -> list[ObjectResult]:
        """Objects of the catalog's kinds that no detector class covers, seen in any of the crops.

        Every crop (the detections' and the photo's regions, but blank ones and those that are most of the
        photo) is compared with those products; the kinds are taken in the order of their best single match,
        one object each, the crop of that match as its box, while the catalog's agreement on that crop reaches
        `conf`; at most `room` of them, the second and later only apart from the objects `found` and taken (over
        one, its list would be taken by turns with the other's: `search.grouping.one_per_thing`). Kinds already
        `found` (by a detector that knows the catalog's kinds) are not looked for again.
        """
        # A box over most of the photo says nothing of where the thing is: the whole photo is a tab of its own.
        most = MOST_OF_PHOTO * photo.image.width * photo.image.height
        crops = [crop for crop in photo.crops if not crop.blank and box_area(crop.box) < most]
        request = photo.request
        if not crops:
            return []
        assert self.kinds is not None  # the engine looks for the catalog's own kinds only with kinds (__init__)
        vectors = vectors_of(crops)
        pairs = [
            (m.score, q, self.kinds.own_of_row[m.product.row])
            for q, near in enumerate(self.index.search(vectors, OTHER_DEPTH, self._own_kinds))
            for m in near
        ]
        objects: list[ObjectResult] = []
        seen = {o.label for o in found}
        for _, q, noun in sorted(pairs, key=lambda p: -p[0]):
            if len(objects) == room:
                break
            if noun in seen or (objects and any(same_thing(crops[q].box, o.box) for o in [*found, *objects])):
                continue
            seen.add(noun)
            [score] = self._agreement([near_of(crops[q])], [noun])
            if score >= request.conf:
                [matches] = self._rank(vectors[q : q + 1], request.top_k, (noun,), request)
                objects.append(ObjectResult(noun, pixel_box(crops[q].box), float(score), matches))
        return objects

    def _rank(
        self, vectors: np.ndarray, k: int, kinds: tuple[str, ...], request: Request, voted: bool = False
    ) -> list[list[Match]]:
        """Each of `vectors`' top-`k` products among those of `kinds` (none: all), as the request's words
        and filters have them: filters narrow the products of each kind; words move the products they name
        up (`settings.words_weight`) and, with a text tower, join the query vector; popularity breaks
        near-ties (`settings.popularity_weight`); `voted`, a photo of one product's list (a whole photo that leads,
        a region the shopper chose): matched against the photos' middles where the index holds them, lifted towards
        the kinds of the nearest (`settings.kind_weight`), and its hubs lowered by `settings.close_up_hub_weight`."""
        where = request.where(kinds)
        if request.text_vector is not None:  # "this, but in green": the photo and the words, one vector
            vectors = vectors + request.text_vector
            vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
        kinds_of = self.kinds.kinds_of if voted and self.kinds and self.settings.kind_weight else None
        lifts = self._close_up_lifts if voted else self._lifts
        if not (request.reranks or kinds_of) and lifts is None:
            return self.index.search(vectors, k, where, close_up=voted)
        depth = max(k, RERANK_DEPTH)
        ranked = self.index.search(vectors, depth, where, close_up=voted)
        if request.named is not None:  # the products the words name, however far down the photo puts them
            more = self.index.search(vectors, depth, replace(where, rows=request.named), close_up=voted)
            ranked = [found + extra for found, extra in zip(ranked, more)]
        key = order_key(request.relevance, self.settings.words_weight, lifts)
        weight = self.settings.kind_weight
        keys = [lifted_by_kinds(key, found, kinds_of, weight) if kinds_of else key for found in ranked]
        return [distinct(sorted(found, key=by, reverse=True), k) for found, by in zip(ranked, keys)]

    def _order_key(self, request: Request):
        """What a room's product list is ordered by (`search.fusion.order_key`)."""
        return order_key(request.relevance, self.settings.words_weight, self._lifts)

    def _judged(self, obj: ObjectResult) -> ObjectResult:
        """`obj` with how close its best product is, on the index's calibrated scale."""
        calibration = self.index.manifest.calibration
        if not obj.products or calibration is None or obj.close_match is not None:  # judged already
            return obj
        closeness = calibration.closeness(max(m.score for m in obj.products))
        return replace(obj, closeness=round(closeness, 3), close_match=closeness >= self.settings.close_level)

    def _agreement(self, near: list[list[Match]], kinds) -> np.ndarray:
        """The catalog's agreement that each crop shows its kind (`search.kinds.agreement`)."""
        assert self.kinds is not None  # the catalog's agreement is asked only with kinds
        return agreement(near, kinds, self.kinds.is_of, self.settings.catalog_weight)


def load_engine(settings: Settings, *, build_index: bool = False, **options) -> Engine:
    """The pipeline `settings` describe: the index (built first with `build_index`, see
    `index.builder.ensure.ensure_index`, which `options` go to: `progress`, `on_progress`, `measure`), the encoder
    it was built with (unless the settings name one), and the detector, told the kinds the catalog sells."""
    set_threads(settings.models.threads)
    index, encoder = ensure_index(settings.catalog, settings.models, build=build_index, **options)
    kinds = index.table.kinds
    detector = load_detector(settings.models, kinds.words if kinds else ())
    return Engine(detector, encoder, index, settings.search)
