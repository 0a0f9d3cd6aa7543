"""Serving details: port conflicts, stopping mid-stream, xroute clients over loopback, capacity."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

import xroute
from xroute.testing import MockGateway, ModelScript, _capacity

MODEL = "openai/gpt-4o-mini"
AUTH = {"Authorization": "Bearer test-key"}


def test_a_taken_port_fails_fast() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        gateway = MockGateway()
        with pytest.raises(OSError, match="in use"), gateway.serve(port=port):
            pass  # pragma: no cover
    assert gateway.base_url == "https://xroute.mock/v1"
    with gateway.serve() as url:  # and it can serve afterwards
        assert httpx.get(f"{url}/models", headers=AUTH).status_code == 200


def test_stopping_ends_a_slow_stream_promptly() -> None:
    slow = ModelScript(latency=0.0, jitter=0.0, time_to_first_token=30.0)
    gateway = MockGateway(scripts={MODEL: slow})
    seen: list[str] = []
    errors: list[Exception] = []

    def read(url: str) -> None:
        body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        try:
            with httpx.stream(
                "POST", f"{url}/chat/completions", json=body, headers=AUTH, timeout=60
            ) as response:
                seen.extend(line for line in response.iter_lines() if line)
        except httpx.TransportError as error:
            errors.append(error)

    with gateway.serve() as url:
        reader = threading.Thread(target=read, args=(url,))
        reader.start()
        while not gateway.requests:
            time.sleep(0.01)
        time.sleep(0.05)
        start = time.monotonic()
    assert time.monotonic() - start < 2.0
    reader.join(5)
    assert len(seen) == 1  # the role chunk, then the connection was dropped
    assert len(errors) == 1


def test_xroute_client_over_loopback() -> None:
    gateway = MockGateway(time_scale=0)
    with gateway.serve() as url, gateway.client() as client:
        assert isinstance(client, xroute.XRoute)
        gateway.fail_next(MODEL, "reset")
        reply = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "over TCP"}]
        )
        assert gateway.base_url == url
    assert '"over TCP"' in (reply.choices[0].message.content or "")
    assert gateway.stats_for(MODEL).failures == 1


@pytest.mark.parametrize("client", ["httpx", "raw"])
def test_capacity_script_runs(client: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--where", "thread", "--client", client, "--concurrency", "4"]
    _capacity.main([*argv, "--requests", "60", "--streams", "8"])
    out = capsys.readouterr().out
    assert f"plain: 60 requests, 4 concurrent ({client}):" in out
    assert f"streamed: 8 streams, 4 concurrent ({client}):" in out
    assert " req/s" in out and " chunks/s" in out
