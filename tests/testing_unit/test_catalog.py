"""GET /models and /models/{id}: an OpenRouter-style catalog of real ids and prices."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from gateway_support import AUTH, chat, client

from xroute.testing import MockGateway, ModelScript


def test_catalog_lists_many_providers_in_openrouter_shape(http: httpx.Client) -> None:
    response = http.get("/models")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    listing = response.json()
    assert listing["object"] == "list"
    models = {entry["id"]: entry for entry in listing["data"]}
    assert len(models) >= 14
    for needed in (
        "qwen/qwen3-235b-a22b",
        "openai/gpt-4o",
        "openai/gpt-4o-mini",
        "anthropic/claude-3.5-sonnet",
        "meta-llama/llama-3-70b",
    ):
        assert needed in models
    providers = {model_id.split("/")[0] for model_id in models}
    assert {"openai", "anthropic", "mistralai", "google", "deepseek", "meta-llama"} <= providers
    for entry in models.values():
        assert isinstance(entry["name"], str) and entry["name"]
        assert isinstance(entry["created"], int)
        assert entry["top_provider"]["context_length"] == entry["context_length"] > 0
        pricing = entry["pricing"]
        assert set(pricing) == {"prompt", "completion", "request", "image"}
        for price in pricing.values():
            # Plain decimal strings, never floats or exponents: gateways send them that way.
            assert isinstance(price, str) and "e" not in price.lower()
            assert Decimal(price) >= 0
        assert entry["architecture"]["output_modalities"]
        assert "text" in entry["architecture"]["input_modalities"]
        assert isinstance(entry["supported_parameters"], list)


def test_catalog_prices_and_modalities_are_realistic(http: httpx.Client) -> None:
    models = {entry["id"]: entry for entry in http.get("/models").json()["data"]}
    gpt4o = models["openai/gpt-4o"]
    assert gpt4o["pricing"]["prompt"] == "0.0000025"
    assert gpt4o["pricing"]["completion"] == "0.00001"
    assert "image" in gpt4o["architecture"]["input_modalities"]
    assert "image" not in models["deepseek/deepseek-chat"]["architecture"]["input_modalities"]
    cheapest = min(models.values(), key=lambda e: Decimal(e["pricing"]["completion"]) or 1)
    assert Decimal(cheapest["pricing"]["completion"]) < Decimal("0.0000001")
    assert min(entry["context_length"] for entry in models.values()) <= 8192


def test_model_by_id_with_slash_in_path(http: httpx.Client) -> None:
    response = http.get("/models/anthropic/claude-3.5-sonnet")
    assert response.status_code == 200
    assert response.json()["id"] == "anthropic/claude-3.5-sonnet"
    assert response.json()["context_length"] == 200000


def test_unknown_model_id_is_404_in_openai_shape(http: httpx.Client) -> None:
    response = http.get("/models/acme/nothing")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found"
    assert error["type"] == "invalid_request_error"
    assert "acme/nothing" in error["message"]


@pytest.mark.parametrize("prefix", ["", "/v1", "/api/v1"])
def test_paths_with_and_without_v1(gateway: MockGateway, prefix: str) -> None:
    with httpx.Client(transport=gateway.transport(), headers=AUTH) as http:
        assert http.get(f"https://any.host{prefix}/models").status_code == 200
        assert http.get(f"https://any.host{prefix}/models/").status_code == 200
        answer = http.post(f"https://any.host{prefix}/chat/completions", json=chat())
        assert answer.status_code == 200


def test_unknown_path_and_wrong_method(http: httpx.Client) -> None:
    missing = http.get("/completions/legacy")
    assert missing.status_code == 404
    assert "Invalid URL (GET /v1/completions/legacy)" in missing.json()["error"]["message"]
    wrong = http.get("/chat/completions")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["type"] == "invalid_request_error"


def test_scripted_prices_and_context_show_in_catalog() -> None:
    gateway = MockGateway(
        time_scale=0,
        scripts={
            "openai/gpt-4o": ModelScript(
                prompt_usd_per_token=0.000001,
                completion_usd_per_token=0.000003,
                context_length=1000,
            ),
            "acme/house-model": ModelScript(context_length=2048),
        },
    )
    with client(gateway) as http:
        models = {entry["id"]: entry for entry in http.get("/models").json()["data"]}
        assert models["openai/gpt-4o"]["pricing"]["prompt"] == "0.000001"
        assert models["openai/gpt-4o"]["pricing"]["completion"] == "0.000003"
        assert models["openai/gpt-4o"]["context_length"] == 1000
        assert models["acme/house-model"]["context_length"] == 2048
        assert list(models)[-1] == "acme/house-model"  # added models come after the catalog
        gateway.script("openai/gpt-4o", completion_usd_per_token=0.00002)
        again = http.get("/models/openai/gpt-4o").json()
        assert again["pricing"]["completion"] == "0.00002"
        assert http.get("/models").json()["data"][0]["pricing"]["completion"] == "0.00002"
