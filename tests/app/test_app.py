"""The app served in-process on 127.0.0.1, called through gradio_client as a Python program would."""

import io
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

import app
from core.settings import SearchSettings
from support import APP_PHOTO, ranked_as_the_engine_ranks
from web.layout import EXAMPLES_DIR

pytestmark = pytest.mark.slow  # the real weights, a catalog to index, a server


@pytest.fixture(scope="module")
def client(served_app):
    return Client(served_app, verbose=False)


def _search(client, path, **controls):
    return client.predict(image=handle_file(str(path)), **controls, api_name="/search")


def test_search_returns_each_object_with_products_of_the_catalog(client, hk_engine):
    annotated, status, result, timings = _search(client, APP_PHOTO, top_k=5, conf=0.25)

    catalog = {p.id: p for p in hk_engine.index.products}
    assert hk_engine.index.hubness is not None  # measured when the app built its index
    width, height = result["image_size"]
    assert not result["whole_image"]
    assert {"chair", "dining table"} <= {o["label"] for o in result["objects"]}
    for obj in result["objects"]:
        x1, y1, x2, y2 = obj["box"]
        assert all(isinstance(v, int) for v in obj["box"]) and 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        # The whole photo is searched, not scored; every other object passed conf on its score.
        assert obj["score"] is None if obj["label"] == "whole photo" else 0.25 <= obj["score"] < 1
        assert len(obj["products"]) == 5
        scores, rows = [p["score"] for p in obj["products"]], [p["row"] for p in obj["products"]]
        assert all(-1 <= score <= 1 for score in scores)  # the similarities, ranked less each photo's hubness
        assert ranked_as_the_engine_ranks(hk_engine.index, scores, rows, hk_engine.settings.hub_weight)
        for product in obj["products"]:
            expected = catalog[product["id"]]
            assert (product["name"], product["category"], product["price"], product["link"]) == (
                expected.name,
                expected.category,
                expected.price,
                expected.link,
            )
    assert set(result["timings_ms"]) == {"detect", "embed", "search"}
    boxed = [o for o in result["objects"] if o["label"] != "whole photo"]  # the whole photo is a tab, not a box
    assert f"Found {len(boxed)} objects" in status
    assert "detect" in timings and "ms" in timings
    assert len(annotated["annotations"]) == len(boxed)


def test_controls_default_and_api_is_the_two_documented_endpoints(client):
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {"/search", "/search_text"} and not api["unnamed_endpoints"]
    parameters = api["named_endpoints"]["/search"]["parameters"]
    # The first three as they always were; what came later is optional, so older clients keep working.
    assert [p["parameter_name"] for p in parameters] == [
        "image",
        "top_k",
        "conf",
        "box",
        "words",
        "category",
        "min_price",
        "max_price",
    ]
    assert [p["parameter_has_default"] for p in parameters] == [False] + [True] * 7
    assert len(api["named_endpoints"]["/search"]["returns"]) == 4
    text = api["named_endpoints"]["/search_text"]["parameters"]
    assert [(p["parameter_name"], p["parameter_has_default"]) for p in text] == [
        ("words", False),
        ("top_k", True),
        ("category", True),
        ("min_price", True),
        ("max_price", True),
    ]

    _, _, result, _ = _search(client, APP_PHOTO)
    assert all(len(o["products"]) == 10 for o in result["objects"])


def test_a_photo_with_nothing_detected_is_searched_whole(client, tmp_path, hk_engine):
    # A plain wall. (A grey gradient is an unsure "bed" to YOLO11n, which the served pipeline keeps.)
    Image.new("RGB", (320, 240), (210, 200, 190)).save(tmp_path / "blank.png")

    annotated, _status, result, _ = _search(client, tmp_path / "blank.png", top_k=3)

    # The whole photo leads; then at most one kind of the shop's that no detector class covers, if
    # the catalog agrees enough that the photo shows it.
    whole, *others = result["objects"]
    assert (whole["label"], whole["box"], whole["score"]) == ("whole photo", [0, 0, 320, 240], None)
    assert len(whole["products"]) == 3 and len(others) <= 1
    for other in others:
        assert other["label"] in hk_engine.kinds.others and 0.25 <= other["score"] < 1 and len(other["products"]) == 3
    assert result["whole_image"] is not others
    # The whole photo is a tab of its own, not a box drawn over everything.
    assert [a["label"] for a in annotated["annotations"]] == [f"2 · {o['label']}" for o in others]


@pytest.mark.parametrize("conf", [0.05, 0.3, 0.6, 0.9, 1.0])
def test_conf_is_a_threshold_on_the_score_objects_report(client, conf):
    _, _, result, _ = _search(client, APP_PHOTO, top_k=1, conf=conf)
    scored = [o["score"] for o in result["objects"] if o["label"] != "whole photo"]
    assert all(conf <= score < 1 for score in scored)
    if conf == 1.0:  # nothing can pass: the answer is the whole photo, labelled as such
        assert result["whole_image"] and [o["label"] for o in result["objects"]] == ["whole photo"]


def _png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("notes.jpg", b"these are not pixels", "not an image format"),
        ("cut.jpg", APP_PHOTO.read_bytes()[:3000] if APP_PHOTO.exists() else b"", "corrupt or truncated"),
        ("empty.jpg", b"", "The file is empty"),
        ("bad.ppm", b"P6\n4 4\n0\n" + bytes(48), "malformed"),
        ("quoting.ppm", b"P6\n" + b"9" * 200 + b" 4\n255\n", "malformed"),  # PIL's message quotes the file's bytes
        ("dot.png", _png((1, 1)), "only 1x1 pixels, too small to show an object"),
        ("strip.png", _png((640, 20)), "only 640x20 pixels"),
    ],
)
def test_bad_upload_is_a_clear_error_and_the_app_keeps_serving(client, tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)

    with pytest.raises(AppError, match=message) as refused:
        _search(client, tmp_path / name)
    assert not set("<>&'\"") & set(str(refused.value)), "a plain message, never HTML-escaped or quoting bytes"

    _, _, result, _ = _search(client, APP_PHOTO, top_k=1)
    assert result["objects"]


def test_a_photo_with_too_many_pixels_is_refused_before_decoding(client, tmp_path):
    Image.new("L", (8000, 6000)).save(tmp_path / "huge.png")  # 48 MP; a few KB on disk

    with pytest.raises(AppError, match="megapixels"):
        _search(client, tmp_path / "huge.png")


def test_an_upload_over_the_size_limit_is_refused(client, served_app, tmp_path):
    big = b"\xff" * (16 * 1024 * 1024)
    (tmp_path / "big.jpg").write_bytes(big)

    with pytest.raises(ValueError, match="exceeds the maximum file size"):  # gradio_client checks first
        _search(client, tmp_path / "big.jpg")
    refused = httpx.post(f"{served_app}gradio_api/upload", files={"files": ("big.jpg", big)})
    assert refused.status_code == 413  # and the server refuses it whoever sends it


@pytest.mark.parametrize(
    "top_k, conf, message",
    [
        (0, 0.25, "top_k must be a whole number from 1 to 30; got 0"),
        (31, 0.25, "top_k .* got 31"),
        (2.5, 0.25, "top_k .* got 2.5"),  # refused, not truncated to 2
        (True, 0.25, "top_k .* got a bool"),
        ("5", 0.25, "top_k .* got a str"),
        (5, 0.0, "conf must be a number above 0 and at most 1; got 0.0"),
        (5, 1.5, "conf .* got 1.5"),
        (5, None, "conf .* got a NoneType"),
    ],
)
def test_bad_controls_are_refused_with_a_message_that_names_them(client, top_k, conf, message):
    with pytest.raises(AppError, match=message):
        _search(client, APP_PHOTO, top_k=top_k, conf=conf)


def test_only_what_the_page_shows_is_served(client, served_app, hk_engine):
    _, _, result, _ = _search(client, APP_PHOTO, top_k=1)
    product = result["objects"][0]["products"][0]
    assert product["image"] == f"products/{hk_engine.index.path.name}/{product['row']}.jpg"  # relative to the app
    with urllib.request.urlopen(served_app + product["image"]) as response:
        assert response.status == 200 and response.read(3) == b"\xff\xd8\xff"  # a JPEG
    with urllib.request.urlopen(f"{served_app}gradio_api/file={EXAMPLES_DIR / 'bedroom.jpg'}") as response:
        assert response.status == 200

    private = [
        hk_engine.index.path / "manifest.json",
        hk_engine.index.path / "vectors.faiss",
        EXAMPLES_DIR / "render_scenes.py",
        Path(app.__file__),
    ]
    version = hk_engine.index.path.name
    wrong = [
        f"products/{version}/{len(hk_engine.index)}.jpg",
        f"products/{version}/-1.jpg",
        "products/0.jpg",
        "products/v-elsewhere/0.jpg",
        f"products/..%2F{version}/0.jpg",
        "products/%2E%2E/0.jpg",
    ]
    for path in [f"gradio_api/file={p}" for p in private] + wrong:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(served_app + path)
        assert refused.value.code in (403, 404), path


def test_a_crowd_of_clients_is_served_each_its_own_answer(client, served_app, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    other = tmp_path / "other.jpg"
    Image.open(APP_PHOTO).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(other)
    expected = {path: _search(client, path, top_k=2)[2]["objects"] for path in (APP_PHOTO, other)}

    def visit(i):  # each its own client, as separate visitors are; two photos, asked at once
        visitor = Client(served_app, verbose=False)
        return [
            (path, _search(visitor, path, top_k=2)[2]["objects"])
            for path in [(APP_PHOTO, other), (other, APP_PHOTO)][i % 2]
        ]

    with ThreadPoolExecutor(8) as pool:
        answers = [a for visits in pool.map(visit, range(8)) for a in visits]
    assert len(answers) == 16
    for path, objects in answers:
        assert [(o["label"], o["box"]) for o in objects] == [(o["label"], o["box"]) for o in expected[path]]
        assert [[p["id"] for p in o["products"]] for o in objects] == [
            [p["id"] for p in o["products"]] for o in expected[path]
        ]


def test_a_region_is_searched_alone(client):
    _, status, result, _ = _search(client, APP_PHOTO, top_k=3, box=[100, 150, 420, 600])
    [obj] = result["objects"]
    assert (obj["label"], obj["box"], obj["score"], len(obj["products"])) == (
        "your selection",
        [100, 150, 420, 600],
        None,
        3,
    )
    assert "region" in status and not result["whole_image"]
    _, _, typed, _ = _search(client, APP_PHOTO, top_k=3, box="100, 150, 420, 600")  # as the page's field holds it
    assert typed["objects"] == result["objects"]


def test_filters_and_words_narrow_and_reorder_every_product_list(client, hk_engine):
    _, _, plain, _ = _search(client, APP_PHOTO, top_k=5)
    _, _, sofas, _ = _search(client, APP_PHOTO, top_k=5, category="sofas")
    _, _, cheap, _ = _search(client, APP_PHOTO, top_k=5, max_price=300)
    _, _, white, _ = _search(client, APP_PHOTO, top_k=5, words="white")
    kinds = hk_engine.kinds
    for obj in sofas["objects"]:  # the category chosen narrows each object's kind: no chair lists sofas
        assert {p["category"] for p in obj["products"]} == {"sofas"} and len(obj["products"]) == 5
    # ... and the objects: those it leaves without a product are hidden, by name, never listed empty.
    shown = [o["label"] for o in sofas["objects"]]
    assert sorted(shown + sofas["hidden"]) == sorted(o["label"] for o in plain["objects"])
    assert sofas["hidden"] and all(label in {**kinds.rows, **kinds.others} for label in sofas["hidden"])
    assert "couch" not in sofas["hidden"]
    for obj in cheap["objects"]:  # a price range narrows the object's kind: K products wherever K exist
        rows = kinds.rows.get(obj["label"], kinds.others.get(obj["label"], range(len(hk_engine.index))))
        within = {hk_engine.index.products[r].id for r in rows if (hk_engine.index.products[r].price or 1e9) <= 300}
        assert len(obj["products"]) == min(5, len(within)) and all(p["price"] <= 300 for p in obj["products"])
    whites = [sum("white" in p["name"].lower() for p in o["products"]) for o in (plain, white) for o in o["objects"]]
    half = len(whites) // 2
    assert sum(whites[half:]) > sum(whites[:half])  # more white products once the words ask for them
    assert [o["label"] for o in white["objects"]] == [o["label"] for o in plain["objects"]]  # same objects


def test_each_object_says_how_close_its_best_match_is(client):
    _, _, result, _ = _search(client, APP_PHOTO, top_k=3)
    for obj in result["objects"]:
        assert 0 <= obj["closeness"] <= 1 and obj["close_match"] == (obj["closeness"] >= SearchSettings.close_level)


def test_search_text_lists_products_by_their_words(client):
    status, result = client.predict(words="sofa bed", top_k=5, api_name="/search_text")
    assert len(result["products"]) == 5 and "5 products" in status
    assert all("sofa" in (p["name"] + p["category"]).lower() for p in result["products"])
    assert result["products"][0]["image"].endswith(f"/{result['products'][0]['row']}.jpg")
    status, result = client.predict(words="sofa under 2000", category="sofas", api_name="/search_text")
    assert result["products"] and all(p["price"] <= 2000 and p["category"] == "sofas" for p in result["products"])
    status, result = client.predict(words="zeppelin", api_name="/search_text")
    assert result["products"] == [] and "No product" in status


@pytest.mark.parametrize(
    "options, message",
    [
        ({"box": [1, 2, 3]}, "box must be four numbers"),
        ({"box": [400, 400, 100, 100]}, "leaves no region"),
        ({"category": "spaceships"}, "no category 'spaceships'"),
        ({"min_price": -5}, "min_price must be a number of at least 0"),
        ({"min_price": 500, "max_price": 100}, r"lowest price \(500\) is above the highest price \(100\)"),
        ({"words": "x" * 201}, "at most 200 characters"),
    ],
)
def test_bad_search_options_are_refused_with_a_message_that_names_them(client, options, message):
    with pytest.raises(AppError, match=message):
        _search(client, APP_PHOTO, **options)
    with pytest.raises(AppError, match="Type some words"):
        client.predict(words="  ", api_name="/search_text")
