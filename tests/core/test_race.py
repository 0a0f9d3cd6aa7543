"""The hedged race's schedule and the Hedge policy, with a fake clock: no threads, no I/O."""

from __future__ import annotations

import random

import pytest

import xroute
from xroute._core.race import LaneCancelled, LaneLost, RaceSchedule
from xroute.routing import Hedge, InMemoryRouteState


def test_lane_zero_starts_at_once_and_the_next_after_its_delay() -> None:
    race = RaceSchedule([0.5, 0.25])
    assert race.due(10.0) == [0]
    assert race.due(10.1) == []
    assert race.wait_s(10.1) == pytest.approx(0.4)
    assert race.due(10.5) == [1]
    assert race.wait_s(10.6) == pytest.approx(0.15)
    assert race.due(10.75) == [2]
    assert race.wait_s(10.8) is None  # every lane started: wait for one to finish
    assert race.due(20.0) == []
    assert race.started == 3


def test_the_first_answer_wins_and_the_rest_are_cancelled() -> None:
    race = RaceSchedule([0.1])
    race.due(0.0)
    race.due(0.2)
    race.finished(1, "answer")
    assert race.over
    assert race.winner == 1
    assert race.losers() == [0]
    replies = race.replies([None, "answer"], now=0.5)
    assert replies == [LaneCancelled(0.5), "answer"]


def test_a_failed_lane_alone_ends_the_race_without_starting_the_next() -> None:
    race = RaceSchedule([1.0])
    race.due(0.0)
    race.finished(0, RuntimeError("503"))
    assert race.over
    assert race.winner is None
    assert race.due(5.0) == []  # the plan decides about fallback, not the race
    err = RuntimeError("503")
    assert race.replies([err, None], now=1.0) == [err, None]


def test_a_failure_while_another_lane_runs_keeps_the_race_going() -> None:
    race = RaceSchedule([0.1])
    race.due(0.0)
    race.due(0.1)
    race.finished(0, RuntimeError("reset"))
    assert not race.over
    race.finished(1, "late but fine")
    assert race.winner == 1


def test_a_late_answer_is_cancelled_not_used() -> None:
    race = RaceSchedule([0.1])
    race.due(0.0)
    race.due(0.1)
    race.finished(1, LaneLost("stream"))  # arrived after the other lane claimed the call
    assert race.winner is None
    race.finished(0, "answer")
    replies = race.replies(["answer", LaneLost("stream")], now=1.0)
    assert replies[0] == "answer"
    assert isinstance(replies[1], LaneCancelled)


def test_hedge_delay_in_seconds_or_from_observed_quantiles() -> None:
    fixed = Hedge(["a", "b"], after=0.3)
    assert fixed.delay("a", stream=True) == 0.3
    learnt = Hedge(["a", "b"], after="p90", default_after=2.0, min_samples=5)
    assert learnt.delay("a", stream=True) == 2.0  # nothing seen yet
    for seconds in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 5.0):
        learnt.observe("a", seconds, stream=True)
    assert learnt.delay("a", stream=True) == 0.9  # nearest rank: the 9th of 10
    assert learnt.delay("a", stream=False) == 2.0  # plain calls are timed separately
    learnt.observe("a", float("nan"), stream=True)  # ignored, never poisons the window
    assert learnt.delay("a", stream=True) == 0.9


def test_hedge_wraps_a_policy_and_checks_its_arguments() -> None:
    hedge = Hedge(xroute.Cheapest(), after="p75", max_extra=2)
    assert hedge.requires_catalog
    assert hedge.rules is hedge.policy.rules
    assert repr(hedge) == "Hedge(Cheapest(), after='p75', max_extra=2)"
    chain = Hedge(["a", "b"], after=0.1)
    order = chain.candidates(
        None, InMemoryRouteState(), now=0.0, rng=random.Random(1), prompt_tokens=1, max_tokens=1
    )
    assert order == ["a", "b"]
    for bad in ({"after": "p100"}, {"after": "soon"}, {"after": -1}, {"max_extra": 0}):
        with pytest.raises(xroute.InvalidArgumentError):
            Hedge(["a"], **bad)  # type: ignore[arg-type]
    with pytest.raises(xroute.InvalidArgumentError, match="Hedge"):
        Hedge(Hedge(["a"]))
