"""A local Hugging Face Hub serving one dataset repository over loopback, with faults on demand.

    python -m bench.hub --port 8765 [--full] [--delay-ms 50]
    HF_ENDPOINT=http://127.0.0.1:8765 python -m index inspect

It answers what `huggingface_hub` and `datasets` ask of a dataset repository, as the installed
huggingface_hub asks it (hf_api.py, hf_file_system.py, file_download.py): the repository's info
(`/api/datasets/R[/revision/REV]`), its tree (`/api/datasets/R/tree/REV[/PATH]`, recursive, paginated
by a `Link` header), paths-info (POST `/api/datasets/R/paths-info/REV`, form or JSON), and its files
(`/datasets/R/resolve/REV/PATH`, HEAD and GET, Range requests, with the ETag, X-Repo-Commit,
Content-Length, Accept-Ranges and Content-Range huggingface_hub reads). Errors carry the X-Error-Code
huggingface_hub turns into its exception types. Files are served from a folder (`bench.hub_data`: ABO as
its mirror is documented, or any folder laid out as a dataset).

Faults (`Faults`, set by a test, or over `POST /_hub/faults` as JSON by another process): a delay on every
request, a slower one on some paths, the next N requests of a path answered with a status (429 with
Retry-After, bursts of 500/503), the next N bodies of a path cut half way with the connection dropped, files
served cut short (a truncated parquet file) and files served with some bytes zeroed (a damaged row group). It
counts requests and body bytes (`GET /_hub/stats`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

REPO = "huggingface/amazon-berkeley-objects"
PAGE = 1000  # tree entries per page, as the Hub pages them
GARBLED = 16  # bytes zeroed in a garbled file: a page header
API = re.compile(r"/api/datasets/(?P<repo>[^/]+/[^/]+)(?:/(?P<what>revision|tree|paths-info)/(?P<rest>.*))?")
RESOLVE = re.compile(r"/datasets/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)")


@dataclass
class Faults:
    """What goes wrong, and how slowly. Paths are matched by substring of the request's path."""

    delay_s: float = 0.0  # before every answer: the Hub's round trip
    slow: dict[str, float] = field(default_factory=dict)  # path -> seconds more, per request
    fail: list[list] = field(default_factory=list)  # [path, status, times left, Retry-After or None]
    drop: dict[str, int] = field(default_factory=dict)  # path -> bodies left to cut half way, connection dropped
    truncate: set[str] = field(default_factory=set)  # paths served at half their length, everywhere
    garble: set[str] = field(default_factory=set)  # paths served with a row group damaged (`Repo.damaged_at`)

    def failing(self, path: str) -> tuple[int, int | None] | None:
        for rule in self.fail:
            if rule[0] in path and rule[2] > 0:
                rule[2] -= 1
                return rule[1], rule[3]
        return None

    def dropping(self, path: str) -> bool:
        for part, left in self.drop.items():
            if part in path and left > 0:
                self.drop[part] = left - 1
                return True
        return False


@dataclass(frozen=True)
class Entry:
    size: int
    oid: str  # the git blob id
    sha256: str | None  # parquet files are LFS files on the Hub


class Repo:
    """A folder served as a dataset repository at one commit."""

    def __init__(self, repo_id: str, folder: Path, faults: Faults):
        self.id, self.folder, self.faults = repo_id, Path(folder), faults

    @cached_property
    def entries(self) -> dict[str, Entry]:
        found = {}
        for path in sorted(p for p in self.folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            data = path.read_bytes()
            lfs = path.suffix == ".parquet"
            found[path.relative_to(self.folder).as_posix()] = Entry(
                len(data),
                hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
                hashlib.sha256(data).hexdigest() if lfs else None,
            )
        return found

    @cached_property
    def sha(self) -> str:
        return hashlib.sha1(json.dumps([[p, e.oid] for p, e in self.entries.items()]).encode()).hexdigest()

    def size(self, path: str) -> int:
        size = self.entries[path].size
        return size // 2 if any(t in path for t in self.faults.truncate) else size

    def read(self, path: str, start: int, end: int) -> bytes:
        with (self.folder / path).open("rb") as f:
            f.seek(start)
            data = f.read(end - start)
        if any(g in path for g in self.faults.garble):  # the same damage whatever range is asked for
            at = self.damaged_at(path)
            zeroed = range(max(start, at), min(end, at + GARBLED))
            data = data[: zeroed.start - start] + bytes(len(zeroed)) + data[zeroed.stop - start :] if zeroed else data
        return data

    def damaged_at(self, path: str) -> int:
        """Where a garbled file's bytes are zeroed: the page header of its first row group's largest column (a
        parquet file's image bytes), so that one row group is damaged and the file's footer and ids are whole."""
        import pyarrow.parquet as pq

        group = pq.ParquetFile(self.folder / path).metadata.row_group(0)
        largest = max(range(group.num_columns), key=lambda c: group.column(c).total_compressed_size)
        return group.column(largest).data_page_offset

    def listing(self, path: str, recursive: bool) -> list[dict] | None:
        """The tree entries under `path` ('' for the root); None when there is no such folder."""
        prefix = f"{path}/" if path else ""
        if path and not any(p.startswith(prefix) for p in self.entries):
            return None
        files, folders = [], set()
        for p in self.entries:
            if not p.startswith(prefix):
                continue
            parts = p[len(prefix) :].split("/")
            folders.update(prefix + "/".join(parts[: i + 1]) for i in range(len(parts) - 1 if recursive else 0))
            if recursive or len(parts) == 1:
                files.append(p)
            else:
                folders.add(prefix + parts[0])
        return [self.info(f) for f in sorted(folders)] + [self.info(p) for p in files]

    def info(self, path: str) -> dict:
        entry = self.entries.get(path)
        if entry is None:  # a folder
            return {"type": "directory", "path": path, "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0}
        found = {"type": "file", "path": path, "oid": entry.oid, "size": self.size(path)}
        if entry.sha256:
            found["lfs"] = {"oid": entry.sha256, "size": self.size(path), "pointerSize": 134}
        return found

    def has_revision(self, revision: str) -> bool:
        return unquote(revision) in ("main", self.sha)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as huggingface_hub's client expects of the Hub
    server: _Server

    def log_message(self, *args) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer("HEAD")

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        hub = self.server.hub
        url = urlsplit(self.path)
        if url.path.startswith("/_hub/"):
            return self._control(method, url.path)
        hub.count(f"{method} {_kind(url.path)}")
        faults = hub.faults
        time.sleep(faults.delay_s + sum(s for part, s in faults.slow.items() if part in url.path))
        failing = faults.failing(url.path)
        if failing:
            status, retry_after = failing
            return self._send(status, b"", {"Retry-After": str(retry_after)} if retry_after is not None else {})
        if match := RESOLVE.fullmatch(url.path):
            return self._resolve(method, match)
        if (match := API.fullmatch(url.path)) and method in ("GET", "POST"):
            return self._api(match, parse_qs(url.query), method)
        hub.count(f"unanswered {method} {url.path}")
        self._error(404, "EntryNotFound", f"{url.path} is not an address this local Hub answers")

    def _api(self, match, query: dict, method: str) -> None:
        repo = self.server.hub.repos.get(match["repo"])
        if repo is None:
            return self._error(404, "RepoNotFound", f"Repository {match['repo']} not found")
        what, rest = match["what"], match["rest"] or ""
        revision, _, path = rest.partition("/") if what != "revision" else (rest, "", "")
        if what and not repo.has_revision(revision):
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {unquote(revision)}")
        if what == "tree" and method == "GET":
            return self._tree(repo, unquote(path), query)
        if what == "paths-info" and method == "POST":
            paths = self._posted_paths()
            return self._json([repo.info(p) for p in paths if p in repo.entries or repo.listing(p, False)])
        if what in (None, "revision") and method == "GET":
            return self._json(_repo_info(repo))
        self._error(405, "", "method not allowed")

    def _tree(self, repo: Repo, path: str, query: dict) -> None:
        entries = repo.listing(path, query.get("recursive", ["False"])[0].lower() == "true")
        if entries is None:
            return self._error(404, "EntryNotFound", f"{path} does not exist on this revision")
        cursor = int(query.get("cursor", ["0"])[0])
        page, headers = entries[cursor : cursor + PAGE], {}
        if cursor + PAGE < len(entries):
            base = f"http://{self.headers['Host']}{urlsplit(self.path).path}"
            recursive = query.get("recursive", ["False"])[0]
            headers["Link"] = f'<{base}?recursive={recursive}&cursor={cursor + PAGE}>; rel="next"'
        self._json(page, headers)

    def _posted_paths(self) -> list[str]:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            return list(json.loads(body).get("paths", []))
        return parse_qs(body).get("paths", [])

    def _resolve(self, method: str, match) -> None:
        repo = self.server.hub.repos.get(match["repo"])
        path = unquote(match["path"])
        if repo is None:
            return self._error(404, "RepoNotFound", f"Repository {match['repo']} not found")
        if not repo.has_revision(match["rev"]):
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {unquote(match['rev'])}")
        if path not in repo.entries:
            return self._error(404, "EntryNotFound", f"{path} does not exist on this revision")
        size, entry = repo.size(path), repo.entries[path]
        start, end, status = 0, size, 200
        headers = {"ETag": f'"{entry.sha256 or entry.oid}"', "X-Repo-Commit": repo.sha, "Accept-Ranges": "bytes"}
        if (asked := self.headers.get("Range")) and method == "GET":
            found = re.fullmatch(r"bytes=(\d*)-(\d*)", asked.strip())
            if not found or (not found[1] and not found[2]):
                return self._send(416, b"", {"Content-Range": f"bytes */{size}"})
            if found[1]:
                start, end = int(found[1]), min(size, int(found[2]) + 1 if found[2] else size)
            else:
                start = max(0, size - int(found[2]))
            if start >= size:
                return self._send(416, b"", {"Content-Range": f"bytes */{size}"})
            status, headers["Content-Range"] = 206, f"bytes {start}-{end - 1}/{size}"
        if method == "HEAD":
            return self._send(status, b"", headers, length=end - start)
        body = repo.read(path, start, end)
        if self.server.hub.faults.dropping(path):
            return self._send(status, body[: len(body) // 2], headers, length=len(body), drop=True)
        self._send(status, body, headers)

    def _control(self, method: str, path: str) -> None:
        hub = self.server.hub
        if path == "/_hub/stats" and method == "GET":
            return self._json(hub.stats())
        if path == "/_hub/faults" and method == "POST":
            given = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            sets = {name: set(given.get(name, ())) for name in ("truncate", "garble")}
            hub.faults.__init__(**{**given, **sets})
            return self._json({})
        if path == "/_hub/reset" and method == "POST":
            hub.reset()
            return self._json({})
        self._error(404, "", "no such control")

    def _json(self, value, headers: dict | None = None) -> None:
        self._send(200, json.dumps(value).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _error(self, status: int, code: str, message: str) -> None:
        headers = {"X-Error-Message": message, **({"X-Error-Code": code} if code else {})}
        self._send(status, json.dumps({"error": message}).encode(), {"Content-Type": "application/json", **headers})

    def _send(self, status: int, body: bytes, headers: dict, length: int | None = None, drop: bool = False) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
            self.server.hub.count("bytes", len(body))
        if drop:  # the rest of the body never comes: the peer sees the connection close mid-body
            self.wfile.flush()
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hub: LocalHub


class LocalHub:
    """The server, in a thread of this process: `with LocalHub({repo: folder}) as hub: hub.endpoint`."""

    def __init__(self, repos: dict[str, Path], faults: Faults | None = None, port: int = 0, host: str = "127.0.0.1"):
        self.faults = faults or Faults()
        self.repos = {repo_id: Repo(repo_id, folder, self.faults) for repo_id, folder in repos.items()}
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = _Server((host, port), _Handler)
        self._server.hub = self
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, repo: str, path: str, revision: str = "main") -> str:
        return f"{self.endpoint}/datasets/{repo}/resolve/{quote(revision, safe='')}/{path}"

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self._counts[what] += n

    def stats(self) -> dict[str, int]:
        """Requests by kind ("GET resolve", "HEAD resolve", "GET tree"...), "requests" in all, "bytes" of bodies."""
        with self._lock:
            counts = dict(self._counts)
        counts["requests"] = sum(n for what, n in counts.items() if what != "bytes")
        counts.setdefault("bytes", 0)
        return counts

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def start(self) -> LocalHub:
        for repo in self.repos.values():
            _ = repo.sha  # hashed before the first request, not during it
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="local-hub")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def point_libraries_at(endpoint: str, setter=setattr) -> None:
    """Make huggingface_hub and datasets, already imported, ask `endpoint` (online), as HF_ENDPOINT set before
    their import would: both read it once, at import. `setter`: a test's `monkeypatch.setattr`, undone after it."""
    import datasets.config
    import huggingface_hub.constants as hub
    from huggingface_hub import HfFileSystem

    setter(hub, "ENDPOINT", endpoint)
    setter(hub, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    setter(hub, "HF_URL_HOSTS", hub.HF_URL_HOSTS | {urlsplit(endpoint).hostname})
    setter(hub, "HF_HUB_OFFLINE", False)
    setter(datasets.config, "HF_ENDPOINT", endpoint)
    setter(datasets.config, "HUB_DATASETS_URL", endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}")
    setter(datasets.config, "HF_HUB_OFFLINE", False)
    setter(datasets.config, "HF_DATASETS_OFFLINE", False)
    HfFileSystem.clear_instance_cache()  # a file system made before holds the endpoint it was made with


def _repo_info(repo: Repo) -> dict:
    return {
        "_id": repo.sha[:24],
        "id": repo.id,
        "author": repo.id.split("/")[0],
        "sha": repo.sha,
        "lastModified": "2024-01-01T00:00:00.000Z",
        "createdAt": "2024-01-01T00:00:00.000Z",
        "private": False,
        "gated": False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": ["license:cc-by-4.0"],
        "cardData": {"license": "cc-by-4.0"},
        "siblings": [{"rfilename": p, "size": e.size} for p, e in repo.entries.items()],
        "usedStorage": sum(e.size for e in repo.entries.values()),
    }


def _kind(path: str) -> str:
    if RESOLVE.fullmatch(path):
        return "resolve"
    match = API.fullmatch(path)
    return (match["what"] or "info") if match else "other"


def main(argv: list[str] | None = None) -> int:
    from bench.hub_data import FULL, Mirror, mirror_folder

    parser = argparse.ArgumentParser(prog="python -m bench.hub", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--full", action="store_true", help="the real mirror's size: 147,702 listings in 16 shards")
    parser.add_argument("--listings", type=int, help="listings generated (default 400; --full: 147,702)")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="added to every request")
    parser.add_argument("--cache", type=Path, help="where generated mirrors are kept (default: the user cache)")
    args = parser.parse_args(argv)
    mirror = FULL if args.full else Mirror()
    if args.listings:
        mirror = Mirror(listings=args.listings, shards=mirror.shards)
    folder = mirror_folder(mirror, args.cache)
    hub = LocalHub({REPO: folder}, Faults(delay_s=args.delay_ms / 1000), port=args.port).start()
    print(f"Serving {REPO} ({mirror.listings:,} listings, {folder}).", flush=True)
    print(f"HF_ENDPOINT={hub.endpoint}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        hub.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
