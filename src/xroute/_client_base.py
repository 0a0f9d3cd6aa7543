"""What `XRoute` and `AsyncXRoute` share besides the I/O: configuration, reprs, copies."""

from __future__ import annotations

import copy
import logging
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from typing_extensions import Self

from ._core.catalog_cache import CatalogCache
from ._core.config import ClientConfig, Timeout, TimeoutLike
from ._core.plan import PlanContext
from ._exceptions import InvalidArgumentError, redact
from .catalog import ModelCatalog, _load_overrides
from .routing._cost import Budget, UsageSummary
from .routing._policies import Policy, resolve_policy
from .routing._report import AttemptRecord, CallEnd, FallbackEvent
from .routing._state import InMemoryRouteState, RouteState

DEFAULT_TIMEOUT = Timeout()
# One pool per client; enough keep-alive connections for a busy async backend.
# Keep-alive as many as may open: at 200 concurrent calls a smaller keep-alive pool churns
# connections (measured: ~8% slower than raw httpx).
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)

H = TypeVar("H", httpx.Client, httpx.AsyncClient)


class _RedactingFilter(logging.Filter):
    """Scrubs keys from httpx/httpcore log records: at DEBUG httpcore logs response headers
    verbatim, and a server or proxy that echoes Authorization would put the key there."""

    keys: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = redact(text)
        for key in self.keys:
            clean = clean.replace(key, "[redacted]")
        if clean != text:
            record.msg, record.args = clean, None
        return True


_REDACTING = _RedactingFilter()
# Logger filters do not apply to child loggers, so each logger httpx and httpcore use.
for _name in ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2"):
    logging.getLogger(_name).addFilter(_REDACTING)
for _name in ("httpcore.proxy", "httpcore.socks"):
    logging.getLogger(_name).addFilter(_REDACTING)


class ClientBase(Generic[H]):
    """Everything `XRoute` and `AsyncXRoute` share: the constructor, configuration, routing
    state, usage, catalog cache and copies. The subclasses add the I/O.

    Arguments beyond `openai.OpenAI`'s: `stream_idle_timeout` / `first_token_timeout`
    (seconds, streams), `allow_insecure_http` (send the key over plain http:// to a host
    that is not loopback), `default_model` (an id, a fallback list or a policy for calls
    that pass `model=None`), `route_state` (per-model health; shared by clients that
    should learn together), `budget` (USD, or a `Budget`), `catalog` (a `ModelCatalog` to
    use instead of fetching `/models`), `catalog_ttl` (seconds the fetched catalog is kept),
    `catalog_overrides` (prices/limits/capabilities per model id, a dict or a JSON file),
    and the hooks `on_attempt(AttemptRecord)`, `on_fallback(FallbackEvent)`,
    `on_response(result)` and `on_call_end(CallEnd)` — every routed call, failed ones too,
    streams when they end (sync callables; `AsyncXRoute` also awaits coroutine hooks).
    """

    _config: ClientConfig
    _owns_http: bool
    _http: H
    _http_client_type: ClassVar[type[httpx.Client] | type[httpx.AsyncClient]]

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | httpx.URL | None = None,
        *,
        timeout: TimeoutLike = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
        http_client: H | None = None,
        stream_idle_timeout: float | None = None,
        first_token_timeout: float | None = None,
        allow_insecure_http: bool = False,
        default_model: str | Sequence[str] | Policy | None = None,
        route_state: RouteState | None = None,
        budget: float | Budget | None = None,
        catalog: ModelCatalog | None = None,
        catalog_ttl: float = 300.0,
        catalog_overrides: Mapping[str, Mapping[str, Any]] | str | os.PathLike[str] | None = None,
        on_attempt: Callable[[AttemptRecord], object] | None = None,
        on_fallback: Callable[[FallbackEvent], object] | None = None,
        on_response: Callable[[Any], object] | None = None,
        on_call_end: Callable[[CallEnd], object] | None = None,
    ) -> None:
        wanted = self._http_client_type
        if http_client is not None and not isinstance(http_client, wanted):
            raise TypeError(
                f"http_client must be an {wanted.__module__}.{wanted.__qualname__}, "
                f"got {type(http_client).__name__}"
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
        self._rng = random.Random()
        _RedactingFilter.keys.add(self._config.api_key.reveal())
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
        hooks = {
            "attempt": on_attempt,
            "fallback": on_fallback,
            "response": on_response,
            "call_end": on_call_end,
        }
        for name, hook in hooks.items():
            if hook is not None:
                if not callable(hook):
                    raise InvalidArgumentError(f"on_{name} must be callable, got {hook!r}")
                self._hooks[name] = hook
        # Concurrent first callers of the catalog share one fetch behind this lock.
        self._catalog_lock = self._new_lock()
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else self._new_http()
        self._bind_resources()

    def _new_http(self) -> H:
        raise NotImplementedError

    def _new_lock(self) -> Any:
        raise NotImplementedError

    def with_options(
        self,
        *,
        timeout: TimeoutLike | None = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        stream_idle_timeout: float | None = None,
        first_token_timeout: float | None = None,
    ) -> Self:
        """A copy with other defaults that shares this client's connection pool, routing
        state, usage and catalog.

        >>> patient = client.with_options(timeout=300, max_retries=5)
        """
        given = {
            "timeout": timeout,
            "max_retries": max_retries,
            "default_headers": default_headers,
            "stream_idle_timeout": stream_idle_timeout,
            "first_token_timeout": first_token_timeout,
        }
        clone = copy.copy(self)
        clone._config = self._config.with_options(
            **{k: v for k, v in given.items() if v is not None}
        )
        # The copy shares the pool; only the original closes it.
        clone._owns_http = False
        clone._bind_resources()
        return clone

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

    def _bind_resources(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        # Never the key: only what helps tell clients apart.
        return (
            f"{type(self).__name__}(base_url={str(self._config.base_url)!r}, "
            f"max_retries={self._config.max_retries})"
        )
