"""The page as a first-time visitor sees it, in headless Debian Chromium at 1280x900 and at a 390x844
phone: results in view after a search, a product grid that reads on a phone, boxes that can be
clicked, the whole photo as a tab rather than a box over everything, and words that clear a photo's marks."""

from pathlib import Path

import pytest

from support import APP_PHOTO, REAL_PHOTOS

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian chromium is not installed at {CHROMIUM}"),
]
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def searched(browser, url: str, viewport: dict, photo: Path = APP_PHOTO):
    """A new page at `viewport` with `photo` uploaded and its products shown."""
    page = browser.new_page(viewport=viewport)
    page.goto(url)
    page.locator("input[type=file]").first.set_input_files(str(photo))
    page.wait_for_function(
        "() => [...document.querySelectorAll('.products img')]"
        ".some(e => e.offsetParent && e.complete && e.naturalWidth)",
        timeout=90_000,
    )
    page.wait_for_timeout(600)  # the scroll that brings them into view
    return page


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_products_are_in_view_after_a_search_without_scrolling_by_hand(browser, served_app, viewport):
    page = searched(browser, served_app, viewport)
    first = page.evaluate(
        "() => [...document.querySelectorAll('.products img')].find(e => e.offsetParent)"
        ".getBoundingClientRect().toJSON()"
    )
    assert first["top"] >= 0 and first["top"] + first["height"] / 2 <= viewport["height"], first
    if viewport is DESKTOP:  # the marked photo is in view too, the products under it
        found = page.locator("#found").bounding_box()
        assert found["y"] >= -1 and found["y"] < first["top"]
    page.close()


def test_a_phone_shows_two_columns_with_captions_under_the_photos(browser, served_app):
    page = searched(browser, served_app, PHONE)
    columns = page.evaluate(
        "() => getComputedStyle([...document.querySelectorAll('.products .grid-container')]"
        ".find(e => e.offsetParent)).gridTemplateColumns.split(' ').length"
    )
    assert columns == 2
    tiles = page.evaluate("""() => [...document.querySelectorAll('.products .thumbnail-item')]
        .filter(e => e.offsetParent).slice(0, 4).map(t => [t.querySelector('img').getBoundingClientRect().toJSON(),
                               t.querySelector('.caption-label').getBoundingClientRect().toJSON()])""")
    assert len(tiles) >= 2
    for image, caption in tiles:
        assert caption["top"] >= image["bottom"] - 1  # under the photo, not over it
        assert image["width"] >= 120 and caption["right"] <= PHONE["width"]
    page.close()


def test_a_click_on_a_box_in_the_photo_selects_its_object(browser, served_app):
    page = searched(browser, served_app, DESKTOP)
    legend = page.locator("#found .legend-item").all_inner_texts()
    assert len(legend) >= 2
    # The centre of the smallest box, in the page: only it holds that point as smallest.
    point = page.evaluate("""() => {
        const boxes = JSON.parse(document.querySelector('#box-map [data-boxes]').dataset.boxes);
        const areas = boxes.map(([x1, y1, x2, y2]) => (x2 - x1) * (y2 - y1));
        const i = areas.indexOf(Math.min(...areas)), [x1, y1, x2, y2] = boxes[i];
        const img = document.querySelector('#found img'), r = img.getBoundingClientRect();
        const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
        return {i, x: r.left + (r.width - img.naturalWidth * s) / 2 + s * (x1 + x2) / 2,
                y: r.top + (r.height - img.naturalHeight * s) / 2 + s * (y1 + y2) / 2};
    }""")
    page.mouse.click(point["x"], point["y"])
    chosen = legend[point["i"]]
    page.wait_for_function(
        "label => document.querySelector('[role=tab][aria-selected=true]')?.innerText.startsWith(label)",
        arg=chosen,
        timeout=10_000,
    )
    page.close()


def test_the_whole_photo_is_a_tab_and_no_box(browser, served_app):
    single = sorted((REAL_PHOTOS / "images").rglob("*.jpg"))[0]  # a product photo: few objects, the whole photo too
    page = searched(browser, served_app, DESKTOP, single)
    status = page.locator("#status").inner_text()
    assert "and the whole photo" in status
    legend = page.locator("#found .legend-item").all_inner_texts()
    assert legend and not any("Whole photo" in t for t in legend)
    assert f"Found {len(legend)} object" in status  # a box for each object found, none for the photo
    page.close()


def test_a_words_only_search_clears_the_photos_results(browser, served_app):
    page = searched(browser, served_app, DESKTOP)
    assert page.locator("#found .legend-item").count() >= 1
    words = page.locator("#text-query textarea")
    words.fill("sofa")
    words.press("Enter")
    page.wait_for_function("() => /products? for/.test(document.querySelector('#status').innerText)", timeout=30_000)
    page.wait_for_function("() => document.querySelectorAll('#found .legend-item').length === 0", timeout=10_000)
    page.wait_for_function(
        "() => document.querySelector('[role=tab]')?.innerText.startsWith('Words: sofa')", timeout=10_000
    )
    page.close()


def test_the_button_does_not_search_again_what_the_upload_just_searched(browser, served_app):
    page = searched(browser, served_app, DESKTOP)
    page.get_by_text("For developers").click()  # the timings: a new search's differ
    page.locator("#api .prose.timings").wait_for()
    timings = "() => document.querySelector('#api .prose.timings').textContent"
    searched_once = page.evaluate(timings)
    assert "detect" in searched_once
    page.get_by_role("button", name="Find similar products").click()
    page.wait_for_timeout(3000)
    assert page.evaluate(timings) == searched_once  # the same answer, not a new search's timings
    words = page.locator("#words textarea")
    words.fill("white")
    words.press("Enter")  # something changed: searched again
    page.wait_for_function(
        "before => document.querySelector('#api .prose.timings').textContent !== before",
        arg=searched_once,
        timeout=60_000,
    )
    page.close()


def test_searching_a_region_before_choosing_one_says_so(browser, served_app):
    page = searched(browser, served_app, DESKTOP)
    page.get_by_text("Search a region you choose").click()
    page.get_by_role("button", name="Search this region").click()
    page.get_by_text("Choose a region first").wait_for(timeout=10_000)
    assert not any("Your selection" in t for t in page.get_by_role("tab").all_inner_texts())
    page.close()
