"""Argument checks and request building: bad input fails before any I/O, naming the argument."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from xroute import InvalidArgumentError, Timeout
from xroute._core.config import ClientConfig
from xroute._core.request import build_request, chat_call, embeddings_call, models_call
from xroute.types import ChatCompletionMessage

KEY = "xr-secret-0123456789abcdef"
MSGS = [{"role": "user", "content": "hi"}]


def _config(**kw: Any) -> ClientConfig:
    return ClientConfig.resolve(
        api_key=KEY,
        base_url="https://gw.example/v1",
        timeout=Timeout(),
        max_retries=2,
        default_headers=kw.get("default_headers"),
    )


def test_chat_body_passes_parameters_and_drops_none() -> None:
    call = chat_call(
        {"model": "m", "messages": MSGS, "temperature": 0.2, "top_p": None, "seed": 3},
        stream=False,
    )
    assert call.model == "m"
    assert call.body == {"messages": MSGS, "temperature": 0.2, "seed": 3}
    assert call.path == "chat/completions" and call.method == "POST" and not call.stream


def test_stream_and_extra_body_reach_the_wire() -> None:
    call = chat_call(
        {"model": "m", "messages": MSGS, "extra_body": {"provider": {"order": ["a"]}}},
        stream=True,
    )
    request = build_request(_config(), call, "m", timeout=Timeout().for_attempt(None))
    sent = json.loads(request.content)
    assert sent == {"model": "m", "messages": MSGS, "stream": True, "provider": {"order": ["a"]}}
    assert request.headers["accept"] == "text/event-stream"


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"model": "m"}, "missing required argument.*'messages'"),
        ({"model": "m", "messages": "hi"}, "messages must be a list"),
        ({"model": "m", "messages": []}, "must not be empty"),
        ({"model": "m", "messages": [{"content": "x"}]}, r"messages\[0\] must be a dict"),
        ({"model": "m", "messages": MSGS, "temprature": 1}, "did you mean 'temperature'"),
        ({"model": "m", "messages": MSGS, "temperature": "hot"}, "temperature must be"),
        ({"model": "m", "messages": MSGS, "max_tokens": True}, "max_tokens must be int"),
        ({"model": "m", "messages": MSGS, "max_tokens": 1.5}, "max_tokens must be int"),
        ({"model": "m", "messages": MSGS, "tools": {"a": 1}}, "tools must be"),
        ({"model": "m", "messages": MSGS, "extra_body": [1]}, "extra_body"),
        ({"model": "m", "messages": MSGS, "extra_headers": {"a": 1}}, "extra_headers"),
        ({"model": "m", "messages": MSGS, "timeout": "soon"}, "timeout"),
    ],
)
def test_bad_chat_arguments(params: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        chat_call(params, stream=False)


def test_model_may_be_left_to_the_client_default() -> None:
    call = chat_call({"messages": MSGS}, stream=False)
    assert call.model is None
    assert call.routed
    assert "model" not in (call.body or {})
    assert embeddings_call({"input": "x"}).routed
    assert not models_call().routed


def test_stream_must_be_a_bool() -> None:
    with pytest.raises(InvalidArgumentError, match="stream"):
        chat_call({"model": "m", "messages": MSGS}, stream="yes")


def test_invalid_argument_is_also_a_type_error() -> None:
    with pytest.raises(TypeError):
        chat_call({"model": "m"}, stream=False)


def test_messages_accept_response_objects_and_multimodal_parts() -> None:
    previous = ChatCompletionMessage(content="earlier answer")
    parts = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    tool = {"role": "tool", "tool_call_id": "c1", "content": "42"}
    call = chat_call(
        {"model": "m", "messages": [previous, {"role": "user", "content": parts}, tool]},
        stream=False,
    )
    request = build_request(_config(), call, "m", timeout={})
    sent = json.loads(request.content)["messages"]
    assert sent[0] == {"role": "assistant", "content": "earlier answer"}
    assert sent[1]["content"][1]["image_url"]["url"].startswith("data:image/png")
    assert sent[2] == tool


def test_unserialisable_body_is_a_typed_error() -> None:
    call = chat_call(
        {"model": "m", "messages": [{"role": "user", "content": object()}]}, stream=False
    )
    with pytest.raises(InvalidArgumentError, match="not JSON serialisable"):
        build_request(_config(), call, "m", timeout={})


def test_headers_query_and_url() -> None:
    call = chat_call(
        {
            "model": "m",
            "messages": MSGS,
            "extra_headers": {"X-Trace": "t1"},
            "extra_query": {"debug": "1"},
        },
        stream=False,
    )
    request = build_request(
        _config(default_headers={"X-App": "a"}), call, "m", timeout={"read": 3.0}
    )
    assert str(request.url) == "https://gw.example/v1/chat/completions?debug=1"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-app"] == "a" and request.headers["x-trace"] == "t1"
    assert request.headers["user-agent"].startswith("xroute-python/")
    assert request.extensions["timeout"] == {"read": 3.0}
    assert KEY not in str(request) and KEY not in repr(request.headers)


def test_embeddings_default_to_float_and_check_input() -> None:
    call = embeddings_call({"model": "e", "input": ["a", "b"], "dimensions": 8})
    assert call.body == {"input": ["a", "b"], "dimensions": 8, "encoding_format": "float"}
    with pytest.raises(InvalidArgumentError, match="input must be"):
        embeddings_call({"model": "e", "input": []})
    with pytest.raises(InvalidArgumentError, match="dimensions must be int"):
        embeddings_call({"model": "e", "input": "a", "dimensions": "8"})


def test_models_calls() -> None:
    assert models_call().path == "models"
    assert models_call("openai/gpt-4o").path == "models/openai/gpt-4o"
    with pytest.raises(InvalidArgumentError):
        models_call("")


def test_pydantic_response_format_is_serialised() -> None:
    class Fmt(BaseModel):
        type: str = "json_object"

    call = chat_call({"model": "m", "messages": MSGS, "response_format": Fmt()}, stream=False)
    assert json.loads(build_request(_config(), call, "m", timeout={}).content)[
        "response_format"
    ] == {"type": "json_object"}
