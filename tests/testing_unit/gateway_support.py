"""Helpers shared by the mock gateway's in-process tests."""

from __future__ import annotations

import json
from typing import Any

import httpx

from xroute.testing import MockGateway

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODEL = "openai/gpt-4o-mini"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}


def chat(content: str = "Hello there, gateway!", **extra: Any) -> dict[str, Any]:
    """A chat completion body for MODEL (override with model=...)."""
    return {"model": MODEL, "messages": [{"role": "user", "content": content}], **extra}


def client(gateway: MockGateway, **kwargs: Any) -> httpx.Client:
    kwargs.setdefault("headers", AUTH)
    return httpx.Client(transport=gateway.transport(), base_url=gateway.base_url, **kwargs)


def async_client(gateway: MockGateway, **kwargs: Any) -> httpx.AsyncClient:
    kwargs.setdefault("headers", AUTH)
    return httpx.AsyncClient(
        transport=gateway.async_transport(), base_url=gateway.base_url, **kwargs
    )


def sse_payloads(raw: bytes) -> list[str]:
    """The data of each SSE event, checking the framing: `data: ...` events split by a blank
    line, nothing else."""
    text = raw.decode()
    assert text.endswith("\n\n"), text[-80:]
    events = text[:-2].split("\n\n")
    assert all(event.startswith("data: ") and "\n" not in event for event in events)
    return [event[len("data: ") :] for event in events]


def chunks(raw: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of a complete stream (which must end with [DONE])."""
    payloads = sse_payloads(raw)
    assert payloads[-1] == "[DONE]"
    return [json.loads(payload) for payload in payloads[:-1]]


def streamed_text(parsed: list[dict[str, Any]], index: int = 0) -> str:
    return "".join(
        choice["delta"].get("content") or ""
        for chunk in parsed
        for choice in chunk["choices"]
        if choice["index"] == index
    )
