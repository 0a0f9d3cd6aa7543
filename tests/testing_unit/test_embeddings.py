"""POST /embeddings: deterministic unit vectors, dimensions, base64, usage."""

from __future__ import annotations

import base64
import math
import struct

import httpx
import pytest
from gateway_support import client

from xroute.testing import MockGateway

MODEL = "openai/text-embedding-3-small"


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


def test_default_vectors_are_16_dims_normalised_and_ordered(http: httpx.Client) -> None:
    response = http.post("/embeddings", json={"model": MODEL, "input": ["alpha", "beta gamma"]})
    assert response.status_code == 200
    result = response.json()
    assert result["object"] == "list"
    assert result["model"] == MODEL
    assert [item["index"] for item in result["data"]] == [0, 1]
    for item in result["data"]:
        assert item["object"] == "embedding"
        assert len(item["embedding"]) == 16
        assert _norm(item["embedding"]) == pytest.approx(1.0)
    assert result["data"][0]["embedding"] != result["data"][1]["embedding"]
    assert result["usage"]["prompt_tokens"] == 3 == result["usage"]["total_tokens"]
    assert result["usage"]["cost"] == pytest.approx(3 * 0.00000002)


def test_vectors_depend_on_seed_model_and_text_only(http: httpx.Client) -> None:
    def vector(gateway_seed: int, text: str, model: str = MODEL) -> list[float]:
        with client(MockGateway(seed=gateway_seed, time_scale=0)) as other:
            body = {"model": model, "input": text}
            return list(other.post("/embeddings", json=body).json()["data"][0]["embedding"])

    alone = http.post("/embeddings", json={"model": MODEL, "input": "same"}).json()
    in_list = http.post("/embeddings", json={"model": MODEL, "input": ["x", "same"]}).json()
    assert alone["data"][0]["embedding"] == in_list["data"][1]["embedding"] == vector(0, "same")
    assert vector(0, "same") != vector(1, "same")
    assert vector(0, "same") != vector(0, "same", "openai/text-embedding-3-large")


def test_dimensions_honoured(http: httpx.Client) -> None:
    body = {"model": MODEL, "input": "hello", "dimensions": 256}
    vector = http.post("/embeddings", json=body).json()["data"][0]["embedding"]
    assert len(vector) == 256
    assert _norm(vector) == pytest.approx(1.0)


def test_base64_is_little_endian_float32_of_the_same_vector(http: httpx.Client) -> None:
    floats = http.post("/embeddings", json={"model": MODEL, "input": "hi", "dimensions": 8})
    packed = http.post(
        "/embeddings",
        json={"model": MODEL, "input": "hi", "dimensions": 8, "encoding_format": "base64"},
    )
    raw = base64.b64decode(packed.json()["data"][0]["embedding"])
    assert len(raw) == 8 * 4
    decoded = struct.unpack("<8f", raw)
    assert decoded == pytest.approx(floats.json()["data"][0]["embedding"], rel=1e-6)


def test_token_id_inputs(http: httpx.Client) -> None:
    one = http.post("/embeddings", json={"model": MODEL, "input": [1, 2, 3]}).json()
    assert len(one["data"]) == 1
    assert one["usage"]["prompt_tokens"] == 3
    many = http.post("/embeddings", json={"model": MODEL, "input": [[1, 2], [3]]}).json()
    assert len(many["data"]) == 2
    assert many["usage"]["prompt_tokens"] == 3


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": MODEL}, "input"),
        ({"model": MODEL, "input": ""}, "input"),
        ({"model": MODEL, "input": []}, "input"),
        ({"model": MODEL, "input": ["ok", 3]}, "input"),
        ({"model": MODEL, "input": [True]}, "input"),
        ({"model": MODEL, "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": MODEL, "input": "x", "dimensions": 5000}, "dimensions"),
        ({"model": MODEL, "input": "x", "encoding_format": "hex"}, "encoding_format"),
        ({"input": "x"}, "model"),
    ],
)
def test_bad_embedding_bodies_are_400(http: httpx.Client, body: object, param: str) -> None:
    response = http.post("/embeddings", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_embedding_input_over_context_is_400(http: httpx.Client, gateway: MockGateway) -> None:
    gateway.script(MODEL, context_length=4)
    response = http.post(
        "/embeddings", json={"model": MODEL, "input": ["ok", "one two three four five"]}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert gateway.stats_for(MODEL).rejected == 1


def test_unknown_embedding_model_is_404(http: httpx.Client) -> None:
    response = http.post("/embeddings", json={"model": "acme/embed", "input": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
