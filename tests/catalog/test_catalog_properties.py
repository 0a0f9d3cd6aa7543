"""Properties: any JSON is read or refused cleanly; queries agree with a plain reference."""

from __future__ import annotations

import itertools
import json
import math
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xroute import CatalogError
from xroute.catalog import CatalogWarning, Model, ModelCatalog, Pricing

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["0", "-1", "0.000003", "1e999", "nan", " 8192 ", "200000.0", "text"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
NAMES = st.lists(
    st.sampled_from(["text", "image", "file", "audio", "Tools", "tools", " seed ", ""]) | SCALARS,
    max_size=5,
)

# Keys the reader looks for, so that the generated entries reach every branch.
TOP_KEYS = [
    "id", "model", "model_name", "provider", "owned_by", "organization", "litellm_provider",
    "name", "display_name", "context_length", "context_window", "max_input_tokens",
    "max_output_tokens", "max_completion_tokens", "max_tokens", "input_cost_per_token",
    "output_cost_per_token", "prompt_price_per_1k_tokens", "cache_read_input_token_cost",
    "input_cost_per_request", "input_modalities", "output_modalities", "supported_modalities",
    "mode", "supported_parameters", "supported_openai_params", "supports_function_calling",
    "supports_vision", "supports_native_streaming", "supports_response_schema",
    "supports_anything", "supports_",
]  # fmt: skip
PRICING_KEYS = ["prompt", "completion", "request", "image", "input_cache_read", "input_per_1k",
                "output_per_1m", "input", "output"]  # fmt: skip


def entries() -> st.SearchStrategy[Any]:
    nested = st.fixed_dictionaries(
        {},
        optional={
            "pricing": st.dictionaries(st.sampled_from(PRICING_KEYS), JSON) | JSON,
            "architecture": st.fixed_dictionaries(
                {},
                optional={
                    "input_modalities": NAMES | JSON,
                    "output_modalities": NAMES,
                    "modality": st.sampled_from(["text+image->text", "text", "->", ""]) | JSON,
                },
            )
            | JSON,
            "top_provider": st.dictionaries(
                st.sampled_from(["context_length", "max_completion_tokens"]), JSON
            )
            | JSON,
            "modalities": st.dictionaries(st.sampled_from(["input", "output"]), NAMES) | JSON,
            "capabilities": st.dictionaries(st.text(max_size=10), st.booleans() | JSON)
            | NAMES
            | JSON,
            "supported_parameters": NAMES,
            "model_info": st.dictionaries(st.sampled_from(TOP_KEYS), JSON) | JSON,
        },
    )
    flat = st.dictionaries(st.sampled_from(TOP_KEYS) | st.text(max_size=6), JSON, max_size=8)
    ids = st.sampled_from(["a/x", "a/y", "b/z", "plain", "models/m", "/odd", " "]) | JSON
    return st.builds(lambda a, b, i: {**a, **b, "id": i}, flat, nested, ids) | flat | JSON


PAYLOADS = (
    st.lists(entries(), max_size=6)
    | st.fixed_dictionaries({"data": st.lists(entries(), max_size=6) | JSON})
    | st.dictionaries(st.sampled_from(["a/x", "b/y", "sample_spec", "error", "id"]), entries())
    | entries()
    | JSON
)


def _check_model(m: Model) -> None:
    assert isinstance(m.id, str) and m.id.strip()
    assert isinstance(m.name, str) and m.name
    assert m.provider is None or (isinstance(m.provider, str) and m.provider)
    for limit in (m.context_length, m.max_output_tokens):
        assert limit is None or (type(limit) is int and limit > 0)
    p = m.pricing
    for price in (
        p.prompt_usd_per_token,
        p.completion_usd_per_token,
        p.request_usd,
        p.image_usd,
        p.cached_prompt_usd_per_token,
    ):
        assert price is None or (type(price) is float and 0 <= price < math.inf)
    for names in (m.input_modalities, m.output_modalities, tuple(m.supported_parameters)):
        assert all(isinstance(n, str) and n == n.strip().lower() and n for n in names)
    assert len(set(m.input_modalities)) == len(m.input_modalities)
    cost = p.estimate(10, 10, cached_prompt_tokens=5, images=1)
    assert cost is None or 0 <= cost < math.inf
    for feature in ("tools", "json", "structured_outputs", "vision", "streaming", "reasoning"):
        assert isinstance(m.supports(feature), bool)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PAYLOADS)
def test_any_json_reads_or_raises_catalog_error_and_only_warns_catalog_warning(
    payload: object,
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            catalog = ModelCatalog.from_response(payload)
        except CatalogError:
            catalog = None
        if catalog is not None:
            models = list(catalog)
            assert len(models) == len(catalog) == len(set(catalog.ids))
            for m in models:
                _check_model(m)
                assert catalog[m.id] is m
            repr(catalog)
            catalog._repr_html_()
            catalog.as_rows()
            for key in ("price", "prompt_price", "completion_price", "context", "id", "provider"):
                assert len(catalog.sort_by(key, descending=True)) == len(catalog)  # type: ignore[arg-type]
            catalog.filter(supports=["tools", "vision"], min_context=1, max_prompt_usd_per_mtok=5)
            # The normalised catalog survives its own JSON unchanged.
            assert ModelCatalog.from_response(json.loads(catalog.to_json())) == catalog
    assert all(issubclass(w.category, CatalogWarning) for w in caught), [
        str(w.message) for w in caught
    ]


# -- queries against a plain reference --------------------------------------------------------

PRICES = st.none() | st.sampled_from([0.0, 0.1, 0.15, 1.0, 2.5, 3.0, 10.0, 15.0])
MODELS = st.lists(
    st.builds(
        lambda i, provider, prompt, completion, context, params, inputs: Model(
            f"{provider}/m{i}" if provider else f"m{i}",
            context_length=context,
            pricing=Pricing.per_mtok(prompt, completion),
            supported_parameters=frozenset(params),
            input_modalities=tuple(inputs),
        ),
        st.integers(0, 40),
        st.sampled_from(["", "openai", "anthropic", "Meta"]),
        PRICES,
        PRICES,
        st.none() | st.sampled_from([4096, 8192, 128_000, 200_000]),
        st.sets(st.sampled_from(["tools", "response_format", "seed"])),
        st.lists(st.sampled_from(["text", "image"]), unique=True),
    ),
    max_size=25,
    unique_by=lambda m: m.id,
)
QUERIES = st.fixed_dictionaries(
    {},
    optional={
        "provider": st.sampled_from(["openai", "ANTHROPIC", "meta"])
        | st.lists(st.sampled_from(["openai", "meta"])),
        "min_context": st.sampled_from([0, 8192, 100_000]),
        "supports": st.sampled_from(["tools", "json", "vision", "seed"])
        | st.lists(st.sampled_from(["tools", "vision"])),
        "max_prompt_usd_per_mtok": st.sampled_from([0, 1, 3]),
        "max_completion_usd_per_mtok": st.sampled_from([0.6, 15]),
        "modality": st.sampled_from(["image", "text", "->text"]),
    },
)


def _names(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _matches(m: Model, query: dict[str, Any]) -> bool:
    if "provider" in query:
        wanted = {n.casefold() for n in _names(query["provider"])}
        if (m.provider or "").casefold() not in wanted:
            return False
    if "min_context" in query and (
        m.context_length is None or m.context_length < query["min_context"]
    ):
        return False
    if not all(m.supports(f) for f in _names(query.get("supports", []))):
        return False
    for key, price in (
        ("max_prompt_usd_per_mtok", m.pricing.prompt_usd_per_mtok),
        ("max_completion_usd_per_mtok", m.pricing.completion_usd_per_mtok),
    ):
        if key in query and (price is None or price > query[key]):
            return False
    modality = query.get("modality")
    if modality == "->text":
        return "text" in m.output_modalities
    return modality is None or modality in m.input_modalities


@settings(max_examples=300, deadline=None)
@given(MODELS, QUERIES, st.booleans())
def test_filter_agrees_with_a_plain_reference(
    models: list[Model], query: dict[str, Any], sort_first: bool
) -> None:
    catalog = ModelCatalog(models)
    base = catalog.sort_by("price") if sort_first else catalog
    want = [m.id for m in base if _matches(m, query)]
    assert [m.id for m in base.filter(**query)] == want
    priced = [m for m in base if _matches(m, query) and m.pricing.known]
    if priced:
        best = min(
            priced,
            key=lambda m: (
                (m.pricing.prompt_usd_per_token or 0) + (m.pricing.completion_usd_per_token or 0),
                m.id,
            ),
        )
        assert base.cheapest(**query) is best
    else:
        with pytest.raises(CatalogError):
            base.cheapest(**query)


def _sort_value(m: Model, key: str) -> Any:
    p = m.pricing
    return {
        "price": None
        if not p.known
        else (p.prompt_usd_per_token or 0) + (p.completion_usd_per_token or 0),
        "prompt_price": p.prompt_usd_per_token,
        "completion_price": p.completion_usd_per_token,
        "context": m.context_length,
        "id": m.id,
        "provider": None if m.provider is None else m.provider.casefold(),
    }[key]


@settings(max_examples=300, deadline=None)
@given(
    MODELS,
    st.sampled_from(["price", "prompt_price", "completion_price", "context", "id", "provider"]),
    st.booleans(),
    st.sampled_from([None, "openai", "tools"]),
)
def test_sort_by_orders_known_values_then_unknown_with_ties_by_id(
    models: list[Model], key: str, descending: bool, subset: str | None
) -> None:
    catalog = ModelCatalog(models)
    if subset == "openai":
        catalog = catalog.filter(provider="openai")
    elif subset == "tools":
        catalog = catalog.filter(supports="tools")
    ordered = list(catalog.sort_by(key, descending=descending))  # type: ignore[arg-type]
    assert sorted(m.id for m in ordered) == sorted(catalog.ids)
    known = [m for m in ordered if _sort_value(m, key) is not None]
    unknown = [m for m in ordered if _sort_value(m, key) is None]
    assert ordered == known + unknown
    assert [m.id for m in unknown] == sorted(m.id for m in unknown)
    sign = -1 if descending else 1
    for a, b in itertools.pairwise(known):
        va, vb = _sort_value(a, key), _sort_value(b, key)
        assert (va < vb if sign == 1 else va > vb) or (va == vb and a.id < b.id)
