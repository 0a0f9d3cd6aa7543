"""Mapping statuses, bodies and transport failures to the typed error tree."""

from __future__ import annotations

import httpx
import pytest

import xroute
from xroute._core.errors import status_error, transport_error

KEY = "xr-secret-0123456789abcdef"
REQ = httpx.Request("POST", "https://gw.example/v1/chat/completions")


def _err(status: int, body: bytes, **headers: str) -> xroute.APIStatusError:
    response = httpx.Response(status, headers=headers, content=body, request=REQ)
    return status_error(response, body, secret=KEY)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, xroute.BadRequestError),
        (401, xroute.AuthenticationError),
        (403, xroute.PermissionDeniedError),
        (404, xroute.NotFoundError),
        (409, xroute.ConflictError),
        (422, xroute.UnprocessableEntityError),
        (429, xroute.RateLimitError),
        (500, xroute.InternalServerError),
        (502, xroute.InternalServerError),
        (503, xroute.InternalServerError),
        (418, xroute.APIStatusError),
    ],
)
def test_status_families(status: int, cls: type[xroute.APIStatusError]) -> None:
    err = _err(status, b'{"error": {"message": "nope", "code": "c1"}}', **{"x-request-id": "r1"})
    assert type(err) is cls
    assert err.status_code == status and err.code == "c1" and err.request_id == "r1"
    assert "nope" in str(err) and str(status) in str(err)
    assert err.body == {"error": {"message": "nope", "code": "c1"}}


def test_context_length_is_its_own_bad_request() -> None:
    body = (
        b'{"error":{"message":"This model\'s maximum context length is 8192 tokens",'
        b'"code":"context_length_exceeded"}}'
    )
    err = _err(400, body)
    assert isinstance(err, xroute.ContextLengthExceededError)
    assert isinstance(err, xroute.BadRequestError)
    assert "larger model" in str(err)


@pytest.mark.parametrize(
    ("body", "content_type", "shown"),
    [
        (b'{"error": "plain string error"}', "application/json", "plain string error"),
        (b'{"detail": "fastapi style"}', "application/json", "fastapi style"),
        (b'{"message": "flat message"}', "application/json", "flat message"),
        (b'{"error": {"type": "weird"}}', "application/json", "weird"),
        (
            b"<html><title>502 Bad Gateway</title></html>",
            "text/html",
            "HTML page ('502 Bad Gateway')",
        ),
        (b"upstream connect error", "text/plain", "upstream connect error"),
        (b"", "text/plain", "body was empty"),
    ],
)
def test_messages_are_readable_whatever_the_body(
    body: bytes, content_type: str, shown: str
) -> None:
    err = _err(502, body, **{"content-type": content_type})
    assert shown in str(err)


def test_error_text_never_carries_the_key() -> None:
    body = f'{{"error": {{"message": "bad header Authorization: Bearer {KEY} and {KEY}"}}}}'
    err = _err(401, body.encode())
    assert KEY not in str(err)
    assert "[redacted]" in str(err)
    text_err = _err(500, f"echo Bearer {KEY}".encode(), **{"content-type": "text/plain"})
    assert KEY not in str(text_err) and KEY not in str(text_err.body)


def test_transport_errors() -> None:
    timeout = transport_error(httpx.ReadTimeout("timed out"), REQ)
    assert isinstance(timeout, xroute.APITimeoutError)
    assert "read timeout" in str(timeout)
    refused = transport_error(httpx.ConnectError("refused"), REQ)
    assert type(refused) is xroute.APIConnectionError
    assert "ConnectError" in str(refused) and "/v1/chat/completions" in str(refused)
    assert refused.request is REQ
