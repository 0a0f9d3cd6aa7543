"""A small HTTP/1.1 server that misbehaves at the byte level, for the reliability suite.

A normal framework cannot reset a connection mid-body, send headers and then hang, trickle
one byte at a time or cut an SSE event in half, so this one is written on raw asyncio
streams. It runs its own event loop in a daemon thread (the clients under test may be
synchronous), answers each request with a `Behaviour` chosen by the request's model (read
from the JSON body) or, failing that, by its path, and records what it received.

    with FaultServer() as server:
        server.on("faulty", reset_mid_body)
        client = xroute.XRoute(api_key=KEY, base_url=server.url)

Every wait the server makes (a hang, a stall) ends when the client hangs up, when the
server stops, or after `HANG_CAP` seconds at most: a client bug then shows up as a failed
test rather than a CI job that never ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

# Longer than any deadline in the suite, short enough that a client bug cannot stall CI.
HANG_CAP = 20.0

_REASONS = {
    200: "OK",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Received:
    """One request as the server read it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    model: str | None
    stream: bool


class Conn:
    """The connection a behaviour answers on: write, trickle, hang, reset."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.keep_alive = True

    async def send(self, data: bytes) -> None:
        """Write `data` and wait until the kernel took it."""
        self.writer.write(data)
        await self.writer.drain()

    async def trickle(self, data: bytes, *, every: float = 0.001, size: int = 1) -> None:
        """Write `data` `size` bytes at a time, pausing `every` seconds between pieces (the
        pause makes the client's reads return one piece each)."""
        for start in range(0, len(data), size):
            await self.send(data[start : start + size])
            await asyncio.sleep(every)

    async def hang(self, seconds: float = HANG_CAP) -> None:
        """Send nothing more until the client hangs up (or `seconds` pass); then close."""
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            await asyncio.wait_for(self.reader.read(1), min(seconds, HANG_CAP))
        self.keep_alive = False

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0), not an orderly FIN."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()
        self.keep_alive = False

    def close_after(self) -> None:
        """Close the connection (FIN) once the behaviour returns."""
        self.keep_alive = False


Behaviour = Callable[[Conn, Received], Awaitable[None]]


# --------------------------------------------------------------------------- wire pieces


def head(
    status: int,
    headers: Iterable[tuple[str, str]] = (),
    *,
    length: int | None = None,
    chunked: bool = False,
) -> bytes:
    """A status line and headers, ending in the blank line."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Whatever')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if length is not None:
        lines.append(f"content-length: {length}")
    if chunked:
        lines.append("transfer-encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One piece of a chunked body (the empty piece ends the body)."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


JSON_TYPE = ("content-type", "application/json")
SSE_TYPE = ("content-type", "text/event-stream")


def response(status: int, body: bytes, headers: Iterable[tuple[str, str]] = (JSON_TYPE,)) -> bytes:
    """A whole response with a Content-Length."""
    return head(status, headers, length=len(body)) + body


def completion(text: str, model: str) -> dict[str, Any]:
    """A chat completion body whose only choice says `text`."""
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def chunk_json(model: str, **delta: Any) -> dict[str, Any]:
    """A stream chunk whose first choice adds `delta`."""
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
    }


def data_event(value: Any, newline: str = "\n") -> bytes:
    """One ``data:`` event (the JSON of `value`, or `value` itself when it is a str)."""
    text = value if isinstance(value, str) else json.dumps(value)
    return f"data: {text}{newline}{newline}".encode()


def stream_events(model: str, pieces: Iterable[str], *, newline: str = "\n") -> list[bytes]:
    """The events of a whole stream: role, one event per piece, finish, usage, [DONE]."""
    events = [data_event(chunk_json(model, role="assistant", content=""), newline)]
    events += [data_event(chunk_json(model, content=piece), newline) for piece in pieces]
    last = chunk_json(model)
    last["choices"][0]["finish_reason"] = "stop"
    events.append(data_event(last, newline))
    usage = {**chunk_json(model), "choices": [], "usage": {"prompt_tokens": 3, "total_tokens": 5}}
    events.append(data_event(usage, newline))
    events.append(f"data: [DONE]{newline}{newline}".encode())
    return events


def gzipped(data: bytes) -> bytes:
    """`data` compressed as a gzip member (deterministic: no timestamp)."""
    return gzip.compress(data, mtime=0)


# --------------------------------------------------------------------------- behaviours


GOOD_PIECES = ("Hello", " from", " the", " good", " model")
GOOD_TEXT = "".join(GOOD_PIECES)


async def good(conn: Conn, request: Received) -> None:
    """A well-behaved answer: the completion (or stream) of `GOOD_TEXT`."""
    model = request.model or "unknown"
    if request.stream:
        await conn.send(head(200, [SSE_TYPE], chunked=True))
        for event in stream_events(model, GOOD_PIECES):
            await conn.send(chunk(event))
        await conn.send(chunk(b""))
    else:
        await conn.send(response(200, json.dumps(completion(GOOD_TEXT, model)).encode()))


# --------------------------------------------------------------------------- the server


@dataclass
class _State:
    routes: dict[str, Behaviour] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    connections: int = 0


class FaultServer:
    """The misbehaving loopback server (see the module docstring).

    `on(key, behaviour)` answers requests whose model (or path) is `key` with `behaviour`;
    anything else gets `default` (the well-behaved `good`). `url` is the base URL
    (``http://127.0.0.1:PORT/v1``) while the server runs.
    """

    def __init__(self, default: Behaviour = good) -> None:
        self.default = default
        self._state = _State()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    # ------------------------------------------------------------------ set-up

    @property
    def url(self) -> str:
        """The base URL clients are given."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def origin(self) -> str:
        """Scheme, host and port, without the path."""
        return f"http://127.0.0.1:{self.port}"

    def on(self, key: str, behaviour: Behaviour) -> None:
        """Answer requests for model (or path) `key` with `behaviour`."""
        with self._lock:
            self._state.routes[key] = behaviour

    def reset(self) -> None:
        """Forget the routes and what was received."""
        with self._lock:
            self._state = _State()

    @property
    def received(self) -> list[Received]:
        """Every request read so far, oldest first."""
        with self._lock:
            return list(self._state.received)

    @property
    def connections(self) -> int:
        """How many connections were accepted since the last `reset`."""
        with self._lock:
            return self._state.connections

    def __enter__(self) -> FaultServer:
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name="reliability-fault-server", daemon=True
        )
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fault server did not start")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(self._stop)
            thread.join(10)

    def _run(self, started: threading.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()
            loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    def _stop(self) -> None:
        assert self._server is not None and self._loop is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        self._loop.stop()

    # ------------------------------------------------------------------ serving

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        with self._lock:
            self._state.connections += 1
        conn = Conn(reader, writer)
        try:
            while conn.keep_alive:
                request = await _read_request(reader)
                if request is None:
                    break
                with self._lock:
                    self._state.received.append(request)
                    behaviour = (
                        self._state.routes.get(request.model or "")
                        or self._state.routes.get(request.path)
                        or self.default
                    )
                await behaviour(conn, request)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client hung up: what the tests do on purpose
        finally:
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> Received | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed an idle keep-alive connection
    lines = raw.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    model: str | None = None
    stream = False
    with contextlib.suppress(ValueError):
        parsed = json.loads(body) if body else None
        if isinstance(parsed, dict):
            model = parsed.get("model") if isinstance(parsed.get("model"), str) else None
            stream = parsed.get("stream") is True
    return Received(method, path, headers, body, model, stream)


@contextlib.contextmanager
def closed_port() -> Iterator[str]:
    """A loopback base URL nobody listens on: connecting is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # bound, never listened: the port is free and refuses connections
    yield f"http://127.0.0.1:{port}/v1"
