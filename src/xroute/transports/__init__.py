"""Optional HTTP transports for the clients, each behind its own extra.

- `aiohttp_http_client()` / `AiohttpTransport` (``xroute[aiohttp]``): `AsyncXRoute` over
  aiohttp, for backends that hold hundreds of concurrent calls (asyncio only)::

      http = xroute.transports.aiohttp_http_client()
      async with http, AsyncXRoute(http_client=http) as client:
          ...

Nothing here is imported until used: ``import xroute`` never imports aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aiohttp import AiohttpTransport, aiohttp_http_client

__all__ = ["AiohttpTransport", "aiohttp_http_client"]

_HOMES = {"AiohttpTransport": ".aiohttp", "aiohttp_http_client": ".aiohttp"}

if not TYPE_CHECKING:  # mypy sees the imports above

    def __getattr__(name: str) -> Any:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home, __name__), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
