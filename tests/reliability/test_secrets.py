"""Secrets and trust: the API key never shows, TLS is verified, clear text is refused.

The key must not appear in any repr (client, config, request, response, route report,
attempt record, error), in any log record at any level (ours, httpx's, httpcore's), or in
an error's message or formatted traceback (its whole cause chain), even when the server
echoes the request, key included, back in an error body, an HTML page, a 200 that is not
JSON or a stream's error event. Two keys are tried: one that looks like a key (``xr-...``,
which the generic `Bearer`/key-pattern redaction would catch anyway) and one that does not,
which only redaction of the client's own key can catch.
"""

from __future__ import annotations

import json
import logging
import ssl
import traceback
from typing import Any

import fault_kinds as fk
import pytest
from fault_server import (
    JSON_TYPE,
    SSE_TYPE,
    Behaviour,
    Conn,
    FaultServer,
    Received,
    chunk,
    chunk_json,
    data_event,
    head,
    response,
)
from reliability_kit import KEY, KINDS, ask, busy_connections, close, make_client

import xroute

pytestmark = pytest.mark.anyio

PLAIN_KEY = "Zq7PlainLookingSecret42"  # no prefix, no "Bearer": only the client knows it
KEYS = {"prefixed": KEY, "plain": PLAIN_KEY}


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def anyio_backend(kind: str) -> str:
    return "trio" if kind == "trio" else "asyncio"


@pytest.fixture(params=list(KEYS))
def key(request: pytest.FixtureRequest) -> str:
    return KEYS[str(request.param)]


def _echoed(request: Received) -> str:
    """What a careless server puts in an error: the request's headers, key and all."""
    auth = request.headers.get("authorization", "")
    raw = auth.removeprefix("Bearer ")
    return f"Authorization: {auth}; key={raw}; headers={json.dumps(request.headers)}"


def echo_status(status: int, content_type: str) -> Behaviour:
    async def behaviour(conn: Conn, request: Received) -> None:
        text = _echoed(request)
        if content_type == "json":
            body = json.dumps({"error": {"message": text, "code": text[:40]}}).encode()
            headers = [JSON_TYPE]
        elif content_type == "html":
            body = f"<html><head><title>{text}</title></head><body>{text}</body></html>".encode()
            headers = [("content-type", "text/html")]
        else:
            body = text.encode()
            headers = [("content-type", "text/plain")]
        await conn.send(response(status, body, headers))

    behaviour.__name__ = f"echo_{status}_{content_type}"
    return behaviour


def _raw_key(request: Received) -> str:
    return request.headers.get("authorization", "").removeprefix("Bearer ")


# In the validation-error cases the invalid value is the key alone: pydantic shows an input
# whole up to 50 characters, and only its start and end beyond that (which for a long key
# is still its first 25 characters, but the test looks for the whole key).


async def echo_200_not_json(conn: Conn, request: Received) -> None:
    await conn.send(response(200, _raw_key(request).encode(), [JSON_TYPE]))


async def echo_200_wrong_shape(conn: Conn, request: Received) -> None:
    body = {"choices": _raw_key(request), "echo": _echoed(request)}
    await conn.send(response(200, json.dumps(body).encode(), [JSON_TYPE]))


async def echo_error_event(conn: Conn, request: Received) -> None:
    await conn.send(head(200, [SSE_TYPE], chunked=True))
    await conn.send(chunk(data_event(chunk_json("m", content="partial "))))
    error = {"error": {"message": _echoed(request), "code": "echo"}}
    await conn.send(chunk(f"event: error\ndata: {json.dumps(error)}\n\n".encode()))
    await conn.send(chunk(b""))


async def echo_not_a_chunk(conn: Conn, request: Received) -> None:
    await conn.send(head(200, [SSE_TYPE], chunked=True))
    await conn.send(chunk(data_event({"choices": _raw_key(request)})))
    await conn.send(chunk(b""))


async def echo_not_json_event(conn: Conn, request: Received) -> None:
    await conn.send(head(200, [SSE_TYPE], chunked=True))
    await conn.send(chunk(f"data: {_raw_key(request)}\n\n".encode()))
    await conn.send(chunk(b""))


ECHOES = [
    pytest.param(echo_status(400, "json"), False, id="400-json"),
    pytest.param(echo_status(401, "text"), False, id="401-text"),
    pytest.param(echo_status(500, "json"), False, id="500-json"),
    pytest.param(echo_status(502, "html"), False, id="502-html"),
    pytest.param(echo_status(429, "json"), True, id="429-json-stream"),
    pytest.param(echo_error_event, True, id="stream-error-event"),
]
# A body that is not what the API promises: the validation error chains pydantic's own.
INVALID_ECHOES = [
    pytest.param(echo_200_not_json, False, id="200-not-json"),
    pytest.param(echo_200_wrong_shape, False, id="200-wrong-shape"),
    pytest.param(echo_not_a_chunk, True, id="stream-not-a-chunk"),
    pytest.param(echo_not_json_event, True, id="stream-not-json"),
]


def _shown(error: BaseException) -> str:
    """Everything a person could see of an error: str, repr, the formatted traceback with
    its whole cause chain, and the reprs of its attempts and partial completion."""
    parts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    for attempt in getattr(error, "attempts", ()):
        parts += [repr(attempt), attempt.describe()]
    partial = getattr(error, "partial", None)
    if partial is not None:
        parts.append(repr(partial))
    return "\n".join(parts)


@pytest.mark.parametrize(("behaviour", "stream"), ECHOES)
@pytest.mark.parametrize("chain", [False, True], ids=["alone", "chain"])
async def test_an_echoed_key_never_shows_in_errors(
    kind: str,
    key: str,
    faults: FaultServer,
    behaviour: Behaviour,
    stream: bool,
    chain: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults.on("faulty", behaviour)
    faults.on("other", behaviour)
    client = make_client(kind, faults.url, api_key=key, shared_tls=True)
    caplog.set_level(logging.DEBUG)
    for name in ("xroute", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    try:
        outcome = await ask(client, model=["faulty", "other"] if chain else "faulty", stream=stream)
        assert busy_connections(client) == 0
    finally:
        await close(client)
    assert outcome.error is not None
    assert faults.received[0].headers["authorization"] == f"Bearer {key}"  # sent, then echoed
    assert key not in _shown(outcome.error)
    assert key not in caplog.text
    assert all(key not in repr(r.args) for r in caplog.records)


@pytest.mark.parametrize(("behaviour", "stream"), INVALID_ECHOES)
async def test_an_echoed_key_never_shows_in_validation_errors(
    kind: str, faults: FaultServer, behaviour: Behaviour, stream: bool
) -> None:
    faults.on("faulty", behaviour)
    client = make_client(kind, faults.url, api_key=PLAIN_KEY, shared_tls=True)
    try:
        outcome = await ask(client, model="faulty", stream=stream)
    finally:
        await close(client)
    assert isinstance(outcome.error, (xroute.APIResponseValidationError, xroute.StreamError))
    assert PLAIN_KEY not in _shown(outcome.error)


async def test_logs_at_debug_never_show_the_key(
    kind: str, key: str, faults: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("xroute", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    faults.on("broken", fk.server_error_json)
    client = make_client(kind, faults.url, api_key=key, shared_tls=True, max_retries=1)
    try:
        for model, stream in (("good", False), ("good", True), (["broken", "good"], False)):
            outcome = await ask(client, model=model, stream=stream)
            assert outcome.error is None
            for thing in (outcome.route, *outcome.route.attempts):
                assert key not in repr(thing)
            assert key not in outcome.route._repr_html_()
        await ask(client, model="broken", stream=False)
    finally:
        await close(client)
    loggers = {r.name.split(".")[0] for r in caplog.records}
    assert {"xroute", "httpx", "httpcore"} <= loggers  # the capture did see all three
    assert key not in caplog.text
    for record in caplog.records:
        assert key not in record.getMessage()
        assert key not in repr(record.args)


async def echo_key_in_text(conn: Conn, request: Received) -> None:
    body = f"<p>your key {_raw_key(request)} was refused</p>"
    await conn.send(response(200, body.encode(), [JSON_TYPE]))


async def test_a_validation_error_hides_a_key_of_any_shape(kind: str, faults: FaultServer) -> None:
    faults.on("faulty", echo_key_in_text)
    client = make_client(kind, faults.url, api_key=PLAIN_KEY, shared_tls=True)
    try:
        outcome = await ask(client, model="faulty", stream=False)
    finally:
        await close(client)
    assert type(outcome.error) is xroute.APIResponseValidationError
    assert PLAIN_KEY not in str(outcome.error)
    assert PLAIN_KEY not in str(outcome.error.body)


async def echo_in_a_header(conn: Conn, request: Received) -> None:
    auth = request.headers.get("authorization", "")
    await conn.send(response(500, b"{}", [JSON_TYPE, ("x-debug-echo", auth)]))


async def test_a_key_echoed_in_a_response_header_stays_out_of_debug_logs(
    kind: str, faults: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("xroute", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    faults.on("faulty", echo_in_a_header)
    client = make_client(kind, faults.url, shared_tls=True)
    try:
        outcome = await ask(client, model="faulty", stream=False)
    finally:
        await close(client)
    assert KEY not in _shown(outcome.error)  # the error itself is clean
    assert KEY not in caplog.text


def _reprs(client: Any) -> list[str]:
    config = client._config  # the resolved configuration, key included
    return [
        repr(client),
        str(client),
        repr(client.with_options(timeout=5)),
        repr(config),
        repr(config.api_key),
        str(config.api_key),
        repr(client.route_state),
    ]


async def test_reprs_never_show_the_key(kind: str, key: str, faults: FaultServer) -> None:
    client = make_client(kind, faults.url, api_key=key, shared_tls=True)
    try:
        outcome = await ask(client, model="good", stream=False)
        stream_outcome = await ask(client, model="good", stream=True)
        shown = _reprs(client)
        shown += [repr(outcome.route), repr(outcome.route.attempts)]
        shown += [repr(stream_outcome.stream.route), repr(stream_outcome.stream.response)]
        sent = stream_outcome.stream.response.request
        assert sent.headers["authorization"] == f"Bearer {key}"  # it was sent, and it is hidden:
        shown += [repr(sent), repr(sent.headers), str(sent.headers)]
        reply = client.chat.completions.create  # the bound method's repr names the client
        shown.append(repr(reply))
    finally:
        await close(client)
    for text in shown:
        assert key not in text, text


def test_the_key_is_not_in_the_clients_attributes() -> None:
    # Not even in vars(): only the wrapped APIKey holds it, and its repr hides it.
    client = xroute.XRoute(api_key=PLAIN_KEY, base_url="https://gw.test/v1")
    try:
        for value in vars(client).values():
            assert PLAIN_KEY not in repr(value)
    finally:
        client.close()


# --------------------------------------------------------------------------- TLS and clear text


def _ssl_context(client: Any) -> ssl.SSLContext:
    context = client._http._transport._pool._ssl_context
    assert isinstance(context, ssl.SSLContext)
    return context


@pytest.mark.parametrize("cls", [xroute.XRoute, xroute.AsyncXRoute])
def test_tls_is_verified_by_default(cls: type[Any]) -> None:
    client = cls(api_key=KEY)
    try:
        assert str(client.base_url).startswith("https://")
        context = _ssl_context(client)
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True
        assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
        assert len(context.get_ca_certs()) > 0  # a real trust store is loaded
    finally:
        if isinstance(client, xroute.XRoute):
            client.close()


@pytest.mark.parametrize("cls", [xroute.XRoute, xroute.AsyncXRoute])
@pytest.mark.parametrize(
    "url",
    [
        "http://api.xroute.ai/openai/v1",
        "http://example.com",
        "http://10.0.0.7:8080/v1",
        "http://192.168.1.2/v1",
        "http://[2001:db8::1]/v1",
        "http://0.0.0.0:8080/v1",
        "http://127.0.0.1.nip.io/v1",
        "http://localhost.example.com/v1",
        "HTTP://EXAMPLE.COM/v1",
    ],
)
def test_clear_text_to_other_hosts_is_refused(
    cls: type[Any], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(xroute.XRouteError, match="clear text") as info:
        cls(api_key=PLAIN_KEY, base_url=url)
    assert PLAIN_KEY not in _shown(info.value)
    monkeypatch.setenv("XROUTE_BASE_URL", url)  # the environment is no way around it
    with pytest.raises(xroute.XRouteError, match="clear text"):
        cls(api_key=PLAIN_KEY)
    monkeypatch.delenv("XROUTE_BASE_URL")
    allowed = cls(api_key=PLAIN_KEY, base_url=url, allow_insecure_http=True)  # the opt-in
    assert allowed.base_url.scheme == "http"
    if isinstance(allowed, xroute.XRoute):
        allowed.close()


@pytest.mark.parametrize("cls", [xroute.XRoute, xroute.AsyncXRoute])
@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/v1", "http://localhost:9", "http://[::1]:9/v1", "http://x.localhost"],
)
def test_clear_text_to_loopback_is_allowed(cls: type[Any], url: str) -> None:
    client = cls(api_key=PLAIN_KEY, base_url=url)
    assert client.base_url.scheme == "http"
    if isinstance(client, xroute.XRoute):
        client.close()
