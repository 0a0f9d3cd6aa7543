"""``MockGateway``: the public face of the engine and its three adapters."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ._engine import Engine
from ._records import ModelStats, ReceivedRequest
from ._scripts import FailureKind, ModelScript

if TYPE_CHECKING:
    import httpx

    from xroute import AsyncXRoute, XRoute

    from ._server import GatewayApp

IN_PROCESS_BASE_URL = "https://xroute.mock/v1"
_ANY_KEY_PLACEHOLDER = "test-key"


class MockGateway:
    """A scripted, OpenAI-compatible fake LLM gateway, in process or over loopback HTTP.

    It serves ``GET /models`` (an OpenRouter-style catalog of real model ids and prices),
    ``GET /models/{id}``, ``POST /chat/completions`` (plain and SSE streaming, tool calls, JSON
    output, ``n``, ``max_tokens``, usage with ``cost``) and ``POST /embeddings``, under ``/v1``
    or without it.  Answers are deterministic: the same ``seed``, model and prompt give the same
    bytes.  Per-model :class:`ModelScript` objects set latency, streaming pace, faults, outages,
    context length and prices.

    Args:
        seed: seeds every answer, delay and fault draw.
        api_key: the one accepted Bearer key; ``None`` accepts any non-empty key.
        time_scale: multiplies every scripted delay; 0 answers instantly (unit tests), 1 keeps
            the catalog's pace (about ten times faster than real services), 10 is roughly real.
        scripts: per-model scripts.  A script replaces the model's default one whole (its pace
            included; prices and context length left ``None`` still come from the catalog); to
            adjust a few fields use ``script(model, **changes)`` instead.  An id that is not in
            the catalog adds a model.
        max_logged_requests: how many received requests ``requests`` keeps (oldest dropped).
        clock: monotonic seconds, read for time-based outages; tests can pass a fake one.

    Tokens are counted by a simple rule (runs of word characters and single punctuation marks,
    plus 3 per message and 3 per request, 85 per image), and ``usage.cost`` is exactly
    ``prompt_tokens * prompt price + completion_tokens * completion price``, with the prices
    that ``GET /models`` shows.

    Example::

        gateway = MockGateway(time_scale=0)
        gateway.fail_next("openai/gpt-4o", "rate_limit")  # the next call to gpt-4o gets a 429
        http = httpx.Client(transport=gateway.transport(), base_url=gateway.base_url,
                            headers={"Authorization": f"Bearer {gateway.api_key}"})
        ...  # run the code under test with `http`
        assert gateway.stats_for("openai/gpt-4o").failures == 1
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        api_key: str | None = "test-key",
        time_scale: float = 1.0,
        scripts: Mapping[str, ModelScript] | None = None,
        max_logged_requests: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not time_scale >= 0:
            raise ValueError(f"time_scale must be >= 0, got {time_scale!r}")
        if api_key is not None and not api_key:
            raise ValueError("api_key must be a non-empty string, or None to accept any key")
        self._clock = clock
        self._engine = Engine(
            seed=seed,
            api_key=api_key,
            time_scale=time_scale,
            scripts=scripts or {},
            now=clock(),
            max_logged_requests=max_logged_requests,
        )
        self._app: GatewayApp | None = None
        self._served_url: str | None = None
        self._serving = False
        self._serve_lock = threading.Lock()

    def __repr__(self) -> str:
        where = self._served_url or "in process"
        return f"<MockGateway seed={self.seed} {where}>"

    # --- configuration -----------------------------------------------------------------------

    @property
    def seed(self) -> int:
        """The seed every answer, delay and fault draw derives from."""
        return self._engine.seed

    @property
    def api_key(self) -> str:
        """The key to send: the accepted one, or ``"test-key"`` when any key is accepted."""
        return self._engine.api_key or _ANY_KEY_PLACEHOLDER

    @property
    def time_scale(self) -> float:
        """The factor on every scripted delay; settable, and restored by ``reset()``."""
        return self._engine.time_scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        if not value >= 0:
            raise ValueError(f"time_scale must be >= 0, got {value!r}")
        self._engine.time_scale = value

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` while serving, else ``https://xroute.mock/v1``.

        The in-process transports answer whatever the host, so the second one is what to give
        a client that uses ``transport()``.
        """
        return self._served_url or IN_PROCESS_BASE_URL

    @property
    def models(self) -> list[str]:
        """The ids ``GET /models`` lists, catalog order first."""
        return self._engine.model_ids()

    def script(self, model: str, **changes: Any) -> ModelScript:
        """Change fields of a model's script, and return the script now in force.

        With no changes, just returns it.  Unknown fields raise ``TypeError``; unknown models
        ``KeyError`` (use ``add_model``).

            gateway.script("openai/gpt-4o", failure="unavailable")     # down from now on
            gateway.script("openai/gpt-4o", failure=None)              # back up
        """
        if not changes:
            return self._engine.script_of(model)
        return self._engine.update_script(model, changes)

    def set_script(self, model: str, script: ModelScript) -> None:
        """Replace a catalog model's whole script (``KeyError`` for an unknown model)."""
        self._engine.set_script(model, script, add=False)

    def add_model(self, model: str, script: ModelScript | None = None) -> None:
        """Add a model to the catalog (or replace the script of one already there).

        A new model gets a context of 8192 tokens and prices of $1 / $2 per million prompt /
        completion tokens unless ``script`` sets them.
        """
        self._engine.set_script(model, script or ModelScript(), add=True)

    def fail_next(
        self, model: str, failure: FailureKind = "server_error", *, count: int = 1
    ) -> None:
        """Make the next ``count`` requests to ``model`` fail with ``failure``, whatever the
        script says; queued failures come before outages and random failures."""
        self._engine.queue_failures(model, failure, count)

    # --- what happened -----------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, ModelStats]:
        """A snapshot of the counters of every model that received a request."""
        return self._engine.stats()

    def stats_for(self, model: str) -> ModelStats:
        """A snapshot of one model's counters (all zero if it received nothing)."""
        return self._engine.stats().get(model) or ModelStats(model=model)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received (up to ``max_logged_requests``), oldest first."""
        return self._engine.received()

    def requests_for(self, model: str) -> list[ReceivedRequest]:
        """The received requests whose body named ``model``."""
        return [request for request in self._engine.received() if request.model == model]

    def reset(self) -> None:
        """Back to the state right after construction: scripts, ``time_scale``, counters, the
        request log, queued failures and the clock of time-based outages."""
        self._engine.reset(self._clock())

    # --- adapters ------------------------------------------------------------------------------

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport answering in process: ``httpx.Client(transport=...)``.

        Streams really stream (sleeping between chunks), and faults raise what a network
        would: ``httpx.ReadError`` for a reset, ``httpx.ReadTimeout`` once the request's read
        timeout passes during a delay or a hang.
        """
        from ._transport import SyncGatewayTransport

        return SyncGatewayTransport(self._engine, self._clock)

    def async_transport(self) -> httpx.AsyncBaseTransport:
        """The async twin of ``transport()``, for ``httpx.AsyncClient`` (asyncio or trio)."""
        from ._transport import AsyncGatewayTransport

        return AsyncGatewayTransport(self._engine, self._clock)

    def asgi_app(self) -> GatewayApp:
        """The gateway as a plain ASGI 3 app, for any ASGI server."""
        if self._app is None:
            from ._server import GatewayApp

            self._app = GatewayApp(self._engine, self._clock)
        return self._app

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve over HTTP (uvicorn, in a background thread) for the ``with`` block.

        Yields the base URL (``http://127.0.0.1:PORT/v1``; port 0 picks a free port), once the
        server accepts connections; stops it on exit.  Needs the ``mock`` extra (uvicorn).

            with gateway.serve() as base_url:
                httpx.get(f"{base_url}/models", headers={"Authorization": "Bearer test-key"})
        """
        from ._server import serve_in_thread

        with self._serve_lock:
            if self._serving:
                raise RuntimeError(f"this gateway is already serving on {self._served_url}")
            self._serving = True
        try:
            with serve_in_thread(self.asgi_app(), host, port) as url:
                self._served_url = url
                yield url
        finally:
            self._served_url = None
            self._serving = False

    def serve_forever(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        on_ready: Callable[[str], None] | None = None,
    ) -> None:
        """Serve over HTTP in this thread until interrupted (Ctrl-C / SIGTERM).

        ``on_ready`` gets the base URL once the port is bound.
        """
        from ._server import serve_blocking

        serve_blocking(self.asgi_app(), host, port, on_ready)

    # --- xroute clients ------------------------------------------------------------------------

    def client(self, **kwargs: Any) -> XRoute:
        """An ``xroute.XRoute`` pointed at this gateway: over loopback while serving, else in
        process through ``transport()``.  ``kwargs`` go to ``XRoute``."""
        import httpx

        from xroute import XRoute

        kwargs.setdefault("api_key", self.api_key)
        kwargs.setdefault("base_url", self.base_url)
        if self._served_url is None:
            kwargs.setdefault("http_client", httpx.Client(transport=self.transport()))
        return XRoute(**kwargs)

    def async_client(self, **kwargs: Any) -> AsyncXRoute:
        """An ``xroute.AsyncXRoute`` pointed at this gateway, like ``client()``."""
        import httpx

        from xroute import AsyncXRoute

        kwargs.setdefault("api_key", self.api_key)
        kwargs.setdefault("base_url", self.base_url)
        if self._served_url is None:
            kwargs.setdefault("http_client", httpx.AsyncClient(transport=self.async_transport()))
        return AsyncXRoute(**kwargs)
