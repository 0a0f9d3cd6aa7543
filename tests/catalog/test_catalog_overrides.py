"""`with_overrides`: correcting or adding prices, limits and capabilities per model id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xroute import CatalogError
from xroute.catalog import Model, ModelCatalog, Pricing

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def openrouter() -> ModelCatalog:
    return ModelCatalog.from_file(FIXTURES / "openrouter.json")


def test_overrides_file_fixes_one_price_and_adds_a_model(openrouter: ModelCatalog) -> None:
    patched = openrouter.with_overrides(FIXTURES / "overrides.json")
    mini = patched["openai/gpt-4o-mini"]
    before = openrouter["openai/gpt-4o-mini"]
    # Only the prompt price changes; the other prices and every other field stay.
    assert mini.pricing == Pricing(
        1e-7,
        before.pricing.completion_usd_per_token,
        request_usd=before.pricing.request_usd,
        image_usd=before.pricing.image_usd,
        cached_prompt_usd_per_token=before.pricing.cached_prompt_usd_per_token,
    )
    assert (mini.name, mini.provider, mini.context_length, mini.max_output_tokens) == (
        before.name,
        before.provider,
        before.context_length,
        before.max_output_tokens,
    )
    # A capability switched off.
    assert before.supports("vision") and not mini.supports("vision")
    assert mini.input_modalities == ("text", "file")
    # A model the server did not list, added at the end.
    assert patched.ids[-1] == "my-llama"
    added = patched["my-llama"]
    assert added.provider == "self-hosted"
    assert added.context_length == 8192
    assert added.pricing.estimate(1000, 1000) == 0.0
    assert added.supports("tools")
    # The original is untouched.
    assert openrouter["openai/gpt-4o-mini"] is before
    assert "my-llama" not in openrouter


def test_overrides_accept_every_spelling_and_unit() -> None:
    base = ModelCatalog([Model("a/x", pricing=Pricing.per_mtok(3, 15), context_length=1000)])
    patched = base.with_overrides(
        {"a/x": {"output_price_per_1k_tokens": 0.01, "max_input_tokens": 2000.0}}
    )
    m = patched["a/x"]
    assert m.pricing.prompt_usd_per_mtok == 3.0
    assert m.pricing.completion_usd_per_mtok == 10.0
    assert m.context_length == 2000


def test_override_wins_over_the_servers_spelling_of_the_same_price() -> None:
    # The server says `pricing.prompt` per token; the override says per 1M: the override wins.
    catalog = ModelCatalog.from_response(
        [{"id": "a/x", "pricing": {"prompt": "0.000003", "completion": "0.000015"}}]
    )
    patched = catalog.with_overrides({"a/x": {"pricing": {"input_per_1m": 1}}})
    assert patched["a/x"].pricing.prompt_usd_per_mtok == 1.0
    assert patched["a/x"].pricing.completion_usd_per_mtok == 15.0
    # raw shows both, merged one level deep.
    assert patched["a/x"].raw["pricing"] == {
        "prompt": "0.000003",
        "completion": "0.000015",
        "input_per_1m": 1,
    }


def test_capabilities_are_added_and_removed() -> None:
    base = ModelCatalog(
        [Model("a/x", input_modalities=("text",), supported_parameters=frozenset({"seed"}))]
    )
    patched = base.with_overrides(
        {
            "a/x": {
                "supported_parameters": ["tools"],
                "supports_vision": True,
                "capabilities": {"seed": False, "reasoning": True, "streaming": False},
            }
        }
    )
    m = patched["a/x"]
    assert m.supported_parameters == frozenset({"tools", "reasoning"})
    assert m.input_modalities == ("text", "image")
    assert not m.supports("streaming")


def test_override_of_modalities_replaces_them() -> None:
    base = ModelCatalog(
        [Model("a/x", input_modalities=("text", "image"), output_modalities=("text",))]
    )
    patched = base.with_overrides({"a/x": {"input_modalities": ["text", "audio"]}})
    assert patched["a/x"].input_modalities == ("text", "audio")
    assert patched["a/x"].output_modalities == ("text",)
    patched = base.with_overrides({"a/x": {"output_modalities": ["image"]}})
    assert patched["a/x"].input_modalities == ("text", "image")
    assert patched["a/x"].output_modalities == ("image",)


def test_provider_changes_only_when_the_override_says_so() -> None:
    base = ModelCatalog([Model("openai/gpt-4o", provider="azure"), Model("gpt-4o", provider="x")])
    assert (
        base.with_overrides({"openai/gpt-4o": {"context_length": 5}})["openai/gpt-4o"].provider
        == "azure"
    )
    assert (
        base.with_overrides({"openai/gpt-4o": {"provider": "openai"}})["openai/gpt-4o"].provider
        == "openai"
    )
    # owned_by cannot beat an id prefix, as when reading the server's entry...
    assert (
        base.with_overrides({"openai/gpt-4o": {"owned_by": "y"}})["openai/gpt-4o"].provider
        == "azure"
    )
    # ...but names the provider of an id without one.
    assert base.with_overrides({"gpt-4o": {"owned_by": "y"}})["gpt-4o"].provider == "y"
    assert base.with_overrides({"gpt-4o": {"name": "GPT"}})["gpt-4o"].name == "GPT"


def test_overrides_keep_the_rest_lazy_and_equal(openrouter: ModelCatalog) -> None:
    patched = openrouter.with_overrides({"openrouter/auto": {"pricing": {"prompt": "0.000001"}}})
    for model_id in openrouter.ids:
        if model_id != "openrouter/auto":
            assert patched[model_id] == openrouter[model_id]
    assert patched["openrouter/auto"].pricing.prompt_usd_per_token == 1e-6
    assert patched.ids == openrouter.ids


def test_overrides_on_a_filtered_catalog_apply_to_that_subset(openrouter: ModelCatalog) -> None:
    anthropic = openrouter.filter(provider="anthropic")
    patched = anthropic.with_overrides({"anthropic/claude-sonnet-4": {"context_length": 1_000_000}})
    assert patched.ids == ("anthropic/claude-sonnet-4",)
    assert patched["anthropic/claude-sonnet-4"].context_length == 1_000_000
    # The patched catalog is a root of its own: its lookups are over its own models.
    assert patched.filter(min_context=500_000).ids == ("anthropic/claude-sonnet-4",)
    assert len(openrouter.filter(min_context=500_000)) == 1  # only openrouter/auto


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([{"id": "a/x"}], "must be an object mapping model ids to fields; got a list"),
        ({"a/x": 3}, "the value for 'a/x' must be an object, got a number"),
        ({"a/x": None}, "the value for 'a/x' must be an object, got null"),
        ({"": {}}, "'' is not a model id"),
        ({5: {}}, "5 is not a model id"),
    ],
)
def test_bad_overrides_raise(overrides: object, message: str) -> None:
    with pytest.raises(CatalogError, match="model overrides") as caught:
        ModelCatalog().with_overrides(overrides)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_bad_overrides_file_raises_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "over.json"
    bad.write_text(json.dumps({"a/x": "cheap"}))
    with pytest.raises(CatalogError, match=r"model overrides in '.*over\.json': the value for"):
        ModelCatalog().with_overrides(bad)
    bad.write_text("[1]")
    with pytest.raises(CatalogError, match=r"in '.*over\.json' must be an object"):
        ModelCatalog().with_overrides(str(bad))
    bad.write_text("{")
    with pytest.raises(CatalogError, match=r"cannot read model overrides from '.*over\.json'"):
        ModelCatalog().with_overrides(bad)
    with pytest.raises(CatalogError, match="cannot read model overrides"):
        ModelCatalog().with_overrides(tmp_path / "absent.json")
