"""xroute._jupyter: streaming into a notebook cell, and a completion as HTML.

The in-place redraw is checked here against a recording stand-in for IPython's display
machinery (the real kernel runs it in test_notebook.py); outside a kernel the text is printed.
"""

from __future__ import annotations

import itertools
import sys
import types
from typing import Any

import pytest

from xroute import ChatCompletion
from xroute._jupyter import adisplay_stream, completion_html, display_stream
from xroute.testing import MockGateway

MESSAGES = [{"role": "user", "content": "Tell me about lighthouses"}]
MODEL = "anthropic/claude-3-haiku"


class Handle:
    """What `display(obj, display_id=True)` returns: records every redraw."""

    def __init__(self, shown: list[Any]) -> None:
        self.shown = shown

    def update(self, obj: Any) -> None:
        self.shown.append(obj)


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Pretend to run in a Jupyter kernel; returns the list of objects drawn, in order."""
    shown: list[Any] = []
    shell = types.SimpleNamespace(kernel=object())
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell  # type: ignore[attr-defined]
    display_module = types.ModuleType("IPython.display")

    def display(obj: Any, *, display_id: bool = False) -> Handle:
        assert display_id is True  # an updatable display
        shown.append(obj)
        return Handle(shown)

    display_module.display = display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display_module)
    return shown


def _stream(gateway: MockGateway, **options: Any) -> Any:
    client = gateway.client()
    return client, client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        **options,
    )


def test_outside_a_kernel_the_text_is_printed(
    xroute_gateway_inprocess: MockGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    client, stream = _stream(xroute_gateway_inprocess)
    completion = display_stream(stream)
    out = capsys.readouterr().out
    text = completion.choices[0].message.content
    assert text
    assert out.startswith(text + "\n[anthropic/claude-3-haiku · $0.0000")
    assert completion.usage is not None
    assert f"{completion.usage.total_tokens} tokens]" in out
    assert stream.route.model == MODEL
    client.close()


def test_in_a_kernel_one_display_is_redrawn_in_place(
    xroute_gateway_inprocess: MockGateway, kernel: list[Any]
) -> None:
    client, stream = _stream(xroute_gateway_inprocess)
    completion = display_stream(stream, refresh_s=0)  # redraw on every piece
    text = completion.choices[0].message.content or ""
    # One draw per piece of text, growing, then the final one with the route.
    drawn = [obj.text for obj in kernel]
    assert len(drawn) >= 10
    assert all(a == b[: len(a)] for a, b in itertools.pairwise(drawn))
    assert drawn[-1] == text
    assert all(obj.footer == "streaming…" for obj in kernel[:-1])
    final = kernel[-1]
    assert final.footer.startswith("anthropic/claude-3-haiku · $0.0000")
    assert repr(final) == f"{text}\n[{final.footer}]"
    assert "anthropic/claude-3-haiku" in final._repr_html_()
    client.close()


def test_redraws_are_throttled(xroute_gateway_inprocess: MockGateway, kernel: list[Any]) -> None:
    client, stream = _stream(xroute_gateway_inprocess)
    display_stream(stream, refresh_s=3600)
    assert len(kernel) == 2  # the first piece, then the final state
    client.close()


def test_the_stream_is_closed_when_the_display_fails(
    xroute_gateway_inprocess: MockGateway, kernel: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, stream = _stream(xroute_gateway_inprocess)

    def interrupted(self: Any, obj: Any) -> None:
        raise KeyboardInterrupt  # the user stopped the cell

    monkeypatch.setattr(Handle, "update", interrupted)
    with pytest.raises(KeyboardInterrupt):
        display_stream(stream, refresh_s=0)
    assert client.route_state.snapshot(MODEL).in_flight == 0  # released, not leaked
    client.close()


@pytest.mark.anyio
async def test_async_streams_are_shown_the_same_way(
    xroute_gateway_inprocess: MockGateway, kernel: list[Any]
) -> None:
    async with xroute_gateway_inprocess.async_client() as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        completion = await adisplay_stream(stream, refresh_s=0)
    assert kernel[-1].text == completion.choices[0].message.content
    assert kernel[-1].footer.startswith("anthropic/claude-3-haiku · ")


def test_completion_html_puts_the_answer_first_and_escapes_it(
    xroute_gateway_inprocess: MockGateway,
) -> None:
    xroute_gateway_inprocess.script(MODEL, reply="<script>alert(1)</script> & more")
    with xroute_gateway_inprocess.client() as client:
        reply = client.chat.completions.create(model=["acme/gone", MODEL], messages=MESSAGES)
    shown = completion_html(reply)
    assert "<script>" not in shown
    answer = shown.index("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more")
    assert reply.route is not None and reply.route.cost_usd is not None
    footer = shown.index(f"{MODEL} · ${reply.route.cost_usd:.6f} · ")
    assert answer < footer
    assert "after 1 fallback ·" in shown
    assert f"{reply.usage.total_tokens} tokens" in shown  # type: ignore[union-attr]


def test_completion_html_shows_tool_calls_and_bare_completions(
    xroute_gateway_inprocess: MockGateway,
) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    with xroute_gateway_inprocess.client() as client:
        reply = client.chat.completions.create(model=MODEL, messages=MESSAGES, tools=tools)
    assert "get_weather({&quot;city&quot;:" in completion_html(reply)
    bare = ChatCompletion(model="m", choices=[])  # built by hand: no route, no choices
    assert completion_html(bare).endswith('">m</div></div>')
