"""Hedged requests: when the first model is slow to answer, start the next one in parallel.

`Hedge(policy, after=...)` wraps any policy. Its candidates, constraints and failover rules
are the wrapped policy's; what it adds is *when* the next candidate starts: not only after
the current one failed, but also once it has gone `after` seconds without a first token
(streams) or without an answer (plain calls). The first attempt to answer wins; the others
are cancelled, recorded in `route.attempts` as cancelled and counted in the cost as billed
for their prompt, since providers usually charge for work they started.
"""

from __future__ import annotations

import math
import random
import re
import threading
from collections import deque
from typing import TYPE_CHECKING

from .._exceptions import InvalidArgumentError
from ._policies import Policy

if TYPE_CHECKING:
    from ..catalog import ModelCatalog
    from ._failover import FailoverRules
    from ._state import RouteState

__all__ = ["Hedge"]

_QUANTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")
# Enough samples for a stable p90 without remembering stale history.
_WINDOW = 50


class Hedge(Policy):
    """Start the next candidate in parallel when the current one is slow; keep the first.

    - `after`: seconds without a first token (streams) or an answer (plain calls) before
      the next candidate starts, or a quantile of the current model's observed times such
      as ``"p90"`` (until `min_samples` are seen, `default_after` is used).
    - `max_extra`: at most this many extra attempts run in parallel with the first.

    Failures still fall over as the wrapped policy's rules say. Calls whose budget cannot
    cover an extra attempt are not hedged.

    >>> client.chat.completions.create(  # doctest: +SKIP
    ...     model=xroute.Hedge(xroute.Fastest(), after="p90"), messages=msgs, stream=True)
    """

    def __init__(
        self,
        policy: Policy | str | list[str] | tuple[str, ...],
        *,
        after: float | str = "p90",
        max_extra: int = 1,
        default_after: float = 1.0,
        min_samples: int = 5,
    ) -> None:
        from ._policies import resolve_policy

        self.policy = resolve_policy(policy)
        if isinstance(self.policy, Hedge):
            raise InvalidArgumentError("Hedge() of a Hedge: wrap the inner policy once")
        self.quantile: float | None = None
        self.after_s: float | None = None
        if isinstance(after, str):
            match = _QUANTILE.match(after.strip().lower())
            if match is None or not 0 < float(match.group(1)) < 100:
                raise InvalidArgumentError(
                    f"after must be seconds or a quantile such as 'p90', got {after!r}"
                )
            self.quantile = float(match.group(1)) / 100.0
        elif isinstance(after, bool) or not isinstance(after, (int, float)) or not after >= 0:
            raise InvalidArgumentError(f"after must be seconds >= 0 or 'pNN', got {after!r}")
        else:
            self.after_s = float(after)
        if isinstance(max_extra, bool) or not isinstance(max_extra, int) or max_extra < 1:
            raise InvalidArgumentError(f"max_extra must be an int >= 1, got {max_extra!r}")
        if not (isinstance(default_after, (int, float)) and default_after >= 0):
            raise InvalidArgumentError(f"default_after must be seconds >= 0, got {default_after!r}")
        self.max_extra = max_extra
        self.default_after = float(default_after)
        self.min_samples = max(1, int(min_samples))
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, bool], deque[float]] = {}

    @property
    def requires_catalog(self) -> bool:  # type: ignore[override]
        """Whether the wrapped policy needs the catalog."""
        return self.policy.requires_catalog

    @property
    def rules(self) -> FailoverRules:  # type: ignore[override]
        """The wrapped policy's failover rules."""
        return self.policy.rules

    def candidates(
        self,
        catalog: ModelCatalog | None,
        state: RouteState,
        *,
        now: float,
        rng: random.Random,
        prompt_tokens: int,
        max_tokens: int | None,
        needs: frozenset[str] = frozenset(),
        stream: bool = False,
    ) -> list[str]:
        """The wrapped policy's candidates, in its order."""
        return self.policy.candidates(
            catalog,
            state,
            now=now,
            rng=rng,
            prompt_tokens=prompt_tokens,
            max_tokens=max_tokens,
            needs=needs,
            stream=stream,
        )

    def delay(self, model: str, *, stream: bool) -> float:
        """Seconds to give `model` before the next candidate starts beside it."""
        if self.after_s is not None:
            return self.after_s
        with self._lock:
            seen = sorted(self._seen.get((model, stream), ()))
        if len(seen) < self.min_samples or self.quantile is None:
            return self.default_after
        # Nearest-rank quantile: a value that was actually observed.
        rank = max(0, math.ceil(self.quantile * len(seen)) - 1)
        return seen[rank]

    def observe(self, model: str, seconds: float, *, stream: bool) -> None:
        """Remember how long `model` took to its first token (streams) or answer."""
        if not (seconds >= 0 and math.isfinite(seconds)):
            return
        with self._lock:
            window = self._seen.get((model, stream))
            if window is None:
                window = self._seen[(model, stream)] = deque(maxlen=_WINDOW)
            window.append(seconds)

    def __repr__(self) -> str:
        after = f"p{self.quantile * 100:g}" if self.quantile is not None else self.after_s
        extra = f", max_extra={self.max_extra}" if self.max_extra != 1 else ""
        return f"Hedge({self.policy!r}, after={after!r}{extra})"
