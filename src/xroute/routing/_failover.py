"""Which failures move a call on to the next model, which retry the same one, which end it.

Falling over makes sense when another model might answer: the model is down, slow, rate
limited, unknown to the gateway, or its window is too small. It does not when every model
would refuse the same request (400, 401, 403, 422): those are raised at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

from .._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ContextLengthExceededError,
    StreamError,
    StreamTimeoutError,
)

if TYPE_CHECKING:
    from ..catalog import ModelCatalog

__all__ = [
    "FAIL_OVER_KINDS",
    "RETRY_KINDS",
    "Decision",
    "ErrorKind",
    "FailoverRules",
    "error_kind",
    "larger_context_only",
]

ErrorKind: TypeAlias = Literal[
    "connection",
    "timeout",
    "rate_limit",
    "server",
    "conflict",
    "not_found",
    "context_length",
    "bad_request",
    "auth",
    "payment",
    "permission",
    "unprocessable",
    "invalid_response",
    "stream",
    "other",
]
"""A failure's family, as routing sees it (see `error_kind`)."""

Decision: TypeAlias = Literal["retry_same", "next_model", "raise"]
"""What to do after a failed attempt: retry this model, try the next one, or stop."""

FAIL_OVER_KINDS: frozenset[str] = frozenset(
    {
        "connection",
        "timeout",
        "rate_limit",
        "server",
        "conflict",
        "not_found",
        "context_length",
        "invalid_response",
        "stream",
    }
)
"""Failures another model may not have: the default `FailoverRules.fail_over_on`."""

RETRY_KINDS: frozenset[str] = frozenset(
    {"connection", "timeout", "rate_limit", "server", "conflict", "stream"}
)
"""Transient failures worth retrying on the same model: the default `FailoverRules.retry_on`."""

_STATUS_KINDS: dict[int, ErrorKind] = {
    400: "bad_request",
    401: "auth",
    402: "payment",
    403: "permission",
    404: "not_found",
    408: "timeout",
    409: "conflict",
    422: "unprocessable",
    429: "rate_limit",
}
# Same hints as the error mapping in _core/errors.py, for error *events* inside a stream.
_CONTEXT_CODES = ("context_length", "context_window")


def _kind_of_status(status: int, code: str | None) -> ErrorKind:
    if status == 400 and code and any(hint in code.lower() for hint in _CONTEXT_CODES):
        return "context_length"
    if status >= 500:
        return "server"
    return _STATUS_KINDS.get(status, "bad_request" if 400 <= status < 500 else "other")


def error_kind(error: BaseException) -> ErrorKind:
    """The family of a failure: feeds `FailoverRules` and `RouteState.record_failure`.

    A `StreamError` raised before the first token is judged by the status or code it
    carries (an error event may say 429 or context length), else it is a ``"stream"``
    failure — which falls over like a connection error.

    >>> error_kind(RateLimitError("slow down", status_code=429))  # doctest: +SKIP
    'rate_limit'
    """
    if isinstance(error, ContextLengthExceededError):
        return "context_length"
    if isinstance(error, StreamError):
        if isinstance(error, StreamTimeoutError):
            return "timeout"
        if error.status_code is not None:
            return _kind_of_status(error.status_code, error.code)
        if error.code and any(hint in error.code.lower() for hint in _CONTEXT_CODES):
            return "context_length"
        return "stream"
    if isinstance(error, APIStatusError):
        return _kind_of_status(error.status_code, error.code)
    if isinstance(error, APITimeoutError):
        return "timeout"
    if isinstance(error, APIConnectionError):
        return "connection"
    if isinstance(error, APIResponseValidationError):
        return "invalid_response"
    return "other"


def _should_retry_header(error: BaseException) -> bool | None:
    # The server's `x-should-retry` overrides our judgement both ways, as in the retry core.
    headers = getattr(error, "headers", None)
    if headers is None:
        return None
    value = str(headers.get("x-should-retry", "")).strip().lower()
    return True if value == "true" else False if value == "false" else None


@dataclass(frozen=True, slots=True)
class FailoverRules:
    """When a routed call retries a model, moves to the next one, or stops. Per policy.

    - `fail_over_on`: error kinds (see `error_kind`) that move on to the next candidate.
    - `retry_on`: kinds worth retrying on the same model.
    - `same_model_retries`: retries on a model while other healthy candidates remain. The
      default 0 moves on at once: another model is a faster cure than backing off. The last
      candidate uses the client's `max_retries`.

    >>> rules = FailoverRules(fail_over_on=FAIL_OVER_KINDS | {"bad_request"})
    >>> Fallback("a", "b", rules=rules)  # doctest: +SKIP
    """

    fail_over_on: frozenset[str] = FAIL_OVER_KINDS
    retry_on: frozenset[str] = RETRY_KINDS
    same_model_retries: int = 0

    def fails_over(self, error: BaseException) -> bool:
        """Whether `error` is one another model might not have (so it moves on, and a call
        whose candidates all ended this way raises `AllModelsFailedError`)."""
        return error_kind(error) in self.fail_over_on

    def decide(
        self,
        error: BaseException,
        *,
        other_candidates_left: bool,
        retries_done: int = 0,
        max_retries: int = 2,
    ) -> Decision:
        """What to do after `error` on a model tried `retries_done + 1` times so far.

        `other_candidates_left`: another candidate remains whose breaker admits it.
        `max_retries`: the client's retry limit, used for the last candidate.
        ``"raise"`` ends the call: the plan raises `error` itself when it is not one that
        fails over (every model would fail alike), else `AllModelsFailedError`.

        >>> rules = FailoverRules()
        >>> rules.decide(server_error, other_candidates_left=True)  # doctest: +SKIP
        'next_model'
        """
        kind = error_kind(error)
        budget = min(self.same_model_retries, max_retries) if other_candidates_left else max_retries
        override = _should_retry_header(error)
        retryable = kind in self.retry_on if override is None else override
        if retryable and retries_done < budget:
            return "retry_same"
        if kind in self.fail_over_on and other_candidates_left:
            return "next_model"
        return "raise"


def larger_context_only(
    candidates: Sequence[str], failed_model: str, catalog: ModelCatalog | None
) -> list[str]:
    """After a context-length failure on `failed_model`, the candidates with a larger window.

    A candidate whose window the catalog does not know is kept (it may be larger); when the
    failed model's window is unknown, nothing can be ruled out and all are kept.

    >>> larger_context_only(["small", "big"], "mid", catalog)  # doctest: +SKIP
    ['big']
    """
    if catalog is None:
        return list(candidates)
    failed = catalog.get(failed_model)
    limit = failed.context_length if failed is not None else None
    if limit is None:
        return list(candidates)
    kept: list[str] = []
    for model_id in candidates:
        model = catalog.get(model_id)
        window = model.context_length if model is not None else None
        if window is None or window > limit:
            kept.append(model_id)
    return kept
