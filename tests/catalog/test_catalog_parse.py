"""Reading every /models shape: the fixtures per gateway, the key vocabulary, bad entries."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import warnings
from pathlib import Path
from typing import Any

import pytest

from xroute import CatalogError
from xroute.catalog import CatalogWarning, Model, ModelCatalog, Pricing

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> ModelCatalog:
    return ModelCatalog.from_file(FIXTURES / f"{name}.json")


def one(entry: dict[str, Any]) -> Model:
    """The model a single entry reads as."""
    catalog = ModelCatalog.from_response([{"id": "p/m", **entry}])
    return catalog["p/m"]


# -- the fixtures, one per gateway shape -----------------------------------------------------


def test_plain_openai_list_knows_ids_and_owners_only() -> None:
    catalog = load("openai")
    assert catalog.ids == (
        "gpt-4o",
        "gpt-4o-mini",
        "text-embedding-3-small",
        "dall-e-3",
        "ft:gpt-4o-mini:acme::abc123",
    )
    m = catalog["gpt-4o"]
    assert (m.provider, m.name, m.context_length, m.max_output_tokens) == (
        "system",
        "gpt-4o",
        None,
        None,
    )
    assert m.pricing == Pricing(None, None)
    assert not m.pricing.known
    assert m.input_modalities == () and m.output_modalities == ()
    # Nothing is known, so nothing is claimed, except streaming.
    assert [m.supports(f) for f in ("tools", "json", "vision", "reasoning")] == [False] * 4
    assert m.supports("streaming")
    assert catalog["ft:gpt-4o-mini:acme::abc123"].provider == "acme-org"


def test_openrouter_entry_is_read_completely() -> None:
    m = load("openrouter")["anthropic/claude-sonnet-4"]
    assert m.provider == "anthropic"
    assert m.name == "Anthropic: Claude Sonnet 4"
    assert m.context_length == 200_000
    assert m.max_output_tokens == 64_000  # from top_provider
    assert m.pricing == Pricing(
        prompt_usd_per_token=3e-6,
        completion_usd_per_token=15e-6,
        request_usd=0.0,
        image_usd=0.0048,
        cached_prompt_usd_per_token=3e-7,
    )
    assert m.pricing.prompt_usd_per_mtok == 3.0
    assert m.pricing.completion_usd_per_mtok == 15.0
    assert m.input_modalities == ("image", "text", "file")
    assert m.output_modalities == ("text",)
    assert "top_k" in m.supported_parameters
    assert m.supports("tools") and m.supports("vision") and m.supports("reasoning")
    assert not m.supports("json") and not m.supports("structured_outputs")
    # Unknown fields are not lost.
    assert m.raw["canonical_slug"] == "anthropic/claude-4-sonnet-20250522"
    assert m.raw["pricing"]["input_cache_write"] == "0.00000375"


def test_openrouter_json_mode_and_schemas_are_told_apart() -> None:
    catalog = load("openrouter")
    mini = catalog["openai/gpt-4o-mini"]
    llama = catalog["meta-llama/llama-3.1-8b-instruct"]
    assert mini.supports("json") and mini.supports("structured_outputs")
    # `response_format` alone means JSON mode, not schemas.
    assert llama.supports("response_format") and llama.supports("json_mode")
    assert not llama.supports("structured_outputs") and not llama.supports("json_schema")


def test_openrouter_free_model_costs_zero_not_unknown() -> None:
    m = load("openrouter")["deepseek/deepseek-chat-v3-0324:free"]
    assert m.pricing.known
    assert m.pricing.estimate(1000, 1000) == 0.0
    assert m.max_output_tokens is None  # top_provider says null


def test_openrouter_router_with_negative_prices_is_kept_with_unknown_prices() -> None:
    m = load("openrouter")["openrouter/auto"]
    assert m.pricing.prompt_usd_per_token is None
    assert m.pricing.completion_usd_per_token is None
    assert m.context_length == 2_000_000
    assert m.supported_parameters == frozenset()


def test_openrouter_older_modality_string_is_read() -> None:
    m = load("openrouter")["meta-llama/llama-3.1-8b-instruct"]
    assert m.input_modalities == ("text",)
    assert m.output_modalities == ("text",)
    assert m.pricing.request_usd is None and m.pricing.image_usd is None


def test_per_1k_gateway_prices_are_converted_to_per_token() -> None:
    catalog = load("per_1k")
    claude = catalog["claude-3-5-sonnet"]
    assert claude.provider == "anthropic"
    assert claude.name == "Claude 3.5 Sonnet"
    # 200000.0 and "8192" become ints.
    assert claude.context_length == 200_000 and type(claude.context_length) is int
    assert claude.max_output_tokens == 8192 and type(claude.max_output_tokens) is int
    # Exactly the decimal value, without binary noise from the division.
    assert claude.pricing.prompt_usd_per_token == 3e-6
    assert claude.pricing.completion_usd_per_token == 1.5e-5
    assert claude.pricing.cached_prompt_usd_per_token == 3e-7
    assert claude.input_modalities == ("text", "image")
    assert claude.supports("tools") and claude.supports("vision") and claude.supports("json")
    assert claude.supports("streaming")

    mistral = catalog["mistral-small"]
    assert mistral.provider == "mistral"
    assert mistral.pricing.prompt_usd_per_mtok == 0.2
    assert mistral.pricing.completion_usd_per_mtok == 0.6
    assert mistral.supports("tools") and mistral.supports("structured_outputs")

    llama = catalog["llama-3.3-70b"]
    assert llama.pricing.prompt_usd_per_mtok == 0.59
    assert llama.pricing.completion_usd_per_mtok == 0.79
    assert not llama.supports("streaming")


def test_litellm_map_keyed_by_id() -> None:
    catalog = load("litellm")
    # `sample_spec` documents the format; it is not a model and is skipped silently.
    assert catalog.ids == (
        "gpt-4o",
        "o1-preview",
        "deepseek/deepseek-chat",
        "text-embedding-3-small",
    )
    gpt = catalog["gpt-4o"]
    assert gpt.provider == "openai"
    assert (gpt.context_length, gpt.max_output_tokens) == (128_000, 16_384)
    assert gpt.pricing == Pricing(2.5e-6, 1e-5, cached_prompt_usd_per_token=1.25e-6)
    assert gpt.input_modalities == ("text", "image")
    assert gpt.output_modalities == ("text",)
    assert gpt.supports("tools") and gpt.supports("vision") and gpt.supports("structured_outputs")
    assert "parallel_tool_calls" in gpt.supported_parameters
    # An unknown supports_<x> flag still answers supports("<x>").
    assert gpt.supports("prompt_caching") and gpt.supports("system_messages")


def test_litellm_float_limits_streaming_and_reasoning() -> None:
    o1 = load("litellm")["o1-preview"]
    assert o1.context_length == 128_000 and type(o1.context_length) is int
    assert o1.max_output_tokens == 32_768
    assert o1.supports("reasoning")
    assert not o1.supports("streaming")  # supports_native_streaming: false
    assert not o1.supports("tools")


def test_litellm_legacy_max_tokens() -> None:
    catalog = load("litellm")
    # No max_output_tokens: the legacy max_tokens is the output limit...
    assert catalog["deepseek/deepseek-chat"].max_output_tokens == 8192
    assert catalog["deepseek/deepseek-chat"].context_length == 65_536
    # ...unless it merely repeats the input limit.
    embedding = catalog["text-embedding-3-small"]
    assert embedding.context_length == 8191
    assert embedding.max_output_tokens is None
    assert embedding.output_modalities == ("embeddings",)
    assert embedding.pricing.completion_usd_per_token == 0.0


def test_litellm_cache_hit_price_and_prefix_provider() -> None:
    m = load("litellm")["deepseek/deepseek-chat"]
    assert m.provider == "deepseek"
    assert m.pricing.cached_prompt_usd_per_token == 7e-8


def test_litellm_model_info_entries_are_read_through() -> None:
    catalog = load("litellm_model_info")
    m = catalog["gpt-4o"]
    assert m.provider == "azure"
    assert m.context_length == 128_000
    assert m.pricing.prompt_usd_per_mtok == 2.5
    assert m.supports("vision") and m.supports("json") and m.supports("stream")
    # The nested deployment id is not the model id, and raw is the entry as sent.
    assert "model_info" in m.raw and "max_input_tokens" not in m.raw


# -- payload shapes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        [{"id": "a/x"}, {"id": "b/y"}],
        ({"id": "a/x"}, {"id": "b/y"}),
        {"data": [{"id": "a/x"}, {"id": "b/y"}]},
        {"object": "list", "models": [{"id": "a/x"}, {"id": "b/y"}]},
        {"a/x": {}, "b/y": {"mode": "chat"}},
        {"data": {"a/x": {}, "b/y": {}}},
    ],
    ids=["list", "tuple", "data", "models", "keyed", "data-keyed"],
)
def test_payload_shapes(payload: object) -> None:
    assert ModelCatalog.from_response(payload).ids == ("a/x", "b/y")


def test_single_model_object_is_a_catalog_of_one() -> None:
    catalog = ModelCatalog.from_response({"id": "gpt-4o", "object": "model", "owned_by": "openai"})
    assert catalog.ids == ("gpt-4o",)
    assert catalog["gpt-4o"].provider == "openai"


def test_one_list_may_mix_shapes() -> None:
    catalog = ModelCatalog.from_response(
        [
            {"id": "a/or", "pricing": {"prompt": "0.000001", "completion": "0.000002"}},
            {"id": "a/ll", "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
            {"id": "a/k", "pricing": {"input_per_1k": 0.001, "output_per_1k": 0.002}},
        ]
    )
    assert len({m.pricing for m in catalog}) == 1


def test_id_is_read_from_model_or_model_name_when_there_is_no_id() -> None:
    catalog = ModelCatalog.from_response(
        [{"model": "a/one"}, {"model_name": "a/two"}, {"id": " ", "model": "a/three"}]
    )
    assert catalog.ids == ("a/one", "a/two", "a/three")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (None, "got null"),
        (42, "got a number"),
        ("[]", "got a string"),
        (True, "got a boolean"),
        ({}, "keys (none)"),
        ({"object": "list", "total": 3}, "keys object, total"),
        ({"data": None}, "'data' is a list of models; got null"),
        ({"models": "gpt-4o"}, "'models' is a list of models; got a string"),
        ({f"k{i}": 1 for i in range(12)}, "k0, k1, k2, k3, k4, k5, k6, k7, ..."),
        (b"{}", "got bytes"),
    ],
)
def test_payload_that_is_no_catalog_raises(payload: object, message: str) -> None:
    with pytest.raises(CatalogError, match="catalog") as caught:
        ModelCatalog.from_response(payload)
    assert message in str(caught.value)


def test_error_body_raises_with_its_message_redacted() -> None:
    body = {"error": {"message": "invalid key sk-abcdef1234567890", "code": 401}}
    with pytest.raises(CatalogError, match="sent an error") as caught:
        ModelCatalog.from_response(body)
    assert "invalid key" in str(caught.value)
    assert "abcdef1234567890" not in str(caught.value)
    with pytest.raises(CatalogError, match=r"catalog: boom$"):
        ModelCatalog.from_response({"error": "boom"})


def test_empty_list_is_an_empty_catalog() -> None:
    for payload in ([], {"data": []}):
        catalog = ModelCatalog.from_response(payload)
        assert len(catalog) == 0 and not catalog and list(catalog) == []


# -- entries that cannot be read -------------------------------------------------------------


def test_each_unreadable_entry_is_skipped_with_exactly_one_warning() -> None:
    payload = [
        {"id": "a/ok"},
        "gpt-4o",
        {"name": "no id here", "pricing": {}},
        {"id": 123},
        {"id": "   "},
        {"id": "a/ok", "context_length": 5},
        None,
    ]
    with pytest.warns(CatalogWarning) as record:
        catalog = ModelCatalog.from_response(payload)
    messages = [str(w.message) for w in record]
    assert messages == [
        "skipped model entry #1: expected an object, got a string",
        "skipped model entry #2: no 'id' string (keys: name, pricing)",
        "skipped model entry #3: no 'id' string (keys: id)",
        "skipped model entry #4: no 'id' string (keys: id)",
        "skipped model entry #5: duplicate id 'a/ok'; the first one is kept",
        "skipped model entry #6: expected an object, got null",
    ]
    assert all(w.category is CatalogWarning for w in record)
    # The warning points at the caller, not at catalog internals.
    assert all(w.filename == __file__ for w in record)
    assert catalog.ids == ("a/ok",)
    assert catalog["a/ok"].context_length is None  # the first one was kept


def test_keyed_map_entry_that_is_not_an_object_is_skipped_by_name() -> None:
    with pytest.warns(CatalogWarning) as record:
        catalog = ModelCatalog.from_response({"gpt-4o": {"mode": "chat"}, "note": "hello", " ": {}})
    assert [str(w.message) for w in record] == [
        "skipped model entry 'note': expected an object, got a string",
        "skipped model entry ' ': no 'id' string (keys: (none))",
    ]
    assert catalog.ids == ("gpt-4o",)


def test_from_file_warns_at_the_caller_too(tmp_path: Path) -> None:
    payload = json.loads((FIXTURES / "openai.json").read_text())
    payload["data"].append(7)
    path = tmp_path / "models.json"
    path.write_text(json.dumps(payload))
    with pytest.warns(CatalogWarning, match="#5") as record:
        catalog = ModelCatalog.from_file(path)
    assert record[0].filename == __file__
    assert len(catalog) == 5


@pytest.mark.parametrize(
    "junk",
    [
        {"pricing": "cheap", "context_length": [200000]},
        {"pricing": [1, 2], "architecture": "text->text", "top_provider": 5},
        {"pricing": {"prompt": float("nan"), "completion": float("inf")}},
        {"pricing": {"prompt": -1, "completion": "-0.5", "request": "abc"}},
        {"pricing": {"prompt": True, "completion": None, "image": {}}},
        {"pricing": {"prompt": 10**400}, "context_length": 10**400 * 0},
        {"context_length": "abc", "max_output_tokens": float("nan")},
        {"context_length": 0, "max_output_tokens": -5, "max_tokens": True},
        {"context_length": 0.5, "max_completion_tokens": "1e999"},
        {"input_cost_per_token": "NaN", "output_cost_per_token": [0.1]},
        {"input_cost_per_token": None, "input_cost_per_request": False},
        {"supported_parameters": "tools", "input_modalities": {"text": True}},
        {"supported_parameters": [1, None, {"a": 1}, ["tools"]], "capabilities": 7},
        {"capabilities": {"tools": "yes", "3": 1}, "supports_vision": "true"},
        {"architecture": {"input_modalities": None, "modality": 5}},
        {"modalities": [1, 2], "mode": ["chat"], "provider": 5, "name": ["x"]},
        {"model_info": "not an object", "owned_by": 7, "display_name": None},
        {"top_provider": {"context_length": "many", "max_completion_tokens": []}},
    ],
)
def test_junk_fields_read_as_unknown_and_keep_the_entry(junk: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = one(junk)
    assert m.id == "p/m" and m.name == "p/m" and m.provider == "p"
    assert m.pricing.prompt_usd_per_token is None
    assert m.pricing.completion_usd_per_token is None
    assert m.pricing.request_usd is None and m.pricing.image_usd is None
    assert m.context_length is None and m.max_output_tokens is None
    assert m.input_modalities == () and m.output_modalities == ()
    assert not m.supports("tools") and not m.supports("vision")
    assert m.raw == {"id": "p/m", **junk}


# -- the key vocabulary ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "per_token"),
    [
        ({"pricing": {"prompt": "0.000003"}}, 3e-6),
        ({"pricing": {"prompt": 3e-6}}, 3e-6),
        ({"pricing": {"input_per_1k": 0.003}}, 3e-6),
        ({"pricing": {"prompt_per_1k_tokens": "0.003"}}, 3e-6),
        ({"pricing": {"input_per_1m": 3}}, 3e-6),
        ({"pricing": {"input_usd_per_mtok": 3}}, 3e-6),
        ({"pricing": {"prompt_usd_per_token": 3e-6}}, 3e-6),
        ({"input_cost_per_token": 3e-6}, 3e-6),
        ({"prompt_price_per_1k_tokens": 0.003}, 3e-6),
        ({"input_price_per_1k_tokens": "0.003"}, 3e-6),
        ({"prompt_cost_per_1m_tokens": 3.0}, 3e-6),
        ({"input_price_per_million_tokens": 3}, 3e-6),
        ({"prompt_usd_per_mtok": 3}, 3e-6),
        ({"input_per_1k": 0.003}, 3e-6),
        ({"pricing": {"prompt": "0"}}, 0.0),
    ],
)
def test_prompt_price_spellings(entry: dict[str, Any], per_token: float) -> None:
    assert one(entry).pricing.prompt_usd_per_token == per_token


@pytest.mark.parametrize(
    ("entry", "per_token"),
    [
        ({"pricing": {"completion": "0.000015"}}, 15e-6),
        ({"pricing": {"output_per_1k": 0.015}}, 15e-6),
        ({"output_cost_per_token": 1.5e-5}, 15e-6),
        ({"completion_price_per_1k_tokens": 0.015}, 15e-6),
        ({"output_price_per_1m_tokens": 15}, 15e-6),
    ],
)
def test_completion_price_spellings(entry: dict[str, Any], per_token: float) -> None:
    assert one(entry).pricing.completion_usd_per_token == per_token


@pytest.mark.parametrize(
    "entry",
    [
        {"pricing": {"input_cache_read": "0.0000003"}},
        {"pricing": {"cached_prompt": 3e-7}},
        {"pricing": {"cache_read": 3e-7}},
        {"pricing": {"cached_input_per_1k": 0.0003}},
        {"cache_read_input_token_cost": 3e-7},
        {"input_cost_per_token_cache_hit": 3e-7},
        {"cached_prompt_usd_per_token": 3e-7},
        {"cache_read_input_cost_per_1m_tokens": 0.3},
    ],
)
def test_cached_prompt_price_spellings(entry: dict[str, Any]) -> None:
    assert one(entry).pricing.cached_prompt_usd_per_token == 3e-7


@pytest.mark.parametrize(
    "entry",
    [
        {"pricing": {"request": "0.005", "image": "0.001"}},
        {"request_usd": 0.005, "image_usd": 0.001},
        {"input_cost_per_request": 0.005, "input_cost_per_image": 0.001},
    ],
)
def test_request_and_image_price_spellings(entry: dict[str, Any]) -> None:
    pricing = one(entry).pricing
    assert (pricing.request_usd, pricing.image_usd) == (0.005, 0.001)


def test_bare_input_and_output_in_pricing_are_ambiguous_and_not_read() -> None:
    # Together means USD per million here; OpenRouter-like gateways per token.
    m = one({"pricing": {"input": 0.88, "output": 0.88, "hourly": 0}})
    assert m.pricing == Pricing(None, None)
    assert m.raw["pricing"]["input"] == 0.88


def test_pricing_object_wins_over_top_level_prices() -> None:
    m = one({"pricing": {"prompt": "0.000001"}, "input_cost_per_token": 9e-6})
    assert m.pricing.prompt_usd_per_token == 1e-6
    # ...but the top level still fills what `pricing` left out.
    m = one({"pricing": {"prompt": "0.000001"}, "output_cost_per_token": 9e-6})
    assert m.pricing.completion_usd_per_token == 9e-6


def test_first_usable_spelling_wins_in_entry_order() -> None:
    m = one({"pricing": {"prompt": "-1", "input_per_1k": 0.002, "prompt_per_1m": 5}})
    assert m.pricing.prompt_usd_per_token == 2e-6


@pytest.mark.parametrize(
    ("entry", "context"),
    [
        ({"context_length": 1000, "context_window": 2000, "max_input_tokens": 3000}, 1000),
        ({"context_length": None, "context_window": 2000}, 2000),
        ({"max_context_tokens": "4096"}, 4096),
        ({"max_input_tokens": 3000.0}, 3000),
        ({"input_token_limit": 5000}, 5000),
        ({"inputTokenLimit": 6000}, 6000),
        ({"top_provider": {"context_length": 7000}}, 7000),
        ({"context_length": 8000, "top_provider": {"context_length": 7000}}, 8000),
        ({"context_length": 131072.9}, 131072),
        ({"context_length": " 2e5 "}, 200_000),
    ],
)
def test_context_length_spellings_and_precedence(entry: dict[str, Any], context: int) -> None:
    assert one(entry).context_length == context


@pytest.mark.parametrize(
    ("entry", "output"),
    [
        ({"max_output_tokens": 100, "max_completion_tokens": 200}, 100),
        ({"max_completion_tokens": 200}, 200),
        ({"output_token_limit": 300}, 300),
        ({"outputTokenLimit": 400}, 400),
        ({"top_provider": {"max_completion_tokens": 500}}, 500),
        ({"max_tokens": 600}, 600),
        ({"max_tokens": 600, "max_output_tokens": 700}, 700),
        ({"max_tokens": 800, "context_length": 800}, None),
        ({"max_tokens": 800, "max_input_tokens": 900}, 800),
    ],
)
def test_max_output_tokens_spellings_and_precedence(
    entry: dict[str, Any], output: int | None
) -> None:
    assert one(entry).max_output_tokens == output


def test_provider_precedence() -> None:
    assert one({"provider": "azure", "owned_by": "openai"}).provider == "azure"
    assert one({"owned_by": "openai"}).provider == "p"  # the id prefix
    entry = {"id": "gpt-4o", "owned_by": "openai", "litellm_provider": "x"}
    assert ModelCatalog.from_response([entry])["gpt-4o"].provider == "openai"
    entry = {"id": "gpt-4o", "organization": "together"}
    assert ModelCatalog.from_response([entry])["gpt-4o"].provider == "together"
    entry = {"id": "gpt-4o", "litellm_provider": "openai"}
    assert ModelCatalog.from_response([entry])["gpt-4o"].provider == "openai"
    # Google's OpenAI-compatible endpoint prefixes every id with "models/".
    entry = {"id": "models/gemini-2.0-flash", "owned_by": "google"}
    assert ModelCatalog.from_response([entry])["models/gemini-2.0-flash"].provider == "google"
    assert ModelCatalog.from_response([{"id": "/odd"}])["/odd"].provider is None


def test_name_precedence() -> None:
    assert one({"name": "A", "display_name": "B"}).name == "A"
    assert one({"name": "", "display_name": "B"}).name == "B"
    assert one({}).name == "p/m"


@pytest.mark.parametrize(
    ("entry", "inputs", "outputs"),
    [
        ({"architecture": {"input_modalities": ["TEXT ", "Image", "text"]}}, ("text", "image"), ()),
        (
            {"architecture": {"modality": "text+image->text+audio"}},
            ("text", "image"),
            ("text", "audio"),
        ),
        ({"input_modalities": ["text"], "output_modalities": ["image"]}, ("text",), ("image",)),
        ({"modalities": {"input": ["audio"], "output": ["text"]}}, ("audio",), ("text",)),
        (
            {"input_modalities": ["text"], "modalities": {"input": ["audio"], "output": ["image"]}},
            ("text",),
            ("image",),
        ),
        (
            {
                "output_modalities": ["text"],
                "modalities": {"input": ["audio"], "output": ["image"]},
            },
            ("audio",),
            ("text",),
        ),
        ({"supported_modalities": ["text", "image"]}, ("text", "image"), ()),
        ({"supported_output_modalities": ["audio"]}, (), ("audio",)),
        ({"mode": "image_generation"}, ("text",), ("image",)),
        ({"mode": "audio_transcription"}, ("audio",), ("text",)),
        ({"mode": "rerank"}, (), ()),
        ({"mode": "chat", "input_modalities": ["audio"]}, ("audio",), ()),
        ({"architecture": {"modality": "text"}}, (), ()),
        ({"architecture": {"input_modalities": ["", 5, "text"]}}, ("text",), ()),
    ],
)
def test_modality_spellings(
    entry: dict[str, Any], inputs: tuple[str, ...], outputs: tuple[str, ...]
) -> None:
    m = one(entry)
    assert (m.input_modalities, m.output_modalities) == (inputs, outputs)


@pytest.mark.parametrize(
    ("entry", "feature"),
    [
        ({"supported_parameters": ["tools"]}, "tools"),
        ({"supported_parameters": ["tool_choice"]}, "tools"),
        ({"supported_parameters": ["functions"]}, "function_calling"),
        ({"supported_openai_params": ["tools"]}, "tools"),
        ({"supports_function_calling": True}, "tools"),
        ({"supports_tool_choice": True}, "tool_choice"),
        ({"supports_response_schema": True}, "structured_outputs"),
        ({"supports_json_mode": True}, "json"),
        ({"supports_reasoning": True}, "reasoning"),
        ({"supported_parameters": ["include_reasoning"]}, "reasoning"),
        ({"supports_vision": True}, "vision"),
        ({"supports_image_input": True}, "vision"),
        ({"supports_web_search": True}, "web_search_options"),
        ({"supports_computer_use": True}, "computer_use"),
        ({"capabilities": ["Function_Calling"]}, "tools"),
        ({"capabilities": {"json_schema": True}}, "json_schema"),
        ({"capabilities": {"vision": True}}, "vision"),
        ({"capabilities": ["logprobs"]}, "logprobs"),
        ({"supported_parameters": [" Seed "]}, "seed"),
    ],
)
def test_capability_spellings(entry: dict[str, Any], feature: str) -> None:
    assert one(entry).supports(feature)


def test_capability_switched_off_is_not_claimed() -> None:
    m = one({"supported_parameters": ["tools", "tool_choice"], "supports_function_calling": False})
    assert not m.supports("tools")
    m = one({"supports_vision": False})
    assert not m.supports("vision") and m.input_modalities == ()
    for entry in (
        {"supports_native_streaming": False},
        {"supports_streaming": False},
        {"capabilities": {"streaming": False}},
    ):
        assert not one(entry).supports("streaming")
    assert one({"supports_streaming": True}).supports("streaming")


def test_vision_switch_on_an_entry_without_modalities_adds_text_too() -> None:
    assert one({"supports_vision": True}).input_modalities == ("text", "image")
    assert one({"supports_audio_output": True}).output_modalities == ("audio",)
    pdf = one({"mode": "chat", "supports_pdf_input": True, "supports_audio_input": True})
    assert pdf.input_modalities == ("text", "file", "audio")


# -- the model objects -----------------------------------------------------------------------


def test_parsed_models_are_complete_dataclasses() -> None:
    # Parsing fills the slots directly for speed; the result must be indistinguishable
    # from a model built through __init__.
    for name in ("openai", "openrouter", "per_1k", "litellm", "litellm_model_info"):
        for m in load(name):
            values = {f.name: getattr(m, f.name) for f in dataclasses.fields(m)}
            again = Model(**values)
            assert again == m and hash(again) == hash(m)
            assert dataclasses.astuple(m.pricing) == dataclasses.astuple(again.pricing)


def test_lookup_and_iteration_share_one_model_object() -> None:
    catalog = load("openrouter")
    first = catalog["openai/gpt-4o-mini"]
    assert next(m for m in catalog if m.id == first.id) is first
    assert catalog.get("openai/gpt-4o-mini") is first


def test_lookups_do_not_need_the_whole_catalog_normalised() -> None:
    catalog = load("openrouter")
    assert len(catalog) == 5 and "openrouter/auto" in catalog and "nope" not in catalog
    assert catalog.ids[0] == "anthropic/claude-sonnet-4"
    assert catalog.get("openrouter/auto") is not None
    assert catalog.get("nope") is None


def test_from_file_errors_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(CatalogError, match=r"missing\.json") as caught:
        ModelCatalog.from_file(missing)
    assert isinstance(caught.value.__cause__, OSError)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CatalogError, match=r"cannot read a model catalog from .*bad\.json"):
        ModelCatalog.from_file(str(bad))
    scalar = tmp_path / "scalar.json"
    scalar.write_text("3")
    with pytest.raises(CatalogError, match="got a number"):
        ModelCatalog.from_file(scalar)


def test_huge_and_odd_numbers() -> None:
    m = one({"context_length": 10**30, "pricing": {"prompt": "1e-320", "completion": "1e400"}})
    assert m.context_length == 10**30
    assert m.pricing.prompt_usd_per_token == 1e-320
    assert m.pricing.completion_usd_per_token is None
    assert math.isfinite(m.pricing.estimate(10, 0) or 0)


def test_int_subclasses_and_float_subclasses_are_numbers() -> None:
    class Tokens(enum.IntEnum):
        WINDOW = 4096

    class Usd(float):
        pass

    m = one({"context_length": Tokens.WINDOW, "pricing": {"prompt": Usd(1e-6)}})
    assert m.context_length == 4096
    assert m.pricing.prompt_usd_per_token == 1e-6


def test_many_distinct_name_lists_are_read_right() -> None:
    # More distinct lists than the memo keeps: it starts over rather than growing.
    payload = [
        {"id": f"a/m{i}", "supported_parameters": [f"p{i}"], "input_modalities": ["text", f"m{i}"]}
        for i in range(2500)
    ]
    catalog = ModelCatalog.from_response(payload)
    assert all(m.supported_parameters == {f"p{i}"} for i, m in enumerate(catalog))
    assert all(m.input_modalities == ("text", f"m{i}") for i, m in enumerate(catalog))
