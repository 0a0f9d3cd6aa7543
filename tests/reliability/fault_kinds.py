"""The faults the fault server can inject, each a `Behaviour` that answers one request.

Stream faults that strike *after* the first token deliver `PARTIAL` first, so a test can
check that the error's `.partial_text` holds exactly what arrived. Each behaviour looks at
`request.stream` and misbehaves in the way that fits: a plain request and a stream reset
"mid-body" differ on the wire.
"""

from __future__ import annotations

import asyncio
import functools
import json

from fault_server import (
    GOOD_PIECES,
    JSON_TYPE,
    SSE_TYPE,
    Behaviour,
    Conn,
    Received,
    chunk,
    chunk_json,
    completion,
    data_event,
    good,
    gzipped,
    head,
    response,
    stream_events,
)
from reliability_kit import FULL

PARTIAL_PIECES = ("par", "tial")
PARTIAL = "".join(PARTIAL_PIECES)
# The big body: 50 MB in full runs; 10 MB in CI, which takes the same code paths (the only
# size limit in the client, the 64 KB cap on error bodies, is far below either).
BIG_BYTES = (50 if FULL else 10) * 1024 * 1024


def _model(request: Received) -> str:
    return request.model or "unknown"


async def _stream_head(conn: Conn, *, partial: bool) -> None:
    """Headers of a chunked SSE response, the role chunk and (if `partial`) `PARTIAL`."""
    model = "m"
    await conn.send(head(200, [SSE_TYPE], chunked=True))
    await conn.send(chunk(data_event(chunk_json(model, role="assistant", content=""))))
    if partial:
        for piece in PARTIAL_PIECES:
            await conn.send(chunk(data_event(chunk_json(model, content=piece))))


def _error(message: str, kind: str = "server_error", code: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()


# --------------------------------------------------------------------------- status answers


async def rate_limit_seconds(conn: Conn, request: Received) -> None:
    """429 asking for a wait in whole seconds (`retry-after: 1`)."""
    body = _error("Rate limit reached; try again in 1s", "requests", "rate_limit_exceeded")
    await conn.send(response(429, body, [JSON_TYPE, ("retry-after", "1")]))


async def rate_limit_ms(conn: Conn, request: Received) -> None:
    """429 asking for a wait in milliseconds (`retry-after-ms: 30`)."""
    body = _error("Rate limit reached", "requests", "rate_limit_exceeded")
    await conn.send(response(429, body, [JSON_TYPE, ("retry-after-ms", "30")]))


async def server_error_json(conn: Conn, request: Received) -> None:
    """500 with an OpenAI-style JSON error."""
    await conn.send(response(500, _error("The server had an error (injected)")))


async def bad_gateway_html(conn: Conn, request: Received) -> None:
    """502 with a proxy's HTML page."""
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    await conn.send(response(502, page, [("content-type", "text/html")]))


async def unavailable_empty(conn: Conn, request: Received) -> None:
    """503 with an empty body."""
    await conn.send(response(503, b"", []))


# --------------------------------------------------------------------------- broken connections


async def reset_before_headers(conn: Conn, request: Received) -> None:
    """Read the request, then RST without a byte of response."""
    conn.reset()


async def reset_mid_body(conn: Conn, request: Received) -> None:
    """Half a body, then RST (a stream: `PARTIAL`, then RST)."""
    if request.stream:
        await _stream_head(conn, partial=True)
    else:
        body = json.dumps(completion("x" * 500, _model(request))).encode()
        await conn.send(head(200, [JSON_TYPE], length=len(body)) + body[: len(body) // 2])
    conn.reset()


async def headers_then_hang(conn: Conn, request: Received) -> None:
    """The status line and headers, then nothing at all."""
    if request.stream:
        await conn.send(head(200, [SSE_TYPE], chunked=True))
    else:
        await conn.send(head(200, [JSON_TYPE], length=400))
    await conn.hang()


async def stream_then_stall(conn: Conn, request: Received) -> None:
    """Part of the answer (`PARTIAL` for a stream, half the JSON otherwise), then silence."""
    if request.stream:
        await _stream_head(conn, partial=True)
    else:
        body = json.dumps(completion("x" * 500, _model(request))).encode()
        await conn.send(head(200, [JSON_TYPE], length=len(body)) + body[: len(body) // 2])
    await conn.hang()


async def truncated(conn: Conn, request: Received) -> None:
    """A body that ends cleanly but too soon: an SSE event cut in half, or half the JSON
    (with a Content-Length that matches the cut, so HTTP itself is fine)."""
    if request.stream:
        await _stream_head(conn, partial=True)
        await conn.send(chunk(b'data: {"choices": [{"delta": {"content": "never fini'))
        await conn.send(chunk(b""))
    else:
        body = json.dumps(completion("x" * 100, _model(request))).encode()
        await conn.send(response(200, body[: len(body) // 2]))


# --------------------------------------------------------------------------- errors inside a 200


async def error_event(conn: Conn, request: Received) -> None:
    """`PARTIAL`, then ``event: error`` (a plain request gets a 200 error object instead)."""
    if not request.stream:
        await conn.send(response(200, _error("upstream exploded", code="upstream_error")))
        return
    await _stream_head(conn, partial=True)
    payload = _error("upstream exploded", code="upstream_error").decode()
    await conn.send(chunk(f"event: error\ndata: {payload}\n\n".encode()))
    await conn.send(chunk(b""))


async def error_event_first(conn: Conn, request: Received) -> None:
    """``event: error`` before any token (a plain request: a 200 error object)."""
    if not request.stream:
        await conn.send(response(200, _error("overloaded", code="overloaded")))
        return
    await _stream_head(conn, partial=False)
    payload = _error("overloaded", code="overloaded").decode()
    await conn.send(chunk(f"event: error\ndata: {payload}\n\n".encode()))
    await conn.send(chunk(b""))


async def error_data(conn: Conn, request: Received) -> None:
    """`PARTIAL`, then ``data: {"error": ...}`` with an HTTP status in `code` (OpenRouter's
    way); a plain request gets the error object in a 200."""
    error = {"error": {"message": "provider overloaded", "code": 503}}
    if not request.stream:
        await conn.send(response(200, json.dumps(error).encode()))
        return
    await _stream_head(conn, partial=True)
    await conn.send(chunk(data_event(error)))
    await conn.send(chunk(b""))


async def invalid_json(conn: Conn, request: Received) -> None:
    """A 200 whose body (or first event) is not JSON."""
    if request.stream:
        await conn.send(head(200, [SSE_TYPE], chunked=True))
        await conn.send(chunk(b"data: {this is not json\n\n"))
        await conn.send(chunk(b""))
    else:
        await conn.send(response(200, b'{"choices": [ oops'))


async def wrong_shape(conn: Conn, request: Received) -> None:
    """A 200 whose body (or first event) is JSON of the wrong shape."""
    wrong = {"choices": "not a list", "usage": "none"}
    if request.stream:
        await conn.send(head(200, [SSE_TYPE], chunked=True))
        await conn.send(chunk(data_event(wrong)))
        await conn.send(chunk(b""))
    else:
        await conn.send(response(200, json.dumps(wrong).encode()))


async def html_200(conn: Conn, request: Received) -> None:
    """A captive portal: 200 with an HTML page, whatever was asked."""
    page = b"<html><head><title>Sign in to Wi-Fi</title></head><body>hello</body></html>"
    await conn.send(response(200, page, [("content-type", "text/html")]))


# --------------------------------------------------------------------------- encodings and pace


async def gzip_body(conn: Conn, request: Received) -> None:
    """The good answer, gzip-encoded (a stream: compressed once, sent in small pieces)."""
    model = _model(request)
    if request.stream:
        packed = gzipped(b"".join(stream_events(model, GOOD_PIECES)))
        await conn.send(head(200, [SSE_TYPE, ("content-encoding", "gzip")], chunked=True))
        for start in range(0, len(packed), 16):
            await conn.send(chunk(packed[start : start + 16]))
        await conn.send(chunk(b""))
    else:
        body = gzipped(json.dumps(completion("".join(GOOD_PIECES), model)).encode())
        await conn.send(response(200, body, [JSON_TYPE, ("content-encoding", "gzip")]))


async def bad_gzip(conn: Conn, request: Received) -> None:
    """`content-encoding: gzip` over bytes that are not gzip."""
    kind = SSE_TYPE if request.stream else JSON_TYPE
    await conn.send(response(200, b"this is not gzip at all", [kind, ("content-encoding", "gzip")]))


@functools.cache
def _big_plain(model: str) -> bytes:
    return json.dumps(completion("y" * BIG_BYTES, model)).encode()


@functools.cache
def _big_stream(model: str) -> tuple[bytes, ...]:
    piece = "y" * (256 * 1024)
    return tuple(stream_events(model, [piece] * (BIG_BYTES // len(piece))))


@functools.cache
def _big_page() -> bytes:
    return b"<html><head><title>Oops</title></head><body>" + b"z" * BIG_BYTES + b"</body></html>"


async def _send_in_megabytes(conn: Conn, data: bytes) -> None:
    view = memoryview(data)
    for start in range(0, len(data), 1 << 20):
        await conn.send(bytes(view[start : start + (1 << 20)]))


async def big_body(conn: Conn, request: Received) -> None:
    """A `BIG_BYTES` answer: one completion whose text is that big, or that much stream.
    (Built once and cached: building it costs more than sending it.)"""
    model = _model(request)
    if request.stream:
        await conn.send(head(200, [SSE_TYPE], chunked=True))
        for event in _big_stream(model):
            await conn.send(chunk(event))
        await conn.send(chunk(b""))
    else:
        body = _big_plain(model)
        await conn.send(head(200, [JSON_TYPE], length=len(body)))
        await _send_in_megabytes(conn, body)


async def big_error(conn: Conn, request: Received) -> None:
    """A 500 whose HTML body is `BIG_BYTES` long (the client must not keep all of it)."""
    page = _big_page()
    await conn.send(head(500, [("content-type", "text/html")], length=len(page)))
    await _send_in_megabytes(conn, page)


async def one_byte_at_a_time(conn: Conn, request: Received) -> None:
    """The good answer, body delivered one byte per TCP segment (CRLF lines for a stream, so
    CR and LF also arrive apart)."""
    # Small bodies: one byte per millisecond or so.
    if request.stream:
        events = [{"choices": [{"delta": {"content": text}}]} for text in GOOD_PIECES[:2]]
        body = b"".join(data_event(event, "\r\n") for event in [*events, "[DONE]"])
        await conn.send(head(200, [SSE_TYPE], length=len(body)))
    else:
        body = json.dumps({"choices": [{"message": {"content": "Hello from"}}]}).encode()
        await conn.send(head(200, [JSON_TYPE], length=len(body)))
    await conn.trickle(body, every=0.0005)


def _line_ends(newline: str) -> Behaviour:
    async def behaviour(conn: Conn, request: Received) -> None:
        model = _model(request)
        if not request.stream:
            await conn.send(response(200, json.dumps(completion("".join(GOOD_PIECES), model))
                                     .replace(",", f",{newline}").encode()))  # fmt: skip
            return
        await conn.send(head(200, [SSE_TYPE], chunked=True))
        for event in stream_events(model, GOOD_PIECES, newline=newline):
            await conn.send(chunk(event))
        await conn.send(chunk(b""))

    behaviour.__name__ = behaviour.__qualname__ = f"line_ends_{newline.encode().hex()}"
    return behaviour


crlf_lines = _line_ends("\r\n")
cr_lines = _line_ends("\r")


async def keep_alive_comments(conn: Conn, request: Received) -> None:
    """The good stream with ``: keep-alive`` comments, empty ``data:`` lines and unknown
    events before and between the chunks (a plain request: the good answer)."""
    model = _model(request)
    if not request.stream:
        await conn.send(response(200, json.dumps(completion("".join(GOOD_PIECES), model)).encode()))
        return
    await conn.send(head(200, [SSE_TYPE], chunked=True))
    await conn.send(chunk(b": keep-alive\n\n: OPENROUTER PROCESSING\n\n"))
    for event in stream_events(model, GOOD_PIECES):
        await conn.send(chunk(b": keep-alive\n\ndata:\n\nevent: ping\ndata: {}\n\n"))
        await conn.send(chunk(event))
    await conn.send(chunk(b""))


def redirect_to(origin: str, status: int = 307, *, prefix: str = "") -> Behaviour:
    """A redirect (307 and 308 keep the method and body) to the same path on `origin`,
    under `prefix`; a request that already arrived under `prefix` gets the good answer."""

    async def behaviour(conn: Conn, request: Received) -> None:
        if prefix and request.path.startswith(prefix):
            await good(conn, request)
            return
        location = f"{origin}{prefix}{request.path}"
        await conn.send(response(status, b"", [("location", location)]))

    behaviour.__name__ = behaviour.__qualname__ = "redirect_to_other_origin"
    return behaviour


async def trickle_forever(conn: Conn, request: Received) -> None:
    """Alive but useless: a plain answer's bytes one every 30 ms (about 1.4 s in all), or a
    stream of keep-alive comments every 50 ms that never gets to a token."""
    if request.stream:
        await conn.send(head(200, [SSE_TYPE], chunked=True))
        for _ in range(80):
            await conn.send(chunk(b": keep-alive\n\n"))
            await asyncio.sleep(0.05)
        conn.close_after()
        return
    body = json.dumps({"choices": [{"message": {"content": "slow"}}]}).encode()
    await conn.send(head(200, [JSON_TYPE], length=len(body)))
    await conn.trickle(body, every=0.03)


def once(behaviour: Behaviour) -> Behaviour:
    """`behaviour` for the first request, the good answer after it."""
    done: list[bool] = []

    async def first_only(conn: Conn, request: Received) -> None:
        if done:
            await good(conn, request)
        else:
            done.append(True)
            await behaviour(conn, request)

    first_only.__name__ = first_only.__qualname__ = f"once_{behaviour.__name__}"
    return first_only


DEEP = b"[" * 100_000 + b"]" * 100_000


async def deeply_nested(conn: Conn, request: Received) -> None:
    """JSON nested 100,000 deep: a 500 error body, or the data of a stream's error event."""
    if request.stream:
        await _stream_head(conn, partial=False)
        await conn.send(chunk(b"event: error\ndata: " + DEEP + b"\n\n"))
        await conn.send(chunk(b""))
    else:
        await conn.send(response(500, DEEP))
