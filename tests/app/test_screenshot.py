"""The README's screenshots: the page, in headless Chromium, with the results for a CC0 example photo.

Its catalog is a stand-in made of the project's own CC0 renders (`examples/`): each object the
detector finds in them, cropped, as it is and mirrored, sold under the detector's word. The
default catalog needs the Hub and the benchmark catalogs may not be published, so neither can be
shown. `LOOKALIKE_SCREENSHOTS=docs` writes the PNGs the README shows, as a visitor sees the page after
a search, at 1280x900 and on a 390x844 phone.
"""

import os
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from support import MOBILENET, ROOT, SHARED_MISSING, SHARED_REASON, YOLO_WEIGHTS, served, write_csv

CHROMIUM = Path("/usr/bin/chromium")
EXAMPLES = ROOT / "examples"
CATEGORY = {"couch": "Sofas", "chair": "Armchairs", "bed": "Beds", "potted plant": "Plants", "dining table": "Tables"}
CREDIT = "crops of Lookalike's own example renders, CC0"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(SHARED_MISSING, reason=SHARED_REASON),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian chromium is not installed at {CHROMIUM}"),
]


@pytest.fixture(scope="module")
def render_shop(tmp_path_factory):
    """The app over a catalog cut from the CC0 renders; yields its URL."""
    from core.settings import Settings
    from models.detector import load_detector
    from search.engine import load_engine

    out = tmp_path_factory.mktemp("shop") / "cc0-renders"
    out.mkdir()
    detector = load_detector(Settings.of(detector=str(YOLO_WEIGHTS), device="cpu").models)
    rows = []
    for photo_path in sorted(EXAMPLES.glob("*.jpg")):
        photo = Image.open(photo_path).convert("RGB")
        [found] = detector.detect([photo], conf=0.3, classes=tuple(CATEGORY))
        for i, (box, label) in enumerate(zip(found.boxes, found.labels)):
            crop = photo.crop(tuple(int(v) for v in box))
            for style, image in (("", crop), (" (mirrored)", ImageOps.mirror(crop))):
                path = out / f"{photo_path.stem}-{i}{'-m' if style else ''}.jpg"
                image.save(path)
                rows.append(
                    {
                        "product_id": path.stem,
                        "image": path.name,
                        "category": CATEGORY[label],
                        "name": f"{label.title()} from the {photo_path.stem.replace('-', ' ')}{style}",
                        "price_usd": str(120 + 35 * len(rows)),
                        "url": f"https://example.com/{path.stem}",
                    }
                )
    settings = Settings.of(
        detector=str(YOLO_WEIGHTS),
        encoder=str(MOBILENET),
        device="cpu",
        catalog=str(write_csv(out / "products.csv", rows)),
        index_dir=str(out / "index"),
        catalog_credit=CREDIT,
    )
    with served(load_engine(settings, build_index=True, progress=False)) as url:
        yield url, len(rows)


@pytest.mark.parametrize(
    "viewport, name", [((1280, 900), "screenshot.png"), ((390, 844), "screenshot-phone.png")], ids=["desktop", "phone"]
)
def test_the_page_with_results_for_an_example_photo(render_shop, tmp_path, viewport, name):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    url, products = render_shop
    width, height = viewport
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(url)
        headline = page.locator("#headline").inner_text()
        assert f"{products} products of cc0-renders" in headline
        assert CREDIT in headline

        page.locator("#examples button.gallery-item").nth(1).click()  # the living room
        page.wait_for_function(
            "() => [...document.querySelectorAll('.products img')]"
            ".filter(e => e.offsetParent && e.complete && e.naturalWidth).length >= 2",
            timeout=90_000,
        )
        assert any("couch" in t or "sofa" in t.lower() for t in page.get_by_role("tab").all_inner_texts())
        shot = tmp_path / "page.png"
        page.wait_for_timeout(800)  # the gallery's images settle, and the scroll to them
        page.screenshot(path=str(shot))  # what the visitor sees after the search, as it is
        browser.close()

    image = Image.open(shot)
    assert image.size == viewport
    target = os.environ.get("LOOKALIKE_SCREENSHOTS")
    if target:  # small enough to commit: 256 colours (the desktop one 900 px wide)
        shown = image.convert("RGB")
        if width > 900:
            shown = shown.resize((900, round(height * 900 / width)), Image.LANCZOS)
        shown.quantize(256).save(ROOT / target / name, optimize=True)
