"""Bearer auth, error shape, request ids and the redacted request log."""

from __future__ import annotations

import httpx
import pytest
from gateway_support import chat, client

from xroute.testing import MockGateway


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({}, "You didn't provide an API key"),
        ({"Authorization": "Bearer "}, "You didn't provide an API key"),
        ({"Authorization": "Basic dGVzdC1rZXk="}, "You didn't provide an API key"),
        (
            {"Authorization": "Bearer sk-wrong-0123456789"},
            "Incorrect API key provided: sk-...6789.",
        ),
        ({"Authorization": "Bearer short"}, "Incorrect API key provided: ***."),
    ],
)
def test_missing_or_wrong_key_is_401(
    gateway: MockGateway, headers: dict[str, str], fragment: str
) -> None:
    with client(gateway, headers=headers) as http:
        for response in (http.get("/models"), http.post("/chat/completions", json=chat())):
            assert response.status_code == 401
            error = response.json()["error"]
            assert fragment in error["message"]
            assert error["type"] == "invalid_request_error"
            assert error["code"] == "invalid_api_key"
            assert "0123456789" not in response.text  # never the whole key
            assert response.headers["x-request-id"].startswith("req_")
    assert gateway.stats == {}  # rejected before reaching a model


def test_custom_key_and_any_key() -> None:
    custom = MockGateway(api_key="sk-custom-key-000000", time_scale=0)
    assert custom.api_key == "sk-custom-key-000000"
    with client(custom, headers={"Authorization": "Bearer sk-custom-key-000000"}) as http:
        assert http.get("/models").status_code == 200
    with client(custom) as http:
        assert http.get("/models").status_code == 401

    anything = MockGateway(api_key=None, time_scale=0)
    assert anything.api_key == "test-key"  # something a client can send
    with client(anything, headers={"Authorization": "Bearer whatever"}) as http:
        assert http.get("/models").status_code == 200
    with client(anything, headers={}) as http:
        assert http.get("/models").status_code == 401


def test_request_log_redacts_the_key(gateway: MockGateway) -> None:
    headers = {"Authorization": "Bearer sk-live-abcdefghijklmnop", "X-Trace": "t-1"}
    custom = MockGateway(api_key=None, time_scale=0)
    with client(custom, headers=headers) as http:
        http.post("/chat/completions", json=chat(stream=True))
    [seen] = custom.requests
    assert seen.headers["authorization"] == "Bearer sk-...mnop"
    assert seen.headers["x-trace"] == "t-1"
    assert seen.method == "POST"
    assert seen.path == "/v1/chat/completions"
    assert seen.json["messages"][0]["content"] == "Hello there, gateway!"
    assert seen.stream is True
    assert seen.status == 200
    assert "abcdefghijklmnop" not in repr(custom.requests)


def test_every_response_has_a_distinct_request_id(http: httpx.Client) -> None:
    ids = [
        http.get("/models").headers["x-request-id"],
        http.get("/models/none/such").headers["x-request-id"],
        http.post("/chat/completions", json=chat()).headers["x-request-id"],
        http.post("/chat/completions", json=chat(stream=True)).headers["x-request-id"],
        http.post("/embeddings", json={}).headers["x-request-id"],
    ]
    assert len(set(ids)) == len(ids)
    assert all(request_id.startswith("req_") for request_id in ids)
