"""What a fake model does: its pace, its faults and its outages (public, frozen data)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

FailureKind = Literal[
    "rate_limit", "server_error", "unavailable", "reset", "hang", "error_event", "truncate"
]
"""A scripted fault.

- ``"rate_limit"``: 429 with ``retry-after`` / ``retry-after-ms`` headers.
- ``"server_error"``: 500.  ``"unavailable"``: 503.
- ``"reset"``: the connection is reset (TCP RST).  Before any response byte for a plain request,
  after about half the chunks for a stream.  The client sees ``httpx.ReadError``.
- ``"hang"``: nothing more is sent for ``ModelScript.hang_seconds`` (before the response for a plain
  request, mid-way through a stream), so the client's read timeout fires (``httpx.ReadTimeout``).
  If the client waits it out, a plain request gets 504 and a stream is reset.
- ``"error_event"``: a stream sends ``data: {"error": {...}}`` mid-way and ends without ``[DONE]``;
  a plain request gets 502.
- ``"truncate"``: a stream ends cleanly mid-way without a finish reason or ``[DONE]``; a plain
  request gets 200 with only the first half of its JSON body (``Content-Length`` matches the cut
  body, so the HTTP layer is fine and JSON decoding fails).
"""

FAILURE_KINDS: tuple[FailureKind, ...] = get_args(FailureKind)


def _check_kind(kind: str) -> None:
    if kind not in FAILURE_KINDS:
        raise ValueError(
            f"unknown failure kind {kind!r}; expected one of {', '.join(FAILURE_KINDS)}"
        )


def _check_non_negative(name: str, value: float) -> None:
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0, got {value!r}")


@dataclass(frozen=True)
class Outage:
    """A window in which every request to a model fails with ``failure``.

    The window is given by the model's request numbers (1 for the first request the model
    receives after construction or ``reset()``) and/or by seconds since then, each half-open
    ``[from, until)``; a bound left as ``None`` is open.  When both kinds of bound are given, a
    request must fall in both.  Seconds are real (monotonic) seconds: ``time_scale`` does not
    stretch them, since it scales delays and an outage is not a delay.

        Outage(from_request=20, until_request=40)            # requests 20..39 get 503
        Outage(from_second=5.0, until_second=10.0, failure="rate_limit")
    """

    from_request: int | None = None
    until_request: int | None = None
    from_second: float | None = None
    until_second: float | None = None
    failure: FailureKind = "unavailable"

    def __post_init__(self) -> None:
        _check_kind(self.failure)
        bounds = (self.from_request, self.until_request, self.from_second, self.until_second)
        if all(bound is None for bound in bounds):
            raise ValueError("an Outage needs at least one bound (request numbers or seconds)")
        if (
            self.from_request is not None
            and self.until_request is not None
            and self.until_request <= self.from_request
        ):
            raise ValueError("until_request must be greater than from_request")
        if (
            self.from_second is not None
            and self.until_second is not None
            and self.until_second <= self.from_second
        ):
            raise ValueError("until_second must be greater than from_second")

    def covers(self, request_number: int, elapsed: float) -> bool:
        """Whether request ``request_number``, ``elapsed`` seconds in, falls in the window."""
        if self.from_request is not None and request_number < self.from_request:
            return False
        if self.until_request is not None and request_number >= self.until_request:
            return False
        if self.from_second is not None and elapsed < self.from_second:
            return False
        return not (self.until_second is not None and elapsed >= self.until_second)


@dataclass(frozen=True)
class ModelScript:
    """How one fake model behaves.  Every delay is multiplied by the gateway's ``time_scale``.

    Timing: a plain request waits ``latency`` (times a lognormal jitter factor), then
    ``time_to_first_token`` (jittered too), then one ``1 / tokens_per_second`` per completion
    token, and gets its whole answer.  A stream gets its headers and the role chunk after
    ``latency``, its first content chunk ``time_to_first_token`` later, then one chunk per token at
    ``tokens_per_second``.  ``jitter`` is the sigma of the lognormal factor (0 = no jitter); the
    factor comes from a RNG seeded by the gateway seed, the model and the request number.

    Faults: with ``failure`` set, each request fails with that kind with probability
    ``failure_rate`` (1.0 by default: the model is down); ``outages`` add windows of failure.
    ``MockGateway.fail_next`` queues exact one-shot failures on top.

    ``context_length`` and the two prices override the catalog's figures (``None`` keeps them);
    they show in ``GET /models`` and drive the 400 ``context_length_exceeded`` check and
    ``usage.cost``.  ``reply`` fixes the assistant text (instead of the templated echo).

        ModelScript(failure="rate_limit", failure_rate=0.3, retry_after=2.0)
        ModelScript(latency=0.5, tokens_per_second=20, reply="Paris")
        ModelScript(outages=(Outage(from_request=20, until_request=40),))
    """

    latency: float = 0.02
    jitter: float = 0.25
    time_to_first_token: float = 0.03
    tokens_per_second: float = 1000.0
    failure: FailureKind | None = None
    failure_rate: float = 1.0
    outages: tuple[Outage, ...] = ()
    retry_after: float = 1.0
    hang_seconds: float = 300.0
    context_length: int | None = None
    prompt_usd_per_token: float | None = None
    completion_usd_per_token: float | None = None
    reply: str | None = None

    def __post_init__(self) -> None:
        for name in ("latency", "jitter", "time_to_first_token", "retry_after", "hang_seconds"):
            _check_non_negative(name, getattr(self, name))
        if not self.tokens_per_second > 0:
            raise ValueError(f"tokens_per_second must be > 0, got {self.tokens_per_second!r}")
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be within [0, 1], got {self.failure_rate!r}")
        if self.failure is not None:
            _check_kind(self.failure)
        if not isinstance(self.outages, tuple):
            # A list would make the frozen dataclass unhashable and silently shareable.
            raise TypeError("outages must be a tuple of Outage")
        if self.context_length is not None and self.context_length < 1:
            raise ValueError(f"context_length must be >= 1, got {self.context_length!r}")
        for name in ("prompt_usd_per_token", "completion_usd_per_token"):
            price = getattr(self, name)
            if price is not None and not (price >= 0 and math.isfinite(price)):
                raise ValueError(f"{name} must be a finite price >= 0, got {price!r}")
