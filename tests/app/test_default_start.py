"""The default, end to end: `python app.py` with the default settings reads the default catalog over HTTP from
a local Hub (bench.hub, serving the stand-in laid out as huggingface/amazon-berkeley-objects is documented) as
the Space reads it from the Hub, with the shared YOLO and a randomly initialised CLIP of ViT-B/32's shape
standing for openai/clip-vit-base-patch32. The page is up at once, says how far the start has come, and once
indexed answers both endpoints; `python -m index inspect` prints what docs/catalogs.md shows."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from bench.hub import REPO, LocalHub
from models.encoder import save_random_clip_b32
from support import ABO_LISTINGS, ROOT, YOLO_WEIGHTS, abo_colour, abo_standin, needs_shared, paint

pytestmark = [pytest.mark.slow, needs_shared]
STARTED_WITHIN_S = 60  # the page, before the index: models are loaded in the background
INDEXED_WITHIN_S = 240


def _online(tmp_path, endpoint: str, **settings) -> dict:
    """The environment of a process that reaches the Hub at `endpoint` (and nothing else), with these settings."""
    return {
        **os.environ,
        "HF_ENDPOINT": endpoint,
        "HF_HUB_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": "0",
        "HF_HOME": str(tmp_path / "hf"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # where the default index goes
        **settings,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {seconds} s")


def test_python_app_py_serves_the_default_catalog_read_over_http(tmp_path):
    folder = abo_standin(tmp_path / "abo")
    encoder = save_random_clip_b32(tmp_path / "clip-b32")
    port = _free_port()
    with LocalHub({REPO: folder}) as hub:
        env = _online(
            tmp_path,
            hub.endpoint,
            LOOKALIKE_DETECTOR=str(YOLO_WEIGHTS),
            LOOKALIKE_ENCODER=str(encoder),
            LOOKALIKE_DEVICE="cpu",
            GRADIO_SERVER_NAME="127.0.0.1",
            GRADIO_SERVER_PORT=str(port),
        )
        log = (tmp_path / "app.log").open("w")
        app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/"

            def page():
                try:
                    return urllib.request.urlopen(url, timeout=5).status == 200
                except OSError:
                    return app.poll() is not None and pytest.fail((tmp_path / "app.log").read_text()[-3000:])

            _until(page, STARTED_WITHIN_S, "the page")
            client = Client(url, verbose=False)

            def indexed():
                try:
                    return client.predict("sofa", 3, api_name="/search_text")
                except AppError as exc:
                    assert "ndexing" in str(exc) or "starting" in str(exc).lower(), exc  # progress, never a failure
                    return None

            status, found = _until(indexed, INDEXED_WITHIN_S, "a searchable index")
            assert found["products"] and "sofa" in found["products"][0]["name"].lower(), status
            sofa = next(i for i, listing in enumerate(ABO_LISTINGS) if listing[3] == "SOFA")
            photo = paint((320, 240), [((60, 40, 260, 200), abo_colour(sofa))], background=(255, 255, 255))
            photo.save(tmp_path / "sofa.png")
            _, _, result, _ = client.predict(handle_file(str(tmp_path / "sofa.png")), 3, api_name="/search")
            assert result["objects"] and all(o["products"] for o in result["objects"])
            assert hub.stats()["requests"] > 0  # read over HTTP, not from a folder
        finally:
            app.terminate()
            app.wait(timeout=30)
            log.close()
        inspect = subprocess.run(
            [sys.executable, "-m", "index", "inspect"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
    assert inspect.returncode == 0, inspect.stderr[-3000:]
    for line in ("configuration listings", "Kept ", "Found the images of", "Product types (product_type)"):
        assert line in inspect.stdout, inspect.stdout
