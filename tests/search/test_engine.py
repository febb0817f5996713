"""The engine's detection-side logic, exactly, with a detector that returns given boxes and an
encoder that returns given vectors (tests/support.py); and the served pipeline through tiny real models."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from core.settings import SearchSettings, Settings, SettingsError
from core.types import WHOLE_PHOTO, Detections, Filters
from index.builder.build import build_index
from index.catalog.open import open_catalog
from index.catalog_index import CatalogIndex
from search.engine import Engine
from search.query import Query, QueryError
from support import GREY, FakeDetector, FakeEncoder, colour_catalog, open_vocabulary_yolo, paint, same_result

RED, DARK_RED, BLUE, NAVY, YELLOW = (255, 0, 0), (200, 0, 0), (0, 0, 255), (0, 0, 150), (255, 255, 0)
CRIMSON, MAROON, PURPLE = (220, 0, 0), (180, 0, 0), (128, 0, 128)
GREENS = [(0, 100 + 15 * i, 0) for i in range(10)]
# Chairs are red, sofas blue, tables green; the lamp's yellow is nearer red than the dark red armchair is;
# no detector class covers the lamp or the purple rug, which is near the grey of an empty wall.
PRODUCTS = [
    ("C1", "Chair", RED),
    ("C2", "Armchair", DARK_RED),
    ("C3", "Chair", CRIMSON),
    ("C4", "Chairs", MAROON),
    ("S1", "Sofa", BLUE),
    ("S2", "Three-seat sofa", NAVY),
    ("L1", "Table lamp", YELLOW),
    ("R1", "Rug, flatwoven", PURPLE),
] + [(f"T{i}", "Coffee table", g) for i, g in enumerate(GREENS)]
VECTORS = {
    RED: [1, 0, 0, 0],
    DARK_RED: [0.8, 0.3, 0, 0],
    CRIMSON: [0.9, 0, 0, 0.1],
    MAROON: [0.7, 0.2, 0, 0.1],
    BLUE: [0, 1, 0, 0],
    NAVY: [0.2, 0.9, 0, 0],
    YELLOW: [0.99, 0, 0, 0.1],
    GREY: [0, 0, 0.1, 1],
    PURPLE: [0, 0.3, 0, 0.95],
    **{g: [0, 0.05 * i, 1, 0] for i, g in enumerate(GREENS)},
}
SIZE = (200, 100)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("colour-shop")
    build_index(open_catalog(colour_catalog(folder, PRODUCTS)), FakeEncoder(VECTORS), folder / "idx", progress=False)
    return CatalogIndex.load(folder / "idx")


@pytest.fixture(scope="module")
def plain_index(tmp_path_factory):
    """The same shop without categories: no product has a kind, so every object searches the whole catalog."""
    folder = tmp_path_factory.mktemp("plain-shop")
    catalog = colour_catalog(folder, [(product_id, "", colour) for product_id, _, colour in PRODUCTS])
    build_index(open_catalog(catalog), FakeEncoder(VECTORS), folder / "idx", progress=False)
    return CatalogIndex.load(folder / "idx")


def _engine(index, objects, photo, max_objects=30, **settings):
    """An engine over `index` whose detector finds `objects` (box, label, score, mirrored score) in `photo`.

    Each step is tested on its own: the catalog's other kinds and the whole photo as one more object
    are off unless a test turns them on.
    """
    settings = {"other_kinds": 0, "whole_photo_upto": 0, **settings}
    detector = FakeDetector(photo, objects, max_objects)
    return Engine(detector, FakeEncoder(VECTORS), index, SearchSettings(**settings)), detector


def _ids(obj):
    return [m.product.id for m in obj.products]


RED_BOX, BLUE_BOX, GREEN_BOX = (10, 10, 50, 90), (80, 20, 180, 80), (60, 60, 80, 90)
ROOM = paint(SIZE, [(RED_BOX, RED), (BLUE_BOX, BLUE), (GREEN_BOX, GREENS[0])])


def test_each_object_is_searched_among_the_products_of_its_kind(index):
    engine, _ = _engine(index, [(RED_BOX, "chair", 0.9, None), (BLUE_BOX, "couch", 0.8, None)], ROOM)
    result = engine.search(ROOM, top_k=5)
    assert not result.whole_image and result.image_size == SIZE
    chair, couch = result.objects
    assert (chair.label, chair.box, chair.score) == ("chair", RED_BOX, 0.9)
    assert _ids(chair) == ["C1", "C3", "C4", "C2"]  # only chairs: the lamp, second nearest, is not one
    assert _ids(couch) == ["S1", "S2"] and couch.products[0].score == pytest.approx(1.0)
    assert set(result.timings_ms) == {"detect", "embed", "search"}


def test_without_kinds_the_whole_catalog_is_searched(plain_index):
    engine, _ = _engine(plain_index, [(RED_BOX, "chair", 0.9, None)], ROOM)
    assert engine.kinds is None
    [chair] = engine.search(ROOM, top_k=3).objects
    assert _ids(chair) == ["C1", "L1", "C3"]


def test_nothing_detected_means_the_whole_photo_is_the_query(index):
    photo = paint(SIZE, [((90, 40, 110, 60), BLUE)])  # its centre pixel is blue
    for engine in (_engine(index, [], photo)[0], Engine(None, FakeEncoder(VECTORS), index)):
        result = engine.search(photo, top_k=4)
        assert result.whole_image
        [whole] = result.objects
        assert (whole.label, whole.box, whole.score) == (WHOLE_PHOTO, (0, 0, *SIZE), None)
        assert _ids(whole)[:2] == ["S1", "S2"] and len(whole.products) == 4  # the whole catalog, every kind


def test_unsure_detections_stay_only_where_the_catalog_agrees(index):
    # Below conf (0.25) but above low_conf (0.05): the red crop's nearest product is a chair, so the
    # catalog's agreement is catalog_weight x (11 - 1) / 10 = 0.5, its score, and it is kept; the green
    # crop's ten nearest are all tables, so "chair" there scores 0.12 and is dropped.
    engine, _ = _engine(
        index,
        [(BLUE_BOX, "couch", 0.8, None), (RED_BOX, "chair", 0.1, None), (GREEN_BOX, "chair", 0.12, None)],
        ROOM,
        detect_mirrored=False,
        catalog_weight=0.5,
    )
    assert [(o.label, o.box, o.score) for o in engine.search(ROOM).objects] == [
        ("couch", BLUE_BOX, 0.8),
        ("chair", RED_BOX, 0.5),
    ]
    assert [o.label for o in engine.search(ROOM, conf=0.6).objects] == ["couch"]  # conf is a threshold on score
    heavier, _ = _engine(index, [(RED_BOX, "chair", 0.1, None)], ROOM, detect_mirrored=False, catalog_weight=0.9)
    assert [o.score for o in heavier.search(ROOM).objects] == [pytest.approx(0.9)]


def test_the_catalogs_agreement_falls_with_the_rank_of_the_kinds_first_product(index):
    # The yellow lamp, seen as an unsure chair: its nearest product is the lamp, the second a chair.
    photo = paint(SIZE, [(RED_BOX, YELLOW)])
    engine, _ = _engine(index, [(RED_BOX, "chair", 0.1, None)], photo, detect_mirrored=False)
    [chair] = engine.search(photo).objects
    assert chair.score == pytest.approx(0.8 * 9 / 10)  # catalog_weight (default 0.8) x (11 - 2) / 10

    strict, _ = _engine(
        index,
        [(BLUE_BOX, "couch", 0.8, None), (RED_BOX, "chair", 0.1, None)],
        ROOM,
        detect_mirrored=False,
        low_conf=0.25,
    )
    assert [o.label for o in strict.search(ROOM).objects] == ["couch"]


VOTED, UNVOTED = ["C1", "C3", "C4", "C2", "L1"], ["C1", "L1", "C3", "C4", "C2"]
RED_CENTRE = (90, 40, 110, 60)


@pytest.mark.parametrize(
    ("kind_weight", "objects", "box", "expected"),
    [
        (0.2, [], None, VOTED),  # nothing found: the photo is most likely of one product
        (0.0, [], None, UNVOTED),
        (0.2, [(RED_BOX, "chair", 0.9, None)], None, VOTED),  # one found: the same
        (0.2, [], RED_CENTRE, VOTED),  # a region the shopper chose
        # Two found: a room, whose whole photo sweeps every kind.
        (0.2, [(RED_BOX, "chair", 0.9, None), ((150, 10, 190, 40), "couch", 0.8, None)], None, UNVOTED),
    ],
)
def test_a_photo_of_one_product_leans_to_the_kind_its_nearest_products_are(index, kind_weight, objects, box, expected):
    # A red photo's nearest are chairs and the yellow lamp (second): the chairs' vote lifts them above it.
    photo = paint(SIZE, [(RED_BOX, RED), ((150, 10, 190, 40), BLUE), (RED_CENTRE, RED)])
    engine, _ = _engine(index, objects, photo, kind_weight=kind_weight, whole_photo_upto=2, detect_mirrored=False)
    result = engine.search(photo, top_k=5, box=box)
    [whole] = [o for o in result.objects if o.score is None]
    assert _ids(whole) == expected
    lamp = next(m for m in whole.products if m.product.id == "L1")
    assert lamp.score == pytest.approx(0.99 / np.hypot(0.99, 0.1))  # the score shown stays the similarity


@pytest.mark.parametrize(
    "objects, conf, other_kinds",
    [
        # A table seen as an unsure chair and as an unsure sofa: the catalog vouches for neither.
        ([(GREEN_BOX, "chair", 0.12, None), (GREEN_BOX, "couch", 0.1, None)], 0.25, 0),
        ([(RED_BOX, "chair", 0.9, None), (BLUE_BOX, "couch", 0.8, None)], 1.0, 2),  # conf=1: nothing can pass
    ],
)
def test_when_nothing_passes_the_answer_is_the_whole_photo(index, objects, conf, other_kinds):
    engine, _ = _engine(index, objects, ROOM, detect_mirrored=False, other_kinds=other_kinds)
    result = engine.search(ROOM, conf=conf)
    assert result.whole_image and [(o.label, o.score) for o in result.objects] == [(WHOLE_PHOTO, None)]


def test_the_mirrored_photo_finds_what_the_first_look_missed(index):
    # The detector scores the chair 0.02 (below every threshold) as it is, 0.6 when mirrored.
    engine, detector = _engine(
        index, [(RED_BOX, "chair", 0.02, 0.6)], ROOM, catalog_weight=0.0
    )  # the detector's scores
    [chair] = engine.search(ROOM).objects
    assert (chair.label, chair.box, chair.score) == ("chair", RED_BOX, 0.6)  # the box mapped back
    assert detector.calls[0]["images"] == 2  # the photo and its mirror image, in one batch

    once, detector = _engine(index, [(RED_BOX, "chair", 0.02, 0.6)], ROOM, detect_mirrored=False)
    assert once.search(ROOM).whole_image and detector.calls[0]["images"] == 1


def test_an_object_seen_in_both_looks_is_one_object(index):
    engine, _ = _engine(index, [(RED_BOX, "chair", 0.9, 0.7), (BLUE_BOX, "couch", 0.5, None)], ROOM, catalog_weight=0.0)
    assert [(o.label, o.score) for o in engine.search(ROOM).objects] == [("chair", 0.9), ("couch", 0.5)]


def test_lookalike_boxes_are_one_object_with_the_best_of_their_matches(index):
    photo = paint(SIZE, [((10, 10, 40, 60), RED), ((150, 10, 190, 60), DARK_RED)])
    objects = [((10, 10, 40, 60), "chair", 0.7, None), ((150, 10, 190, 60), "chair", 0.9, None)]
    grouped, _ = _engine(index, objects, photo, detect_mirrored=False, catalog_weight=0.0)
    [chair] = grouped.search(photo, top_k=2).objects
    assert (chair.box, chair.score) == ((150, 10, 190, 60), 0.9)  # the best member's
    assert {(m.product.id, round(m.score, 3)) for m in chair.products} == {("C1", 1.0), ("C2", 1.0)}


# A room with a red chair the detector sees, and a yellow lamp it has no class for in the right
# half: the only one of the photo's regions whose centre is the lamp's.
LAMP_ROOM = paint(SIZE, [(RED_BOX, RED), ((140, 40, 160, 60), YELLOW)])


def test_kinds_the_detector_cannot_see_are_found_in_the_photos_regions(index, plain_index):
    engine, _ = _engine(index, [(RED_BOX, "chair", 0.9, None)], LAMP_ROOM, other_kinds=1)
    assert engine.kinds.others.keys() == {"lamp", "rug"}
    chair, lamp = engine.search(LAMP_ROOM, top_k=3).objects
    assert chair.label == "chair" and _ids(chair) == ["C1", "C3", "C4"]
    # Scored by the catalog's agreement alone: the crop's nearest product is the shop's one lamp.
    assert (lamp.label, lamp.box, lamp.score) == ("lamp", (100, 0, 200, 100), 0.8)
    assert _ids(lamp) == ["L1"] and lamp.products[0].score == pytest.approx(1.0)

    # A photo of one product (one object found) gets one kind from its regions at most.
    two, _ = _engine(index, [(RED_BOX, "chair", 0.9, None)], LAMP_ROOM, other_kinds=2)
    assert [o.label for o in two.search(LAMP_ROOM).objects] == ["chair", "lamp"]
    off, _ = _engine(plain_index, [(RED_BOX, "chair", 0.9, None)], LAMP_ROOM, other_kinds=2)
    assert [o.label for o in off.search(LAMP_ROOM).objects] == ["chair"]  # without kinds, nothing to look for


@pytest.mark.parametrize(
    ("couch", "rug"),
    [
        ((60, 5, 90, 30), (0, 0, 100, 100)),  # the rug's best match is the left half, grey wall about the chair...
        ((0, 0, 100, 100), (0, 0, 200, 50)),  # ...and where a couch was found there, the next apart from it
    ],
)
def test_a_second_kind_is_the_next_best_match_apart_from_the_objects_found(index, couch, rug):
    found = [(RED_BOX, "chair", 0.9, None), (couch, "couch", 0.8, None)]
    engine, _ = _engine(index, found, LAMP_ROOM, other_kinds=2)
    objects = engine.search(LAMP_ROOM).objects
    assert [(o.label, o.box) for o in objects[2:]] == [("lamp", (100, 0, 200, 100)), ("rug", rug)]


def test_a_detector_that_knows_the_catalogs_kinds_finds_them_as_objects(index):
    detector = FakeDetector(LAMP_ROOM, [(RED_BOX, "chair", 0.9, None), ((138, 38, 162, 62), "lamp", 0.6, None)])
    detector.names = {**FakeDetector.names, 5: "lamp", 6: "shelf"}
    # A general detector's class is used only when the kind rules name it.
    general = Engine(detector, FakeEncoder(VECTORS), index, SearchSettings(other_kinds=1, whole_photo_upto=0))
    assert "lamp" not in general.labels
    # A catalog detector (python -m train detector) names its classes by the catalog's own kinds.
    detector.knows_catalog_kinds = True
    settings = SearchSettings(other_kinds=2, whole_photo_upto=0)
    engine = Engine(detector, FakeEncoder(VECTORS), index, settings)
    assert "lamp" in engine.labels and "shelf" not in engine.labels  # the shop sells no shelf
    _chair, lamp, rug = engine.search(LAMP_ROOM, top_k=3).objects
    assert (lamp.label, lamp.box, lamp.score) == ("lamp", (138, 38, 162, 62), 0.8)  # the catalog agrees: 0.8
    assert _ids(lamp) == ["L1"]  # searched among lamps only, though the red chairs are near
    # The regions look for the kinds not found yet: the rug, not the lamp again.
    assert rug.label == "rug" and detector.calls[0]["classes"] == engine.labels
    # other_kinds counts the catalog's kinds however found: with room for one, the detected lamp fills it.
    one = Engine(detector, FakeEncoder(VECTORS), index, replace(settings, other_kinds=1))
    assert [o.label for o in one.search(LAMP_ROOM).objects] == ["chair", "lamp"]
    none = Engine(detector, FakeEncoder(VECTORS), index, replace(settings, other_kinds=0))
    assert [o.label for o in none.search(LAMP_ROOM).objects] == ["chair"]


def test_the_catalog_detectors_boxes_do_not_push_out_the_detectors(index):
    # One box per pass: the surer lamp would take the only place from the chair if both counted together.
    detector = FakeDetector(
        LAMP_ROOM, [(RED_BOX, "chair", 0.6, None), ((138, 38, 162, 62), "lamp", 0.9, None)], max_objects=1
    )
    detector.names, detector.knows_catalog_kinds = {**FakeDetector.names, 5: "lamp"}, True
    settings = SearchSettings(other_kinds=1, whole_photo_upto=0)
    found = Engine(detector, FakeEncoder(VECTORS), index, settings).search(LAMP_ROOM).objects
    assert sorted(o.label for o in found) == ["chair", "lamp"]


def test_an_open_vocabulary_detector_looks_for_every_kind_the_catalog_sells(index, yoloe_text):
    settings = Settings.of(detector="yoloe-11n.yaml", other_kinds=2, whole_photo_upto=0, device="cpu")
    detector = open_vocabulary_yolo(settings.models)
    detector.learn_kinds(index.table.kinds.words)  # as load_engine tells it
    engine = Engine(detector, FakeEncoder(VECTORS), index, settings.search)
    kinds = ("chair", "couch", "dining table", "lamp", "rug")  # the detector classes its rules name, then its own
    assert engine.labels == kinds and tuple(detector.names.values()) == kinds
    objects = engine.search(ROOM, top_k=3).objects
    assert objects and sum(o.label in ("lamp", "rug") for o in objects) <= 2  # other_kinds
    first = {"chair": "C", "couch": "S", "dining table": "T", "lamp": "L", "rug": "R"}
    for obj in objects:  # each searched among the products of its kind (then, by turns, of a kind boxed over it)
        assert obj.label in kinds and obj.products[0].product.id[0] == first[obj.label]


CHAIR, COUCH = (RED_BOX, "chair", 0.9, None), (BLUE_BOX, "couch", 0.8, None)


@pytest.mark.parametrize(
    "objects, upto, labels",
    [
        ([CHAIR, COUCH], 0, ["chair", "couch"]),
        ([CHAIR, COUCH], 1, ["chair", "couch"]),
        ([CHAIR, COUCH], 2, ["chair", "couch", WHOLE_PHOTO]),
        ([CHAIR], 1, [WHOLE_PHOTO, "chair"]),  # one object: most likely a photo of one product, so it leads
        ([CHAIR], 0, ["chair"]),
    ],
)
def test_the_whole_photo_is_one_more_object_when_few_were_found(index, objects, upto, labels):
    engine, _ = _engine(index, objects, ROOM, whole_photo_upto=upto)
    result = engine.search(ROOM, top_k=2)
    assert [o.label for o in result.objects] == labels and not result.whole_image
    for whole in (o for o in result.objects if o.label == WHOLE_PHOTO):
        assert (whole.box, whole.score) == ((0, 0, *SIZE), None)
        assert _ids(whole) == ["S1", "S2"]  # the photo's centre is the sofa


def test_the_detector_looks_only_for_the_classes_the_catalog_sells(index, plain_index):
    engine, detector = _engine(index, [(RED_BOX, "chair", 0.9, None), (BLUE_BOX, "person", 0.95, None)], ROOM)
    assert engine.labels == ("chair", "couch", "dining table")  # the shop's kinds (it sells no bed)
    assert [o.label for o in engine.search(ROOM).objects] == ["chair"]
    assert detector.calls[0] == {"conf": 0.05, "classes": engine.labels, "images": 2}  # low_conf: the catalog may vouch

    plain, detector = _engine(plain_index, [(RED_BOX, "chair", 0.9, None)], ROOM, classes="chair,tv")
    assert plain.labels == ("chair",)
    plain.search(ROOM, conf=0.4)
    assert detector.calls[0] == {"conf": 0.4, "classes": ("chair",), "images": 2}
    with pytest.raises(SettingsError, match="None of the classes"):
        _engine(plain_index, [], ROOM, classes="spaceship")


@pytest.mark.parametrize(
    "settings, conf, whole",
    [
        ({"conf": 0.5}, None, True),  # the settings' threshold by default
        ({"conf": 0.5}, 0.3, False),  # a threshold asked for wins
        ({"conf": 0.3}, None, False),
    ],
)
def test_top_k_and_conf_default_to_the_settings(plain_index, settings, conf, whole):
    engine, _ = _engine(plain_index, [(BLUE_BOX, "couch", 0.4, None)], ROOM, top_k=3, **settings)
    result = engine.search(ROOM, conf=conf)
    assert result.whole_image is whole and len(result.objects[0].products) == 3


def test_crops_are_squares_on_the_catalogs_background(index):
    tall = (90, 20, 110, 80)  # 20 x 60
    photo = paint(SIZE, [(tall, RED)])
    engine, _ = _engine(index, [(tall, "chair", 0.9, None)], photo, crop_padding=0.0, detect_mirrored=False)
    engine.search(photo)
    crop, whole = engine.encoder.embedded  # the whole photo is always embedded: it may be needed
    assert whole.size == (200, 200)
    assert crop.size == (60, 60) and crop.getpixel((30, 30)) == RED
    # The catalog photos' own background (white), not the room's grey.
    assert index.manifest.background == (255, 255, 255) and crop.getpixel((2, 30)) == (255, 255, 255)


# The served pipeline, loaded from settings as the app loads it, with tiny real models.


@pytest.fixture(scope="module")
def served(tiny_shop_engine):
    from PIL import Image

    return tiny_shop_engine, Image.effect_noise((160, 120), 60).convert("RGB")


def test_load_engine_serves_what_the_settings_describe(served):
    engine, photo = served
    assert engine.labels == ("chair", "couch") and len(engine.index) == 3
    result = engine.search(photo)
    chairs = [o for o in result.objects if o.label == "chair"]
    assert not result.whole_image and chairs  # the tiny YOLO sees chairs
    for obj in chairs:  # the only chair the shop sells; then, by turns, the rug where it was seen in the chair's box
        assert [m.product.id for m in obj.products] in (["P0"], ["P0", "P2"])
    # Then the rug, which no detector class covers, unless it was seen over a chair (one box per thing);
    # and the whole photo only when few objects were found.
    rugs = [o for o in result.objects if o.label == "rug"]
    assert [[m.product.id for m in o.products] for o in rugs] in ([], [["P2"]])
    assert rugs or any(len(o.products) == 2 for o in chairs)
    whole = result.objects[len(chairs) + len(rugs) :]
    assert [o.label for o in whole] == ([WHOLE_PHOTO] if len(chairs) <= engine.settings.whole_photo_upto else [])
    direct = Engine(engine.detector, engine.encoder, engine.index, engine.settings)
    assert direct.search(photo).to_dict()["objects"] == result.to_dict()["objects"]


def test_photos_searched_together_get_what_each_gets_alone(served):
    from PIL import Image

    engine, photo = served
    other = Image.effect_noise((96, 140), 40).convert("RGB")
    asked = [(photo, 1, 0.25), (other, None, 0.6), (photo, 2, 1.0), (photo.rotate(180), 2, None)]
    together = engine.search_many([Query(*q) for q in asked])
    for (image, top_k, conf), result in zip(asked, together):
        assert same_result(result, engine.search(image, top_k, conf))
    assert together[2].whole_image  # conf=1 there, whatever the others asked for


def test_concurrent_searches_agree(served):
    engine, photo = served
    expected = engine.search(photo).to_dict()["objects"]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: engine.search(photo).to_dict()["objects"], range(8)))
    assert all(r == expected for r in results)


def test_a_bad_photo_is_refused_before_the_models_run(served):
    from core.images import ImageError

    engine, _ = served
    with pytest.raises(ImageError, match="not an image"):
        engine.search(b"not an image")
    with pytest.raises(ImageError, match="limit is"):
        Engine(None, engine.encoder, engine.index, SearchSettings(max_pixels=100)).search(
            np.zeros((20, 20, 3), np.uint8)
        )


def test_a_big_photo_is_detected_shrunk_and_answered_in_its_own_pixels(index):
    class Relative:
        """Finds one chair at the same place relative to whatever photo it is shown, noting their sizes."""

        names, knows_catalog_kinds, iou, max_objects = {0: "chair"}, False, 0.5, 30

        def __init__(self):
            self.sizes = []

        def detect(self, images, *, conf, classes):
            self.sizes += [image.size for image in images]
            return [
                Detections([[w / 6, h / 6, w / 2, h * 5 / 6]], [0.9], ("chair",))
                for w, h in (image.size for image in images)
            ]

    photo = paint((6000, 3000), [((1000, 500, 3000, 2500), RED)])
    detector = Relative()
    engine = Engine(
        detector, FakeEncoder(VECTORS), index, SearchSettings(other_kinds=0, whole_photo_upto=0, detect_mirrored=False)
    )
    [chair] = engine.search(photo, top_k=2).objects
    assert detector.sizes == [(1500, 750)]  # 6000 // DETECT_SHRINK_FROM = 4 times smaller
    assert chair.box == (1000, 500, 3000, 2500) and _ids(chair)[0] == "C1"


# One box per thing; filters narrow the objects as well as their products.


def test_boxes_of_different_kinds_over_one_thing_are_one_object(index):
    # The red chair boxed again as a table, nearly the same box, less surely: one object, the chair's label and box,
    # its products the chair's and the table's by turns (each kind's own order, never compared across kinds).
    table_over_chair = ((11, 12, 50, 88), "dining table", 0.5, None)
    engine, _ = _engine(index, [(RED_BOX, "chair", 0.9, None), table_over_chair, (BLUE_BOX, "couch", 0.8, None)], ROOM)
    chair, couch = engine.search(ROOM, top_k=4).objects
    assert (chair.label, chair.box, couch.label) == ("chair", RED_BOX, "couch")
    assert _ids(chair)[0::2] == ["C1", "C3"] and all(i.startswith("T") for i in _ids(chair)[1::2])


@pytest.mark.parametrize(
    "inner, merged",
    [
        ((12, 12, 48, 88), True),  # nearly all of the chair's box, and nearly its size: the same thing
        ((20, 30, 40, 60), False),  # well inside, much smaller: a cushion on a sofa, another thing
        ((30, 10, 70, 90), False),  # beside it, half over it: a table at the chair
    ],
)
def test_a_box_inside_another_is_one_thing_only_when_of_a_like_size(index, inner, merged):
    engine, _ = _engine(index, [(RED_BOX, "chair", 0.9, None), (inner, "dining table", 0.95, None)], ROOM)
    labels = [o.label for o in engine.search(ROOM).objects]
    # The surer witness names a merged object: here the table.
    assert labels == (["dining table"] if merged else ["dining table", "chair"])


def test_a_kind_no_detector_sees_is_never_boxed_over_most_of_the_photo(index):
    # The rug's purple fills the photo: its best crop is the whole photo, which is the whole photo's own tab.
    rug_room = paint(SIZE, [((0, 0, 200, 100), PURPLE), (RED_BOX, RED)])
    engine, _ = _engine(index, [(RED_BOX, "chair", 0.9, None)], rug_room, other_kinds=1, whole_photo_upto=1)
    result = engine.search(rug_room)
    for obj in result.objects:
        if obj.label != WHOLE_PHOTO:
            x1, y1, x2, y2 = obj.box
            assert (x2 - x1) * (y2 - y1) <= 0.6 * SIZE[0] * SIZE[1], obj


def test_a_category_filter_hides_the_objects_it_leaves_without_products(index):
    engine, _ = _engine(index, [(RED_BOX, "chair", 0.9, None), (BLUE_BOX, "couch", 0.8, None)], ROOM)
    result = engine.search(ROOM, top_k=3, filters=Filters(categories=("Chair", "Armchair")))
    assert [o.label for o in result.objects] == ["chair"] and result.hidden == ("couch",)
    assert set(_ids(result.objects[0])) <= {"C1", "C2", "C3"}
    # Every object hidden: the whole photo, searched within the filters, so that the answer is never empty.
    sofas = engine.search(ROOM, top_k=3, filters=Filters(categories=("Sofa",), max_price=None))
    assert [o.label for o in sofas.objects] == ["couch"] and sofas.hidden == ("chair",)
    lamps = engine.search(ROOM, top_k=3, filters=Filters(categories=("Table lamp",)))
    assert [o.label for o in lamps.objects] == [WHOLE_PHOTO] and _ids(lamps.objects[0]) == ["L1"]
    assert sorted(lamps.hidden) == ["chair", "couch"] and lamps.to_dict()["hidden"] == list(lamps.hidden)


@pytest.mark.parametrize("size", [(1, 1), (31, 400), (400, 20)])
def test_a_photo_too_small_to_show_an_object_is_refused(index, size):
    engine, _ = _engine(index, [], ROOM)
    with pytest.raises(QueryError, match=rf"only {size[0]}x{size[1]} pixels, too small to show an object"):
        engine.search(Image.new("RGB", size, RED))


def test_a_plain_photo_is_blank_and_a_room_is_not(index):
    engine, _ = _engine(index, [(RED_BOX, "chair", 0.9, None)], ROOM)
    assert not engine.search(ROOM).blank
    wall = Image.new("RGB", (320, 240), GREY)
    plain, _ = _engine(index, [], wall)
    assert plain.search(wall).blank
