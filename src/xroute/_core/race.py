"""When the lanes of a hedged call start and when the race is over, decided once.

A race runs attempts ("lanes") side by side. Lane 0 starts at once; lane k starts when
lane k-1 has run `delays[k-1]` seconds while no lane has answered and at least one is still
running. The race is over as soon as a lane answers (the others are cancelled) or when
every lane that started has failed (the plan then decides what comes next). The shells ask
this object what to do and only start, wait and cancel::

    schedule = RaceSchedule(delays)
    while not schedule.over:
        for lane in schedule.due(now): <start lane>
        <wait for a lane to finish, at most schedule.wait_s(now)>
        schedule.finished(lane, result)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["LaneCancelled", "LaneLost", "RaceSchedule"]


@dataclass(frozen=True, slots=True)
class LaneCancelled:
    """A hedged lane stopped (or its late answer dropped) because another lane won."""

    elapsed_s: float


@dataclass(frozen=True, slots=True)
class LaneLost:
    """What a lane's sub-plan returns when it answered after another lane had won; the
    shell closes `value` if it is a stream."""

    value: Any


class RaceSchedule:
    """The start times and the end of one race of `len(delays) + 1` lanes."""

    def __init__(self, delays: Sequence[float]) -> None:
        self._delays = tuple(max(0.0, d) for d in delays)
        self._lanes = len(self._delays) + 1
        self._started: list[float] = []
        self._running: set[int] = set()
        self.winner: int | None = None

    @property
    def started(self) -> int:
        """How many lanes have started."""
        return len(self._started)

    @property
    def over(self) -> bool:
        """A lane answered, or every lane that started has failed."""
        if self.winner is not None:
            return True
        return self.started > 0 and not self._running

    def due(self, now: float) -> list[int]:
        """The lanes to start now."""
        if self.winner is not None:
            return []
        if not self._started:
            return [self._start(now)]
        lane = len(self._started)
        if (
            lane < self._lanes
            and self._running
            and now - self._started[lane - 1] >= self._delays[lane - 1]
        ):
            return [self._start(now)]
        return []

    def wait_s(self, now: float) -> float | None:
        """How long to wait for a lane to finish before asking `due` again (None: no limit)."""
        lane = len(self._started)
        if self.winner is not None or lane >= self._lanes or not self._running:
            return None
        return max(0.0, self._started[lane - 1] + self._delays[lane - 1] - now)

    def finished(self, lane: int, result: object) -> None:
        """Lane `lane` is over with what its sub-plan returned: an answer, or an exception
        (or `LaneLost`) for a lane that did not win."""
        self._running.discard(lane)
        answered = not isinstance(result, (BaseException, LaneLost))
        if answered and self.winner is None:
            self.winner = lane

    def losers(self) -> list[int]:
        """Lanes still running once the race is over: the shell cancels them."""
        return sorted(self._running)

    def elapsed_s(self, lane: int, now: float) -> float:
        """Seconds since `lane` started."""
        return now - self._started[lane]

    def replies(self, results: Sequence[Any], now: float) -> list[Any]:
        """The race's reply to the plan, from what each lane's sub-plan returned: None for
        lanes never started, `LaneCancelled` for lanes stopped or too late, else the result.
        """
        running = set(self._running)
        out: list[Any] = []
        for lane, result in enumerate(results):
            if lane >= len(self._started):
                out.append(None)
            elif lane != self.winner and (lane in running or isinstance(result, LaneLost)):
                out.append(LaneCancelled(now - self._started[lane]))
            else:
                out.append(result)
        return out

    def _start(self, now: float) -> int:
        lane = len(self._started)
        self._started.append(now)
        self._running.add(lane)
        return lane
