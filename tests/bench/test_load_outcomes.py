"""bench.load tells a lost connection from the app's errors and the queue's refusals, and measures a slope."""

import concurrent.futures
import os

import httpcore
import httpx
import pytest

from bench.load import burning, outcome, rss_mib, slope


@pytest.mark.parametrize(
    "error",
    [
        httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body (received 0 bytes, expected 3458)"
        ),
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
        httpx.ReadTimeout("timed out"),
        httpcore.RemoteProtocolError("Server disconnected without sending a response."),
        ConnectionResetError(104, "Connection reset by peer"),
        concurrent.futures.CancelledError(),  # gradio_client: the event stream closed before the answer
        RuntimeError("peer closed connection without sending complete message body (incomplete chunked read)"),
    ],
)
def test_a_connection_that_fails_is_lost(error):
    assert outcome(error).startswith("lost: ")


def test_the_apps_errors_fail_and_a_full_queue_refuses():
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    assert outcome(None) == "served"
    assert outcome(QueueError("Queue is full! Please try again.")) == "refused: queue full"
    assert outcome(AppError("This photo can't be searched")) == "failed: AppError: This photo can't be searched"
    assert outcome(ValueError("bad box")) == "failed: ValueError: bad box"


def test_slope_and_resident_memory():
    assert slope([(0, 100), (100, 110), (200, 120)]) == pytest.approx(0.1)
    assert slope([(5, 1), (5, 2)]) == 0.0
    assert rss_mib(os.getpid()) > 10


def test_burning_keeps_processes_spinning_until_left():
    with burning(2) as burners:
        assert len(burners) == 2 and all(b.poll() is None for b in burners)
    assert all(b.returncode is not None for b in burners)
    with burning(0) as none:
        assert none == []
