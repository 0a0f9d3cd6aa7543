"""When to fetch ``/models`` again: a TTL cache that serves a stale copy while refreshes fail.

No clock and no network: every method takes ``now`` (monotonic seconds), and the clients do
the fetching. They hold a lock around one use of the cache, so concurrent callers share a
single fetch::

    with lock:
        catalog = cache.fresh(now)
        if catalog is None:
            try:
                outcome = <GET /models, parsed JSON>
            except XRouteError as err:
                outcome = err
            catalog = cache.settle(outcome, now)   # the new catalog, the stale one, or raises

The states, by the age of the stored copy::

    empty ── store ──> fresh (age < ttl) ── age >= ttl ──> stale ── age >= max_age ──> expired
                         ^                                   │
                         └──────────── store ────────────────┘
    stale + refresh failed: serve the stale copy (one warning), retry after retry_interval
    empty or expired + refresh failed: raise the error
    pinned (a catalog the user gave): always fresh

This is HTTP's stale-if-error (RFC 5861): a gateway blip should not break callers that only
need prices they fetched a minute ago, but a copy older than ``max_age`` is not trusted.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

from .._exceptions import CatalogError, InvalidArgumentError, redact
from ..catalog import CatalogWarning, ModelCatalog, _load_overrides

__all__ = ["CatalogCache"]


class CatalogCache:
    """The model catalog last fetched, and whether to fetch it again.

    `ttl`: seconds a fetched catalog is served without asking again. `max_age`: seconds a
    catalog may still be served when refreshing fails. `retry_interval`: after a failed
    refresh, seconds to serve the stale copy before trying again, so a gateway that is down
    costs one failed request per interval rather than one per call. `overrides`: fields per
    model id merged over every catalog stored (see `ModelCatalog.with_overrides`); a path
    is read once, here, so a bad file fails when the client is made, not mid-request.

    >>> cache = CatalogCache(ttl=300)
    >>> cache.store(catalog, now=0.0) is cache.fresh(now=299.0), cache.needs_refresh(now=300.0)
    (True, True)
    """

    __slots__ = (
        "_catalog",
        "_failed_at",
        "_invalidated",
        "_max_age",
        "_overrides",
        "_pinned",
        "_retry_interval",
        "_stored_at",
        "_ttl",
    )

    def __init__(
        self,
        ttl: float = 300.0,
        max_age: float = 3600.0,
        *,
        retry_interval: float = 30.0,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        for name, value in (("ttl", ttl), ("max_age", max_age), ("retry_interval", retry_interval)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise InvalidArgumentError(
                    f"{name} must be a number of seconds >= 0, got {value!r}"
                )
        if max_age < ttl:
            raise InvalidArgumentError(f"max_age ({max_age}) must be at least ttl ({ttl})")
        self._ttl = float(ttl)
        self._max_age = float(max_age)
        self._retry_interval = float(retry_interval)
        self._overrides = None if overrides is None else _load_overrides(overrides)
        self._catalog: ModelCatalog | None = None
        self._stored_at = -math.inf
        # A catalog given by the user rather than fetched: it never goes stale.
        self._pinned = False
        # When the last refresh failed while a stale copy was served; None once one succeeds.
        self._failed_at: float | None = None
        # invalidate() was called: stale whatever its age, until the next store().
        self._invalidated = False

    @property
    def ttl(self) -> float:
        """Seconds a stored catalog counts as fresh."""
        return self._ttl

    @property
    def max_age(self) -> float:
        """Seconds a stored catalog may be served at all."""
        return self._max_age

    def age(self, now: float) -> float | None:
        """Seconds since the stored catalog was fetched, or None when there is none."""
        if self._catalog is None:
            return None
        # A clock that steps back (a fake one, or a restored snapshot) must not make a copy
        # look older than it is, nor younger than new.
        return max(0.0, now - self._stored_at)

    def fresh(self, now: float) -> ModelCatalog | None:
        """The catalog to serve without a request, or None when it must be fetched.

        That is a pinned catalog, the stored one while it is younger than `ttl`, and also
        the stale one for `retry_interval` after a failed refresh (while younger than
        `max_age`).
        """
        age = self.age(now)
        if age is None:
            return None
        if self._pinned or (age < self._ttl and not self._invalidated):
            return self._catalog
        failed_at = self._failed_at
        if (
            failed_at is not None
            and age < self._max_age
            and max(0.0, now - failed_at) < self._retry_interval
        ):
            return self._catalog
        return None

    def needs_refresh(self, now: float) -> bool:
        """Whether the caller must fetch ``/models`` now (`fresh` would return None)."""
        return self.fresh(now) is None

    def peek(self, now: float) -> ModelCatalog | None:
        """The catalog as it is, stale or not, for callers that can do without one.

        None when there is none or it is older than `max_age`; never asks for a fetch.
        """
        age = self.age(now)
        if age is None or (age >= self._max_age and not self._pinned):
            return None
        return self._catalog

    def store(self, catalog: ModelCatalog, now: float) -> ModelCatalog:
        """Keep a freshly fetched catalog (with the overrides merged in) and return it."""
        if self._overrides is not None:
            catalog = catalog.with_overrides(self._overrides)
        self._catalog = catalog
        self._stored_at = now
        self._pinned = False
        self._failed_at = None
        self._invalidated = False
        return catalog

    def pin(self, catalog: ModelCatalog) -> ModelCatalog:
        """Serve `catalog` (a user's, e.g. offline) as fresh until something is stored.

        Its `age` is infinite: it was never fetched.
        """
        stored = self.store(catalog, -math.inf)
        self._pinned = True
        return stored

    def settle(self, outcome: object, now: float) -> ModelCatalog:
        """Finish a refresh: `outcome` is the parsed ``/models`` body, or the exception.

        Returns the new catalog, or after a failure (the exception, or a body that is not a
        catalog) the stale one as `on_refresh_failed` does; raises when there is none to
        fall back on.
        """
        if isinstance(outcome, Exception):
            return self._failed(outcome, now, stacklevel=3)
        try:
            catalog = ModelCatalog.from_response(outcome)
        except CatalogError as err:
            return self._failed(err, now, stacklevel=3)
        return self.store(catalog, now)

    def on_refresh_failed(self, error: Exception, now: float) -> ModelCatalog:
        """After a failed fetch: the stale catalog if still usable, else raise `error`.

        Warns with a `CatalogWarning` once per stale period (the first failure after a
        successful fetch), not on every call that is served the stale copy.
        """
        return self._failed(error, now, stacklevel=3)

    def _failed(self, error: Exception, now: float, stacklevel: int) -> ModelCatalog:
        age = self.age(now)
        catalog = self._catalog
        if catalog is None or age is None or (age >= self._max_age and not self._pinned):
            raise error
        if self._failed_at is None:
            if self._pinned:
                using = "using the catalog the client was given"
            else:
                using = (
                    f"using the copy fetched {age:.0f} s ago until it is {self._max_age:.0f} s old"
                )
            warnings.warn(
                f"could not refresh the model catalog ({type(error).__name__}: "
                f"{redact(str(error))}); {using}",
                CatalogWarning,
                stacklevel=stacklevel,
            )
        self._failed_at = now
        return catalog

    def invalidate(self) -> None:
        """Make the next call fetch again; the old copy stays as the fallback if that fails."""
        self._invalidated = True
        self._failed_at = None

    def clear(self) -> None:
        """Forget the stored catalog entirely (e.g. after switching base URL or key)."""
        self._catalog = None
        self._stored_at = -math.inf
        self._pinned = False
        self._failed_at = None
        self._invalidated = False
