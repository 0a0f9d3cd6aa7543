"""What `XRoute` and `AsyncXRoute` share besides the I/O: configuration, reprs, copies."""

from __future__ import annotations

import copy
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from ._core.catalog_cache import CatalogCache
from ._core.config import ClientConfig, Timeout
from ._core.plan import PlanContext
from ._exceptions import InvalidArgumentError
from .catalog import ModelCatalog, _load_overrides
from .routing._cost import Budget, UsageSummary
from .routing._policies import resolve_policy
from .routing._state import InMemoryRouteState, RouteState

HOOKS = ("on_attempt", "on_fallback", "on_response")

DEFAULT_TIMEOUT = Timeout()
# One pool per client; enough keep-alive connections for a busy async backend.
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)

C = TypeVar("C", bound="ClientBase")


class ClientBase:
    """Configuration and plan context of a client; the subclasses add the I/O."""

    _config: ClientConfig
    _owns_http: bool

    def _configure(
        self,
        *,
        api_key: str | None,
        base_url: str | httpx.URL | None,
        timeout: object,
        max_retries: object,
        default_headers: Mapping[str, str] | None,
        stream_idle_timeout: object,
        first_token_timeout: object,
        allow_insecure_http: bool,
        http_client: object,
        http_client_type: type,
        default_model: object = None,
        route_state: RouteState | None = None,
        budget: float | Budget | None = None,
        catalog: ModelCatalog | None = None,
        catalog_ttl: float = 300.0,
        catalog_overrides: Mapping[str, Mapping[str, Any]] | str | os.PathLike[str] | None = None,
        hooks: Mapping[str, object] | None = None,
    ) -> None:
        if http_client is not None and not isinstance(http_client, http_client_type):
            raise TypeError(
                f"http_client must be an {http_client_type.__module__}."
                f"{http_client_type.__qualname__}, got {type(http_client).__name__}"
            )
        self._config = ClientConfig.resolve(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            stream_idle_timeout=stream_idle_timeout,
            first_token_timeout=first_token_timeout,
            allow_insecure_http=allow_insecure_http,
        )
        self._owns_http = http_client is None
        self._rng = random.Random()
        if default_model is not None:
            resolve_policy(default_model)  # a bad default fails here, not on the first call
        self._default_model = default_model
        self._state: RouteState = route_state or InMemoryRouteState()
        self.usage = UsageSummary()
        """Requests, tokens and USD spent per model through this client (and its copies)."""
        self._budget = budget if isinstance(budget, Budget) or budget is None else Budget(budget)
        # A path is read here, once, so the pure cache only ever sees a mapping.
        overrides = None if catalog_overrides is None else _load_overrides(catalog_overrides)
        self._catalog_cache = CatalogCache(
            ttl=catalog_ttl, max_age=max(3600.0, catalog_ttl), overrides=overrides
        )
        if catalog is not None:
            if not isinstance(catalog, ModelCatalog):
                raise InvalidArgumentError("catalog must be an xroute.ModelCatalog")
            self._catalog_cache.pin(catalog)
        self._hooks: dict[str, Callable[[Any], object]] = {}
        for name, hook in (hooks or {}).items():
            if hook is not None:
                if not callable(hook):
                    raise InvalidArgumentError(f"{name} must be callable, got {hook!r}")
                self._hooks[name.removeprefix("on_")] = hook

    @property
    def base_url(self) -> httpx.URL:
        """The base URL every path is joined onto (ends in '/')."""
        return self._config.base_url

    @property
    def timeout(self) -> Timeout:
        """The default timeout of every call."""
        return self._config.timeout

    @property
    def max_retries(self) -> int:
        """How many times a failed attempt is retried on the same model."""
        return self._config.max_retries

    @property
    def budget(self) -> Budget | None:
        """The client's USD budget, if one was set (`budget.remaining_usd` shows what is left)."""
        return self._budget

    @property
    def route_state(self) -> RouteState:
        """The per-model health this client routes by (latency, errors, circuit breakers)."""
        return self._state

    def _context(self) -> PlanContext:
        return PlanContext(
            self._config,
            time.monotonic,
            time.time,
            self._rng,
            self._state,
            self.usage,
            self._budget,
            self._default_model,
            frozenset(self._hooks),
        )

    def _copy_with(self: C, changes: dict[str, Any]) -> C:
        clone = copy.copy(self)
        clone._config = self._config.with_options(**changes)
        # The copy shares the pool; only the original closes it.
        clone._owns_http = False
        clone._bind_resources()
        return clone

    def _bind_resources(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        # Never the key: only what helps tell clients apart.
        return (
            f"{type(self).__name__}(base_url={str(self._config.base_url)!r}, "
            f"max_retries={self._config.max_retries})"
        )
