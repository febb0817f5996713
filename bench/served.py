"""`python app.py` started as a visitor's server is: its own process on a free local port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class App:
    """A running `python app.py`: its URL, and when it was started and first answered (perf_counter)."""

    def __init__(self, process: subprocess.Popen, url: str, started: float, ready: float):
        self.process, self.url, self.started, self.ready = process, url, started, ready

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def start_app(settings: dict[str, str], timeout_s: float = 900, poll_s: float = 0.05) -> App:
    """Start the app with these LOOKALIKE_* variables on a free port; return once `/gradio_api/info`
    answers (a first start may build the index: minutes)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        **settings,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env)
    while time.perf_counter() - started < timeout_s:
        if process.poll() is not None:
            raise SystemExit(f"the app exited with code {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url + "gradio_api/info", timeout=5):
                return App(process, url, started, time.perf_counter())
        except OSError:
            time.sleep(poll_s)
    process.terminate()
    raise SystemExit(f"the app did not answer within {timeout_s:.0f} s")
