"""Reading 2xx bodies into typed results; a body that is not what the API promises is an
`APIResponseValidationError`, never a bare `JSONDecodeError` or `ValidationError`."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from .._exceptions import APIResponseValidationError, redact

M = TypeVar("M", bound=BaseModel)


def _invalid(response: httpx.Response, content: bytes, why: str) -> APIResponseValidationError:
    # The key is the request's own: a body that echoes it must not show it, whatever its shape.
    secret = response.request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    shown = redact(content[:200].decode("utf-8", "replace"), secret or None)
    return APIResponseValidationError(
        f"{response.request.method} {response.request.url.path} returned {response.status_code} "
        f"but {why}; body starts with {shown!r}",
        request=response.request,
        body=shown,
    )


def parse_json(response: httpx.Response, content: bytes) -> Any:
    """The JSON value of a 2xx body."""
    try:
        return json.loads(content)
    except RecursionError:
        raise _invalid(response, content, "the body is JSON nested too deep to read") from None
    except (ValueError, UnicodeDecodeError) as err:
        kind = "an HTML page" if content.lstrip()[:1] == b"<" else "not valid JSON"
        raise _invalid(response, content, f"the body is {kind} ({err})") from err


def parse_model(cls: type[M], response: httpx.Response, content: bytes) -> M:
    """Validate a 2xx body as `cls` straight from bytes (pydantic's fast path)."""
    try:
        return cls.model_validate_json(content)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the body"
        # `from None`, not `from err`: pydantic's text quotes the body (`input_value=...`),
        # which may echo the key; what it says that matters is in our message.
        if first["type"] == "json_invalid":
            kind = "an HTML page" if content.lstrip()[:1] == b"<" else "not valid JSON"
            raise _invalid(response, content, f"the body is {kind}") from None
        raise _invalid(
            response, content, f"it is not a {cls.__name__}: {where}: {first['msg']}"
        ) from None
