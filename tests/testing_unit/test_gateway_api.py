"""MockGateway's own API: scripts, models, stats, the request log, reset, validation."""

from __future__ import annotations

import dataclasses

import pytest
from gateway_support import MODEL, chat, client

from xroute.testing import MockGateway, ModelScript, ModelStats, Outage


def test_script_reads_and_updates(gateway: MockGateway) -> None:
    default = gateway.script(MODEL)
    assert isinstance(default, ModelScript)
    assert default.failure is None
    updated = gateway.script(MODEL, latency=0.5, failure="unavailable", failure_rate=0.5)
    assert (updated.latency, updated.failure, updated.failure_rate) == (0.5, "unavailable", 0.5)
    assert updated.tokens_per_second == default.tokens_per_second  # other fields kept
    assert gateway.script(MODEL) == updated
    with pytest.raises(TypeError):
        gateway.script(MODEL, no_such_field=1)


def test_unknown_models_raise_with_a_suggestion(gateway: MockGateway) -> None:
    with pytest.raises(KeyError, match="did you mean 'openai/gpt-4o'"):
        gateway.script("openai/gpt4o", failure="unavailable")
    with pytest.raises(KeyError, match="add_model"):
        gateway.set_script("zzz/unknown", ModelScript())
    with pytest.raises(KeyError):
        gateway.fail_next("zzz/unknown")
    assert "zzz/unknown" not in gateway.models


def test_add_model_serves_it_with_default_facts(gateway: MockGateway) -> None:
    gateway.add_model("acme/house-model", ModelScript(reply="hi"))
    assert gateway.models[-1] == "acme/house-model"
    with client(gateway) as http:
        entry = http.get("/models/acme/house-model").json()
        answer = http.post("/chat/completions", json=chat(model="acme/house-model")).json()
    assert entry["context_length"] == 8192
    assert (entry["pricing"]["prompt"], entry["pricing"]["completion"]) == ("0.000001", "0.000002")
    assert answer["choices"][0]["message"]["content"] == "hi"
    assert answer["usage"]["cost"] == pytest.approx(
        answer["usage"]["prompt_tokens"] * 1e-6 + answer["usage"]["completion_tokens"] * 2e-6
    )


def test_set_script_replaces_the_whole_script(gateway: MockGateway) -> None:
    gateway.script(MODEL, reply="old", latency=3.0)
    gateway.set_script(MODEL, ModelScript(reply="new"))
    assert gateway.script(MODEL) == ModelScript(reply="new")


def test_stats_and_requests_for(gateway: MockGateway) -> None:
    with client(gateway) as http:
        http.post("/chat/completions", json=chat())
        http.post("/chat/completions", json=chat(stream=True))
        http.post("/chat/completions", json=chat(model="openai/gpt-4o"))
        http.get("/models")
    stats = gateway.stats
    assert set(stats) == {MODEL, "openai/gpt-4o"}
    mini = stats[MODEL]
    assert (mini.requests, mini.streams, mini.failures, mini.rejected) == (2, 1, 0, 0)
    assert mini.prompt_tokens == 2 * 11
    assert mini.completion_tokens > 20
    assert mini.cost_usd == pytest.approx(
        mini.prompt_tokens * 0.00000015 + mini.completion_tokens * 0.0000006
    )
    assert gateway.stats_for("anthropic/claude-3-haiku") == ModelStats(
        model="anthropic/claude-3-haiku"
    )
    assert [r.stream for r in gateway.requests_for(MODEL)] == [False, True]
    assert [r.path for r in gateway.requests][-1] == "/v1/models"
    assert gateway.requests[-1].model is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        mini.requests = 0  # type: ignore[misc]


def test_reset_restores_construction_state() -> None:
    script = ModelScript(reply="from constructor")
    gateway = MockGateway(time_scale=0, scripts={MODEL: script, "acme/x": ModelScript()})
    gateway.script(MODEL, reply="changed")
    gateway.add_model("acme/later")
    gateway.fail_next(MODEL, "server_error")
    gateway.time_scale = 2.0
    with client(gateway) as http:
        assert http.post("/chat/completions", json=chat()).status_code == 500
    gateway.reset()
    assert gateway.script(MODEL) == script
    assert "acme/x" in gateway.models and "acme/later" not in gateway.models
    assert gateway.time_scale == 0
    assert gateway.stats == {} and gateway.requests == []
    with client(gateway) as http:
        answer = http.post("/chat/completions", json=chat()).json()
        assert answer["choices"][0]["message"]["content"] == "from constructor"
        assert http.get("/models/acme/later").status_code == 404


def test_request_log_is_bounded() -> None:
    gateway = MockGateway(time_scale=0, max_logged_requests=3)
    with client(gateway) as http:
        for index in range(5):
            http.post("/chat/completions", json=chat(f"message {index}"))
    assert [r.json["messages"][0]["content"] for r in gateway.requests] == [
        "message 2",
        "message 3",
        "message 4",
    ]
    assert gateway.stats_for(MODEL).requests == 5  # counters are not bounded


def test_base_url_repr_and_constructor_checks(gateway: MockGateway) -> None:
    assert gateway.base_url == "https://xroute.mock/v1"
    assert repr(gateway) == "<MockGateway seed=0 in process>"
    assert MockGateway(seed=5).seed == 5
    with pytest.raises(ValueError, match="time_scale"):
        MockGateway(time_scale=-1)
    with pytest.raises(ValueError, match="time_scale"):
        gateway.time_scale = float("nan")
    with pytest.raises(ValueError, match="api_key"):
        MockGateway(api_key="")
    with pytest.raises(ValueError, match="failure kind"):
        gateway.fail_next(MODEL, "explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="count"):
        gateway.fail_next(MODEL, count=-1)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"latency": -0.1}, "latency"),
        ({"jitter": float("nan")}, "jitter"),
        ({"tokens_per_second": 0}, "tokens_per_second"),
        ({"failure_rate": 1.5}, "failure_rate"),
        ({"failure": "boom"}, "failure kind"),
        ({"outages": [Outage(from_request=1)]}, "tuple"),
        ({"context_length": 0}, "context_length"),
        ({"prompt_usd_per_token": -1.0}, "prompt_usd_per_token"),
        ({"completion_usd_per_token": float("inf")}, "completion_usd_per_token"),
    ],
)
def test_model_script_rejects_bad_values(fields: dict[str, object], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        ModelScript(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "at least one bound"),
        ({"from_request": 5, "until_request": 5}, "until_request"),
        ({"from_second": 2.0, "until_second": 1.0}, "until_second"),
        ({"from_request": 1, "failure": "nope"}, "failure kind"),
    ],
)
def test_outage_rejects_bad_windows(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Outage(**fields)  # type: ignore[arg-type]


def test_outage_covers_half_open_windows() -> None:
    window = Outage(from_request=3, until_request=5)
    assert [window.covers(n, 0.0) for n in range(1, 7)] == [False, False, True, True, False, False]
    timed = Outage(until_second=1.0)
    assert (timed.covers(100, 0.5), timed.covers(1, 1.0)) == (True, False)
