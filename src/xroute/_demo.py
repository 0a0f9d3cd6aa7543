"""`python -m xroute demo`: the SDK's main job end to end, on a mock gateway over loopback.

Discover the catalog, route to the cheapest model that fits, stream an answer, survive a
failing model through a fallback chain, and show what each call cost. With `--real` (and
`XROUTE_API_KEY` set) the same steps run against the real endpoint instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TextIO

from ._sync._client import XRoute
from .routing import Cheapest
from .types.chat import ChatCompletionMessageParam

QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "In two sentences: why route LLM calls across models?"}
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@contextlib.contextmanager
def client_from_environment(*, mock: bool) -> Iterator[XRoute]:
    """A client for the command line: a built-in mock gateway, or the configured endpoint."""
    if not mock:
        with XRoute() as client:
            yield client
        return
    from .testing import MockGateway

    gateway = MockGateway(seed=42)
    with gateway.serve() as url, XRoute(api_key=gateway.api_key, base_url=url) as client:
        yield client


def _section(out: TextIO, title: str) -> None:
    out.write(f"\n\033[1m== {title}\033[0m\n" if out.isatty() else f"\n== {title}\n")


def run_demo(*, real: bool = False, out: TextIO | None = None) -> int:
    """Run the demo and return the exit code."""
    out = out or sys.stdout
    if real and not os.environ.get("XROUTE_API_KEY"):
        out.write("--real needs XROUTE_API_KEY (and optionally XROUTE_BASE_URL) to be set\n")
        return 2
    if real:
        with XRoute() as client:
            _steps(client, out, broken="xroute/no-such-model", streamer=None)
        return 0
    from .testing import MockGateway

    gateway = MockGateway(seed=42)
    # A model that streams at a readable pace, and one that is down for the fallback step.
    gateway.script("anthropic/claude-3.5-sonnet", tokens_per_second=60.0)
    gateway.script("openai/gpt-4o", failure="unavailable")
    out.write(
        "xroute demo: a mock XRoute gateway on loopback (no key, no network); the real SDK "
        "client talks to it over HTTP.\n"
    )
    if os.environ.get("XROUTE_API_KEY"):
        out.write("XROUTE_API_KEY is set: `python -m xroute demo --real` uses the real endpoint.\n")
    with gateway.serve() as url, XRoute(api_key=gateway.api_key, base_url=url) as client:
        out.write(f"gateway: {url}\n")
        _steps(client, out, broken="openai/gpt-4o", streamer="anthropic/claude-3.5-sonnet")
    return 0


def _steps(client: XRoute, out: TextIO, *, broken: str, streamer: str | None) -> None:
    _section(out, "1. Discover the catalog: prices per million tokens, context, capabilities")
    catalog = client.models.list()
    out.write(f"{catalog!r}\n{catalog.sort_by('price').to_text()}\n")

    _section(out, "2. Route to the cheapest model that can call tools and has 32k context")
    policy = Cheapest(requires=["tools"], min_context=32_000)
    reply = client.chat.completions.create(model=policy, messages=QUESTION, tools=TOOLS)
    message = reply.choices[0].message
    calls = message.tool_calls or []
    answer = (
        f"{calls[0].function.name}({calls[0].function.arguments})" if calls else message.content
    )
    out.write(f"{policy!r} chose {reply.route.model if reply.route else '?'}\n")
    out.write(f"answer: {answer}\n")
    out.write(f"route: {reply.route!r}\n")

    _section(out, f"3. Stream an answer as it arrives ({streamer or 'cheapest model'})")
    with client.chat.completions.create(
        model=streamer or Cheapest(),
        messages=QUESTION,
        stream=True,
        stream_options={"include_usage": True},
    ) as stream:
        for text in stream.text_stream:
            out.write(text)
            out.flush()
    out.write(f"\nroute: {stream.route!r}\n")

    _section(out, f"4. Survive a failing model: [{broken!r}, 'anthropic/claude-3-haiku']")
    reply = client.chat.completions.create(
        model=[broken, "anthropic/claude-3-haiku"], messages=QUESTION, max_tokens=40
    )
    route = reply.route
    assert route is not None
    for attempt in route.attempts:
        out.write(f"  attempt: {attempt.describe()}\n")
    out.write(f"served by {route.model}: {reply.choices[0].message.content}\n")

    _section(out, "5. What it cost, per model (from usage × catalog price, or the server's cost)")
    out.write(client.usage.to_text() + "\n")
