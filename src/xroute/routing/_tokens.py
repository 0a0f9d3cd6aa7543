"""Prompt size, estimated before sending: for the context-window guard and the budget.

The heuristic is ~4 characters (UTF-8 bytes for non-ASCII text) per token, plus OpenAI's
per-message framing, plus fixed allowances for images, audio and files. It is cheap and
usually within 10-20% for English; an exact tokenizer can be plugged in (`tiktoken_counter`).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

__all__ = [
    "TokenCounter",
    "estimate_input_tokens",
    "estimate_prompt_tokens",
    "tiktoken_counter",
]

TokenCounter: TypeAlias = Callable[[str], int]
"""Counts the tokens of a text exactly (e.g. a tiktoken encoding)."""

# OpenAI's cookbook: every message costs ~3 tokens of framing (+1 with a name), and the
# reply is primed with 3 more.
_PER_MESSAGE = 3
_PER_NAME = 1
_REPLY_PRIMING = 3
# A 1024x1024 image at "high"/"auto" detail costs 765 tokens on OpenAI's scheme (4 tiles of
# 170 + 85); "low" is a flat 85. Other sizes vary; these are typical, not worst-case.
_IMAGE_TOKENS = 765
_IMAGE_LOW_TOKENS = 85
# Audio and files have no cheap estimate from their bytes; a nominal allowance beats zero.
_ATTACHMENT_TOKENS = 500


def _text_tokens(text: str, counter: TokenCounter | None) -> int:
    if not text:
        return 0
    if counter is not None:
        return counter(text)
    # UTF-8 bytes / 4 keeps CJK (3 bytes per char, ~1 token) from being undercounted 4x.
    size = len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
    return (size + 3) // 4


def _part_tokens(part: object, counter: TokenCounter | None) -> int:
    if isinstance(part, str):
        return _text_tokens(part, counter)
    if not isinstance(part, Mapping):
        return 0
    kind = part.get("type")
    if kind == "text" or (kind is None and "text" in part):
        return _text_tokens(str(part.get("text") or ""), counter)
    if kind == "image_url":
        image = part.get("image_url")
        detail = image.get("detail") if isinstance(image, Mapping) else None
        return _IMAGE_LOW_TOKENS if detail == "low" else _IMAGE_TOKENS
    return _ATTACHMENT_TOKENS


def _as_mapping(message: object) -> Mapping[str, Any] | None:
    if isinstance(message, Mapping):
        return message
    # A response message appended to the history (a pydantic model) counts the same.
    dump = getattr(message, "model_dump", None)
    if callable(dump):
        dumped = dump(exclude_none=True)
        return dumped if isinstance(dumped, Mapping) else None
    return None


def estimate_prompt_tokens(
    messages: Iterable[object],
    *,
    tools: Iterable[object] | None = None,
    counter: TokenCounter | None = None,
) -> int:
    """The prompt tokens a chat request will use, estimated (exact text counts with `counter`).

    Counts message text and names, assistant tool calls, images (765 tokens, 85 at
    ``detail="low"``), a nominal 500 per audio or file part, the tool definitions, and the
    per-message framing.

    >>> estimate_prompt_tokens([{"role": "user", "content": "Hello there, how are you?"}])
    13
    """
    total = _REPLY_PRIMING
    for raw in messages:
        message = _as_mapping(raw)
        if message is None:
            continue
        total += _PER_MESSAGE
        content = message.get("content")
        if isinstance(content, str):
            total += _text_tokens(content, counter)
        elif isinstance(content, Iterable):
            total += sum(_part_tokens(part, counter) for part in content)
        if message.get("name"):
            total += _PER_NAME + _text_tokens(str(message["name"]), counter)
        tool_calls = message.get("tool_calls")
        if isinstance(tool_calls, Iterable) and not isinstance(tool_calls, (str, bytes)):
            for call in tool_calls:
                total += _json_tokens(call, counter)
    if tools is not None:
        total += sum(_json_tokens(tool, counter) for tool in tools)
    return total


def _json_tokens(value: object, counter: TokenCounter | None) -> int:
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # e.g. a circular structure: count nothing, never fail
        return 0
    return _text_tokens(text, counter)


def estimate_input_tokens(value: object, *, counter: TokenCounter | None = None) -> int:
    """The tokens of an embeddings `input`: a string, token ids, or a list of either.

    >>> estimate_input_tokens(["first text", [101, 102, 103]])
    6
    """
    if isinstance(value, str):
        return _text_tokens(value, counter)
    if isinstance(value, int):
        return 1
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        return sum(estimate_input_tokens(item, counter=counter) for item in value)
    return 0


_COUNTERS: dict[str, TokenCounter | None] = {}


def tiktoken_counter(encoding: str = "o200k_base") -> TokenCounter | None:
    """An exact token counter if `tiktoken` is installed and the encoding loads, else None.

    Never required. Loading an encoding the first time may download it (tiktoken caches it
    afterwards), so call this from the client, once — never from a routing decision. The
    result is cached per encoding, including a failure.

    >>> counter = tiktoken_counter()  # doctest: +SKIP
    >>> estimate_prompt_tokens(messages, counter=counter)  # doctest: +SKIP
    """
    if encoding in _COUNTERS:
        return _COUNTERS[encoding]
    counter: TokenCounter | None = None
    try:
        tiktoken = importlib.import_module("tiktoken")
        codec = tiktoken.get_encoding(encoding)
    except Exception:  # not installed, unknown encoding, offline on first use: estimate instead
        counter = None
    else:

        def counter(text: str) -> int:
            return len(codec.encode(text, disallowed_special=()))

    _COUNTERS[encoding] = counter
    return counter
