"""What a routed call did: one `AttemptRecord` per attempt, one `RouteReport` per response."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, Union

from .._exceptions import redact

if TYPE_CHECKING:
    from ..types.chat import CompletionUsage
    from ..types.embeddings import EmbeddingUsage

__all__ = ["AttemptRecord", "CallEnd", "FallbackEvent", "Outcome", "RouteReport"]

Outcome: TypeAlias = Literal["ok", "error", "skipped", "cancelled"]
"""How an attempt ended: served the call, failed, was never sent (e.g. circuit open), or was
cancelled because a hedged attempt on another model answered first."""

Usage: TypeAlias = Union["CompletionUsage", "EmbeddingUsage"]

# Long enough for a gateway's one-line reason, short enough to keep a summary readable.
_MESSAGE_LIMIT = 120


def _short(text: str, limit: int = _MESSAGE_LIMIT) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt of a routed call: which model, how it ended and how long it took.

    `status_code` is the HTTP status when there was one; `error_type` the exception class
    name; `error_message` a short, redacted reason; `ttft_s` the time to the first content
    chunk (streams only); `billed` whether the gateway charged for it, when known.

    >>> AttemptRecord("openai/gpt-4o", "error", status_code=503,
    ...               error_type="InternalServerError", elapsed_s=0.12).describe()
    'openai/gpt-4o: 503 InternalServerError after 0.12 s'
    """

    model: str
    outcome: Outcome
    status_code: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    elapsed_s: float = 0.0
    ttft_s: float | None = None
    billed: bool | None = None

    @classmethod
    def from_error(
        cls,
        model: str,
        error: BaseException,
        *,
        elapsed_s: float,
        ttft_s: float | None = None,
        secret: str | None = None,
    ) -> AttemptRecord:
        """The record of an attempt that raised `error` (status, class name, short reason).

        The message is cut to one short line and passed through `redact` (with `secret`, the
        API key, when given) so a record can be logged or shown as it is.
        """
        status = getattr(error, "status_code", None)
        message = getattr(error, "message", None)
        if not isinstance(message, str):
            message = str(error)
        return cls(
            model=model,
            outcome="error",
            status_code=status if isinstance(status, int) else None,
            error_type=type(error).__name__,
            error_message=_short(redact(message, secret)) or None,
            elapsed_s=elapsed_s,
            ttft_s=ttft_s,
        )

    @classmethod
    def skipped(cls, model: str, reason: str) -> AttemptRecord:
        """The record of a candidate that was not sent, e.g. ``skipped(m, "circuit open")``."""
        return cls(model=model, outcome="skipped", error_message=reason)

    def describe(self) -> str:
        """One line for people: ``openai/gpt-4o: 503 InternalServerError after 0.12 s``."""
        if self.outcome == "skipped":
            return f"{self.model}: skipped ({self.error_message or 'not tried'})"
        if self.outcome == "cancelled":
            billed = " (may be billed)" if self.billed else ""
            return f"{self.model}: cancelled after {_seconds(self.elapsed_s)}{billed}"
        if self.outcome == "ok":
            ttft = f" (first token {_seconds(self.ttft_s)})" if self.ttft_s is not None else ""
            return f"{self.model}: ok after {_seconds(self.elapsed_s)}{ttft}"
        what = " ".join(
            str(part) for part in (self.status_code, self.error_type) if part is not None
        )
        reason = f": {self.error_message}" if self.error_message else ""
        return f"{self.model}: {what or 'error'} after {_seconds(self.elapsed_s)}{reason}"


@dataclass(frozen=True, slots=True, repr=False)
class RouteReport:
    """How a call was routed: the model that served it, every attempt, cost and latency.

    Every response and stream carries one as `.route`. `cost_usd` is None when neither the
    server nor the catalog gave a price; `latency_s` runs from the first attempt's start to
    the response (to the end of the stream for streams).

    >>> completion.route  # doctest: +SKIP
    RouteReport(model='openai/gpt-4o-mini', attempts=2, cost_usd=0.000042, latency_s=0.84)
    >>> print(completion.route.attempts[0].describe())  # doctest: +SKIP
    openai/gpt-4o: 503 InternalServerError after 0.12 s
    """

    model: str
    attempts: tuple[AttemptRecord, ...]
    cost_usd: float | None
    latency_s: float
    usage: Usage | None = None

    @property
    def fallbacks(self) -> int:
        """How many other models were tried (or skipped) before the one that served."""
        return len({a.model for a in self.attempts if a.model != self.model})

    @property
    def ttft_s(self) -> float | None:
        """Time to first token of the attempt that served (streams only)."""
        for attempt in reversed(self.attempts):
            if attempt.outcome == "ok":
                return attempt.ttft_s
        return None

    def __repr__(self) -> str:
        cost = "None" if self.cost_usd is None else f"{self.cost_usd:.6g}"
        return (
            f"RouteReport(model={self.model!r}, attempts={len(self.attempts)}, "
            f"cost_usd={cost}, latency_s={self.latency_s:.2f})"
        )

    def _repr_html_(self) -> str:
        esc = html.escape
        cost = "unknown" if self.cost_usd is None else f"${self.cost_usd:.6f}"
        rows = "".join(
            "<tr>"
            f"<td>{i}</td><td>{esc(a.model)}</td><td>{esc(a.outcome)}</td>"
            f"<td>{esc(str(a.status_code or ''))}</td><td>{esc(a.error_type or '')}</td>"
            f"<td>{_seconds(a.elapsed_s)}</td>"
            f"<td>{'' if a.ttft_s is None else _seconds(a.ttft_s)}</td>"
            f"<td>{esc(a.error_message or '')}</td>"
            "</tr>"
            for i, a in enumerate(self.attempts, 1)
        )
        return (
            f"<div><b>served by</b> <code>{esc(self.model)}</code> · "
            f"{_seconds(self.latency_s)} · {esc(cost)}"
            "<table><thead><tr><th>#</th><th>model</th><th>outcome</th><th>status</th>"
            "<th>error</th><th>elapsed</th><th>first token</th><th>reason</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )


@dataclass(frozen=True, slots=True)
class FallbackEvent:
    """The payload of the `on_fallback` hook: the model left, why, and the next one tried.

    >>> XRoute(on_fallback=lambda e: print(f"{e.from_model} -> {e.to_model}: {e.error}"))
    ... # doctest: +SKIP
    """

    from_model: str
    error: Exception
    to_model: str


@dataclass(frozen=True, slots=True)
class CallEnd:
    """The payload of the `on_call_end` hook: a routed call is over, served or failed.

    Streams end when the stream does (read to the end, closed, or failed). `candidates`
    are the models in the order the policy chose them; `result` is the response or stream
    (None if the call failed) and `error` what it raised or the stream's failure; `body` is
    the JSON body sent (for tracing with content capture; mind what it holds).
    """

    operation: str
    candidates: tuple[str, ...]
    policy: str
    stream: bool
    attempts: tuple[AttemptRecord, ...]
    latency_s: float
    result: Any
    error: BaseException | None
    cost_usd: float | None
    usage: Any
    body: Mapping[str, Any] | None
