"""A small retry helper shared by the connectors (SQL connect, HTTP pages).

Only the caller knows which failures are worth another try, so it passes `is_transient`;
everything else is raised at once. After the last attempt the last exception is re-raised
unchanged, so the caller can wrap it in a message that names its source.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def backoff_delays(attempts: int, backoff: float, max_backoff: float) -> list[float]:
    """The sleeps between `attempts` tries: backoff, 2*backoff, 4*backoff ... capped at max_backoff."""
    return [min(backoff * 2**i, max_backoff) for i in range(max(attempts - 1, 0))]


def retry(
    fn: Callable[[], T],
    *,
    attempts: int = 3,
    backoff: float = 0.5,
    max_backoff: float = 10.0,
    is_transient: Callable[[BaseException], bool],
    jitter: float = 0.0,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fn` until it succeeds, at most `attempts` times.

    `jitter` (0..1) spreads the sleeps by up to that fraction so that many workers retrying
    the same server do not hammer it in lockstep. `on_retry(attempt, exc, delay)` is called
    before each sleep (for logging). `sleep` is injectable so tests need not wait.
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    delays = backoff_delays(attempts, backoff, max_backoff)
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            delay = delays[attempt - 1]
            if jitter:
                delay *= 1 + random.uniform(-jitter, jitter)
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # the loop either returns or raises
