"""The catalog as a collection: lookups, filter, sort_by, cheapest, displays, JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xroute import CatalogError, InvalidArgumentError, UnknownModelError
from xroute.catalog import Model, ModelCatalog, Pricing

FIXTURES = Path(__file__).parent / "fixtures"

TOOLS = frozenset({"tools", "tool_choice"})


def model(
    model_id: str,
    prompt: float | None = None,
    completion: float | None = None,
    *,
    context: int | None = None,
    params: frozenset[str] = frozenset(),
    inputs: tuple[str, ...] = ("text",),
    outputs: tuple[str, ...] = ("text",),
    provider: str | None = None,
) -> Model:
    return Model(
        model_id,
        provider=provider,
        context_length=context,
        pricing=Pricing.per_mtok(prompt, completion),
        input_modalities=inputs,
        output_modalities=outputs,
        supported_parameters=params,
    )


MODELS = (
    model("openai/gpt-4o", 2.5, 10, context=128_000, params=TOOLS, inputs=("text", "image")),
    model("openai/gpt-4o-mini", 0.15, 0.6, context=128_000, params=TOOLS, inputs=("text", "image")),
    model(
        "anthropic/claude-sonnet-4", 3, 15, context=200_000, params=TOOLS, inputs=("text", "image")
    ),
    model("anthropic/claude-3-haiku", 0.25, 1.25, context=200_000),
    model("meta-llama/llama-3.1-8b", 0.02, 0.03, context=131_072, params=TOOLS),
    model("google/gemini-flash", 0.075, 0.3, context=None, params=TOOLS, inputs=("text", "image")),
    model("openrouter/auto", None, None, context=2_000_000),
    model("openai/dall-e-3", None, None, inputs=("text",), outputs=("image",)),
    model("deepseek/deepseek-free", 0, 0, context=163_840),
)


@pytest.fixture
def catalog() -> ModelCatalog:
    return ModelCatalog.from_models(MODELS)


def ids(catalog: ModelCatalog) -> list[str]:
    return [m.id for m in catalog]


# -- collection protocol ---------------------------------------------------------------------


def test_collection_protocol(catalog: ModelCatalog) -> None:
    assert len(catalog) == 9 and bool(catalog)
    assert list(catalog) == list(MODELS)
    assert catalog.ids == tuple(m.id for m in MODELS)
    assert catalog["openai/gpt-4o"] is MODELS[0]
    assert catalog[0] is MODELS[0] and catalog[-1] is MODELS[-1]
    assert catalog.get("openai/gpt-4o") is MODELS[0]
    assert catalog.get("nope") is None
    assert catalog.get("nope", MODELS[1]) is MODELS[1]
    assert "openai/gpt-4o" in catalog and "nope" not in catalog
    assert MODELS[0] in catalog
    assert model("openai/gpt-4o", 1, 1) not in catalog  # same id, other facts
    assert 3 not in catalog
    assert catalog.providers == (
        "anthropic",
        "deepseek",
        "google",
        "meta-llama",
        "openai",
        "openrouter",
    )


def test_unknown_id_raises_a_key_error_with_a_suggestion(catalog: ModelCatalog) -> None:
    with pytest.raises(UnknownModelError) as caught:
        catalog["gpt-4o-mini"]
    error = caught.value
    assert isinstance(error, KeyError) and isinstance(error, CatalogError)
    # A bare id on a gateway that namespaces them: the namespaced one, not a fuzzy match.
    assert error.suggestion == "openai/gpt-4o-mini"
    assert str(error) == (
        "model 'gpt-4o-mini' is not in the catalog; did you mean 'openai/gpt-4o-mini'? "
        "client.models.list() shows all models"
    )
    with pytest.raises(UnknownModelError) as caught:
        catalog["anthropic/claude-sonet-4"]
    assert caught.value.suggestion == "anthropic/claude-sonnet-4"
    with pytest.raises(UnknownModelError) as caught:
        catalog["zzzzzz"]
    assert caught.value.suggestion is None
    with pytest.raises(IndexError):
        catalog[99]


def test_constructor_checks_its_models() -> None:
    assert len(ModelCatalog()) == 0
    with pytest.raises(InvalidArgumentError, match="duplicate model id 'a/x'"):
        ModelCatalog([Model("a/x"), Model("a/x")])
    with pytest.raises(InvalidArgumentError, match="holds Model objects"):
        ModelCatalog(["a/x"])  # type: ignore[list-item]


def test_equality_and_hash(catalog: ModelCatalog) -> None:
    same = ModelCatalog.from_models(MODELS)
    assert catalog == same and hash(catalog) == hash(same)
    assert catalog != ModelCatalog.from_models(MODELS[:-1])
    assert catalog != MODELS
    assert catalog.filter(provider="openai") == ModelCatalog.from_models(
        m for m in MODELS if m.provider == "openai"
    )


# -- filter ----------------------------------------------------------------------------------


def test_filter_without_constraints_is_the_same_catalog(catalog: ModelCatalog) -> None:
    assert catalog.filter() is catalog


def test_filter_by_provider_is_case_insensitive_and_takes_several(catalog: ModelCatalog) -> None:
    assert ids(catalog.filter(provider="OpenAI")) == [
        "openai/gpt-4o",
        "openai/gpt-4o-mini",
        "openai/dall-e-3",
    ]
    assert ids(catalog.filter(provider=["google", "meta-llama"])) == [
        "meta-llama/llama-3.1-8b",
        "google/gemini-flash",
    ]
    assert len(catalog.filter(provider="mistral")) == 0
    assert len(catalog.filter(provider=[])) == 0


def test_filter_by_min_context_drops_unknown_windows(catalog: ModelCatalog) -> None:
    assert ids(catalog.filter(min_context=150_000)) == [
        "anthropic/claude-sonnet-4",
        "anthropic/claude-3-haiku",
        "openrouter/auto",
        "deepseek/deepseek-free",
    ]
    assert "google/gemini-flash" not in catalog.filter(min_context=1)
    assert len(catalog.filter(min_context=0)) == 7


def test_filter_by_supports_needs_every_feature(catalog: ModelCatalog) -> None:
    assert len(catalog.filter(supports="tools")) == 5
    assert ids(catalog.filter(supports=["tools", "vision"])) == [
        "openai/gpt-4o",
        "openai/gpt-4o-mini",
        "anthropic/claude-sonnet-4",
        "google/gemini-flash",
    ]
    assert ids(catalog.filter(supports={"Vision"}, provider="openai")) == [
        "openai/gpt-4o",
        "openai/gpt-4o-mini",
    ]
    assert len(catalog.filter(supports="logprobs")) == 0


def test_filter_by_max_price_drops_unknown_prices(catalog: ModelCatalog) -> None:
    assert ids(catalog.filter(max_prompt_usd_per_mtok=0.1)) == [
        "meta-llama/llama-3.1-8b",
        "google/gemini-flash",
        "deepseek/deepseek-free",
    ]
    assert ids(catalog.filter(max_completion_usd_per_mtok=1)) == [
        "openai/gpt-4o-mini",
        "meta-llama/llama-3.1-8b",
        "google/gemini-flash",
        "deepseek/deepseek-free",
    ]
    assert ids(catalog.filter(max_prompt_usd_per_mtok=0)) == ["deepseek/deepseek-free"]


def test_price_limit_is_inclusive_across_unit_conversions() -> None:
    # $3/Mtok given as $0.003 per 1K is one ulp away from 3e-6 after division.
    per_1k = ModelCatalog.from_response(
        [{"id": "a/x", "pricing": {"input_per_1k": 0.003, "output_per_1k": 0.015}}]
    )
    assert len(per_1k.filter(max_prompt_usd_per_mtok=3, max_completion_usd_per_mtok=15)) == 1
    assert len(per_1k.filter(max_prompt_usd_per_mtok=2.99)) == 0


def test_filter_by_modality(catalog: ModelCatalog) -> None:
    assert len(catalog.filter(modality="image")) == 4
    assert ids(catalog.filter(modality="->image")) == ["openai/dall-e-3"]
    assert ids(catalog.filter(modality="text->image")) == ["openai/dall-e-3"]
    assert len(catalog.filter(modality="text+image->text")) == 4
    assert len(catalog.filter(modality=["Image", "text"])) == 4
    assert len(catalog.filter(modality="audio")) == 0
    assert catalog.filter(modality="") is catalog


def test_filter_by_ids(catalog: ModelCatalog) -> None:
    assert ids(catalog.filter(ids="openai/gpt-4o")) == ["openai/gpt-4o"]
    # Catalog order, whatever the order asked in; unknown ids match nothing.
    assert ids(catalog.filter(ids=["openrouter/auto", "openai/gpt-4o", "nope"])) == [
        "openai/gpt-4o",
        "openrouter/auto",
    ]


def test_filter_combines_constraints(catalog: ModelCatalog) -> None:
    found = catalog.filter(
        supports="tools",
        min_context=100_000,
        max_prompt_usd_per_mtok=1,
        provider=["openai", "meta-llama"],
    )
    assert ids(found) == ["openai/gpt-4o-mini", "meta-llama/llama-3.1-8b"]
    assert len(catalog.filter(supports="tools", modality="->image")) == 0


def test_filtering_a_filtered_catalog(catalog: ModelCatalog) -> None:
    tools = catalog.filter(supports="tools")
    assert ids(tools.filter(provider="openai")) == ["openai/gpt-4o", "openai/gpt-4o-mini"]
    assert ids(tools.filter(supports="vision", max_prompt_usd_per_mtok=1)) == [
        "openai/gpt-4o-mini",
        "google/gemini-flash",
    ]
    assert ids(tools.filter(ids=["openai/dall-e-3", "openai/gpt-4o"])) == ["openai/gpt-4o"]
    assert tools.filter(supports="tools") is tools
    by_price = catalog.sort_by("price")
    # A sorted catalog keeps its order through a filter.
    assert ids(by_price.filter(provider="openai")) == [
        "openai/gpt-4o-mini",
        "openai/gpt-4o",
        "openai/dall-e-3",
    ]
    assert by_price.filter(provider="openai").get("openai/gpt-4o") is MODELS[0]
    assert "openai/gpt-4o" in by_price.filter(provider="openai")


def test_the_same_filter_twice_is_answered_from_memory(catalog: ModelCatalog) -> None:
    first = catalog.filter(supports=["tools", "vision"], min_context=1000)
    assert catalog.filter(supports=("vision", "tools"), min_context=1000.0) is first
    assert catalog.filter(supports="tools", min_context=1000) is not first


def test_filter_memory_is_bounded(catalog: ModelCatalog) -> None:
    first = catalog.filter(min_context=0)
    for n in range(1, 100):
        catalog.filter(min_context=n)
    again = catalog.filter(min_context=0)
    assert again == first and again is not first


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_context": -1}, "min_context must be a number >= 0, got -1"),
        ({"min_context": float("nan")}, "min_context must be a number"),
        ({"min_context": True}, "min_context must be a number"),
        ({"max_prompt_usd_per_mtok": "3"}, "max_prompt_usd_per_mtok must be a number"),
        ({"max_completion_usd_per_mtok": -0.1}, "max_completion_usd_per_mtok must be"),
        ({"supports": 5}, "supports must be a string or an iterable of strings"),
        ({"provider": ["openai", 5]}, "provider must be a string or an iterable"),
        ({"modality": [["image"]]}, "modality must be a string or an iterable"),
    ],
)
def test_filter_rejects_bad_arguments(
    catalog: ModelCatalog, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        catalog.filter(**kwargs)


# -- sort_by ---------------------------------------------------------------------------------


def test_sort_by_price_puts_unknown_last_both_ways(catalog: ModelCatalog) -> None:
    assert ids(catalog.sort_by("price")) == [
        "deepseek/deepseek-free",
        "meta-llama/llama-3.1-8b",
        "google/gemini-flash",
        "openai/gpt-4o-mini",
        "anthropic/claude-3-haiku",
        "openai/gpt-4o",
        "anthropic/claude-sonnet-4",
        "openai/dall-e-3",
        "openrouter/auto",
    ]
    assert ids(catalog.sort_by("price", descending=True)) == [
        "anthropic/claude-sonnet-4",
        "openai/gpt-4o",
        "anthropic/claude-3-haiku",
        "openai/gpt-4o-mini",
        "google/gemini-flash",
        "meta-llama/llama-3.1-8b",
        "deepseek/deepseek-free",
        "openai/dall-e-3",
        "openrouter/auto",
    ]


def test_sort_by_context_breaks_ties_by_id_in_both_directions(catalog: ModelCatalog) -> None:
    assert ids(catalog.sort_by("context", descending=True)) == [
        "openrouter/auto",
        "anthropic/claude-3-haiku",
        "anthropic/claude-sonnet-4",
        "deepseek/deepseek-free",
        "meta-llama/llama-3.1-8b",
        "openai/gpt-4o",
        "openai/gpt-4o-mini",
        "google/gemini-flash",
        "openai/dall-e-3",
    ]
    assert ids(catalog.sort_by("context"))[:3] == [
        "openai/gpt-4o",
        "openai/gpt-4o-mini",
        "meta-llama/llama-3.1-8b",
    ]


def test_sort_by_each_key(catalog: ModelCatalog) -> None:
    assert ids(catalog.sort_by("prompt_price"))[:2] == [
        "deepseek/deepseek-free",
        "meta-llama/llama-3.1-8b",
    ]
    assert (
        ids(catalog.sort_by("completion_price", descending=True))[0] == "anthropic/claude-sonnet-4"
    )
    assert ids(catalog.sort_by("id")) == sorted(catalog.ids)
    assert ids(catalog.sort_by("id", descending=True)) == sorted(catalog.ids, reverse=True)
    providers = [m.provider for m in catalog.sort_by("provider")]
    assert providers == sorted(providers)  # type: ignore[type-var]
    unnamed = ModelCatalog([Model("x"), Model("a/y"), Model("B/z")])
    assert ids(unnamed.sort_by("provider")) == ["a/y", "B/z", "x"]
    assert ids(unnamed.sort_by("provider", descending=True)) == ["B/z", "a/y", "x"]


def test_sort_by_rejects_unknown_keys(catalog: ModelCatalog) -> None:
    with pytest.raises(InvalidArgumentError, match="cannot sort by 'cost'; use one of 'price'"):
        catalog.sort_by("cost")  # type: ignore[arg-type]


def test_sorting_subsets_agrees_with_sorting_the_whole() -> None:
    # Large subsets walk the root's cached order; small ones are sorted directly.
    many = ModelCatalog(
        model(f"p{i % 3}/m{i:03}", (i * 7) % 10 or None, 1, context=(i * 13) % 5 * 1000 or None)
        for i in range(100)
    )
    for subset in (many.filter(provider="p1"), many.filter(ids=["p0/m000", "p1/m004", "p2/m005"])):
        for key in ("price", "context", "id"):
            for descending in (False, True):
                got = subset.sort_by(key, descending=descending)  # type: ignore[arg-type]
                want = many.sort_by(key, descending=descending).filter(ids=subset.ids)  # type: ignore[arg-type]
                assert ids(got) == ids(want)


def test_sorted_catalog_still_answers_lookups(catalog: ModelCatalog) -> None:
    by_price = catalog.sort_by("price")
    assert by_price[0].id == "deepseek/deepseek-free"
    assert by_price["openai/gpt-4o"] is MODELS[0]
    assert by_price.sort_by("id") == catalog.sort_by("id")
    assert len(by_price) == len(catalog) and by_price.ids[0] == "deepseek/deepseek-free"


# -- cheapest --------------------------------------------------------------------------------


def test_cheapest(catalog: ModelCatalog) -> None:
    assert catalog.cheapest().id == "deepseek/deepseek-free"
    assert catalog.cheapest(supports="tools").id == "meta-llama/llama-3.1-8b"
    assert catalog.cheapest(supports=["tools", "vision"]).id == "google/gemini-flash"
    assert catalog.cheapest(provider="anthropic").id == "anthropic/claude-3-haiku"
    assert catalog.cheapest(provider="openai", by="completion_price").id == "openai/gpt-4o-mini"
    assert catalog.filter(provider="openai").cheapest(by="prompt_price").id == "openai/gpt-4o-mini"


def test_cheapest_breaks_ties_by_id() -> None:
    tied = ModelCatalog([model("b/x", 1, 1), model("a/x", 1, 1), model("c/x", 2, 0)])
    assert tied.cheapest().id == "a/x"
    assert tied.cheapest(by="completion_price").id == "c/x"


def test_cheapest_says_which_constraints_matched_nothing(catalog: ModelCatalog) -> None:
    with pytest.raises(CatalogError) as caught:
        catalog.cheapest(provider="anthropic", supports="vision", max_prompt_usd_per_mtok=1)
    assert str(caught.value) == (
        "no model matches provider='anthropic' and supports='vision' and "
        "max_prompt_usd_per_mtok=1; on its own, provider='anthropic' matches 2, "
        "supports='vision' matches 4, max_prompt_usd_per_mtok=1 matches 5"
    )
    with pytest.raises(CatalogError, match=r"^no model matches provider='mistral'$"):
        catalog.cheapest(provider="mistral")


def test_cheapest_refuses_to_guess_among_unknown_prices(catalog: ModelCatalog) -> None:
    with pytest.raises(CatalogError, match=r"^2 models match ids=\['openrouter/auto', '") as caught:
        catalog.cheapest(ids=["openrouter/auto", "openai/dall-e-3"])
    assert str(caught.value).endswith(
        "but none has a known price; add prices with catalog.with_overrides()"
    )
    with pytest.raises(
        CatalogError, match="1 model matches min_context=1000000, but none has a known price"
    ):
        catalog.cheapest(min_context=1_000_000)


def test_cheapest_without_constraints_and_without_prices() -> None:
    with pytest.raises(
        CatalogError,
        match=r"^none of the 2 models in the catalog has a known prompt price; add prices",
    ):
        ModelCatalog([Model("a/x"), Model("a/y")]).cheapest(by="prompt_price")


def test_cheapest_on_an_empty_catalog_and_bad_by() -> None:
    with pytest.raises(CatalogError, match="the model catalog is empty"):
        ModelCatalog().cheapest()
    with pytest.raises(InvalidArgumentError, match="cheapest"):
        ModelCatalog().cheapest(by="context")  # type: ignore[arg-type]


# -- displays and JSON -----------------------------------------------------------------------


def test_repr_is_short(catalog: ModelCatalog) -> None:
    assert repr(catalog) == "<ModelCatalog 9 models from 6 providers>"
    assert repr(ModelCatalog([Model("x")])) == "<ModelCatalog 1 model from 0 providers>"
    assert repr(ModelCatalog([Model("a/x")])) == "<ModelCatalog 1 model from 1 provider>"


def test_as_rows(catalog: ModelCatalog) -> None:
    rows = catalog.as_rows()
    assert rows[0] == {
        "id": "openai/gpt-4o",
        "provider": "openai",
        "context_length": 128_000,
        "max_output_tokens": None,
        "prompt_usd_per_mtok": 2.5,
        "completion_usd_per_mtok": 10.0,
        "capabilities": "tools vision streaming",
    }
    assert len(rows) == len(catalog)


class Printer:
    """The part of IPython's pretty printer `_repr_pretty_` uses."""

    def __init__(self) -> None:
        self.out = ""

    def text(self, text: str) -> None:
        self.out += text


def test_pretty_text_table(catalog: ModelCatalog) -> None:
    printer = Printer()
    catalog._repr_pretty_(printer, False)
    lines = printer.out.splitlines()
    assert lines[0] == "<ModelCatalog 9 models from 6 providers>"
    assert lines[1].split() == [
        "id",
        "provider",
        "context",
        "$/Mtok",
        "in",
        "$/Mtok",
        "out",
        "capabilities",
    ]
    assert lines[2].split() == [
        "openai/gpt-4o",
        "openai",
        "128,000",
        "2.5",
        "10",
        "tools",
        "vision",
        "streaming",
    ]
    assert lines[8].split()[:5] == ["openrouter/auto", "openrouter", "2,000,000", "?", "?"]
    # Columns line up.
    assert len({line.index("openai") for line in lines[2:4]}) == 1


def test_displays_summarise_big_catalogs() -> None:
    big = ModelCatalog(Model(f"p/m{i}") for i in range(60))
    printer = Printer()
    big._repr_pretty_(printer, False)
    assert printer.out.splitlines()[-1] == "… and 10 more"
    assert len(printer.out.splitlines()) == 1 + 1 + 50 + 1
    assert big._repr_html_().endswith("<p>… and 10 more</p>")
    assert big._repr_html_().count("<tr>") == 51


def test_html_table_is_escaped(catalog: ModelCatalog) -> None:
    page = catalog._repr_html_()
    assert page.startswith("<p>&lt;ModelCatalog 9 models from 6 providers&gt;</p><table>")
    assert "<th>$/Mtok in</th>" in page and "<td>openai/gpt-4o</td>" in page
    hostile = ModelCatalog([Model('a/"><img src=x onerror=alert(1)>')])._repr_html_()
    assert "<img" not in hostile and "&lt;img" in hostile


def test_to_json_reads_back_unchanged(catalog: ModelCatalog) -> None:
    text = catalog.to_json()
    assert json.loads(text)["data"][0]["id"] == "openai/gpt-4o"
    assert ModelCatalog.from_response(json.loads(text)) == catalog
    assert "\n  " in catalog.to_json(indent=2)
    for name in ("openrouter", "litellm", "per_1k"):
        original = ModelCatalog.from_file(FIXTURES / f"{name}.json")
        assert ModelCatalog.from_response(json.loads(original.to_json())) == original
