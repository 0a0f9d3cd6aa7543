"""What the fake models say: token counting, templated answers, JSON from schemas, embeddings.

Everything here is a pure function of its arguments (RNGs are passed in or seeded from a stable
digest), so the same gateway seed, model and prompt always give the same bytes.

Token rule, used for both prompts and completions: a token is a run of word characters or a
single other non-space character, with any whitespace before it attached (``"Hello, world!"`` is
``"Hello"``, ``","``, ``" world"``, ``"!"``: four tokens).  Streams send one chunk per token.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Sequence
from typing import Any

# The alternation covers every character, so "".join(split_tokens(s)) == s for any s; the bare
# \s+ branch only matches trailing whitespace, which therefore does not count as a token.
_PIECE = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")
_TOKEN = re.compile(r"\w+|[^\w\s]")

_ECHO_TOKENS = 40
_WORDS = (
    "the",
    "gateway",
    "answers",
    "every",
    "request",
    "with",
    "a",
    "steady",
    "and",
    "repeatable",
    "reply",
    "so",
    "your",
    "tests",
    "can",
    "check",
    "routing",
    "retries",
    "streaming",
    "costs",
    "latency",
    "budgets",
    "fallbacks",
    "without",
    "network",
    "access",
    "or",
    "real",
    "keys",
    "model",
    "tokens",
    "arrive",
    "in",
    "order",
    "each",
    "chunk",
    "carries",
    "one",
    "word",
    "quickly",
    "quietly",
    "precisely",
    "today",
    "here",
    "while",
    "time",
    "flows",
    "through",
    "mock",
    "servers",
)


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into pieces that concatenate back to it, one per token."""
    return _PIECE.findall(text)


def count_tokens(text: str) -> int:
    """Count tokens by the module's rule (words and punctuation marks)."""
    return len(_TOKEN.findall(text))


def digest(*parts: object) -> int:
    """A stable 64-bit integer from ``parts`` (Python's ``hash`` is salted per process)."""
    joined = "\x1f".join(str(part) for part in parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(joined, digest_size=8).digest(), "little")


def excerpt(text: str, limit: int = _ECHO_TOKENS) -> str:
    """The first ``limit`` tokens of ``text``, with an ellipsis when cut."""
    pieces = split_tokens(text)
    if len(pieces) <= limit:
        return text.strip()
    return "".join(pieces[:limit]).strip() + "…"


def answer_text(model_name: str, echo: str, *, tool_result: bool, rng: random.Random) -> str:
    """The templated answer: who answers, an echo of the last message, then seeded filler."""
    said = "The tool returned" if tool_result else "You said"
    filler = " ".join(rng.choices(_WORDS, k=8 + rng.randrange(24)))
    return f'This is {model_name}, a mock model. {said}: "{excerpt(echo)}". {filler.capitalize()}.'


def example_from_schema(schema: Any, rng: random.Random, *, name: str = "", depth: int = 0) -> Any:
    """A JSON value that fits the common subset of JSON Schema used for tools and outputs."""
    if not isinstance(schema, dict) or depth > 8:
        return {} if depth == 0 else None
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return rng.choice(schema["enum"])
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return example_from_schema(options[0], rng, name=name, depth=depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return {}
        return {
            key: example_from_schema(sub, rng, name=key, depth=depth + 1)
            for key, sub in properties.items()
        }
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1)
        return [
            example_from_schema(schema.get("items"), rng, depth=depth + 1) for _ in range(count)
        ]
    if kind == "integer":
        low = int(schema.get("minimum", 1))
        return rng.randint(low, max(int(schema.get("maximum", low + 99)), low))
    if kind == "number":
        bottom = float(schema.get("minimum", 0.0))
        top = max(float(schema.get("maximum", bottom + 100.0)), bottom)
        return round(rng.uniform(bottom, top), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if schema.get("format") == "date":
        return f"2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
    word = rng.choice(_WORDS)
    return f"{name}-{word}" if name else word


def embedding(seed: int, model: str, text: str, dimensions: int) -> list[float]:
    """A unit-length vector seeded by the gateway seed, the model and the text."""
    rng = random.Random(digest(seed, model, "embedding", text))
    vector = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def message_text(content: Any) -> str:
    """The text of an OpenAI message ``content``: a string, or the text of its parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def image_count(content: Any) -> int:
    """How many image parts an OpenAI message ``content`` holds."""
    if isinstance(content, str) or not isinstance(content, Sequence):
        return 0
    return sum(1 for part in content if isinstance(part, dict) and part.get("type") == "image_url")
