"""Fetching catalog images by URL, against a local HTTP server that misbehaves on purpose, one way per path."""

import hashlib
import io
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from index.catalog.fetch import FetchFailure, ImageFetcher, is_url


def image_bytes(format: str, colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format=format)
    return buffer.getvalue()


JPEG, PNG = image_bytes("JPEG", "red"), image_bytes("PNG", "blue")
MAX_BYTES = 10_000
BIG = b"\xff" * 50_000


class Site:
    """What the server was asked: hits per path, and the most requests it was serving at once."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        self.base = ""

    def url(self, path: str) -> str:
        return self.base + path


class Handler(BaseHTTPRequestHandler):
    site: Site

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        site, path = self.site, self.path
        with site.lock:
            site.hits[path] += 1
            hits = site.hits[path]
            site.in_flight += 1
            site.max_in_flight = max(site.max_in_flight, site.in_flight)
        try:
            self.respond(path, hits)
        except ConnectionError:  # the client hung up: a body too large, or a timeout
            pass
        finally:
            with site.lock:
                site.in_flight -= 1

    def respond(self, path: str, hits: int) -> None:
        if path == "/ok.jpg":
            self.send(200, JPEG)
        elif path == "/ok2.png":
            self.send(200, PNG)
        elif path == "/slow.jpg":
            time.sleep(2)
            self.send(200, JPEG)
        elif path == "/drip.jpg":  # each byte in time for the read timeout, the whole far too slow
            self.send_response(200)
            self.send_header("Content-Length", str(len(JPEG)))
            self.end_headers()
            for byte in JPEG:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
        elif path.startswith("/sleepy/"):
            time.sleep(0.2)
            self.send(200, JPEG)
        elif path == "/flaky.jpg":
            self.send(503, b"busy") if hits == 1 else self.send(200, JPEG)
        elif path == "/busy.jpg":
            self.send(429, b"slow down", {"Retry-After": "1"}) if hits == 1 else self.send(200, JPEG)
        elif path == "/down.jpg":
            self.send(500, b"broken")
        elif path == "/big.jpg":
            self.send(200, BIG)
        elif path == "/big-unsized.jpg":
            self.send(200, BIG, length=False)
        elif path == "/page.html":
            self.send(200, b"<html><body>Not found, but 200</body></html>", {"Content-Type": "image/jpeg"})
        elif path == "/redirect.jpg":
            self.send(302, b"", {"Location": "/ok.jpg"})
        elif path == "/loop.jpg":
            self.send(302, b"", {"Location": "/loop.jpg"})
        else:
            self.send(404, b"missing")

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None, length: bool = True) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)  # HTTP/1.0: without a length, closing the connection ends the body


@pytest.fixture
def site():
    site = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("SiteHandler", (Handler,), {"site": site}))
    server.daemon_threads = True  # a handler still sleeping does not hold up the shutdown
    server.block_on_close = False
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch_one(url: str, **options) -> bytes | FetchFailure:
    options = {"backoff": 0.01, "max_bytes": MAX_BYTES} | options
    with ImageFetcher(None, **options) as fetcher:
        [result] = fetcher.fetch([url])
    return result


@pytest.mark.parametrize(
    "path, expected, requests",
    [
        ("/ok.jpg", JPEG, 1),
        ("/ok2.png", PNG, 1),
        ("/redirect.jpg", JPEG, 1),
        ("/flaky.jpg", JPEG, 2),  # a 503, retried
        ("/missing.jpg", "HTTP 404", 1),  # a 4xx is not retried
        ("/down.jpg", "HTTP 500", 3),  # retried, up to `retries` times
        ("/big.jpg", "too large", 1),  # refused from its Content-Length
        ("/big-unsized.jpg", "too large", 1),  # cut off while streaming
        ("/page.html", "not an image", 1),  # whatever its Content-Type says
        ("/loop.jpg", "too many redirects", 6),  # the first request and max_redirects more
    ],
)
def test_each_kind_of_response_gives_its_result(site, path, expected, requests):
    result = fetch_one(site.url(path), retries=2)
    if isinstance(expected, bytes):
        assert result == expected
    else:
        assert result == FetchFailure(site.url(path), expected)
    assert site.hits[path] == requests


def test_a_server_dripping_its_bytes_times_out_as_a_whole(site):
    start = time.monotonic()
    result = fetch_one(site.url("/drip.jpg"), timeout=0.3, retries=0)
    assert result == FetchFailure(site.url("/drip.jpg"), "timed out") and time.monotonic() - start < 3


def test_a_server_too_slow_times_out_after_retrying(site):
    start = time.monotonic()
    assert fetch_one(site.url("/slow.jpg"), timeout=0.5, retries=1) == FetchFailure(site.url("/slow.jpg"), "timed out")
    assert site.hits["/slow.jpg"] == 2
    assert time.monotonic() - start < 1.9  # neither attempt waited for the 2 s answer


def test_a_refused_connection_fails_after_retrying(closed_port):
    url = f"http://127.0.0.1:{closed_port}/ok.jpg"
    assert fetch_one(url) == FetchFailure(url, "connection failed")


def test_retry_after_is_honoured(site):
    start = time.monotonic()
    assert fetch_one(site.url("/busy.jpg")) == JPEG
    assert time.monotonic() - start >= 1  # as the 429 asked, not the 0.01 s backoff


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x/y.jpg", "/ok.jpg", "ok.jpg", "", "http://"])
def test_only_web_links_are_fetched(site, url):
    assert fetch_one(url) == FetchFailure(url, "not a web link")
    assert not site.hits


@pytest.mark.parametrize(
    "value, expected",
    [
        ("https://x/y.jpg", True),
        ("http://x/y.jpg", True),
        ("HTTPS://X/Y.JPG", True),
        ("file:///etc/passwd", False),
        ("ftp://x", False),
        ("photos/y.jpg", False),
        ("httpx://x", False),
        (None, False),
        (b"http://x", False),
    ],
)
def test_is_url(value, expected):
    assert is_url(value) is expected


def test_results_keep_the_order_of_the_urls(site):
    paths = ["/missing.jpg", "/ok.jpg", "/page.html", "/ok2.png", "/ok.jpg", "/redirect.jpg"]
    with ImageFetcher(None, backoff=0.01) as fetcher:
        results = fetcher.fetch([site.url(p) for p in paths] + ["ftp://x"])
    assert results == [
        FetchFailure(site.url("/missing.jpg"), "HTTP 404"),
        JPEG,
        FetchFailure(site.url("/page.html"), "not an image"),
        PNG,
        JPEG,
        JPEG,
        FetchFailure("ftp://x", "not a web link"),
    ]
    assert site.hits["/ok.jpg"] == 2  # asked for twice, fetched once; once more behind the redirect
    assert fetcher.stats == {"fetched": 3, "cached": 0, "failed": 3}


def test_the_cache_serves_a_later_fetch_without_a_request(site, tmp_path):
    cache = tmp_path / "cache" / "images"  # made when missing
    urls = [site.url("/ok.jpg"), site.url("/missing.jpg")]
    with ImageFetcher(cache, backoff=0.01) as fetcher:
        first = fetcher.fetch(urls)
    assert sorted(p.name for p in cache.iterdir()) == [hashlib.sha256(urls[0].encode()).hexdigest()]

    with ImageFetcher(cache, backoff=0.01) as fetcher:
        second = fetcher.fetch(urls)
    assert second == first == [JPEG, FetchFailure(urls[1], "HTTP 404")]
    assert site.hits == {"/ok.jpg": 1, "/missing.jpg": 2}  # a failure is not cached: asked again
    assert fetcher.stats == {"fetched": 0, "cached": 1, "failed": 1}


def test_no_more_requests_at_once_than_workers(site):
    urls = [site.url(f"/sleepy/{i}.jpg") for i in range(6)]
    with ImageFetcher(None, workers=2) as fetcher:
        assert fetcher.fetch(urls) == [JPEG] * 6
    assert site.max_in_flight == 2


def test_a_failure_reads_as_its_url_and_reason():
    assert str(FetchFailure("https://x/y.jpg", "HTTP 404")) == "https://x/y.jpg: HTTP 404"
