"""Failover: classifying errors, deciding retry / next model / raise, the context-length skip."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from xroute._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContextLengthExceededError,
    InternalServerError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamErrorEvent,
    StreamInterruptedError,
    StreamTimeoutError,
    UnprocessableEntityError,
)
from xroute.catalog import Model, ModelCatalog
from xroute.routing import FAIL_OVER_KINDS, FailoverRules, error_kind, larger_context_only


def status(cls: type[APIStatusError], status_code: int, **kw: object) -> APIStatusError:
    return cls("failed", status_code=status_code, **kw)  # type: ignore[arg-type]


ERRORS: list[tuple[Exception, str]] = [
    (APIConnectionError("refused"), "connection"),
    (APITimeoutError("read timeout"), "timeout"),
    (status(RateLimitError, 429), "rate_limit"),
    (status(InternalServerError, 503), "server"),
    (status(InternalServerError, 500), "server"),
    (status(ConflictError, 409), "conflict"),
    (status(NotFoundError, 404), "not_found"),
    (status(ContextLengthExceededError, 400), "context_length"),
    (status(BadRequestError, 400), "bad_request"),
    (status(AuthenticationError, 401), "auth"),
    (status(APIStatusError, 402), "payment"),
    (status(PermissionDeniedError, 403), "permission"),
    (status(UnprocessableEntityError, 422), "unprocessable"),
    (status(APIStatusError, 408), "timeout"),
    (status(APIStatusError, 418), "bad_request"),
    (APIResponseValidationError("not JSON"), "invalid_response"),
    (StreamInterruptedError("dropped"), "stream"),
    (StreamTimeoutError("no first token"), "timeout"),
    (StreamErrorEvent("overloaded", status_code=529), "server"),
    (StreamErrorEvent("slow down", status_code=429), "rate_limit"),
    (StreamErrorEvent("too long", code="context_length_exceeded"), "context_length"),
    (StreamErrorEvent("bad key", status_code=401), "auth"),
    (InvalidArgumentError("bad arg"), "other"),
    (ValueError("bug"), "other"),
]


@pytest.mark.parametrize(("error", "kind"), ERRORS, ids=[k for _, k in ERRORS])
def test_error_kind_classifies_every_family(error: Exception, kind: str) -> None:
    assert error_kind(error) == kind


def test_a_400_whose_code_says_context_length_counts_as_context_length() -> None:
    err = status(BadRequestError, 400, code="context_length_exceeded")
    assert error_kind(err) == "context_length"


MOVES_ON = [
    APIConnectionError("refused"),
    APITimeoutError("timeout"),
    status(RateLimitError, 429),
    status(InternalServerError, 502),
    status(NotFoundError, 404),
    status(ContextLengthExceededError, 400),
    StreamInterruptedError("dropped before the first token"),
    StreamTimeoutError("first token timeout"),
]
STOPS = [
    status(BadRequestError, 400),
    status(AuthenticationError, 401),
    status(PermissionDeniedError, 403),
    status(UnprocessableEntityError, 422),
    status(APIStatusError, 402),
    ValueError("a bug"),
]


@pytest.mark.parametrize("error", MOVES_ON, ids=lambda e: type(e).__name__)
def test_default_moves_on_at_once_while_other_candidates_remain(error: Exception) -> None:
    assert FailoverRules().decide(error, other_candidates_left=True) == "next_model"
    assert FailoverRules().fails_over(error)


@pytest.mark.parametrize("error", STOPS, ids=lambda e: type(e).__name__)
def test_request_errors_are_raised_at_once_since_every_model_would_fail(error: Exception) -> None:
    rules = FailoverRules()
    assert rules.decide(error, other_candidates_left=True) == "raise"
    assert rules.decide(error, other_candidates_left=False) == "raise"
    assert not rules.fails_over(error)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (status(RateLimitError, 429), ["retry_same", "retry_same", "raise"]),
        (APITimeoutError("t"), ["retry_same", "retry_same", "raise"]),
        # Never worth repeating on the same model:
        (status(NotFoundError, 404), ["raise", "raise", "raise"]),
        (status(ContextLengthExceededError, 400), ["raise", "raise", "raise"]),
    ],
)
def test_the_last_candidate_uses_the_clients_retries(error: Exception, expected: list[str]) -> None:
    rules = FailoverRules()
    got = [
        rules.decide(error, other_candidates_left=False, retries_done=n, max_retries=2)
        for n in range(3)
    ]
    assert got == expected


def test_same_model_retries_are_configurable_and_capped_by_max_retries() -> None:
    rules = FailoverRules(same_model_retries=1)
    err = status(InternalServerError, 503)
    assert rules.decide(err, other_candidates_left=True, retries_done=0) == "retry_same"
    assert rules.decide(err, other_candidates_left=True, retries_done=1) == "next_model"
    assert rules.decide(err, other_candidates_left=True, max_retries=0) == "next_model"


def test_which_errors_fail_over_is_configurable() -> None:
    rules = FailoverRules(fail_over_on=FAIL_OVER_KINDS | {"bad_request"}, retry_on=frozenset())
    assert rules.decide(status(BadRequestError, 400), other_candidates_left=True) == "next_model"
    assert rules.decide(status(RateLimitError, 429), other_candidates_left=False) == "raise"
    strict = FailoverRules(fail_over_on=frozenset({"server"}))
    assert strict.decide(status(NotFoundError, 404), other_candidates_left=True) == "raise"


def test_x_should_retry_overrides_the_judgement_both_ways() -> None:
    rules = FailoverRules()
    no = status(InternalServerError, 503, headers=httpx.Headers({"x-should-retry": "false"}))
    assert rules.decide(no, other_candidates_left=False) == "raise"
    assert rules.decide(no, other_candidates_left=True) == "next_model"
    yes = status(BadRequestError, 400, headers=httpx.Headers({"x-should-retry": "true"}))
    assert rules.decide(yes, other_candidates_left=False) == "retry_same"


Make = Callable[..., Model]


def test_larger_context_only_keeps_bigger_and_unknown_windows(model: Make) -> None:
    catalog = ModelCatalog(
        [
            model("small", context=8_000),
            model("mid", context=32_000),
            model("same", context=32_000),
            model("big", context=128_000),
            model("unknown", context=None),
        ]
    )
    remaining = ["small", "same", "big", "unknown", "not-listed"]
    assert larger_context_only(remaining, "mid", catalog) == ["big", "unknown", "not-listed"]
    assert larger_context_only(remaining, "unknown", catalog) == remaining
    assert larger_context_only(remaining, "not-listed", catalog) == remaining
    assert larger_context_only(remaining, "mid", None) == remaining
