"""The page as a first-time visitor sees it, in headless Debian Chromium at 1280x900 and at a 390x844
phone: results in view after a search, a product grid that reads on a phone, boxes that can be
clicked, the whole photo as a tab rather than a box over everything, and words that clear a photo's marks;
every object's tab in view, products that flow with the page, touch targets a finger can hit."""

from pathlib import Path

import pytest

from support import APP_PHOTO, REAL_PHOTOS, ROOT

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian chromium is not installed at {CHROMIUM}"),
]
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
BEDROOM = ROOT / "examples" / "bedroom.jpg"  # three objects and the whole photo: four tabs, too wide for a phone
TOUCH = 44  # px: the height of a touch target a finger can hit
VISIBLE = "e => e.offsetParent !== null && e.getBoundingClientRect().width > 0"


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


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_objects_tab_is_in_view_and_none_behind_a_menu(browser, served_app, viewport):
    page = searched(browser, served_app, viewport, BEDROOM)
    objects = page.locator("#found .legend-item").count()
    objects += "and the whole photo" in page.locator("#status").inner_text()
    tabs = page.evaluate(
        f"() => [...document.querySelectorAll('[role=tab]')].filter({VISIBLE})"
        ".map(t => t.getBoundingClientRect().toJSON())"
    )
    assert objects >= 4 and len(tabs) == objects
    assert all(t["left"] >= 0 and t["right"] <= viewport["width"] for t in tabs)
    assert page.locator("button[aria-label='More tabs']:visible").count() == 0
    if viewport is PHONE:
        assert min(t["height"] for t in tabs) >= TOUCH
    page.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_products_flow_with_the_page_with_their_names_on_two_lines_and_whole_in_the_preview(
    browser, served_app, viewport
):
    page = searched(browser, served_app, viewport, BEDROOM)
    grid = page.evaluate(f"""() => {{ const g = [...document.querySelectorAll('.products .grid-wrap')].find({VISIBLE});
        return [g.clientHeight, g.scrollHeight, getComputedStyle(g).overflowY]; }}""")
    assert grid[1] <= grid[0] + 1 and grid[2] == "visible", grid  # no box of its own to scroll
    captions = page.evaluate(f"""() => [...document.querySelectorAll('.products .caption-label')].filter({VISIBLE})
        .map(c => [c.innerText, c.getBoundingClientRect().height, parseFloat(getComputedStyle(c).lineHeight)])""")
    assert len(captions) == 10
    for text, height, line in captions:  # the price on its line, the name on at most two more
        assert height <= 3 * line + 1 and text.startswith("HKD "), (text, height, line)
    assert any(height > 2 * line for _, height, line in captions)  # long names do take their two lines

    page.locator(".products .thumbnail-item").filter(visible=True).first.click()
    caption = page.locator(".products .preview .caption").filter(visible=True)
    caption.wait_for()
    assert caption.inner_text() == captions[0][0]  # the whole name, not cut
    assert caption.evaluate("c => c.scrollWidth <= c.clientWidth && c.scrollHeight <= c.clientHeight")
    photo = page.locator(".products .preview .media-button img").bounding_box()
    assert photo["height"] <= 0.6 * viewport["height"] + 1  # the preview's photo, caption and strip in one screen
    page.close()


def test_a_phones_buttons_on_the_results_are_touch_targets(browser, served_app):
    page = searched(browser, served_app, PHONE, BEDROOM)
    targets = f"""() => [...document.querySelectorAll('[role=tab], #found button, .products .preview button')]
        .filter({VISIBLE}).filter(b => !b.classList.contains('media-button'))
        .map(b => [b.getAttribute('aria-label') || b.innerText, Math.round(b.getBoundingClientRect().height)])"""
    results = page.evaluate(targets)
    page.locator(".products .thumbnail-item").filter(visible=True).first.click()
    page.locator(".products .preview").filter(visible=True).wait_for()
    preview = page.evaluate(targets)
    # Each object's tab and its label on the photo (two of each at least), the fullscreen button; the preview's own.
    assert len(results) >= 5 and len(preview) > len(results), (results, preview)
    assert [t for t in results + preview if t[1] < TOUCH] == []
    page.close()


def test_the_region_picker_asks_for_a_photo_first_when_there_is_none(browser, served_app):
    page = browser.new_page(viewport=DESKTOP)
    page.goto(served_app)
    page.get_by_text("Search a region you choose").click()
    hint = page.locator("#region-hint")
    hint.get_by_text("Add a photo first").wait_for()
    page.get_by_role("button", name="Search this region").click()
    page.get_by_text("Add a photo first: upload one").wait_for(timeout=10_000)
    assert page.get_by_text("photo above").count() == 0

    page.locator("input[type=file]").first.set_input_files(str(BEDROOM))
    hint.get_by_text("Click two corners of the region in the photo below").wait_for(timeout=30_000)
    page.close()
