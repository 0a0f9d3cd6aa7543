"""A web backend: stream a routed completion to the browser as server-sent events (Starlette).

    pip install "xroute[web]"              # starlette and uvicorn
    python examples/web_backend.py         # then open http://127.0.0.1:8000

    GET /              a page that shows the answer as it arrives (EventSource)
    GET /chat?q=...    the SSE stream: one `data: {"text": ...}` event per piece of text, then
                       `event: done` with the model, cost and latency (or `event: failed`)
    GET /health        {"ok": true, "streams_open": n}

One `AsyncXRoute` serves the whole app: made at startup, closed at shutdown. Fallback happens
before the response starts (a stream falls back only until its first token), so a route that
fails outright is a plain 502, not a broken event stream. When the browser goes away
mid-answer, the upstream stream is closed at once: the model stops generating for nobody.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from xroute import AsyncStream, AsyncXRoute, ChatCompletionChunk, StreamError, XRouteError

MODEL = ["openai/gpt-4o-mini", "anthropic/claude-3-haiku"]  # a fallback chain
logger = logging.getLogger("web_backend")


def sse(data: object, event: str | None = None) -> str:
    """One server-sent event; JSON keeps newlines in the text from ending it early."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n"


async def relay(upstream: AsyncStream[ChatCompletionChunk]) -> AsyncGenerator[str, None]:
    """The events of one answer: its text as it arrives, then how it was routed."""
    try:
        async with upstream:
            async for text in upstream.text_stream:
                yield sse({"text": text})
    except StreamError as err:  # after the first token: no fallback, say what happened
        logger.warning("stream failed: %s", err)
        yield sse({"error": type(err).__name__, "received": len(err.partial_text)}, "failed")
        return
    route = upstream.route
    yield sse(
        {
            "model": getattr(route, "model", None),
            "cost_usd": getattr(route, "cost_usd", None),
            "latency_s": getattr(route, "latency_s", None),
        },
        "done",
    )


class RelayResponse(StreamingResponse):
    """An event stream relayed from an upstream `AsyncStream`, which it always closes."""

    def __init__(self, upstream: AsyncStream[ChatCompletionChunk], gauge: dict[str, int]) -> None:
        self.events = relay(upstream)
        super().__init__(
            self.events,
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )
        self.upstream = upstream
        self.gauge = gauge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.gauge["streams_open"] += 1
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Starlette cancels the body when the client disconnects, and `relay` closes the
            # stream on its way out. Closing both here as well covers a body left waiting at
            # a `yield` and servers that report a disconnect only by failing the next write.
            await self.events.aclose()
            await self.upstream.aclose()  # idempotent
            self.gauge["streams_open"] -= 1


async def chat(request: Request) -> Response:
    question = request.query_params.get("q", "").strip()
    if not question:
        return JSONResponse({"error": "ask something: /chat?q=..."}, status_code=400)
    client: AsyncXRoute = request.app.state.xroute
    try:
        upstream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": question}],
            stream=True,
            stream_options={"include_usage": True},  # usage, hence cost, at the end
        )
    except XRouteError as err:  # every model of the chain failed before its first token
        logger.warning("no model answered: %s", err)
        return JSONResponse({"error": type(err).__name__}, status_code=502)
    return RelayResponse(upstream, request.app.state.gauge)


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True, **request.app.state.gauge})


PAGE = """<!doctype html>
<meta charset="utf-8"><title>xroute: streaming to the browser</title>
<form id="ask"><input id="q" size="60" value="Why route LLM calls across models?">
<button>Ask</button></form>
<p id="answer" style="white-space: pre-wrap"></p><p id="meta" style="color: #666"></p>
<script>
ask.onsubmit = (e) => {
  e.preventDefault(); answer.textContent = ""; meta.textContent = "";
  const events = new EventSource("/chat?q=" + encodeURIComponent(q.value));
  events.onmessage = (m) => { answer.textContent += JSON.parse(m.data).text; };
  events.addEventListener("done", (m) => {
    const r = JSON.parse(m.data);
    const cost = r.cost_usd === null ? "cost unknown" : "$" + r.cost_usd.toFixed(6);
    meta.textContent = `${r.model} · ${r.latency_s.toFixed(2)} s · ${cost}`;
    events.close();
  });
  events.addEventListener("failed", () => {
    meta.textContent = "the stream failed";
    events.close();
  });
  events.onerror = () => events.close();  // no automatic re-asking
};
</script>
"""


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


def create_app(client: AsyncXRoute | None = None) -> Starlette:
    """The app; with no `client`, one is made at startup from XROUTE_API_KEY / _BASE_URL."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if client is not None:
            yield
            return
        async with AsyncXRoute() as owned:
            app.state.xroute = owned
            yield

    app = Starlette(
        routes=[Route("/", page), Route("/chat", chat), Route("/health", health)],
        lifespan=lifespan,
    )
    app.state.gauge = {"streams_open": 0}
    if client is not None:
        app.state.xroute = client
    return app


app = create_app()

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
