"""POST /chat/completions without streaming: answers, usage, cost, options, validation."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import httpx
import pytest
from gateway_support import MODEL, TIME_TOOL, WEATHER_TOOL, chat, client

from xroute.testing import MockGateway, ModelScript


def _tokens(text: str) -> int:
    return len(re.findall(r"\w+|[^\w\s]", text))


def test_answer_echoes_the_last_user_message(http: httpx.Client) -> None:
    response = http.post("/chat/completions", json=chat("What is the capital of France?"))
    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")
    completion = response.json()
    assert completion["object"] == "chat.completion"
    assert completion["id"].startswith("chatcmpl-")
    assert completion["model"] == MODEL
    [choice] = completion["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert '"What is the capital of France?"' in choice["message"]["content"]
    assert "OpenAI: GPT-4o-mini" in choice["message"]["content"]


def test_same_seed_same_bytes_other_seed_other_answer() -> None:
    def answer(seed: int, prompt: str = "Tell me a story") -> bytes:
        with client(MockGateway(seed=seed, time_scale=0)) as http:
            return http.post("/chat/completions", json=chat(prompt)).content

    assert answer(7) == answer(7)
    assert answer(7) != answer(8)
    assert answer(7) != answer(7, "Tell me another story")


def test_answer_depends_on_prompt_not_on_request_order(http: httpx.Client) -> None:
    first = http.post("/chat/completions", json=chat("one")).json()
    http.post("/chat/completions", json=chat("two"))
    again = http.post("/chat/completions", json=chat("one")).json()
    assert first["choices"] == again["choices"]
    assert first["id"] != again["id"]  # ids count requests, answers do not


def test_usage_counts_and_cost_follow_the_documented_rule(http: httpx.Client) -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hello there, gateway!"},
    ]
    completion = http.post("/chat/completions", json=chat(messages=messages)).json()
    usage = completion["usage"]
    # 3 per request + 3 per message + words and punctuation marks.
    assert usage["prompt_tokens"] == 3 + (3 + 4) + (3 + 5)
    content = completion["choices"][0]["message"]["content"]
    assert usage["completion_tokens"] == _tokens(content)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    pricing = http.get(f"/models/{MODEL}").json()["pricing"]
    expected = usage["prompt_tokens"] * float(pricing["prompt"]) + usage[
        "completion_tokens"
    ] * float(pricing["completion"])
    assert usage["cost"] == pytest.approx(expected, rel=1e-12)
    assert Decimal(str(usage["cost"])) > 0


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_truncates_with_finish_reason_length(http: httpx.Client, field: str) -> None:
    full = http.post("/chat/completions", json=chat()).json()
    cut = http.post("/chat/completions", json=chat(**{field: 5})).json()
    assert cut["choices"][0]["finish_reason"] == "length"
    assert cut["usage"]["completion_tokens"] == 5
    text = cut["choices"][0]["message"]["content"]
    assert full["choices"][0]["message"]["content"].startswith(text)
    assert _tokens(text) == 5


def test_max_tokens_above_answer_length_changes_nothing(http: httpx.Client) -> None:
    full = http.post("/chat/completions", json=chat()).json()
    roomy = http.post("/chat/completions", json=chat(max_tokens=1000)).json()
    assert roomy["choices"] == full["choices"]


def test_stop_sequence_cuts_the_answer(http: httpx.Client) -> None:
    cut = http.post("/chat/completions", json=chat(stop=["mock"])).json()
    content = cut["choices"][0]["message"]["content"]
    assert "mock" not in content
    assert content.startswith("This is OpenAI: GPT-4o-mini, a")
    assert cut["choices"][0]["finish_reason"] == "stop"


def test_n_gives_several_distinct_choices(http: httpx.Client) -> None:
    completion = http.post("/chat/completions", json=chat(n=3)).json()
    choices = completion["choices"]
    assert [choice["index"] for choice in choices] == [0, 1, 2]
    assert len({choice["message"]["content"] for choice in choices}) == 3
    assert completion["usage"]["completion_tokens"] == sum(
        _tokens(choice["message"]["content"]) for choice in choices
    )


def test_json_object_response_format(http: httpx.Client) -> None:
    body = chat("List three colours", response_format={"type": "json_object"})
    content = http.post("/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    parsed = json.loads(content)
    assert parsed["model"] == MODEL
    assert "List three colours" in parsed["answer"]


def test_json_schema_response_format_fits_the_schema(http: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 18, "maximum": 99},
            "tags": {"type": "array", "items": {"type": "string"}},
            "score": {"type": "number"},
            "ok": {"type": "boolean"},
            "kind": {"enum": ["a", "b"]},
            "when": {"type": "string", "format": "date"},
            "nested": {"type": "object", "properties": {"x": {"type": ["null", "integer"]}}},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "string"}]},
        },
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}
    completion = http.post("/chat/completions", json=chat(response_format=fmt)).json()
    value = json.loads(completion["choices"][0]["message"]["content"])
    assert set(value) == set(schema["properties"])
    assert isinstance(value["name"], str)
    assert isinstance(value["age"], int) and 18 <= value["age"] <= 99
    assert isinstance(value["tags"], list) and all(isinstance(t, str) for t in value["tags"])
    assert isinstance(value["score"], float)
    assert isinstance(value["ok"], bool)
    assert value["kind"] in ("a", "b")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value["when"])
    assert isinstance(value["nested"]["x"], int)
    assert value["maybe"] is None


def test_tool_call_with_arguments_from_the_schema(http: httpx.Client) -> None:
    body = chat("What's the weather in Paris?", tools=[WEATHER_TOOL])
    completion = http.post("/chat/completions", json=body).json()
    [choice] = completion["choices"]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    [call] = message["tool_calls"]
    assert call["type"] == "function"
    assert call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    arguments = json.loads(call["function"]["arguments"])
    assert set(arguments) == {"city", "unit", "days"}
    assert isinstance(arguments["city"], str)
    assert arguments["unit"] in ("celsius", "fahrenheit")
    assert 1 <= arguments["days"] <= 7


def test_tool_named_by_the_user_is_called_and_parallel_calls(http: httpx.Client) -> None:
    body = chat("Use get_time please", tools=[WEATHER_TOOL, TIME_TOOL])
    calls = http.post("/chat/completions", json=body).json()["choices"][0]["message"]
    assert [c["function"]["name"] for c in calls["tool_calls"]] == ["get_time"]
    assert calls["tool_calls"][0]["function"]["arguments"] == "{}"

    both = chat("Call get weather and get_time", tools=[WEATHER_TOOL, TIME_TOOL])
    message = http.post("/chat/completions", json=both).json()["choices"][0]["message"]
    assert [c["function"]["name"] for c in message["tool_calls"]] == ["get_weather", "get_time"]
    assert len({c["id"] for c in message["tool_calls"]}) == 2

    single = {**both, "parallel_tool_calls": False}
    message = http.post("/chat/completions", json=single).json()["choices"][0]["message"]
    assert [c["function"]["name"] for c in message["tool_calls"]] == ["get_weather"]


def test_tool_choice_none_forced_and_after_a_tool_result(http: httpx.Client) -> None:
    none = chat("weather?", tools=[WEATHER_TOOL], tool_choice="none")
    assert http.post("/chat/completions", json=none).json()["choices"][0]["finish_reason"] == "stop"

    forced_choice = {"type": "function", "function": {"name": "get_time"}}
    forced = chat("weather?", tools=[WEATHER_TOOL, TIME_TOOL], tool_choice=forced_choice)
    message = http.post("/chat/completions", json=forced).json()["choices"][0]["message"]
    assert message["tool_calls"][0]["function"]["name"] == "get_time"

    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }
    loop = chat(
        messages=[
            {"role": "user", "content": "weather in Oslo?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"},
        ],
        tools=[WEATHER_TOOL],
    )
    choice = http.post("/chat/completions", json=loop).json()["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert 'The tool returned: "Sunny, 21 C"' in choice["message"]["content"]
    required = {**loop, "tool_choice": "required"}
    assert http.post("/chat/completions", json=required).json()["choices"][0]["finish_reason"] == (
        "tool_calls"
    )


def test_tool_call_cut_by_max_tokens(http: httpx.Client) -> None:
    body = chat("weather?", tools=[WEATHER_TOOL], max_tokens=4)
    completion = http.post("/chat/completions", json=body).json()
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "length"
    assert completion["usage"]["completion_tokens"] == 4
    arguments = choice["message"]["tool_calls"][0]["function"]["arguments"]
    assert _tokens(arguments) == 3  # one token for the name, three of arguments


def test_scripted_reply() -> None:
    gateway = MockGateway(time_scale=0, scripts={MODEL: ModelScript(reply="Paris.")})
    with client(gateway) as http:
        completion = http.post("/chat/completions", json=chat("Capital of France?")).json()
    assert completion["choices"][0]["message"]["content"] == "Paris."
    assert completion["usage"]["completion_tokens"] == 2


def test_images_need_a_vision_model(http: httpx.Client) -> None:
    content = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    seen = http.post("/chat/completions", json=chat(content, model="openai/gpt-4o"))
    assert seen.status_code == 200
    assert seen.json()["usage"]["prompt_tokens"] == 3 + 3 + 6 + 85
    refused = http.post("/chat/completions", json=chat(content, model="deepseek/deepseek-chat"))
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "unsupported_modality"


def test_context_length_exceeded(http: httpx.Client, gateway: MockGateway) -> None:
    small = "meta-llama/llama-3-70b"  # 8192 tokens
    long_prompt = "word " * 8000
    fits = http.post("/chat/completions", json=chat(long_prompt, model=small))
    assert fits.status_code == 200
    over = http.post("/chat/completions", json=chat(long_prompt, model=small, max_tokens=500))
    assert over.status_code == 400
    error = over.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert error["type"] == "invalid_request_error"
    assert error["message"] == (
        "This model's maximum context length is 8192 tokens. However, you requested 8506 "
        "tokens (8006 in the messages, 500 in the completion). Please reduce the length of the "
        "messages or completion."
    )
    gateway.script(small, context_length=100)
    prompt_only = http.post("/chat/completions", json=chat("word " * 200, model=small))
    assert "your messages resulted in 206 tokens" in prompt_only.json()["error"]["message"]
    assert gateway.stats_for(small).rejected == 2
    assert gateway.stats_for(small).requests == 3


def test_unknown_model_is_404(http: httpx.Client, gateway: MockGateway) -> None:
    response = http.post("/chat/completions", json=chat(model="openai/gpt-5-turbo-max"))
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "The model `openai/gpt-5-turbo-max` does not exist or you do not have "
            "access to it.",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
    assert gateway.stats == {}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "you must provide a model"),
        ({"model": MODEL}, "'messages' must be a non-empty array"),
        ({"model": MODEL, "messages": []}, "'messages' must be a non-empty array"),
        ({"model": MODEL, "messages": [{"content": "x"}]}, "string 'role'"),
        ({**chat(), "n": 0}, "Invalid 'n'"),
        ({**chat(), "n": True}, "Invalid 'n'"),
        ({**chat(), "n": 129}, "at most 128"),
        ({**chat(), "max_tokens": -1}, "Invalid 'max_tokens'"),
        ({**chat(), "tools": [{"type": "function"}]}, "Invalid 'tools'"),
        ({**chat(), "tools": "get_weather"}, "Invalid 'tools'"),
        (
            {**chat(), "tools": [WEATHER_TOOL], "tool_choice": {"function": {"name": "x"}}},
            "no function named 'x'",
        ),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_bodies_are_400_in_openai_shape(
    http: httpx.Client, body: object, fragment: str
) -> None:
    response = http.post("/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert fragment in error["message"]
    assert error["type"] == "invalid_request_error"
    assert set(error) == {"message", "type", "param", "code"}


def test_malformed_json_is_400(http: httpx.Client, gateway: MockGateway) -> None:
    response = http.post("/chat/completions", content=b'{"model": ', headers={"x": "y"})
    assert response.status_code == 400
    assert "could not parse the JSON body" in response.json()["error"]["message"]
    assert gateway.requests[-1].json is None
    assert gateway.requests[-1].status == 400
