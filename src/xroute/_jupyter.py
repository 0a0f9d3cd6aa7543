"""Notebooks: a streamed answer shown in its cell as it arrives, and a completion as HTML.

IPython is not a dependency: it is looked up when a stream is shown, and outside a Jupyter
kernel the text is printed as it arrives instead (a terminal cannot redraw a cell).

    stream = client.chat.completions.create(model="openai/gpt-4o", messages=m, stream=True)
    completion = display_stream(stream)          # the cell fills in as tokens arrive

    stream = await aclient.chat.completions.create(model="openai/gpt-4o", messages=m, stream=True)
    completion = await adisplay_stream(stream)
"""

from __future__ import annotations

import html
import importlib
import sys
import time
from collections.abc import Callable
from typing import Any

from ._async._stream import AsyncStream
from ._sync._stream import Stream
from .routing._report import RouteReport
from .types.chat import ChatCompletion, ChatCompletionChunk

__all__ = ["adisplay_stream", "completion_html", "display_stream"]

# Redrawing a cell is a message to the browser: one per token would flood a fast model's
# output channel, and the eye cannot follow more than ~20 redraws a second anyway.
DEFAULT_REFRESH_S = 0.05

_TEXT_STYLE = "white-space: pre-wrap; font-family: inherit; margin: 0 0 0.4em 0"
_FOOTER_STYLE = "color: #666; font-size: 0.9em"


def _route_line(route: RouteReport | None, usage: Any) -> str:
    """``model · $cost · latency · tokens`` for people; parts that are unknown are left out."""
    if route is None:
        return ""
    parts = [route.model]
    if route.cost_usd is not None:
        parts.append(f"${route.cost_usd:.6f}")
    parts.append(f"{route.latency_s:.2f} s")
    if route.fallbacks:
        parts.append(f"after {route.fallbacks} fallback{'s' if route.fallbacks > 1 else ''}")
    tokens = getattr(usage, "total_tokens", None)
    if tokens:
        parts.append(f"{tokens} tokens")
    return " · ".join(parts)


def _answer_text(completion: ChatCompletion) -> str:
    if not completion.choices:
        return ""
    message = completion.choices[0].message
    calls = "\n".join(
        f"{c.function.name}({c.function.arguments})" for c in message.tool_calls or []
    )
    return message.content or message.refusal or calls


def completion_html(completion: ChatCompletion) -> str:
    """A completion as HTML: the answer first, then model, cost, latency and tokens.

    The answer is the first choice's text (or its refusal, or its tool calls). Every string
    that came from the server is escaped.

    >>> from IPython.display import HTML  # doctest: +SKIP
    >>> HTML(completion_html(reply))  # doctest: +SKIP
    """
    answer = _answer_text(completion)
    line = _route_line(completion.route, completion.usage) or completion.model
    return _render(answer, line)


def _render(text: str, footer: str) -> str:
    shown = f'<div style="{_TEXT_STYLE}">{html.escape(text)}</div>'
    if footer:
        shown += f'<div style="{_FOOTER_STYLE}">{html.escape(footer)}</div>'
    return f"<div>{shown}</div>"


class _LiveAnswer:
    """What the cell shows while a stream runs: rich HTML, and the bare text elsewhere."""

    __slots__ = ("footer", "text")

    def __init__(self, text: str, footer: str) -> None:
        self.text = text
        self.footer = footer

    def __repr__(self) -> str:
        return self.text if not self.footer else f"{self.text}\n[{self.footer}]"

    def _repr_html_(self) -> str:
        return _render(self.text, self.footer)


class _Cell:
    """Redraws one display in a Jupyter cell, or prints deltas when there is no kernel."""

    def __init__(self, refresh_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._refresh_s = refresh_s
        self._clock = clock
        self._display = _kernel_display()
        self._handle: Any = None
        self._parts: list[str] = []
        self._drawn_at = -float("inf")

    def add(self, text: str) -> None:
        self._parts.append(text)
        if self._display is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        now = self._clock()
        if now - self._drawn_at >= self._refresh_s:
            self._draw(_LiveAnswer("".join(self._parts), "streaming…"))
            self._drawn_at = now

    def finish(self, footer: str) -> None:
        if self._display is None:
            sys.stdout.write("\n" if not footer else f"\n[{footer}]\n")
            sys.stdout.flush()
            return
        self._draw(_LiveAnswer("".join(self._parts), footer))

    def _draw(self, shown: _LiveAnswer) -> None:
        assert self._display is not None
        if self._handle is None:
            self._handle = self._display.display(shown, display_id=True)
        else:
            self._handle.update(shown)


def _kernel_display() -> Any | None:
    """`IPython.display` when running in a Jupyter kernel, else None.

    A terminal IPython also has a shell, but it prints every update anew instead of
    redrawing; only a kernel (which has `shell.kernel`) can update a cell in place.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    return importlib.import_module("IPython.display")


def _finish(cell: _Cell, route: object, completion: ChatCompletion) -> ChatCompletion:
    report = route if isinstance(route, RouteReport) else None
    cell.finish(_route_line(report, completion.usage))
    return completion


def display_stream(
    stream: Stream[ChatCompletionChunk], *, refresh_s: float = DEFAULT_REFRESH_S
) -> ChatCompletion:
    """Show a stream's text in the notebook cell as it arrives; return the whole completion.

    The cell is redrawn in place (at most every `refresh_s` seconds) and ends with the
    model, cost and latency of the call. Outside a Jupyter kernel the text is printed as it
    arrives. The stream is closed however this ends (an interrupt included).

    >>> stream = client.chat.completions.create(model=m, messages=msgs, stream=True)
    >>> completion = display_stream(stream)  # doctest: +SKIP
    """
    cell = _Cell(refresh_s)
    with stream:
        for text in stream.text_stream:
            cell.add(text)
        completion = stream.get_final_completion()
    return _finish(cell, stream.route, completion)


async def adisplay_stream(
    stream: AsyncStream[ChatCompletionChunk], *, refresh_s: float = DEFAULT_REFRESH_S
) -> ChatCompletion:
    """`display_stream` for an `AsyncStream`: ``await adisplay_stream(stream)``.

    >>> stream = await aclient.chat.completions.create(model=m, messages=msgs, stream=True)
    >>> completion = await adisplay_stream(stream)  # doctest: +SKIP
    """
    cell = _Cell(refresh_s)
    async with stream:
        async for text in stream.text_stream:
            cell.add(text)
        completion = await stream.get_final_completion()
    return _finish(cell, stream.route, completion)
