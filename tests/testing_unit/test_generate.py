"""The token rule and the schema-driven values the fake models produce."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from xroute.testing._answers import price_text
from xroute.testing._generate import count_tokens, example_from_schema, excerpt, split_tokens


@given(st.text())
def test_split_tokens_round_trips_any_text(text: str) -> None:
    pieces = split_tokens(text)
    assert "".join(pieces) == text
    assert len(pieces) - (1 if text[-1:].isspace() else 0) == count_tokens(text)


def test_token_rule_examples() -> None:
    assert split_tokens("Hello, world!") == ["Hello", ",", " world", "!"]
    assert count_tokens("  don't stop\n") == 4
    assert count_tokens("") == 0


def test_excerpt_cuts_long_text() -> None:
    assert excerpt("short one") == "short one"
    long_text = " ".join(f"w{i}" for i in range(100))
    assert excerpt(long_text, limit=3) == "w0 w1 w2…"


def test_example_from_schema_edge_cases() -> None:
    rng = random.Random(0)
    assert example_from_schema(None, rng) == {}
    assert example_from_schema({"const": 3}, rng) == 3
    assert example_from_schema({"type": "null"}, rng) is None
    assert example_from_schema({"type": "object"}, rng) == {}
    assert example_from_schema({"properties": {"a": {"type": "boolean"}}}, rng).keys() == {"a"}
    assert len(example_from_schema({"type": "array", "minItems": 3}, rng)) == 3
    deep: dict[str, object] = {"type": "object", "properties": {}}
    node = deep
    for _ in range(12):
        child: dict[str, object] = {"type": "object", "properties": {}}
        node["properties"] = {"x": child}
        node = child
    value = example_from_schema(deep, rng)
    depth = 0
    while isinstance(value, dict) and value:
        value = value["x"]
        depth += 1
    assert depth < 12  # recursion is bounded


def test_price_text_is_a_plain_decimal() -> None:
    assert price_text(0.0000025) == "0.0000025"
    assert price_text(0.00001) == "0.00001"
    assert price_text(0.0) == "0"
    assert price_text(2.0) == "2"
