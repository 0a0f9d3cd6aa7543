"""Adapter details that need no socket: the ASGI lifespan, the CLI wiring, xroute clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

import xroute
from xroute.testing import MockGateway, _cli

MODEL = "openai/gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Hello from XRoute"}]


@pytest.mark.anyio
async def test_asgi_app_acknowledges_lifespan_events(gateway: MockGateway) -> None:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(dict(message))

    with anyio.fail_after(1):
        await gateway.asgi_app()({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert gateway.asgi_app() is gateway.asgi_app()


@pytest.mark.anyio
async def test_asgi_app_stops_quietly_when_the_client_left_early(gateway: MockGateway) -> None:
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:  # pragma: no cover - must not be called
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}
    await gateway.asgi_app()(scope, receive, send)
    assert sent == []
    assert gateway.requests == []


def test_cli_main_builds_the_gateway_and_prints_how_to_use_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: list[tuple[MockGateway, str, int]] = []

    def fake_serve_forever(
        self: MockGateway, host: str, port: int, *, on_ready: Callable[[str], None]
    ) -> None:
        served.append((self, host, port))
        on_ready(f"http://{host}:{port}/v1")
        raise KeyboardInterrupt  # what uvicorn re-raises after a Ctrl-C shutdown

    monkeypatch.setattr(MockGateway, "serve_forever", fake_serve_forever)
    assert _cli.main(["--port", "9999", "--seed", "4", "--any-key", "--time-scale", "0.5"]) == 0
    [(gateway, host, port)] = served
    assert (host, port, gateway.seed, gateway.time_scale) == ("127.0.0.1", 9999, 4, 0.5)
    out = capsys.readouterr().out
    assert out.startswith("xroute mock gateway on http://127.0.0.1:9999/v1 (seed 4, any key")
    assert "curl http://127.0.0.1:9999/v1/chat/completions" in out
    assert "Authorization: Bearer test-key" in out


def test_cli_rejects_a_negative_time_scale(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _cli.main(["--time-scale", "-1"])
    assert exit_info.value.code == 2
    assert "--time-scale must be >= 0" in capsys.readouterr().err


def test_client_in_process(gateway: MockGateway) -> None:
    with gateway.client(max_retries=1) as client:
        assert isinstance(client, xroute.XRoute)
        gateway.fail_next(MODEL, "server_error")
        reply = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert '"Hello from XRoute"' in (reply.choices[0].message.content or "")
    stats = gateway.stats_for(MODEL)
    assert (stats.requests, stats.failures) == (2, 1)  # the client retried the 500


@pytest.mark.anyio
async def test_async_client_in_process(gateway: MockGateway) -> None:
    async with gateway.async_client() as client:
        assert isinstance(client, xroute.AsyncXRoute)
        reply = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert reply.usage is not None
    assert reply.usage.total_tokens == gateway.stats_for(MODEL).prompt_tokens + (
        gateway.stats_for(MODEL).completion_tokens
    )
