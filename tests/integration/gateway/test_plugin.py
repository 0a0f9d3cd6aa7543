"""The pytest plugin's fixtures, as a user's suite gets them through the entry point."""

from __future__ import annotations

import httpx

from xroute.testing import MockGateway

MODEL = "openai/gpt-4o-mini"


def _auth(gateway: MockGateway) -> dict[str, str]:
    return {"Authorization": f"Bearer {gateway.api_key}"}


def test_xroute_gateway_is_served_on_loopback(xroute_gateway: MockGateway) -> None:
    assert xroute_gateway.base_url.startswith("http://127.0.0.1:")
    assert xroute_gateway.api_key == "test-key"
    response = httpx.get(f"{xroute_gateway.base_url}/models", headers=_auth(xroute_gateway))
    assert response.status_code == 200
    assert len(response.json()["data"]) >= 14


def test_xroute_gateway_state_changes_within_a_test(xroute_gateway: MockGateway) -> None:
    xroute_gateway.script(MODEL, failure="unavailable")
    xroute_gateway.time_scale = 0
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    url = f"{xroute_gateway.base_url}/chat/completions"
    assert httpx.post(url, json=body, headers=_auth(xroute_gateway)).status_code == 503
    assert xroute_gateway.stats_for(MODEL).failures == 1


def test_xroute_gateway_is_reset_between_tests(xroute_gateway: MockGateway) -> None:
    # Runs after the test above, which made MODEL fail: the fixture reset it.
    assert xroute_gateway.script(MODEL).failure is None
    assert xroute_gateway.stats == {}
    assert xroute_gateway.requests == []
    assert xroute_gateway.time_scale == 1.0


def test_xroute_gateway_inprocess(xroute_gateway_inprocess: MockGateway) -> None:
    gateway = xroute_gateway_inprocess
    assert gateway.time_scale == 0
    with httpx.Client(
        transport=gateway.transport(), base_url=gateway.base_url, headers=_auth(gateway)
    ) as http:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
        assert http.post("/chat/completions", json=body).status_code == 200
    assert gateway.stats_for(MODEL).requests == 1
