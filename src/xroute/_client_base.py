"""What `XRoute` and `AsyncXRoute` share besides the I/O: configuration, reprs, copies."""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx

from ._core.config import ClientConfig, Timeout
from ._core.plan import PlanContext

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

    def _context(self) -> PlanContext:
        return PlanContext(self._config, time.monotonic, time.time, self._rng)

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
