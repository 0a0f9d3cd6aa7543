"""Backoff, jitter, Retry-After and x-should-retry decisions."""

from __future__ import annotations

import email.utils
import random

import pytest

from xroute._core.retry import RetryPolicy, retry_after_seconds, should_retry_status


def test_backoff_doubles_from_half_a_second_and_caps_at_eight() -> None:
    policy = RetryPolicy(jitter=0.0)
    rng = random.Random(1)
    assert [policy.backoff(n, rng) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_jitter_only_shortens_and_stays_within_a_quarter() -> None:
    policy = RetryPolicy()
    rng = random.Random(7)
    delays = [policy.backoff(2, rng) for _ in range(500)]
    assert all(1.5 <= d <= 2.0 for d in delays)
    assert len(set(delays)) > 400  # really random, not a constant


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": " 2.5 "}, 2.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "junk", "retry-after": "4"}, 4.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-3"}, None),
        ({"retry-after": "nan"}, None),
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, wall=1_000_000.0) == expected


def test_retry_after_http_date_counts_from_the_wall_clock() -> None:
    wall = 1_700_000_000.0
    date = email.utils.formatdate(wall + 12, usegmt=True)
    assert retry_after_seconds({"retry-after": date}, wall=wall) == pytest.approx(12.0)
    past = email.utils.formatdate(wall - 100, usegmt=True)
    assert retry_after_seconds({"retry-after": past}, wall=wall) == 0.0


def test_delay_prefers_a_sane_server_ask_and_ignores_an_absurd_one() -> None:
    policy = RetryPolicy(jitter=0.0)
    rng = random.Random(0)
    assert policy.delay(0, {"retry-after": "5"}, rng=rng, wall=0.0) == 5.0
    assert policy.delay(1, {"retry-after": "3600"}, rng=rng, wall=0.0) == 1.0
    assert policy.delay(2, None, rng=rng, wall=0.0) == 2.0


@pytest.mark.parametrize(
    ("status", "headers", "retry"),
    [
        (408, {}, True),
        (409, {}, True),
        (429, {}, True),
        (500, {}, True),
        (503, {}, True),
        (400, {}, False),
        (401, {}, False),
        (404, {}, False),
        (422, {}, False),
        (400, {"x-should-retry": "true"}, True),
        (503, {"x-should-retry": "false"}, False),
        (503, {"x-should-retry": "maybe"}, True),
    ],
)
def test_which_statuses_retry(status: int, headers: dict[str, str], retry: bool) -> None:
    assert should_retry_status(status, headers) is retry
