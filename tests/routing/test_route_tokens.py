"""Prompt size estimates: text, non-ASCII text, images, tools, names, embeddings input."""

from __future__ import annotations

from typing import Any

from xroute.routing import estimate_input_tokens, estimate_prompt_tokens, tiktoken_counter
from xroute.types import ChatCompletionMessage

# 3 tokens priming the reply + 3 framing the one message.
FRAME = 6


def user(content: Any, **extra: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content, **extra}]


def test_ascii_text_counts_about_four_characters_per_token() -> None:
    assert estimate_prompt_tokens(user("x" * 400)) == FRAME + 100
    assert estimate_prompt_tokens(user("x" * 401)) == FRAME + 101  # rounds up
    assert estimate_prompt_tokens([]) == 3


def test_non_ascii_text_counts_utf8_bytes_so_cjk_is_not_undercounted() -> None:
    # 100 CJK characters are ~100 tokens in practice; 300 UTF-8 bytes / 4 = 75, not 25.
    assert estimate_prompt_tokens(user("漢" * 100)) == FRAME + 75


def test_every_message_adds_framing_and_names_count() -> None:
    two = [{"role": "system", "content": "abcd"}, {"role": "user", "content": "abcd"}]
    assert estimate_prompt_tokens(two) == 3 + 2 * (3 + 1)
    assert estimate_prompt_tokens(user("abcd", name="abcdefgh")) == FRAME + 1 + 1 + 2


def test_images_count_by_detail_and_text_parts_by_length() -> None:
    parts = [
        {"type": "text", "text": "x" * 40},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
        {"type": "image_url", "image_url": {"url": "data:...", "detail": "low"}},
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
    ]
    assert estimate_prompt_tokens(user(parts)) == FRAME + 10 + 765 + 85 + 500


def test_tool_definitions_and_assistant_tool_calls_count() -> None:
    tool = {"type": "function", "function": {"name": "f" * 36, "parameters": {}}}
    without = estimate_prompt_tokens(user("hi"))
    assert estimate_prompt_tokens(user("hi"), tools=[tool]) > without + 9
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}" * 50}}
    history = [{"role": "assistant", "content": None, "tool_calls": [call]}]
    assert estimate_prompt_tokens(history) > 3 + 3 + 25


def test_response_message_objects_in_the_history_count_like_dicts() -> None:
    message = ChatCompletionMessage(content="x" * 80)
    assert estimate_prompt_tokens([message]) == FRAME + 20
    assert estimate_prompt_tokens([42, None]) == 3  # unreadable entries are skipped


def test_an_exact_counter_replaces_the_heuristic_for_text() -> None:
    def words(text: str) -> int:
        return len(text.split())

    assert estimate_prompt_tokens(user("one two three"), counter=words) == FRAME + 3


def test_embeddings_input_counts_strings_and_token_ids() -> None:
    assert estimate_input_tokens("x" * 8) == 2
    assert estimate_input_tokens(["x" * 8, "y" * 4]) == 3
    assert estimate_input_tokens([1, 2, 3]) == 3
    assert estimate_input_tokens([[1, 2], [3, 4, 5]]) == 5
    assert estimate_input_tokens(None) == 0


def test_tiktoken_counter_is_optional_and_cached() -> None:
    first = tiktoken_counter("o200k_base")
    assert tiktoken_counter("o200k_base") is first
    if first is not None:  # installed: counts real tokens
        assert first("hello world") == 2
    assert tiktoken_counter("no-such-encoding") is None
