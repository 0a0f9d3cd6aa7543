"""The plan an adapter plays (steps), and the OpenAI error shape every failure uses.

An answer is a list of steps: ``Pause`` (sleep), ``Head`` (send status and headers), ``bytes``
(send a piece of body), ``Hang`` (send nothing until the client gives up) and ``Drop`` (reset the
connection).  The in-process httpx transports and the ASGI app both play these, so the two
paths answer byte for byte the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias


@dataclass(frozen=True, slots=True)
class Incoming:
    """A request as an adapter read it: header names lower-case, body fully read."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Pause:
    """Send nothing for ``seconds`` (already multiplied by ``time_scale``)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Hang:
    """Send nothing for ``seconds`` or until the client gives up, whichever comes first."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Drop:
    """Reset the connection now."""


@dataclass(frozen=True, slots=True)
class Head:
    """Send the status line and headers."""

    status: int
    headers: tuple[tuple[str, str], ...]


Step: TypeAlias = Pause | Hang | Drop | Head | bytes

JSON_TYPE = ("content-type", "application/json")
SSE_HEADERS = (("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache"))


def dumps(value: Any) -> bytes:
    """Compact JSON, as APIs send it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def json_reply(status: int, body: bytes, request_id: str, *extra: tuple[str, str]) -> list[Step]:
    """A head and a JSON body, sent at once."""
    headers = (JSON_TYPE, ("content-length", str(len(body))), ("x-request-id", request_id))
    return [Head(status, headers + extra), body]


class Rejection(Exception):
    """An error answer in the OpenAI shape, raised wherever a request turns out to be bad."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type_: str = "invalid_request_error",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type_
        self.headers = headers

    def reply(self, request_id: str) -> list[Step]:
        """``{"error": {"message", "type", "param", "code"}}`` with this status."""
        error = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        return json_reply(self.status, dumps({"error": error}), request_id, *self.headers)


def mask_key(key: str) -> str:
    """Enough of a key to tell which one was sent, never the whole of it."""
    return f"{key[:3]}...{key[-4:]}" if len(key) >= 12 else "***"
