"""In-process adapters: httpx transports that play the engine's steps without sockets.

Faults surface as the httpx exceptions a real connection gives (checked against the loopback
server in the integration tests): a reset is ``httpx.ReadError``; a silence longer than the
request's read timeout sleeps for that timeout and raises ``httpx.ReadTimeout``; a
``Pause`` longer than the read timeout does the same, as a slow server would.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

import anyio
import httpx

from ._engine import Engine
from ._wire import Drop, Hang, Head, Incoming, Pause, Step

_RESET = "[Errno 104] Connection reset by peer"


def _incoming(request: httpx.Request, body: bytes) -> Incoming:
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in request.headers.raw
    }
    return Incoming(request.method, request.url.path, headers, body)


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout")
    if isinstance(timeout, dict):
        read = timeout.get("read")
        if isinstance(read, (int, float)):
            return float(read)
    return None


def _wait(step: Pause | Hang, timeout: float | None) -> tuple[float, bool]:
    """How long to sleep for a silent step, and whether the client's read timeout fires first."""
    if timeout is not None and step.seconds >= timeout:
        return timeout, True
    return step.seconds, False


def _split_head(steps: Sequence[Step]) -> tuple[list[Step], Head | None, list[Step]]:
    for position, step in enumerate(steps):
        if isinstance(step, Head):
            return list(steps[:position]), step, list(steps[position + 1 :])
    return list(steps), None, []


def _response(
    head: Head, body: list[Step], stream: httpx.SyncByteStream | httpx.AsyncByteStream
) -> httpx.Response:
    if len(body) == 1 and isinstance(body[0], bytes):
        # A whole body with no pauses.  Not `content=`, which httpx reads eagerly, so that
        # `iter_raw()` under `client.stream()` would raise StreamConsumed as no network does.
        stream = httpx.ByteStream(body[0])
    return httpx.Response(head.status, headers=list(head.headers), stream=stream)


class _SyncBody(httpx.SyncByteStream):
    def __init__(self, steps: list[Step], request: httpx.Request) -> None:
        self._steps = steps
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        timeout = _read_timeout(self._request)
        for step in self._steps:
            if isinstance(step, bytes):
                yield step
            elif isinstance(step, (Pause, Hang)):
                seconds, timed_out = _wait(step, timeout)
                time.sleep(seconds)
                if timed_out:
                    raise httpx.ReadTimeout("The read operation timed out", request=self._request)
            elif isinstance(step, Drop):
                raise httpx.ReadError(_RESET, request=self._request)


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, steps: list[Step], request: httpx.Request) -> None:
        self._steps = steps
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        timeout = _read_timeout(self._request)
        for step in self._steps:
            if isinstance(step, bytes):
                yield step
            elif isinstance(step, (Pause, Hang)):
                seconds, timed_out = _wait(step, timeout)
                await anyio.sleep(seconds)
                if timed_out:
                    raise httpx.ReadTimeout("The read operation timed out", request=self._request)
            elif isinstance(step, Drop):
                raise httpx.ReadError(_RESET, request=self._request)


class SyncGatewayTransport(httpx.BaseTransport):
    """``httpx.Client(transport=gateway.transport())``: the gateway without sockets."""

    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self._engine = engine
        self._clock = clock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        steps = self._engine.handle(_incoming(request, request.read()), self._clock())
        before, head, after = _split_head(steps)
        # Steps before the head are silences and resets: play them as the body would.
        for _ in _SyncBody(before, request):
            pass  # pragma: no cover - nothing but silences comes before the head
        if head is None:
            raise httpx.ReadError(_RESET, request=request)  # pragma: no cover - Drop raised
        return _response(head, after, _SyncBody(after, request))


class AsyncGatewayTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncClient(transport=gateway.async_transport())``, on asyncio or trio."""

    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self._engine = engine
        self._clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        steps = self._engine.handle(_incoming(request, await request.aread()), self._clock())
        before, head, after = _split_head(steps)
        async for _ in _AsyncBody(before, request):
            pass  # pragma: no cover - nothing but silences comes before the head
        if head is None:
            raise httpx.ReadError(_RESET, request=request)  # pragma: no cover - Drop raised
        return _response(head, after, _AsyncBody(after, request))
