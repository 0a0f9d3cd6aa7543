"""Turning what came back (a status and a body, or a transport exception) into our errors."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from .._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContextLengthExceededError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    redact,
)

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}
_HINTS: dict[type[APIStatusError], str] = {
    AuthenticationError: "check the API key (api_key= or XROUTE_API_KEY)",
    PermissionDeniedError: "this key may not use this model or endpoint",
    NotFoundError: "check the model id; client.models.list() shows the catalog",
    RateLimitError: "slow down, or route to other models with a fallback list",
    ContextLengthExceededError: "shorten the prompt, lower max_tokens, or use a larger model",
}
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_CONTEXT_HINTS = ("context_length_exceeded", "context length", "context window", "too many tokens")
_MAX_SHOWN = 300


def _parse_body(content: bytes) -> Any:
    try:
        return json.loads(content)
    # RecursionError: a hostile body nested thousands deep must still be just a body.
    except (ValueError, UnicodeDecodeError, RecursionError):
        return content.decode("utf-8", "replace")


def _describe(body: Any, content: bytes, content_type: str) -> tuple[str, str | None]:
    """The server's own message (and error code) in readable form."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            message = err.get("message") or err.get("detail") or err.get("msg")
            code = err.get("code") or err.get("type")
            if message is None:
                message = json.dumps(err)[:_MAX_SHOWN]
            return str(message), None if code is None else str(code)
        if isinstance(err, str):
            return err, None
        detail = body.get("detail") or body.get("message")
        if detail is not None:
            return str(detail), None
        return json.dumps(body)[:_MAX_SHOWN], None
    if not content.strip():
        return "the response body was empty", None
    if "html" in content_type or content.lstrip()[:1] == b"<":
        title = _TITLE.search(content)
        shown = title.group(1).decode("utf-8", "replace").strip() if title else ""
        return f"the server returned an HTML page{f' ({shown!r})' if shown else ''}", None
    return f"the server said: {str(body)[:_MAX_SHOWN]!r}", None


def status_error(
    response: httpx.Response, content: bytes, *, secret: str | None = None
) -> APIStatusError:
    """The typed error for a 4xx/5xx response whose body has been read into `content`."""
    status = response.status_code
    # Scrub before parsing: a body that echoes the request must not carry the key anywhere.
    content = redact(content.decode("utf-8", "replace"), secret).encode()
    body = _parse_body(content)
    message, code = _describe(body, content, response.headers.get("content-type", ""))
    cls = _STATUS_CLASSES.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    if status == 400 and any(h in f"{code} {message}".lower() for h in _CONTEXT_HINTS):
        cls = ContextLengthExceededError
    text = f"{status} {response.reason_phrase or ''}".strip() + f": {message}"
    if code and code not in message:
        text += f" (code: {code})"
    if cls in _HINTS:
        text += f" — {_HINTS[cls]}"
    return cls(
        text,
        status_code=status,
        request=response.request,
        body=body,
        code=code,
        request_id=response.headers.get("x-request-id"),
        headers=response.headers,
    )


def transport_error(err: Exception, request: httpx.Request | None) -> APIError:
    """The typed error for an httpx transport failure (no usable response)."""
    where = f"{request.method} {request.url.copy_with(query=None)}" if request else "the request"
    detail = redact(str(err)) or type(err).__name__
    if isinstance(err, httpx.TimeoutException):
        kind = type(err).__name__.replace("Timeout", "").lower() or "request"
        return APITimeoutError(
            f"{kind} timeout on {where} ({detail}); raise `timeout=` or check the network",
            request=request,
        )
    return APIConnectionError(
        f"could not get a response for {where}: {type(err).__name__}: {detail}",
        request=request,
    )
