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
    shown = redact(content[:200].decode("utf-8", "replace"))
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
        if first["type"] == "json_invalid":
            kind = "an HTML page" if content.lstrip()[:1] == b"<" else "not valid JSON"
            raise _invalid(response, content, f"the body is {kind}") from err
        raise _invalid(
            response, content, f"it is not a {cls.__name__}: {where}: {first['msg']}"
        ) from err
