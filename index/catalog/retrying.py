"""The Hub's calls that huggingface_hub does not retry itself, retried while a failure may pass.

huggingface_hub retries the reads of a file's bytes (`http_backoff`: 429 honouring Retry-After, 5xx, lost
connections; 5 retries, 1 to 8 s apart), but not a repository's info or a file's paths-info, which
`datasets` and `fsspec` ask before reading anything: one 503 there stopped a start. Those calls are
retried here in the same way, within a deadline, so that a start never hangs and gives up with the reason.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRIED_STATUS = (408, 429, 500, 502, 503, 504)  # huggingface_hub's own list
# Transport failures by class name: huggingface_hub's client (httpx2) and httpx name them alike.
RETRIED_ERRORS = ("TransportError", "TimeoutException", "NetworkError", "RemoteProtocolError")
TRIES = 5
FIRST_WAIT_S, MAX_WAIT_S = 1.0, 8.0
MAX_RETRY_AFTER_S = 30.0  # a server asking for a longer pause is not waited for that long
DEADLINE_S = 90.0  # past this, no new try starts: the start fails with the reason


def transient(exc: BaseException) -> float | None:
    """The pause to take before trying again when `exc`, or what it was raised from, may pass (429, 5xx, a
    lost or timed-out connection): the server's Retry-After where it gives one, else 0. None: it will not pass."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        status = getattr(response, "status_code", None)
        if status in RETRIED_STATUS:
            value = str(response.headers.get("Retry-After", "")).strip()  # type: ignore[union-attr]
            return min(float(value), MAX_RETRY_AFTER_S) if value.isdecimal() else 0.0
        if isinstance(seen, (ConnectionError, TimeoutError)) or any(
            kind.__name__ in RETRIED_ERRORS for kind in type(seen).__mro__
        ):
            return 0.0
        seen = seen.__cause__ or seen.__context__
    return None


def retried(call: Callable[[], T], what: str, deadline_s: float = DEADLINE_S) -> T:
    """`call()`, tried again with backoff while its failure may pass, up to TRIES times within `deadline_s`;
    its last exception otherwise."""
    ends = time.monotonic() + deadline_s
    wait, attempt = FIRST_WAIT_S, 0
    while True:
        attempt += 1
        try:
            return call()
        except Exception as exc:
            pause = transient(exc)
            if pause is None or attempt == TRIES:
                raise
            # Jitter, so that the starts a busy Hub turned away do not all come back at once.
            pause = max(pause, wait + random.uniform(0, wait / 4))
            if time.monotonic() + pause > ends:
                raise
            log.warning("%s failed (%s); trying again in %.1f s.", what, gist(exc), pause)
            time.sleep(pause)
            wait = min(MAX_WAIT_S, wait * 2)


def gist(exc: BaseException) -> str:
    """The first line of `exc`'s message, short: what a person reads of it."""
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]
