"""The one exception tree of xroute.

::

    XRouteError                       anything xroute raises on purpose
    ├── InvalidArgumentError          bad call arguments, raised before any I/O (also TypeError)
    ├── CatalogError                  a /models payload or overrides file that cannot be used
    │   └── UnknownModelError         an id that is not in the catalog (also KeyError)
    ├── BudgetExceededError           the call could cost more than the client budget has left
    └── APIError                      talking to the API went wrong
        ├── APIConnectionError        no HTTP response: refused, reset, DNS, TLS, ...
        │   └── APITimeoutError       connect/read timeout or the call's overall deadline
        ├── APIResponseValidationError  a 2xx body that is not what the API promises
        ├── APIStatusError            a 4xx/5xx answer (.status_code, .body, .request_id)
        │   ├── BadRequestError           400
        │   │   └── ContextLengthExceededError  400 with code context_length_exceeded
        │   ├── AuthenticationError       401
        │   ├── PermissionDeniedError     403
        │   ├── NotFoundError             404
        │   ├── ConflictError             409
        │   ├── UnprocessableEntityError  422
        │   ├── RateLimitError            429
        │   └── InternalServerError       >= 500
        ├── StreamError               a stream that failed after it started (.partial)
        │   ├── StreamInterruptedError    the body ended or dropped before [DONE]
        │   ├── StreamErrorEvent          the server sent an error event mid-stream
        │   └── StreamTimeoutError        idle, first-token or deadline expiry (+APITimeoutError)
        └── AllModelsFailedError      every candidate of a route failed (.attempts)

Every message says what happened and, where there is one, what to do about it. No message
ever contains the API key: text that came from the server is passed through `redact`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from .routing._report import AttemptRecord
    from .types.chat import ChatCompletion

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AllModelsFailedError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "CatalogError",
    "ConflictError",
    "ContextLengthExceededError",
    "InternalServerError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StreamError",
    "StreamErrorEvent",
    "StreamInterruptedError",
    "StreamTimeoutError",
    "UnknownModelError",
    "UnprocessableEntityError",
    "XRouteError",
]

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_KEYLIKE = re.compile(r"\b(sk|xr|key)-[A-Za-z0-9_-]{8,}")


def redact(text: str, secret: str | None = None) -> str:
    """Remove credentials from text shown to people: the key itself and any `Bearer ...` token."""
    if secret:
        text = text.replace(secret, "[redacted]")
    text = _BEARER.sub(r"\1[redacted]", text)
    return _KEYLIKE.sub(r"\1-[redacted]", text)


class XRouteError(Exception):
    """Base class of every error xroute raises on purpose."""


class InvalidArgumentError(XRouteError, TypeError, ValueError):
    """A call argument is missing, unknown or of the wrong type; raised before any I/O."""


class CatalogError(XRouteError):
    """A model catalog payload (or overrides file) that cannot be used as a whole."""


class UnknownModelError(CatalogError, KeyError):
    """A model id that is not in the catalog."""

    def __init__(self, model_id: str, suggestion: str | None = None) -> None:
        self.model_id = model_id
        self.suggestion = suggestion
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        super().__init__(
            f"model {model_id!r} is not in the catalog{hint} client.models.list() shows all models"
        )

    def __str__(self) -> str:  # KeyError would show the repr of the message otherwise
        return str(self.args[0])


class BudgetExceededError(XRouteError):
    """The call's worst-case cost is more than what is left of the client's USD budget."""

    def __init__(self, message: str, *, worst_case_usd: float, remaining_usd: float) -> None:
        super().__init__(message)
        self.worst_case_usd = worst_case_usd
        self.remaining_usd = remaining_usd


class APIError(XRouteError):
    """Something went wrong talking to the API. `request` is the failed `httpx.Request`."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APIConnectionError(APIError):
    """No usable HTTP response: connection refused or reset, DNS or TLS failure, protocol error."""


class APITimeoutError(APIConnectionError):
    """A connect/read timeout, or the call's overall deadline ran out (retries included)."""


class APIResponseValidationError(APIError):
    """A 2xx response whose body is not what the API promises (bad JSON, HTML, wrong shape)."""

    def __init__(
        self, message: str, *, request: httpx.Request | None = None, body: object = None
    ) -> None:
        super().__init__(message, request=request)
        self.body = body


class APIStatusError(APIError):
    """The server answered with a 4xx or 5xx status.

    `status_code`, the parsed `body` (JSON, or text when it was not JSON), `code` (the
    error code from the body, when given) and `request_id` (the `x-request-id` header).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request: httpx.Request | None = None,
        body: object = None,
        code: str | None = None,
        request_id: str | None = None,
        headers: httpx.Headers | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.status_code = status_code
        self.body = body
        self.code = code
        self.request_id = request_id
        self.headers = headers


class BadRequestError(APIStatusError):
    """400: the request is malformed or unsupported by the model."""


class ContextLengthExceededError(BadRequestError):
    """400 `context_length_exceeded`: prompt plus `max_tokens` do not fit the model's window."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong or revoked."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this model or endpoint."""


class NotFoundError(APIStatusError):
    """404: unknown path or model."""


class ConflictError(APIStatusError):
    """409: a conflicting request (retried by default)."""


class UnprocessableEntityError(APIStatusError):
    """422: the request is well-formed but cannot be processed."""


class RateLimitError(APIStatusError):
    """429: too many requests or tokens; retried after the server's Retry-After."""


class InternalServerError(APIStatusError):
    """>= 500: the gateway or the upstream provider failed."""


class StreamError(APIError):
    """A stream failed after it started. `partial` is the completion received so far."""

    def __init__(
        self,
        message: str,
        *,
        partial: ChatCompletion | None = None,
        request: httpx.Request | None = None,
        code: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.partial = partial
        self.code = code
        self.status_code = status_code

    @property
    def partial_text(self) -> str:
        """The text of the first choice received before the failure ('' if none)."""
        if self.partial is None or not self.partial.choices:
            return ""
        return self.partial.choices[0].message.content or ""


class StreamInterruptedError(StreamError):
    """The connection dropped or the body ended before `data: [DONE]`."""


class StreamErrorEvent(StreamError):
    """The server sent an error event (`event: error` or `{"error": ...}` data) mid-stream."""


class StreamTimeoutError(StreamError, APITimeoutError):
    """No byte for `stream_idle_timeout`, no first token by `first_token_timeout`, or the
    call's deadline passed while streaming."""


class AllModelsFailedError(APIError):
    """Every candidate model of a route failed; `attempts` lists each attempt in order."""

    def __init__(self, attempts: Sequence[AttemptRecord], *, summary: str | None = None) -> None:
        self.attempts = tuple(attempts)
        lines = [f"all {len(self.attempts)} attempts failed:"]
        lines += [f"  {i}. {a.describe()}" for i, a in enumerate(self.attempts, 1)]
        if summary:
            lines.append(summary)
        super().__init__("\n".join(lines))
