"""`Pricing` cost maths and `Model` behaviour, independent of any payload shape."""

from __future__ import annotations

import dataclasses

import pytest

from xroute import InvalidArgumentError
from xroute.catalog import Model, ModelCatalog, Pricing

SONNET = Pricing.per_mtok(3, 15, cached_prompt=0.3, request_usd=0.01, image_usd=0.0048)


def test_per_mtok_builds_per_token_prices_without_binary_noise() -> None:
    p = Pricing.per_mtok(3, 15, cached_prompt=0.3)
    assert p.prompt_usd_per_token == 3e-6
    assert p.completion_usd_per_token == 1.5e-5
    assert p.cached_prompt_usd_per_token == 3e-7
    assert (p.prompt_usd_per_mtok, p.completion_usd_per_mtok) == (3.0, 15.0)
    assert Pricing.per_mtok(None, 0.1) == Pricing(None, 1e-7)
    assert Pricing.per_mtok(0.15, 0.6).prompt_usd_per_mtok == 0.15


def test_unknown_prices_stay_unknown() -> None:
    p = Pricing(None, None)
    assert not p.known
    assert p.prompt_usd_per_mtok is None and p.completion_usd_per_mtok is None
    assert Pricing(1e-6, None).known is False
    assert Pricing(0.0, 0.0).known is True


def test_estimate_bills_prompt_and_completion_tokens() -> None:
    assert Pricing.per_mtok(3, 15).estimate(1_000, 500) == 0.0105
    assert Pricing.per_mtok(3, 15).estimate(0, 0) == 0.0


def test_estimate_bills_cached_tokens_at_the_cached_price() -> None:
    p = Pricing.per_mtok(3, 15, cached_prompt=0.3)
    # 2,000 uncached at $3/M + 8,000 cached at $0.30/M + 1,000 out at $15/M.
    assert p.estimate(10_000, 1_000, cached_prompt_tokens=8_000) == 0.0234


def test_estimate_without_a_cache_price_bills_cached_tokens_in_full() -> None:
    p = Pricing.per_mtok(3, 15)
    assert p.estimate(10_000, 0, cached_prompt_tokens=8_000) == p.estimate(10_000, 0)


def test_estimate_is_none_when_a_needed_price_is_unknown() -> None:
    assert Pricing(None, 1e-6).estimate(10, 10) is None
    assert Pricing(1e-6, None).estimate(10, 10) is None
    assert (
        Pricing(None, None, cached_prompt_usd_per_token=1e-7).estimate(
            10, 0, cached_prompt_tokens=5
        )
        is None
    )
    assert Pricing(None, None).estimate(10, 0, cached_prompt_tokens=10) is None
    assert Pricing(1e-6, 1e-6).estimate(10, 10, images=1) is None


def test_estimate_needs_only_the_prices_it_uses() -> None:
    # An embedding call has no completion tokens: an unknown completion price is fine.
    assert Pricing(1e-6, None).estimate(1_000, 0) == 0.001
    assert Pricing(None, 2e-6).estimate(0, 1_000) == 0.002
    # All cached: the uncached prompt price is not needed.
    p = Pricing(None, None, cached_prompt_usd_per_token=1e-6)
    assert p.estimate(1_000, 0, cached_prompt_tokens=1_000) == 0.001


def test_estimate_adds_request_and_image_fees() -> None:
    assert SONNET.estimate(0, 0) == 0.01
    assert SONNET.estimate(0, 0, requests=3, images=2) == 0.0396
    # An unlisted request fee counts as none.
    assert Pricing(1e-6, 1e-6).estimate(1, 1, requests=5) == 2e-6


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prompt_tokens": -1, "completion_tokens": 0},
        {"prompt_tokens": 0, "completion_tokens": -1},
        {"prompt_tokens": 1, "completion_tokens": 0, "requests": -1},
        {"prompt_tokens": 1, "completion_tokens": 0, "images": -1},
        {"prompt_tokens": 1, "completion_tokens": 0, "cached_prompt_tokens": -1},
    ],
)
def test_estimate_rejects_negative_counts(kwargs: dict[str, int]) -> None:
    with pytest.raises(InvalidArgumentError, match="must not be negative"):
        SONNET.estimate(**kwargs)


def test_estimate_rejects_more_cached_than_prompt_tokens() -> None:
    with pytest.raises(InvalidArgumentError, match=r"cached_prompt_tokens \(5\) is part of"):
        SONNET.estimate(4, 0, cached_prompt_tokens=5)


def test_pricing_is_frozen_and_hashable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SONNET.prompt_usd_per_token = 0.0  # type: ignore[misc]
    assert len({Pricing(1e-6, 2e-6), Pricing(1e-6, 2e-6)}) == 1
    assert not hasattr(SONNET, "__dict__")


# -- Model -----------------------------------------------------------------------------------


def test_model_defaults_derive_provider_and_name_from_the_id() -> None:
    m = Model("openai/gpt-4o")
    assert (m.provider, m.name) == ("openai", "openai/gpt-4o")
    assert Model("gpt-4o").provider is None
    assert Model("models/gemini-pro").provider is None
    assert Model("openai/gpt-4o", provider="azure", name="GPT-4o").provider == "azure"
    assert m.pricing == Pricing(None, None) and m.supported_parameters == frozenset()


def test_model_equality_ignores_raw() -> None:
    a = Model("a/x", context_length=5, raw={"id": "a/x", "extra": 1})
    b = Model("a/x", context_length=5, raw={"id": "a/x"})
    assert a == b and hash(a) == hash(b)
    assert a != Model("a/x", context_length=6)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.id = "b"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("params", "feature", "expected"),
    [
        ({"tools"}, "tools", True),
        ({"tool_choice"}, "tool_calls", True),
        ({"function_call"}, "function_calling", True),
        ({"temperature"}, "tools", False),
        ({"response_format"}, "json", True),
        ({"structured_outputs"}, "json_mode", True),
        ({"response_format"}, "structured_outputs", False),
        ({"structured_outputs"}, "JSON_SCHEMA", True),
        ({"reasoning_effort"}, "reasoning", True),
        ({"temperature"}, "reasoning", False),
        ({"logprobs"}, "logprobs", True),
        ({"logprobs"}, "LogProbs", True),
        ({"logprobs"}, "seed", False),
    ],
)
def test_supports(params: set[str], feature: str, expected: bool) -> None:
    assert Model("a/x", supported_parameters=frozenset(params)).supports(feature) is expected


def test_supports_vision_and_streaming() -> None:
    assert Model("a/x", input_modalities=("text", "image")).supports("vision")
    assert not Model("a/x", input_modalities=("text",)).supports("vision")
    assert not Model("a/x", output_modalities=("image",)).supports("vision")
    assert Model("a/x").supports("stream")
    assert not Model("a/x", streaming=False).supports("streaming")


def test_capabilities_lists_the_canonical_features() -> None:
    m = Model(
        "a/x",
        input_modalities=("text", "image"),
        supported_parameters=frozenset({"tools", "response_format", "reasoning"}),
    )
    assert m.capabilities == ("tools", "json", "vision", "reasoning", "streaming")
    assert Model("a/x", streaming=False).capabilities == ()


def test_model_repr_is_short() -> None:
    m = Model("a/x", context_length=128_000, pricing=Pricing.per_mtok(2.5, 10))
    assert repr(m) == "<Model 'a/x' ctx=128,000 $2.5/$10 per Mtok>"
    assert repr(Model("a/x")) == "<Model 'a/x' ctx=? price unknown>"


def test_model_html_is_escaped() -> None:
    html = Model("<script>alert(1)</script>", provider="a&b")._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "a&amp;b" in html
    assert html.startswith("<table>")


def test_to_dict_reads_back_as_the_same_model() -> None:
    m = Model(
        "a/x",
        provider="azure",
        name="X",
        context_length=1000,
        max_output_tokens=100,
        pricing=SONNET,
        input_modalities=("text", "image"),
        output_modalities=("text",),
        supported_parameters=frozenset({"tools", "seed"}),
        streaming=False,
    )
    data = m.to_dict()
    assert data["supported_parameters"] == ["seed", "tools"]
    assert data["pricing"]["prompt_usd_per_token"] == 3e-6
    assert ModelCatalog.from_response([data])["a/x"] == m
    bare = Model("plain")
    assert ModelCatalog.from_response([bare.to_dict()])["plain"] == bare
