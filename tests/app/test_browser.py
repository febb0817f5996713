"""A shopper's visit in headless Debian Chromium: upload a room photo, get per-object product galleries."""

from pathlib import Path

import pytest

from support import APP_PHOTO

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian chromium is not installed at {CHROMIUM}"),
]


@pytest.fixture(scope="module")
def page(served_app):
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(served_app)
        yield page
        browser.close()


def test_upload_shows_boxed_objects_and_a_product_gallery_per_object(page):
    page.locator("input[type=file]").first.set_input_files(str(APP_PHOTO))

    products = page.locator(".products img")
    products.first.wait_for(timeout=90_000)
    tabs = page.get_by_role("tab")
    labels = tabs.all_inner_texts()
    assert len(labels) >= 2 and any("chair" in label for label in labels)
    assert products.count() == 10  # the visible tab's gallery: the default 10 results
    assert all(products.nth(i).evaluate("img => img.complete && img.naturalWidth > 0") for i in range(10))
    assert page.get_by_text("Open the product page").first.is_visible()
    assert not page.get_by_text("detect").first.is_visible()  # the timings are in the developers' fold
    page.get_by_text("For developers").click()
    page.get_by_text("detect").first.wait_for(state="visible")

    # One box in the photo's legend per object found; choosing another brings its results forward.
    assert page.locator(".legend-item").count() >= 2
    page.locator(".legend-item").nth(1).click()
    page.wait_for_function("() => document.querySelector('[role=tab][aria-selected=true]')?.innerText.startsWith('2 ')")


def test_an_example_photo_is_searched_on_click(page):
    examples = page.locator("#examples button.gallery-item")
    assert examples.count() >= 2  # the rendered rooms in examples/, bedroom first

    examples.first.click()

    page.wait_for_function(
        "() => [...document.querySelectorAll('[role=tab]')].some(t => / bed\\b/.test(t.innerText))", timeout=60_000
    )


def _first_results(page) -> list[str]:
    """The captions of the products in the visible tab, once they are shown."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('.products img')].some(e => e.offsetParent)", timeout=90_000
    )
    return page.evaluate(
        "() => [...document.querySelectorAll('.products .caption-label')]"
        ".filter(e => e.offsetParent).map(e => e.innerText)"
    )


def _changes(page, before: list[str]) -> list[str]:
    page.wait_for_function(
        "before => JSON.stringify([...document.querySelectorAll('.products .caption-label')]"
        ".filter(e => e.offsetParent).map(e => e.innerText)) !== JSON.stringify(before)",
        arg=before,
        timeout=60_000,
    )
    return _first_results(page)


def test_words_a_filter_and_a_drawn_region_change_the_results(page, served_app):
    page.goto(served_app)  # a fresh page: no results of an earlier visit
    page.locator("input[type=file]").first.set_input_files(str(APP_PHOTO))
    plain = _first_results(page)

    words = page.locator("#words textarea")
    words.fill("white")
    words.press("Enter")
    white = _changes(page, plain)
    assert "white" in white[0].lower() and sum("white" in c.lower() for c in white) > sum(
        "white" in c.lower() for c in plain
    )

    words.fill("")
    page.get_by_text("Filters").click()
    page.locator("#category input").click()
    page.locator("#category input").fill("sofas")
    page.get_by_role("option", name="sofas").click()
    page.get_by_role("button", name="Find similar products").click()
    # The category narrows each object's kind: the first object, a chair, has no sofa to list.
    page.wait_for_function(
        "() => /sofas|within the filters/.test(document.querySelector('.product-detail').innerText)", timeout=60_000
    )

    page.get_by_text("Search a region you choose").click()
    picker = page.locator("#picker img")
    picker.wait_for()
    picker.click(position={"x": 40, "y": 60})
    page.wait_for_timeout(2000)  # the first corner goes to the server and back before the second
    picker.click(position={"x": 160, "y": 200})
    page.wait_for_function(
        "() => /^\\d+, \\d+, \\d+, \\d+$/.test(document.querySelector('#box textarea, #box input').value)"
    )
    page.get_by_role("button", name="Search this region").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[role=tab]')].some(t => /Your selection/.test(t.innerText))",
        timeout=60_000,
    )
    assert page.get_by_text("Your region was searched").is_visible()
