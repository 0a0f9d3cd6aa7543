"""An httpx transport over aiohttp, for `AsyncXRoute` under high concurrency (asyncio only).

httpx's own pool (httpcore) slows down as it holds hundreds of connections; aiohttp's
connector does not. This transport keeps httpx's client API (so `AsyncXRoute` is unchanged)
and sends through an `aiohttp.ClientSession`::

    http = aiohttp_http_client()
    async with http, AsyncXRoute(http_client=http) as client:
        ...

Why not the `httpx-aiohttp` package: its exception map turns a refused or reset connection
into `httpx.ConnectTimeout`, so a dead host would read as a slow one (a timeout, not a
connection error) to the failover rules. This one maps aiohttp's errors to the httpx
exceptions httpx itself raises in the same situations.

aiohttp runs on asyncio only: under trio the first request raises a `RuntimeError` saying so.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from .._client_base import DEFAULT_LIMITS

if TYPE_CHECKING:
    import aiohttp as aiohttp_module

try:
    import aiohttp
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("the aiohttp transport needs aiohttp: pip install 'xroute[aiohttp]'") from err
if not hasattr(aiohttp, "ClientSession"):  # pragma: no cover - a folder named aiohttp/
    raise ImportError(
        f"'aiohttp' resolves to {aiohttp.__path__!r}, not aiohttp: pip install 'xroute[aiohttp]'"
    )

__all__ = ["AiohttpTransport", "aiohttp_http_client"]

# Most specific first: the first class that matches wins.
_ERRORS: tuple[tuple[type[BaseException], type[httpx.RequestError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientOSError, httpx.ReadError),
    (aiohttp.ClientConnectionError, httpx.ReadError),
    (aiohttp.ClientError, httpx.TransportError),
    (asyncio.TimeoutError, httpx.ReadTimeout),
)


@contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    """Raise aiohttp's failures as the httpx exception httpx would raise."""
    try:
        yield
    except httpx.HTTPError:
        raise
    except Exception as err:
        for source, target in _ERRORS:
            if isinstance(err, source):
                raise target(str(err) or type(err).__name__, request=request) from err
        raise


def _running_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "the aiohttp transport runs on asyncio only (aiohttp does not support trio); "
            "under trio, use AsyncXRoute's default httpx transport"
        ) from None


class _Body(httpx.AsyncByteStream):
    """A response body read from aiohttp as it arrives; closing releases the connection."""

    def __init__(self, response: aiohttp_module.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(self._request):
            # `iter_any`: every piece as soon as it arrives (SSE events must not wait for
            # a buffer to fill).
            async for piece in self._response.content.iter_any():
                yield piece

    async def aclose(self) -> None:
        # A body read to the end returns its connection to the pool; one left unfinished
        # (a stream closed early, a cancelled read) closes it, so no stale bytes are reused.
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An `httpx.AsyncBaseTransport` that sends through one `aiohttp.ClientSession`.

    The session is created on the first request, in the running event loop, and belongs to
    it: use one transport per event loop. Timeouts come from each request (httpx's connect,
    read and pool timeouts); HTTP/1.1 only; redirects are httpx's business.

    - `limits`: `max_connections` bounds the pool (None: no bound), `keepalive_expiry`
      closes idle connections.
    - `verify`: True (certifi's CAs, as httpx), False, or an `ssl.SSLContext`.
    - `trust_env`: read proxies from ``HTTP(S)_PROXY`` as aiohttp does.
    """

    def __init__(
        self,
        *,
        limits: httpx.Limits = DEFAULT_LIMITS,
        verify: ssl.SSLContext | bool = True,
        trust_env: bool = False,
    ) -> None:
        self._limits = limits
        self._ssl: ssl.SSLContext | bool = (
            httpx.create_ssl_context(verify=verify) if verify is True else verify
        )
        self._trust_env = trust_env
        self._session: aiohttp_module.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session_for(self, loop: asyncio.AbstractEventLoop) -> aiohttp_module.ClientSession:
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                limit_per_host=0,
                keepalive_timeout=self._limits.keepalive_expiry or 0,
                ssl=self._ssl,
            )
            session = self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=self._trust_env,
                auto_decompress=False,  # httpx decodes content-encoding itself
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
            )
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(
                "this aiohttp transport belongs to another event loop; create one client "
                "(aiohttp_http_client()) per event loop"
            )
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` through aiohttp; the body streams as it is read."""
        session = self._session_for(_running_loop())
        timeout = request.extensions.get("timeout", {})
        try:
            data: Any = request.content or None
        except httpx.RequestNotRead:
            data = request.stream  # aiohttp streams an async iterable body
            request.headers.pop("transfer-encoding", None)  # aiohttp frames it
        with _mapped(request):
            response = await session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=data,
                allow_redirects=False,
                compress=None,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
                server_hostname=request.extensions.get("sni_hostname"),
            )
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("ascii", "replace")
        return httpx.Response(
            response.status,
            headers=list(response.raw_headers),
            stream=_Body(response, request),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        """Close the session and every pooled connection."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def in_use(self) -> int:
        """Connections checked out of the pool right now (a test and debugging aid)."""
        connector = self._session.connector if self._session is not None else None
        if connector is None:
            return 0
        return len(connector._acquired)


def aiohttp_http_client(
    *,
    limits: httpx.Limits = DEFAULT_LIMITS,
    verify: ssl.SSLContext | bool = True,
    trust_env: bool = False,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` over aiohttp, to pass as ``AsyncXRoute(http_client=...)``.

    asyncio only. The caller owns it: close it (``await http.aclose()`` or ``async with``)
    after the client that uses it. `kwargs` go to `httpx.AsyncClient` (not `transport`).

    >>> http = aiohttp_http_client()  # doctest: +SKIP
    >>> async with http, AsyncXRoute(http_client=http) as client:  # doctest: +SKIP
    ...     await client.chat.completions.create(model="openai/gpt-4o", messages=[...])
    """
    try:
        import sniffio

        library = sniffio.current_async_library()
    except Exception:  # no event loop yet, or sniffio absent: checked again on first use
        library = None
    if library is not None and library != "asyncio":
        raise RuntimeError(
            f"the aiohttp transport runs on asyncio only, not {library} (aiohttp does not "
            "support it); use AsyncXRoute's default httpx transport"
        )
    transport = AiohttpTransport(limits=limits, verify=verify, trust_env=trust_env)
    return httpx.AsyncClient(transport=transport, limits=limits, **kwargs)
