"""Fetching the product images a catalog names by http(s) URL, for the index build.

Many at once on a bounded pool of threads, retried when a failure may pass, capped in size, checked to be
images, and cached on disk by URL so that a rebuild fetches nothing twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import random
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image

log = logging.getLogger(__name__)

USER_AGENT = "Lookalike catalog indexer"
MAX_RETRY_AFTER_S = 30  # a server asking for a longer pause is not waited for that long
DEADLINE_TIMEOUTS = 3  # a download's whole time, in timeouts


def is_url(value: object) -> bool:
    """Whether `value` is an http(s) link: the only kind fetched, so no catalog can read local files."""
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class FetchFailure:
    url: str
    reason: str  # a short category, to be counted: "timed out", "HTTP 404", "too large", "not an image", ...

    def __str__(self) -> str:
        return f"{self.url}: {self.reason}"


class _Failed(Exception):
    """One attempt's failure: its reason, whether another attempt may succeed, and any pause the server asked for."""

    def __init__(self, reason: str, *, retry: bool = False, wait: float = 0.0) -> None:
        super().__init__(reason)
        self.reason, self.retry, self.wait = reason, retry, wait


class ImageFetcher:
    """Fetches images over one shared HTTP client; with `cache_dir`, keeps each there, named by its URL's
    SHA-256. With `refresh`, every image is fetched anew (an update must see an image changed at its link)
    and the cache is only written."""

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        workers: int = 8,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        max_bytes: int = 20 * 2**20,
        max_redirects: int = 5,
        refresh: bool = False,
    ) -> None:
        self.cache_dir, self.refresh = cache_dir, refresh
        self.workers, self.retries, self.backoff, self.max_bytes = workers, retries, backoff, max_bytes
        # httpx's timeout bounds each read; a server dripping a byte at a time would never meet it, so
        # a whole download gets a few timeouts' worth, checked as its bytes arrive.
        self.deadline = DEADLINE_TIMEOUTS * timeout
        self.stats: Counter[str] = Counter(fetched=0, cached=0, failed=0)  # per distinct URL asked for
        self._client = httpx.Client(
            follow_redirects=True,
            max_redirects=max_redirects,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": USER_AGENT},
            # One connection per worker, kept alive: the images of a catalog often come from one host.
            limits=httpx.Limits(max_connections=workers, max_keepalive_connections=workers),
        )

    def __enter__(self) -> ImageFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(self, urls: list[str]) -> list[bytes | FetchFailure]:
        """Each URL's image bytes or why there are none, in the order of `urls`; a URL given twice is fetched once."""
        unique = list(dict.fromkeys(urls))
        results: dict[str, bytes | FetchFailure] = {}
        cached: set[str] = set()
        for url in unique:
            if not is_url(url):
                results[url] = FetchFailure(url, "not a web link")
            elif (data := self._read_cache(url)) is not None:
                results[url] = data
                cached.add(url)
        missing = [url for url in unique if url not in results]
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="image-fetch") as pool:
            results.update(zip(missing, pool.map(self._download, missing)))
        self.stats.update(
            "failed" if isinstance(result, FetchFailure) else "cached" if url in cached else "fetched"
            for url, result in results.items()
        )
        return [results[url] for url in urls]

    def _download(self, url: str) -> bytes | FetchFailure:
        attempt = 0
        while True:
            try:
                data = self._get(url)
            except _Failed as failed:
                if not failed.retry or attempt >= self.retries:
                    return FetchFailure(url, failed.reason)
                delay = self.backoff * 2**attempt
                # Jitter, so that the workers a busy server turned away do not all come back at once.
                delay = max(delay + random.uniform(0, delay / 4), failed.wait)
                log.debug("Fetching %s again in %.2f s: %s", url, delay, failed.reason)
                time.sleep(delay)
                attempt += 1
            else:
                self._write_cache(url, data)
                return data

    def _get(self, url: str) -> bytes:
        """One attempt at `url`'s image; raises _Failed."""
        ends = time.monotonic() + self.deadline
        try:
            with self._client.stream("GET", url) as response:
                status = response.status_code
                if not response.is_success:
                    raise _Failed(f"HTTP {status}", retry=status == 429 or status >= 500, wait=_retry_after(response))
                length = response.headers.get("Content-Length", "")
                if length.isdecimal() and int(length) > self.max_bytes:
                    raise _Failed("too large")
                body = bytearray()
                for chunk in response.iter_bytes():  # decoded: the cap holds for a compressed body too
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise _Failed("too large")
                    if time.monotonic() > ends:
                        raise _Failed("timed out", retry=True)
        except httpx.TimeoutException as exc:
            raise _Failed("timed out", retry=True) from exc
        except httpx.TooManyRedirects as exc:
            raise _Failed("too many redirects") from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:  # e.g. no host, or a redirect to file://
            raise _Failed("not a web link") from exc
        except httpx.RequestError as exc:  # refused, reset, DNS, a malformed or badly compressed response
            raise _Failed("connection failed", retry=isinstance(exc, httpx.TransportError)) from exc
        data = bytes(body)
        if not _is_image(data):
            raise _Failed("not an image")
        return data

    def _read_cache(self, url: str) -> bytes | None:
        if self.cache_dir is None or self.refresh:
            return None
        try:
            return (self.cache_dir / _cache_name(url)).read_bytes()
        except OSError:  # not cached yet, or unreadable: fetched again either way
            return None

    def _write_cache(self, url: str, data: bytes) -> None:
        if self.cache_dir is None:
            return
        # Written aside and renamed into place, so an interrupted write never leaves a half image to be read later.
        self.cache_dir.mkdir(parents=True, exist_ok=True)  # made when first needed: a build of files makes none
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(tmp, self.cache_dir / _cache_name(url))
        except OSError as exc:  # a full disk costs the cache, not the image in hand
            log.warning("Could not cache the image of %s: %s", url, exc)
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _cache_name(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def _retry_after(response: httpx.Response) -> float:
    """The pause a 429 or 503 asks for in seconds, capped; 0 when it gives none (or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    return min(int(value), MAX_RETRY_AFTER_S) if value.isdecimal() else 0.0


def _is_image(data: bytes) -> bool:
    """Whether PIL recognises `data` as an image, from its header alone; Content-Type is not trusted."""
    try:
        with Image.open(io.BytesIO(data)):
            return True
    # Anything PIL raises on a header means the same here (ultralytics' patch of Image.open raises ImportError).
    except Exception:
        return False
