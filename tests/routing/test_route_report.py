"""Attempt records and route reports: one-line descriptions, reprs, redaction, HTML escaping."""

from __future__ import annotations

import dataclasses

import pytest

from xroute._exceptions import (
    AllModelsFailedError,
    APITimeoutError,
    InternalServerError,
    StreamErrorEvent,
)
from xroute.routing import AttemptRecord, RouteReport
from xroute.types import CompletionUsage


def test_describe_an_http_failure_in_one_line() -> None:
    record = AttemptRecord(
        "openai/gpt-4o", "error", status_code=503, error_type="InternalServerError", elapsed_s=0.12
    )
    assert record.describe() == "openai/gpt-4o: 503 InternalServerError after 0.12 s"


def test_describe_other_outcomes() -> None:
    assert AttemptRecord("m", "ok", elapsed_s=1.234).describe() == "m: ok after 1.23 s"
    streamed = AttemptRecord("m", "ok", elapsed_s=2.0, ttft_s=0.31)
    assert streamed.describe() == "m: ok after 2.00 s (first token 0.31 s)"
    assert AttemptRecord.skipped("m", "circuit open").describe() == "m: skipped (circuit open)"
    timeout = AttemptRecord("m", "error", error_type="APITimeoutError", elapsed_s=30)
    assert timeout.describe() == "m: APITimeoutError after 30.00 s"
    assert AttemptRecord("m", "error").describe() == "m: error after 0.00 s"


def test_from_error_takes_status_type_and_a_short_redacted_reason() -> None:
    err = InternalServerError(
        "upstream said: Bearer sk-abcdefghijklmnop failed\n" + "x" * 500, status_code=502
    )
    record = AttemptRecord.from_error("m", err, elapsed_s=0.5, secret="my-secret-key")
    assert (record.status_code, record.error_type, record.outcome) == (
        502,
        "InternalServerError",
        "error",
    )
    assert record.error_message is not None
    assert "sk-abcdefghijklmnop" not in record.error_message
    assert "\n" not in record.error_message and len(record.error_message) <= 120
    assert record.error_message.endswith("…")
    described = record.describe()
    assert described.startswith("m: 502 InternalServerError after 0.50 s: upstream said: Bearer")
    assert "[redacted]" in described
    keyed = AttemptRecord.from_error("m", APITimeoutError("key my-secret-key"), elapsed_s=1)
    assert keyed.status_code is None and keyed.error_type == "APITimeoutError"
    with_secret = AttemptRecord.from_error(
        "m", APITimeoutError("key my-secret-key"), elapsed_s=1, secret="my-secret-key"
    )
    assert with_secret.error_message == "key [redacted]"


def test_from_error_reads_a_stream_errors_status_and_ttft() -> None:
    err = StreamErrorEvent("overloaded", status_code=529)
    record = AttemptRecord.from_error("m", err, elapsed_s=3.0, ttft_s=None)
    assert record.status_code == 529 and record.error_type == "StreamErrorEvent"


def test_records_are_frozen_values() -> None:
    record = AttemptRecord("m", "ok")
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.model = "x"  # type: ignore[misc]
    assert record == AttemptRecord("m", "ok")


def test_all_models_failed_summarises_every_attempt() -> None:
    attempts = [
        AttemptRecord(
            "a", "error", status_code=503, error_type="InternalServerError", elapsed_s=0.1
        ),
        AttemptRecord.skipped("b", "circuit open"),
        AttemptRecord("c", "error", error_type="APITimeoutError", elapsed_s=5.0),
    ]
    err = AllModelsFailedError(attempts)
    assert err.attempts == tuple(attempts)
    assert str(err).splitlines() == [
        "all 3 attempts failed:",
        "  1. a: 503 InternalServerError after 0.10 s",
        "  2. b: skipped (circuit open)",
        "  3. c: APITimeoutError after 5.00 s",
    ]


def _report(model: str = "openai/gpt-4o-mini", cost: float | None = 0.0000421) -> RouteReport:
    return RouteReport(
        model=model,
        attempts=(
            AttemptRecord(
                "openai/gpt-4o",
                "error",
                status_code=503,
                error_type="InternalServerError",
                error_message="<b>down</b>",
                elapsed_s=0.12,
            ),
            AttemptRecord(model, "ok", elapsed_s=0.7, ttft_s=0.2),
        ),
        cost_usd=cost,
        latency_s=0.84,
        usage=CompletionUsage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
    )


def test_route_report_repr_is_short() -> None:
    assert repr(_report()) == (
        "RouteReport(model='openai/gpt-4o-mini', attempts=2, cost_usd=4.21e-05, latency_s=0.84)"
    )
    assert "cost_usd=None" in repr(_report(cost=None))


def test_route_report_derived_fields() -> None:
    report = _report()
    assert report.fallbacks == 1
    assert report.ttft_s == 0.2
    assert RouteReport("m", (), None, 0.0).ttft_s is None


def test_route_report_html_escapes_everything_from_outside() -> None:
    page = _report(model="evil<img src=x onerror=alert(1)>")._repr_html_()
    assert "<img" not in page and "&lt;img" in page
    assert "<b>down</b>" not in page and "&lt;b&gt;down&lt;/b&gt;" in page
    assert "$0.000042" in page and "<table>" in page and "0.20 s" in page
    assert "unknown" in _report(cost=None)._repr_html_()
