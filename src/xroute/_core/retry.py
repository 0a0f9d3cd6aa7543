"""When to retry and how long to wait: backoff with jitter, Retry-After, x-should-retry."""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter: 0.5 s doubling per retry, capped at 8 s.

    The server's `retry-after-ms` / `retry-after` wins when it is positive and at most
    `max_retry_after` seconds; a longer ask is not honoured blindly (it would park the
    caller for minutes) and the computed backoff is used instead.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    # Each delay is shortened by up to this share, so clients that failed together spread out.
    jitter: float = 0.25
    max_retry_after: float = 60.0

    def backoff(self, retries_done: int, rng: random.Random) -> float:
        """The delay before retry number `retries_done + 1`, jitter included."""
        base = min(self.initial_delay * 2.0**retries_done, self.max_delay)
        return base * (1.0 - self.jitter * rng.random())

    def delay(
        self,
        retries_done: int,
        headers: Mapping[str, str] | None,
        *,
        rng: random.Random,
        wall: float,
    ) -> float:
        """The wait before the next retry: the server's ask if sane, else the backoff."""
        asked = retry_after_seconds(headers, wall=wall) if headers is not None else None
        if asked is not None and 0 <= asked <= self.max_retry_after:
            return asked
        return self.backoff(retries_done, rng)


def should_retry_status(status: int, headers: Mapping[str, str]) -> bool:
    """408/409/429/5xx retry; other statuses don't; `x-should-retry` overrides both ways."""
    override = headers.get("x-should-retry", "").strip().lower()
    if override == "true":
        return True
    if override == "false":
        return False
    return status in RETRYABLE_STATUS or status >= 500


def retry_after_seconds(headers: Mapping[str, str], *, wall: float) -> float | None:
    """Seconds the server asked us to wait, from `retry-after-ms` or `retry-after`.

    `retry-after` is either delta-seconds or an HTTP date; `wall` is the current Unix time
    (passed in, so this stays pure). Unparseable values are ignored, never fatal.
    """
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        return max(0.0, float(email.utils.mktime_tz(parsed)) - wall)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
