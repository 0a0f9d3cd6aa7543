"""Over-the-wire adapter: a plain ASGI app playing the engine's steps, served by uvicorn.

No framework: the app reads the body, asks the engine, and sends what it says, which keeps a
plain request to two ``send`` calls.  uvicorn is imported only when a server starts.

What a client sees over loopback, by fault:

- ``"reset"``: the app sets ``SO_LINGER`` to 0 and aborts the connection, so the kernel sends a
  TCP RST and the client gets ``httpx.ReadError`` (ECONNRESET), before any response byte for a
  plain request, mid-body for a stream.  This reaches into uvicorn's request cycle (its ``send``
  is a bound method of an object holding the asyncio transport).  Under a server that does not
  expose it the app raises instead: a stream is cut short (``httpx.RemoteProtocolError``) and a
  plain request gets whatever the server sends for a failed app (uvicorn: a bare 500).
- ``"hang"``: the app sends nothing and waits until the client disconnects, the script's
  ``hang_seconds`` pass, or the server stops.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import anyio

from ._engine import Engine
from ._wire import Drop, Hang, Head, Incoming, Pause, Step

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_POLL_SECONDS = 0.05
_STARTUP_TIMEOUT = 10.0
_SHUTDOWN_TIMEOUT = 10.0


class _ConnectionDropped(Exception):
    """Raised to make an ASGI server drop the connection when it cannot be aborted directly."""


class _HideDrops(logging.Filter):
    """Keeps uvicorn's "Exception in ASGI application" quiet for deliberate drops."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, _ConnectionDropped)


def _encode_headers(head: Head) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in head.headers]


class GatewayApp:
    """The gateway as an ASGI 3 application (HTTP only; lifespan events are acknowledged)."""

    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self._engine = engine
        self._clock = clock
        self.stopping = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":  # pragma: no cover - websockets are switched off
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        request = Incoming(scope["method"], scope["path"], headers, b"".join(chunks))
        steps = self._engine.handle(request, self._clock())
        if len(steps) == 2 and isinstance(steps[0], Head) and isinstance(steps[1], bytes):
            # The common case (a plain answer with no delay), kept to two awaits.
            start = {
                "type": "http.response.start",
                "status": steps[0].status,
                "headers": _encode_headers(steps[0]),
            }
            await send(start)
            await send({"type": "http.response.body", "body": steps[1]})
            return
        await self._play(steps, receive, send)

    async def _play(self, steps: list[Step], receive: Receive, send: Send) -> None:
        last = len(steps) - 1
        for position, step in enumerate(steps):
            if isinstance(step, bytes):
                more = position != last
                await send({"type": "http.response.body", "body": step, "more_body": more})
            elif isinstance(step, Head):
                start = {
                    "type": "http.response.start",
                    "status": step.status,
                    "headers": _encode_headers(step),
                }
                await send(start)
            elif isinstance(step, Pause):
                if not await self._sleep(step.seconds):
                    await _drop(send, receive)
                    return
            elif isinstance(step, Hang):
                outcome = await self._hang(step.seconds, receive)
                if outcome == "disconnected":
                    return
                if outcome == "stopping":
                    await _drop(send, receive)
                    return
            else:
                assert isinstance(step, Drop)
                await _drop(send, receive)
                return

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, in slices so that stopping the server ends it; False if it was stopped."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if self.stopping.is_set():
                return False
            await anyio.sleep(min(remaining, _POLL_SECONDS))
        return not self.stopping.is_set()

    async def _hang(self, seconds: float, receive: Receive) -> str:
        """Wait out a scripted hang; say why it ended: elapsed, disconnected or stopping."""
        outcome = "elapsed"

        async with anyio.create_task_group() as group:

            async def watch() -> None:
                nonlocal outcome
                while (await receive())["type"] != "http.disconnect":
                    pass  # pragma: no cover - nothing else arrives after the body
                outcome = "disconnected"
                group.cancel_scope.cancel()

            group.start_soon(watch)
            if not await self._sleep(seconds):
                outcome = "stopping"
            group.cancel_scope.cancel()
        return outcome


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _drop(send: Send, receive: Receive) -> None:
    """Reset the connection with a TCP RST (see the module docstring)."""
    transport: Any = getattr(getattr(send, "__self__", None), "transport", None)
    if not callable(getattr(transport, "abort", None)):  # asyncio and uvloop transports have it
        raise _ConnectionDropped("scripted connection reset")  # pragma: no cover - not uvicorn
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Return only once the server has seen the connection go, or uvicorn logs that the app
    # "returned without completing response".
    with anyio.move_on_after(1.0):
        while (await receive())["type"] != "http.disconnect":
            pass  # pragma: no cover


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; binding here (not in uvicorn) lets port 0 resolve before start."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted sockets only when it does, and
    # without it Nagle holds uvicorn's body write behind the head for a 40 ms delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def base_url(sock: socket.socket) -> str:
    """``http://host:port/v1`` for a bound socket."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1"


def make_server(app: GatewayApp, *, http: str = "auto") -> Any:
    """A configured ``uvicorn.Server`` (typed ``Any`` so importing this module stays cheap)."""
    import uvicorn

    logging.getLogger("uvicorn.error").addFilter(_HIDE_DROPS)
    config = uvicorn.Config(
        app,
        http=http,
        ws="none",
        lifespan="off",
        log_config=None,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


_HIDE_DROPS = _HideDrops()


@contextlib.contextmanager
def serve_in_thread(app: GatewayApp, host: str, port: int, *, http: str = "auto") -> Iterator[str]:
    """Run uvicorn in a daemon thread for the ``with`` block; yield the base URL."""
    sock = bind(host, port)
    url = base_url(sock)
    server = make_server(app, http=http)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as error:  # pragma: no cover - reported to the caller below
            failure.append(error)

    thread = threading.Thread(target=run, name=f"xroute-mock-gateway {url}", daemon=True)
    app.stopping.clear()
    thread.start()
    try:
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:  # pragma: no cover
                raise RuntimeError(f"the mock gateway failed to start on {url}") from (
                    failure[0] if failure else None
                )
            time.sleep(0.001)
        yield url
    finally:
        app.stopping.set()
        server.should_exit = True
        thread.join(_SHUTDOWN_TIMEOUT)
        sock.close()


def serve_blocking(
    app: GatewayApp, host: str, port: int, on_ready: Callable[[str], None] | None = None
) -> None:
    """Serve in this thread until SIGINT/SIGTERM (uvicorn installs the handlers)."""
    sock = bind(host, port)
    app.stopping.clear()
    try:
        if on_ready is not None:
            on_ready(base_url(sock))
        make_server(app).run(sockets=[sock])
    finally:
        sock.close()
