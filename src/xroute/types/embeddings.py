"""Embedding types (OpenAI shapes)."""

from __future__ import annotations

import base64
import struct
from typing import TYPE_CHECKING, Any

from pydantic import PrivateAttr, field_validator
from typing_extensions import Required, TypedDict

from ._base import XRouteModel

if TYPE_CHECKING:
    from ..routing._report import RouteReport

__all__ = ["CreateEmbeddingResponse", "Embedding", "EmbeddingCreateParams", "EmbeddingUsage"]


class Embedding(XRouteModel):
    """One input's vector. Always floats: base64 answers are decoded by the client."""

    embedding: list[float]
    index: int = 0
    object: str = "embedding"

    @field_validator("embedding", mode="before")
    @classmethod
    def _decode_base64(cls, value: Any) -> Any:
        # Base64 is little-endian float32; decoding here keeps `embedding` one type.
        if isinstance(value, str):
            raw = base64.b64decode(value)
            return list(struct.unpack(f"<{len(raw) // 4}f", raw))
        return value


class EmbeddingUsage(XRouteModel):
    """Token counts of an embeddings call."""

    prompt_tokens: int = 0
    total_tokens: int = 0


class CreateEmbeddingResponse(XRouteModel):
    """The answer of `embeddings.create`: one `Embedding` per input, in input order."""

    data: list[Embedding]
    model: str = ""
    object: str = "list"
    usage: EmbeddingUsage | None = None

    _route: RouteReport | None = PrivateAttr(default=None)

    @property
    def route(self) -> RouteReport | None:
        """How the call was routed: the model that served, every attempt, cost and latency."""
        return self._route

    def __repr__(self) -> str:
        # Vectors are thousands of floats: show their shape, not their values.
        width = len(self.data[0].embedding) if self.data else 0
        return f"CreateEmbeddingResponse(model={self.model!r}, vectors={len(self.data)}x{width})"


class EmbeddingCreateParams(TypedDict, total=False):
    """Every argument of `embeddings.create`, for type checkers."""

    model: Any  # an id, a list of ids or a policy; omitted: the client's default_model
    input: Required[str | list[str] | list[int] | list[list[int]]]
    dimensions: int | None
    encoding_format: str
    user: str
    extra_headers: dict[str, str] | None
    extra_query: dict[str, object] | None
    extra_body: dict[str, object] | None
    timeout: Any
