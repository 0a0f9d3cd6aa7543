"""Routing test fixtures: a small catalog, a fresh state, a seeded RNG. No clock, no I/O."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from xroute.catalog import Model, ModelCatalog, Pricing
from xroute.routing import InMemoryRouteState


def make_model(
    model_id: str,
    *,
    prompt: float | None = 1.0,
    completion: float | None = 2.0,
    context: int | None = 128_000,
    max_output: int | None = None,
    params: tuple[str, ...] = ("tools", "response_format"),
    inputs: tuple[str, ...] = ("text",),
    **extra: Any,
) -> Model:
    """A catalog model; prices in USD per million tokens, as price lists write them."""
    pricing = (
        Pricing(None, None)
        if prompt is None and completion is None
        else Pricing.per_mtok(prompt, completion, **extra)
    )
    return Model(
        id=model_id,
        context_length=context,
        max_output_tokens=max_output,
        pricing=pricing,
        input_modalities=inputs,
        supported_parameters=frozenset(params),
    )


@pytest.fixture
def model() -> Callable[..., Model]:
    return make_model


@pytest.fixture
def catalog() -> ModelCatalog:
    """Five models with distinct prices, windows and capabilities."""
    return ModelCatalog(
        [
            make_model(
                "openai/gpt-big", prompt=5, completion=15, context=128_000, inputs=("text", "image")
            ),
            make_model(
                "openai/gpt-mini",
                prompt=0.15,
                completion=0.6,
                context=128_000,
                inputs=("text", "image"),
            ),
            make_model(
                "anthropic/claude",
                prompt=3,
                completion=15,
                context=200_000,
                inputs=("text", "image"),
            ),
            make_model("meta/llama-small", prompt=0.05, completion=0.1, context=8_000, params=()),
            make_model("google/gemini-flash", prompt=0.3, completion=0.25, context=1_000_000),
        ]
    )


@pytest.fixture
def state() -> InMemoryRouteState:
    return InMemoryRouteState()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)
