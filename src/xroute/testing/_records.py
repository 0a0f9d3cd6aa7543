"""What the gateway saw: per-model counters and the log of received requests (public data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._scripts import FailureKind


@dataclass(frozen=True)
class ModelStats:
    """Counters for one model since construction or ``reset()``.

    ``requests`` counts every request that named the model (it is also the number outage windows
    use); ``streams`` those with ``stream: true``; ``failures`` those that got a scripted fault;
    ``rejected`` those answered 400 (context length, bad parameters).  Tokens and ``cost_usd``
    count what was actually served, including the part of a stream sent before a fault.
    """

    model: str
    requests: int = 0
    streams: int = 0
    failures: int = 0
    rejected: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the gateway received it, for assertions in tests.

    ``headers`` has lower-case names, and ``authorization`` is masked (``"Bearer sk-...wxyz"``,
    or ``"Bearer ***"`` for short keys) so logs and failure messages never show a key.  ``json`` is
    the parsed body (``None`` when empty or not JSON); ``model`` and ``stream`` are read from it.
    ``status`` is what the gateway answered (``None`` when it reset the connection) and
    ``failure`` the scripted fault it injected, if any.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    json: Any
    model: str | None
    stream: bool
    status: int | None
    failure: FailureKind | None
