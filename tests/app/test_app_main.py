"""`python app.py`: settings from the environment; a first start serves its page at once and builds the
index meanwhile, the API saying how far it has come until it answers, the page with its search controls
waiting until then; a build that fails says why."""

import functools
import socket
import threading
import time
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from core.settings import Settings
from support import APP_PHOTO, colour_catalog, needs_shared

PRODUCTS = 6
CHROMIUM = Path("/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_main_reports_a_bad_setting_by_name(tmp_path, monkeypatch, caplog):
    import app

    monkeypatch.setenv("LOOKALIKE_TOP_K", "0")
    monkeypatch.setenv("LOOKALIKE_INDEX_DIR", str(tmp_path / "idx"))

    assert app.main() == 2
    assert "top_k (LOOKALIKE_TOP_K) must be between 1" in caplog.text and not (tmp_path / "idx").exists()


@pytest.fixture
def gated_feed(tmp_path, monkeypatch):
    """A product feed whose first two images are served at once and the rest only when the gate opens."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the fetched images' cache
    folder = tmp_path / "site"
    folder.mkdir()
    for i in range(PRODUCTS):
        Image.new("RGB", (40, 40), (40 * i, 100, 200 - 30 * i)).save(folder / f"{i}.jpg")
    gate = threading.Event()

    class Gated(SimpleHTTPRequestHandler):
        def do_GET(self):
            if self.path not in ("/0.jpg", "/1.jpg"):
                gate.wait(60)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Gated, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    feed = tmp_path / "feed.csv"
    feed.write_text(
        "id,title,image_link,product_type\n"
        + "".join(f"P{i},Product {i},{base}/{i}.jpg,{['Sofas', 'Chairs'][i % 2]}\n" for i in range(PRODUCTS))
    )
    yield feed, gate
    gate.set()
    server.shutdown()
    server.server_close()


def test_a_first_start_serves_the_page_at_once_and_searches_once_indexed(
    gated_feed, tiny_clip_path, tiny_yolo_path, tmp_path
):
    import app

    feed, gate = gated_feed
    settings = Settings.of(
        catalog=str(feed),
        index_dir=str(tmp_path / "index"),
        encoder=str(tiny_clip_path),
        detector=str(tiny_yolo_path),
        batch_size=2,
    )
    demo, starting = app.serve(settings, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    try:
        assert starting.engine is None  # served before the index exists
        client = Client(demo.local_url, verbose=False)
        deadline = time.monotonic() + 60
        while starting.done < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(Exception, match=r"Still indexing the catalog, 33% done \(2 of 6 products\)"):
            client.predict(image=handle_file(str(feed.parent / "site" / "0.jpg")), api_name="/search")
        with pytest.raises(Exception, match="Still indexing the catalog"):
            client.predict(words="sofa", api_name="/search_text")
        assert "Indexing the catalog: 2 of 6 products (33%)" in starting.status

        gate.set()
        assert starting.wait(120) is not None, starting.error
        objects = client.predict(image=handle_file(str(feed.parent / "site" / "3.jpg")), api_name="/search")[2]
        assert objects["objects"] and objects["objects"][0]["products"]
        assert client.predict(words="product", api_name="/search_text")[1]["products"]
    finally:
        gate.set()
        starting.stop()
        demo.close()


@contextmanager
def browser_page(url: str):
    """A page of the served app in headless Debian Chromium, at 1280x900."""
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        yield page
        browser.close()


def search_controls_disabled(page) -> list[bool]:
    """Whether each search control is disabled: the photo (no upload), the words, the three buttons."""
    region = page.get_by_text("Search a region you choose")
    if region.locator("xpath=..").get_attribute("class").split().count("open") == 0:
        region.click()  # its region and its button, in the fold
    fields = ["#words textarea", "#box textarea", "#text-query textarea"]
    buttons = ["Find similar products", "Search this region", "Search words"]
    return [
        page.locator("input[type=file]").count() == 0,
        *[page.locator(field).is_disabled() for field in fields],
        *[page.get_by_role("button", name=name).is_disabled() for name in buttons],
    ]


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian chromium is not installed at {CHROMIUM}")
def test_while_indexing_the_page_says_so_and_its_search_controls_wait_until_it_is_done(
    gated_feed, tiny_clip_path, tiny_yolo_path, tmp_path
):
    import app

    feed, gate = gated_feed  # the build holds at 2 of 6 products until the gate opens
    settings = Settings.of(
        catalog=str(feed),
        index_dir=str(tmp_path / "index"),
        encoder=str(tiny_clip_path),
        detector=str(tiny_yolo_path),
        batch_size=2,
    )
    demo, starting = app.serve(settings, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    try:
        with browser_page(demo.local_url) as page:
            line = page.locator("#starting")
            line.get_by_text(
                "Indexing the catalog: 2 of 6 products (33%). Search opens when it is done.", exact=True
            ).wait_for(timeout=60_000)
            assert "progress" in line.get_attribute("class").split()  # information, not an error
            assert all(search_controls_disabled(page))
            example = page.locator("#examples button.gallery-item").first
            assert "Add a photo first" in page.locator("#region-hint").inner_text()
            example.click(force=True)  # through the greyed examples, as a mouse would
            example.focus()
            example.press("Enter")  # and as a keyboard would: both dropped
            page.wait_for_timeout(1500)  # what does not happen: no photo, no search, no error
            assert page.locator("#found img, .toast-body").count() == 0

            gate.set()
            assert starting.wait(120) is not None, starting.error
            page.get_by_role("button", name="Find similar products").and_(page.locator(":enabled")).wait_for(
                timeout=10_000  # the next tick, every second (web.layout.STARTING_TICK_S)
            )
            line.wait_for(state="hidden")
            assert not any(search_controls_disabled(page))
            page.locator("input[type=file]").first.set_input_files(str(feed.parent / "site" / "3.jpg"))
            page.locator(".products img").first.wait_for(timeout=60_000)
            assert page.locator(".toast-body").count() == 0
    finally:
        gate.set()
        starting.stop()
        demo.close()


def test_a_build_that_fails_says_why_on_the_page_and_in_the_api(tmp_path, tiny_clip_path, tiny_yolo_path):
    import app

    settings = Settings.of(
        catalog=str(tmp_path / "nowhere.csv"),
        index_dir=str(tmp_path / "index"),
        encoder=str(tiny_clip_path),
        detector=str(tiny_yolo_path),
    )
    demo, starting = app.serve(settings, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    try:
        starting.wait(60)
        assert starting.engine is None and "No catalog file" in starting.status
        with pytest.raises(Exception, match="Search is unavailable: No catalog file"):
            Client(demo.local_url, verbose=False).predict(words="sofa", api_name="/search_text")
    finally:
        starting.stop()
        demo.close()


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Debian chromium is not installed at {CHROMIUM}")
def test_a_build_that_fails_says_why_on_the_page_as_an_error_and_its_search_controls_stay_disabled(
    tmp_path, tiny_clip_path, tiny_yolo_path
):
    import app

    settings = Settings.of(
        catalog=str(tmp_path / "nowhere.csv"),
        index_dir=str(tmp_path / "index"),
        encoder=str(tiny_clip_path),
        detector=str(tiny_yolo_path),
    )
    demo, starting = app.serve(settings, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    try:
        with browser_page(demo.local_url) as page:
            line = page.locator("#starting")
            line.get_by_text("The catalog could not be loaded: No catalog file").wait_for(timeout=60_000)
            page.wait_for_function("() => document.querySelector('#starting').classList.contains('failed')")
            assert all(search_controls_disabled(page))
            assert "waiting" in page.locator("#examples").get_attribute("class").split()
    finally:
        starting.stop()
        demo.close()


@needs_shared
def test_an_index_already_built_is_loaded_before_the_page_is_served(hk_settings, hk_engine):
    import app  # hk_engine: the index is built

    demo, starting = app.serve(hk_settings, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    try:
        assert starting.engine is not None and starting.status == ""
        result = Client(demo.local_url, verbose=False).predict(image=handle_file(str(APP_PHOTO)), api_name="/search")
        assert result[2]["objects"]
    finally:
        starting.stop()
        demo.close()


def test_a_new_version_of_the_index_is_served_without_a_restart(
    tmp_path, tiny_clip_path, tiny_yolo_path, tiny_clip, monkeypatch
):
    import urllib.error
    import urllib.request

    import app
    from search.starting import StartingEngine

    # The app looks every 5 s (search.starting.CHECK_EVERY_S); here every 0.2 s, so that the test waits less.
    follow = StartingEngine.follow
    monkeypatch.setattr(StartingEngine, "follow", lambda self, every=0.2: follow(self, every))
    from index.builder.update import update_index
    from index.catalog.open import open_catalog

    shop = [("P0", "Chair", (255, 0, 0)), ("P1", "Sofa", (0, 0, 255))]
    settings = Settings.of(
        catalog=str(colour_catalog(tmp_path, shop)),
        index_dir=str(tmp_path / "index"),
        encoder=str(tiny_clip_path),
        detector=str(tiny_yolo_path),
    )
    app.load_engine(settings, build_index=True, progress=False)
    demo, starting = app.serve(settings, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        first = client.predict(words="chair", api_name="/search_text")[1]["products"][0]["image"]
        added = []
        for more, words in ((("P2", "Rug", (255, 255, 0)), "rug"), (("P3", "Table lamp", (9, 9, 9)), "lamp")):
            added.append(more)
            update_index(
                open_catalog(colour_catalog(tmp_path, shop + added)), tiny_clip, tmp_path / "index", progress=False
            )
            deadline = time.monotonic() + 30
            while len(starting.engine.index) != 2 + len(added) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert len(starting.engine.index) == 2 + len(added)
            found = client.predict(words=words, api_name="/search_text")[1]["products"]
            assert found[0]["id"] == more[0] and starting.engine.index.path.name in found[0]["image"]
            with urllib.request.urlopen(demo.local_url + found[0]["image"]) as response:
                assert response.status == 200 and response.read(3) == b"\xff\xd8\xff"
        # The version served before the last one is gone: its thumbnails with it, never another product's.
        with pytest.raises(urllib.error.HTTPError) as gone:
            urllib.request.urlopen(demo.local_url + first)
        assert gone.value.code == 404
    finally:
        starting.stop()
        demo.close()
