"""Routing end to end in process: both clients against the mock gateway's transports (wrapped
where the gateway cannot script a case: 403/422, no reported cost), asyncio and trio, no sockets.

Covers what the attempt plan decides for a real client: fallback per failure kind, which
statuses end a call, policies against the gateway catalog, costs, budget, hooks, usage, the
client default, and that in-flight counts come back to 0 on every path (cancellation too).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

import xroute
from xroute.routing import ModelUsage
from xroute.testing import FailureKind, MockGateway, ModelScript

pytestmark = pytest.mark.anyio

A, B, C = "openai/gpt-4o", "anthropic/claude-3.5-sonnet", "google/gemini-2.0-flash-001"
MESSAGES = [{"role": "user", "content": "Name a city on a river"}]
TIMEOUT = xroute.Timeout(read=0.2)  # a scripted hang becomes a read timeout this quickly


# ---------------------------------------------------------------------------- the driver


@pytest.fixture(params=["sync", "asyncio", "trio"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def anyio_backend(flavour: str) -> str:
    # The sync client runs once (under asyncio's runner), the async one on both backends.
    return "asyncio" if flavour == "sync" else flavour


class Refusing(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The gateway, except that requests naming a model in `refusals` get that status, and
    (with `strip_cost`) usage carries no `cost`, as from a gateway that does not report it."""

    def __init__(
        self,
        gateway: MockGateway,
        refusals: dict[str, int],
        *,
        strip_cost: bool = False,
        catalog_status: int | None = None,
    ) -> None:
        self._sync = gateway.transport()
        self._async = gateway.async_transport()
        self._refusals = refusals
        self._strip_cost = strip_cost
        self._catalog_status = catalog_status
        self.refused: list[str] = []

    def _refusal(self, request: httpx.Request) -> httpx.Response | None:
        if request.method != "POST":
            if self._catalog_status is None:
                return None
            self.refused.append(request.url.path)
            return httpx.Response(self._catalog_status, json={"error": {"message": "down"}})
        model = json.loads(request.content).get("model")
        status = self._refusals.get(model)
        if status is None:
            return None
        self.refused.append(model)
        error = {"message": f"refused with {status}", "type": "invalid_request_error"}
        return httpx.Response(status, json={"error": error})

    def _strip(self, response: httpx.Response, body: bytes) -> httpx.Response:
        body = re.sub(rb',"cost":[^,}]+', b"", body)
        headers = [(k, v) for k, v in response.headers.items() if k != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=body)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        response = self._sync.handle_request(request)
        return self._strip(response, response.read()) if self._strip_cost else response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        response = await self._async.handle_async_request(request)
        return self._strip(response, await response.aread()) if self._strip_cost else response


class Recording(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The gateway's transports, keeping every response they return."""

    def __init__(self, gateway: MockGateway) -> None:
        self._sync = gateway.transport()
        self._async = gateway.async_transport()
        self.responses: list[httpx.Response] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.responses.append(self._sync.handle_request(request))
        return self.responses[-1]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.responses.append(await self._async.handle_async_request(request))
        return self.responses[-1]

    async def close_all(self, sync: bool) -> None:
        """Close what the client left open (an unfinished async body warns when collected)."""
        for response in self.responses:
            if sync:
                response.close()
            else:
                await response.aclose()


class Driver:
    """One test body for both clients: every call is awaited (a no-op for the sync one)."""

    def __init__(self, flavour: str, gateway: MockGateway, **options: Any) -> None:
        self.sync = flavour == "sync"
        self.gateway = gateway
        transport = options.pop("transport", None)
        if transport is not None:
            http: Any = httpx.Client if self.sync else httpx.AsyncClient
            options["http_client"] = http(transport=transport)
        self.client: Any = (
            gateway.client(**options) if self.sync else gateway.async_client(**options)
        )

    async def _await(self, value: Any) -> Any:
        return value if self.sync else await value

    async def chat(self, **params: Any) -> Any:
        params.setdefault("messages", MESSAGES)
        return await self._await(self.client.chat.completions.create(**params))

    async def embed(self, **params: Any) -> Any:
        return await self._await(self.client.embeddings.create(**params))

    async def catalog(self) -> xroute.ModelCatalog:
        found: xroute.ModelCatalog = await self._await(self.client.models.list())
        return found

    async def drain(self, stream: Any) -> str:
        if self.sync:
            with stream:
                return "".join(stream.text_stream)
        async with stream:
            return "".join([text async for text in stream.text_stream])

    async def read_until_error(self, stream: Any) -> tuple[str, xroute.StreamError | None]:
        pieces: list[str] = []
        try:
            if self.sync:
                pieces.extend(stream.text_stream)
            else:
                async for text in stream.text_stream:
                    pieces.append(text)
        except xroute.StreamError as err:
            return "".join(pieces), err
        return "".join(pieces), None

    async def close_early(self, stream: Any) -> str:
        """Read the first token's chunk and leave: the loop's way (sync) or `aclose()`."""
        if self.sync:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    break
            return str(chunk.choices[0].delta.content)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        await stream.aclose()
        return str(chunk.choices[0].delta.content)

    async def close(self) -> None:
        await self._await(self.client.close() if self.sync else self.client.aclose())

    def in_flight(self, *models: str) -> list[int]:
        return [self.client.route_state.snapshot(m).in_flight for m in models]


@pytest.fixture
def gateway() -> MockGateway:
    return MockGateway(seed=6, time_scale=0)


@pytest.fixture
async def drive(flavour: str, gateway: MockGateway) -> AsyncIterator[Callable[..., Driver]]:
    made: list[Driver] = []

    def make(**options: Any) -> Driver:
        made.append(Driver(flavour, gateway, **options))
        return made[-1]

    yield make
    for driver in made:
        await driver.close()


def _route(reply: Any) -> list[tuple[str, str]]:
    return [(a.model, a.outcome) for a in reply.route.attempts]


def _chats(gateway: MockGateway) -> int:
    return sum(1 for r in gateway.requests if r.path.endswith("/chat/completions"))


# ---------------------------------------------------------------------------- fallback


# (status, error type) of the first model's attempt, plain and streamed, when the failure
# strikes before any token reached the caller.
BEFORE_FIRST_TOKEN: dict[str, tuple[tuple[int | None, str], tuple[int | None, str]]] = {
    "rate_limit": ((429, "RateLimitError"), (429, "RateLimitError")),
    "server_error": ((500, "InternalServerError"), (500, "InternalServerError")),
    "unavailable": ((503, "InternalServerError"), (503, "InternalServerError")),
    "reset": ((None, "APIConnectionError"), (None, "StreamInterruptedError")),
    "hang": ((None, "APITimeoutError"), (None, "StreamTimeoutError")),
    "error_event": ((502, "InternalServerError"), (None, "StreamErrorEvent")),
    "truncate": ((None, "APIResponseValidationError"), (None, "StreamInterruptedError")),
}
MID_STREAM: dict[str, type[xroute.StreamError]] = {
    "reset": xroute.StreamInterruptedError,
    "hang": xroute.StreamTimeoutError,
    "error_event": xroute.StreamErrorEvent,
    "truncate": xroute.StreamInterruptedError,
}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("failure", list(BEFORE_FIRST_TOKEN))
async def test_chain_survives_a_failure_before_the_first_token(
    drive: Callable[..., Driver], gateway: MockGateway, failure: FailureKind, stream: bool
) -> None:
    # One token: a mid-stream fault strikes after half of none, i.e. before the first token.
    gateway.script(A, failure=failure, hang_seconds=5.0, reply="Paris")
    d = drive(timeout=TIMEOUT, max_retries=0)
    reply = await d.chat(model=[A, B], stream=stream)
    text = await d.drain(reply) if stream else reply.choices[0].message.content
    assert text and "Paris" not in text
    assert _route(reply) == [(A, "error"), (B, "ok")]
    first = reply.route.attempts[0]
    assert (first.status_code, first.error_type) == BEFORE_FIRST_TOKEN[failure][stream]
    assert gateway.stats_for(A).requests == 1
    assert gateway.stats_for(B).requests == 1
    assert d.in_flight(A, B) == [0, 0]


@pytest.mark.parametrize("failure", list(MID_STREAM))
async def test_failure_after_the_first_token_surfaces_with_the_partial_text(
    drive: Callable[..., Driver], gateway: MockGateway, failure: FailureKind
) -> None:
    gateway.script(A, failure=failure, hang_seconds=5.0)
    d = drive(timeout=TIMEOUT, max_retries=0)
    stream = await d.chat(model=[A, B], stream=True)
    text, error = await d.read_until_error(stream)
    assert isinstance(error, MID_STREAM[failure])
    assert text and error.partial_text == text
    assert gateway.stats_for(B).requests == 0
    assert stream.route.model == A
    assert [(a.outcome, a.error_type) for a in stream.route.attempts] == [
        ("error", MID_STREAM[failure].__name__)
    ]
    assert d.client.route_state.snapshot(A).consecutive_failures == 1
    assert d.in_flight(A, B) == [0, 0]


@pytest.mark.parametrize("status", [400, 401, 403, 422])
async def test_statuses_every_model_would_return_end_the_call_at_once(
    drive: Callable[..., Driver], gateway: MockGateway, status: int
) -> None:
    refusing = Refusing(gateway, {A: status})
    d = drive(transport=refusing, max_retries=2)
    for stream in (False, True):
        with pytest.raises(xroute.APIStatusError) as info:
            await d.chat(model=[A, B, C], stream=stream)
        assert info.value.status_code == status
    assert refusing.refused == [A, A]  # once per call: no retry
    assert gateway.stats_for(B).requests == gateway.stats_for(C).requests == 0
    assert d.client.route_state.snapshot(A).samples == 0  # the request's fault
    assert d.in_flight(A, B, C) == [0, 0, 0]


@pytest.mark.parametrize("status", [404, 408, 409, 429, 500, 502, 503, 504])
async def test_statuses_another_model_may_not_return_fall_back(
    drive: Callable[..., Driver], gateway: MockGateway, status: int
) -> None:
    d = drive(transport=Refusing(gateway, {A: status}), max_retries=2)
    for stream in (False, True):
        reply = await d.chat(model=[A, B], stream=stream)
        if stream:
            await d.drain(reply)
        assert [(a.model, a.status_code) for a in reply.route.attempts] == [(A, status), (B, 200)]
    assert d.in_flight(A, B) == [0, 0]


async def test_an_error_after_a_fallback_that_every_model_would_return_is_raised_as_is(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    d = drive(transport=Refusing(gateway, {A: 503, B: 401}), max_retries=0)
    with pytest.raises(xroute.AuthenticationError):
        await d.chat(model=[A, B, C])
    assert gateway.stats_for(C).requests == 0


async def test_all_models_failed_lists_every_attempt(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    gateway.script(A, failure="unavailable")
    gateway.script(B, failure="hang", hang_seconds=5.0, reply="Paris")  # hangs before a token
    d = drive(timeout=TIMEOUT, max_retries=0, budget=1.0)
    for stream in (False, True):
        with pytest.raises(xroute.AllModelsFailedError) as info:
            await d.chat(model=[A, B], stream=stream)
        attempts = info.value.attempts
        assert [(a.model, a.status_code) for a in attempts] == [(A, 503), (B, None)]
        assert attempts[1].error_type == ("StreamTimeoutError" if stream else "APITimeoutError")
        assert str(info.value).splitlines()[0] == "all 2 attempts failed:"
    assert d.client.budget.spent_usd == 0  # nothing was served, nothing is charged
    assert d.client.budget.reserved_usd == 0
    assert d.client.usage.requests == 0
    assert d.in_flight(A, B) == [0, 0]


async def test_a_deadline_that_cuts_the_last_retries_still_reports_every_model(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    gateway.script(A, failure="unavailable")
    gateway.script(B, failure="server_error")
    # The last candidate would retry after ~0.5 s of backoff, past the deadline.
    d = drive(timeout=xroute.Timeout(deadline=0.3), max_retries=3)
    with pytest.raises(xroute.AllModelsFailedError) as info:
        await d.chat(model=[A, B])
    assert [a.model for a in info.value.attempts] == [A, B]
    assert gateway.stats_for(B).requests == 1


async def test_first_token_timeout_falls_back(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    gateway.time_scale = 1.0
    gateway.script(A, time_to_first_token=5.0, jitter=0.0)
    gateway.script(B, latency=0.0, time_to_first_token=0.0, jitter=0.0)
    d = drive(max_retries=0, first_token_timeout=0.2)  # the client-wide default
    stream = await d.chat(model=[A, B], stream=True)
    assert await d.drain(stream)
    first = stream.route.attempts[0]
    assert (first.model, first.error_type) == (A, "StreamTimeoutError")
    assert "first_token_timeout=0.2" in (first.error_message or "")
    assert stream.route.model == B
    assert d.in_flight(A, B) == [0, 0]


async def test_context_length_falls_back_to_a_larger_model_only(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    small, smaller, large = "openai/gpt-3.5-turbo", "meta-llama/llama-3-70b", "openai/gpt-4o"
    d = drive(max_retries=0)
    await d.catalog()
    gateway.script(small, context_length=20)  # the server holds less than the catalog says
    for stream in (False, True):
        reply = await d.chat(model=[small, smaller, large], max_tokens=16, stream=stream)
        if stream:
            await d.drain(reply)
        assert [(a.model, a.error_type) for a in reply.route.attempts] == [
            (small, "ContextLengthExceededError"),
            (large, None),
        ]
    assert gateway.stats_for(smaller).requests == 0


# ---------------------------------------------------------------------------- breaker


async def test_breaker_opens_skips_and_probes_once(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    settings = xroute.HealthSettings(failure_threshold=2, cooldown_s=0.15, cooldown_multiplier=4)
    state = xroute.InMemoryRouteState(settings)
    gateway.script(A, failure="server_error")
    d = drive(route_state=state, max_retries=0)
    for _ in range(2):
        assert _route(await d.chat(model=[A, B])) == [(A, "error"), (B, "ok")]
    for _ in range(2):
        stream = await d.chat(model=[A, B], stream=True)
        assert _route(stream) == [(B, "ok")]
        await d.drain(stream)
    assert gateway.stats_for(A).requests == 2
    await anyio.sleep(0.2)
    assert _route(await d.chat(model=[A, B])) == [(A, "error"), (B, "ok")]  # the one probe
    assert _route(await d.chat(model=[A, B])) == [(B, "ok")]
    assert gateway.stats_for(A).requests == 3
    assert state.snapshot(A).breaker == "open"
    assert d.in_flight(A, B) == [0, 0]


async def test_with_every_breaker_open_the_last_model_is_still_tried(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    settings = xroute.HealthSettings(failure_threshold=1, cooldown_s=60)
    gateway.script(A, failure="unavailable")
    gateway.script(B, failure="unavailable")
    d = drive(route_state=xroute.InMemoryRouteState(settings), max_retries=0)
    with pytest.raises(xroute.AllModelsFailedError):
        await d.chat(model=[A, B])  # opens both breakers
    with pytest.raises(xroute.AllModelsFailedError) as info:
        await d.chat(model=[A, B])
    # A is skipped (its cooldown runs), B is sent as the last resort: both are listed.
    assert [(a.model, a.outcome, a.error_message) for a in info.value.attempts] == [
        (A, "skipped", "circuit open"),
        (B, "error", info.value.attempts[1].error_message),
    ]
    assert f"1. {A}: skipped (circuit open)" in str(info.value)
    assert (gateway.stats_for(A).requests, gateway.stats_for(B).requests) == (1, 2)
    assert d.in_flight(A, B) == [0, 0]


# ---------------------------------------------------------------------------- policies


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        # Prices in USD per million tokens (prompt / completion), from the gateway catalog.
        (xroute.Cheapest(requires="tools"), "meta-llama/llama-3.1-8b-instruct"),  # 0.02/0.05
        (xroute.Cheapest(provider="openai", requires="tools"), "openai/gpt-4o-mini"),
        (xroute.Cheapest(provider="anthropic"), "anthropic/claude-3-haiku"),
        (xroute.Cheapest(min_context=1_000_000, requires="tools"), C),  # not gemini-1.5-pro
        (xroute.Cheapest(provider=("openai", "google"), requires="vision"), C),  # 0.10/0.40
        (
            xroute.Cheapest(max_usd_per_mtok=0.06, requires="tools"),
            "meta-llama/llama-3.1-8b-instruct",
        ),
    ],
    ids=repr,
)
async def test_cheapest_picks_from_the_gateway_catalog(
    drive: Callable[..., Driver], gateway: MockGateway, policy: xroute.Policy, expected: str
) -> None:
    d = drive()
    reply = await d.chat(model=policy)
    assert reply.route.model == expected
    assert _route(reply) == [(expected, "ok")]


async def test_cheapest_falls_over_in_price_order_and_respects_max_models(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    for model in ("openai/gpt-4o-mini", "openai/gpt-3.5-turbo", A):
        gateway.script(model, failure="unavailable")
    d = drive(max_retries=0)
    policy = xroute.Cheapest(provider="openai", requires="tools", max_models=2)
    with pytest.raises(xroute.AllModelsFailedError) as info:
        await d.chat(model=policy)
    assert [a.model for a in info.value.attempts] == ["openai/gpt-4o-mini", "openai/gpt-3.5-turbo"]
    assert gateway.stats_for(A).requests == 0


@pytest.mark.parametrize(
    ("extra", "models", "plain_pick", "needy_pick"),
    [
        (
            {"tools": [{"type": "function", "function": {"name": "weather", "parameters": {}}}]},
            ["mistralai/mistral-7b-instruct", "openai/gpt-4o-mini"],
            "mistralai/mistral-7b-instruct",
            "openai/gpt-4o-mini",
        ),
        (
            {"response_format": {"type": "json_object"}},
            ["mistralai/mistral-7b-instruct", "openai/gpt-4o-mini"],
            "mistralai/mistral-7b-instruct",
            "openai/gpt-4o-mini",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "What is this?"},
                            {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
                        ],
                    }
                ]
            },
            ["meta-llama/llama-3.1-8b-instruct", "openai/gpt-4o-mini"],
            "meta-llama/llama-3.1-8b-instruct",
            "openai/gpt-4o-mini",
        ),
    ],
    ids=["tools", "json", "vision"],
)
async def test_what_a_request_needs_narrows_the_candidates(
    drive: Callable[..., Driver],
    gateway: MockGateway,
    extra: dict[str, Any],
    models: list[str],
    plain_pick: str,
    needy_pick: str,
) -> None:
    d = drive()
    plain = await d.chat(model=xroute.Cheapest(models))
    assert plain.route.model == plain_pick
    needy = await d.chat(model=xroute.Cheapest(models), **extra)
    assert _route(needy) == [(needy_pick, "ok")]
    assert gateway.stats_for(plain_pick).requests == 1  # only the plain call went there


async def test_a_policy_with_nothing_left_fails_before_sending(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    d = drive()
    with pytest.raises(xroute.InvalidArgumentError, match=r"provider='nobody'.*providers among"):
        await d.chat(model=xroute.Cheapest(provider="nobody"))
    assert _chats(gateway) == 0


async def test_an_unconstrained_policy_never_sends_chat_to_an_embedding_model(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    d = drive()
    catalog = await d.catalog()
    for policy in (xroute.Cheapest(), xroute.Balanced()):
        reply = await d.chat(model=policy)
        assert "text" in catalog[reply.route.model].output_modalities


async def test_an_unconstrained_policy_sends_embeddings_to_an_embedding_model(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    d = drive()
    catalog = await d.catalog()
    reply = await d.embed(model=xroute.Cheapest(), input="a river")
    assert catalog[reply.route.model].output_modalities == ("embeddings",)


async def test_fastest_and_balanced_rank_by_what_the_client_measured(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    slow_cheap, fast_pricey = "test/slow-cheap", "test/fast-pricey"
    gateway.add_model(
        slow_cheap, ModelScript(prompt_usd_per_token=1e-7, completion_usd_per_token=1e-7)
    )
    gateway.add_model(
        fast_pricey, ModelScript(prompt_usd_per_token=1e-5, completion_usd_per_token=1e-5)
    )
    state = xroute.InMemoryRouteState()
    d = drive(route_state=state, max_retries=0)
    models = [slow_cheap, fast_pricey]
    # Never measured: tried in the order given (an optimistic prior for each).
    reply = await d.chat(model=xroute.Fastest(models, epsilon=0))
    assert reply.route.model == slow_cheap
    health = state.snapshot(slow_cheap)
    assert (health.samples, health.latency_s is not None) == (1, True)  # the plan fed it
    # Measurements (a fake history: the wall clock must not decide a unit test).
    now = time.monotonic()
    for _ in range(5):
        state.record_success(slow_cheap, now=now, latency_s=0.2, ttft_s=0.1)
        state.record_success(fast_pricey, now=now, latency_s=0.01, ttft_s=0.005)
    assert (await d.chat(model=xroute.Fastest(models, epsilon=0))).route.model == fast_pricey
    # 100x the price for 20x the speed: an even trade prefers cheap, a speed-heavy one fast.
    even = xroute.Balanced(models, epsilon=0)
    assert (await d.chat(model=even)).route.model == slow_cheap
    hurried = xroute.Balanced(models, price_weight=0.1, epsilon=0)
    assert (await d.chat(model=hurried)).route.model == fast_pricey
    # The favourite down: the next one by the same ranking answers.
    gateway.script(fast_pricey, failure="unavailable")
    reply = await d.chat(model=xroute.Fastest(models, epsilon=0))
    assert _route(reply) == [(fast_pricey, "error"), (slow_cheap, "ok")]


async def test_a_served_stream_feeds_time_to_first_token_to_the_state(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    d = drive()
    stream = await d.chat(model=A, stream=True)
    await d.drain(stream)
    health = d.client.route_state.snapshot(A)
    assert health.samples == 1
    assert health.ttft_s is not None
    assert health.ttft_s == stream.route.ttft_s


# ---------------------------------------------------------------------------- client default


async def test_default_model_is_used_when_model_is_omitted(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    gateway.script(A, failure="unavailable")
    d = drive(default_model=[A, B], max_retries=0)
    reply = await d.chat()
    assert _route(reply) == [(A, "error"), (B, "ok")]
    # An explicit model still wins over the default.
    assert _route(await d.chat(model=C)) == [(C, "ok")]


async def test_without_a_default_a_missing_model_is_an_argument_error(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    d = drive()
    with pytest.raises(xroute.InvalidArgumentError, match="or set a default on the client"):
        await d.chat()
    with pytest.raises(xroute.InvalidArgumentError, match="or set a default on the client"):
        await d.embed(input="a river")
    assert gateway.requests == []


def test_a_bad_default_model_fails_when_the_client_is_made() -> None:
    for client in (xroute.XRoute, xroute.AsyncXRoute):
        with pytest.raises(xroute.InvalidArgumentError, match="model must be"):
            client(api_key="k", default_model=42)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- cost and usage


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_cost_comes_from_catalog_prices_when_the_server_reports_none(
    drive: Callable[..., Driver], gateway: MockGateway, stream: bool
) -> None:
    d = drive(transport=Refusing(gateway, {}, strip_cost=True))
    catalog = await d.catalog()
    params: dict[str, Any] = {"stream_options": {"include_usage": True}} if stream else {}
    reply = await d.chat(model=B, stream=stream, **params)
    if stream:
        await d.drain(reply)
    usage = reply.route.usage
    assert usage is not None
    assert usage.model_extra == {}  # no cost on the wire
    price = catalog[B].pricing
    expected = usage.prompt_tokens * price.prompt_usd_per_token + (
        usage.completion_tokens * price.completion_usd_per_token
    )
    assert reply.route.cost_usd == pytest.approx(expected, rel=1e-12)
    assert reply.route.cost_usd == pytest.approx(gateway.stats_for(B).cost_usd, rel=1e-12)


async def test_a_pinned_catalog_prices_calls(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    pinned = xroute.ModelCatalog.from_models(
        [xroute.Model(B, pricing=xroute.Pricing.per_mtok(1.0, 4.0), context_length=200_000)]
    )
    d = drive(transport=Refusing(gateway, {}, strip_cost=True), catalog=pinned)
    reply = await d.chat(model=B)
    usage = reply.usage
    assert reply.route.cost_usd == pytest.approx(
        usage.prompt_tokens * 1e-6 + usage.completion_tokens * 4e-6, rel=1e-12
    )
    assert not [r for r in gateway.requests if r.path.endswith("/models")]  # pinned: no fetch


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_cost_is_none_when_neither_server_nor_catalog_knows_it(
    drive: Callable[..., Driver], gateway: MockGateway, stream: bool
) -> None:
    d = drive(transport=Refusing(gateway, {}, strip_cost=True))  # no catalog loaded
    params: dict[str, Any] = {"stream_options": {"include_usage": True}} if stream else {}
    reply = await d.chat(model=B, stream=stream, **params)
    if stream:
        await d.drain(reply)
    assert reply.route.usage is not None
    assert reply.route.cost_usd is None
    assert d.client.usage.by_model()[B].unpriced_requests == 1
    assert d.client.usage.cost_usd == 0


async def test_usage_sums_tokens_and_dollars_per_model(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    gateway.script(A, failure="unavailable")
    d = drive(max_retries=0)
    replies = [await d.chat(model=[A, B]) for _ in range(2)]
    replies.append(await d.chat(model=C))
    stream = await d.chat(model=C, stream=True, stream_options={"include_usage": True})
    assert d.client.usage.by_model()[C].requests == 1  # a stream counts when it ends
    await d.drain(stream)
    by_model = d.client.usage.by_model()
    assert set(by_model) == {B, C}  # the failed attempts cost nothing

    def summed(items: list[Any]) -> ModelUsage:
        total = ModelUsage()
        for item in items:
            total = total.plus(item.route.usage, item.route.cost_usd)
        return total

    assert by_model[B] == summed(replies[:2])
    assert by_model[C] == summed([replies[2], stream])
    total = d.client.usage.total()
    assert total.requests == 4
    assert total.cost_usd == pytest.approx(
        gateway.stats_for(B).cost_usd + gateway.stats_for(C).cost_usd
    )
    assert B in d.client.usage.to_text()
    assert B in d.client.usage._repr_html_()


async def test_embeddings_fall_back_and_are_priced(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    small, large = "openai/text-embedding-3-small", "openai/text-embedding-3-large"
    gateway.script(small, failure="rate_limit")
    d = drive(max_retries=0)
    reply = await d.embed(model=[small, large], input=["one", "two"])
    assert [(a.model, a.status_code) for a in reply.route.attempts] == [(small, 429), (large, 200)]
    assert reply.route.cost_usd == reply.usage.prompt_tokens * 0.00000013
    assert d.client.usage.by_model()[large].prompt_tokens == reply.usage.prompt_tokens
    assert d.in_flight(small, large) == [0, 0]


# ---------------------------------------------------------------------------- budget


async def test_budget_refuses_a_call_before_sending_it(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    d = drive(budget=0.001)
    with pytest.raises(xroute.BudgetExceededError) as info:
        await d.chat(model=[B, A], max_tokens=1000)  # up to 1000 x $15/M on claude
    assert info.value.worst_case_usd == pytest.approx(1000 * 15e-6, rel=0.01)
    assert info.value.remaining_usd == 0.001
    assert _chats(gateway) == 0
    assert d.client.budget.reserved_usd == 0
    assert d.in_flight(A, B) == [0, 0]


async def test_a_budget_without_a_catalog_lets_plain_ids_through(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    refusing = Refusing(gateway, {}, catalog_status=503)
    d = drive(transport=refusing, budget=1.0, max_retries=0)
    reply = await d.chat(model=[A, B])  # cannot be priced before sending: not refused
    assert reply.route.model == A
    assert refusing.refused == ["/v1/models"]
    assert d.client.budget.spent_usd == reply.route.cost_usd  # the server's cost still counts
    # A policy that ranks by the catalog cannot run without one.
    with pytest.raises(xroute.APIStatusError):
        await d.chat(model=xroute.Cheapest())
    assert _chats(gateway) == 1


async def test_budget_is_spent_by_answers_and_then_runs_out(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    d = drive(budget=0.0003)
    reply = await d.chat(model=A, max_tokens=20)  # worst case ~ $0.000225
    budget = d.client.budget
    assert budget.spent_usd == reply.route.cost_usd > 0
    assert budget.reserved_usd == 0
    with pytest.raises(xroute.BudgetExceededError):
        await d.chat(model=A, max_tokens=20)
    assert _chats(gateway) == 1


async def test_budget_holds_a_stream_until_it_ends(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    d = drive(budget=1.0)
    budget = d.client.budget
    stream = await d.chat(
        model=A, stream=True, max_tokens=30, stream_options={"include_usage": True}
    )
    assert budget.reserved_usd > 0
    assert budget.spent_usd == 0
    await d.drain(stream)
    assert budget.reserved_usd == 0
    spent = budget.spent_usd
    assert spent == stream.route.cost_usd == gateway.stats_for(A).cost_usd
    # Closed early, without usage: the reservation is charged (the conservative guess).
    stream = await d.chat(model=A, stream=True, max_tokens=30)
    held = budget.reserved_usd
    await d.close_early(stream)
    assert stream.route.cost_usd is None
    assert budget.reserved_usd == 0
    assert budget.spent_usd == pytest.approx(spent + held)
    assert d.in_flight(A) == [0]


# ---------------------------------------------------------------------------- hooks


async def test_hooks_see_each_attempt_the_fallback_and_the_response_in_order(
    flavour: str, drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    seen: list[tuple[str, Any]] = []

    def record(event: str) -> Callable[[Any], Any]:
        if flavour == "sync":
            return lambda payload: seen.append((event, payload))

        async def hook(payload: Any) -> None:
            await anyio.lowlevel.checkpoint()  # a real await: the client must await the hook
            seen.append((event, payload))

        return hook

    gateway.script(A, failure="unavailable")
    d = drive(
        max_retries=0,
        on_attempt=record("attempt"),
        on_fallback=record("fallback"),
        on_response=record("response"),
    )
    for stream in (False, True):
        seen.clear()
        reply = await d.chat(model=[A, B], stream=stream)
        assert [event for event, _ in seen] == ["attempt", "fallback", "attempt", "response"]
        failed, fallback, served, response = (payload for _, payload in seen)
        assert failed == reply.route.attempts[0]
        assert (failed.model, failed.status_code) == (A, 503)
        assert (fallback.from_model, fallback.to_model) == (A, B)
        assert isinstance(fallback.error, xroute.InternalServerError)
        assert fallback.error.status_code == 503
        assert served == reply.route.attempts[1]
        assert served.outcome == "ok"
        assert response is reply
        if stream:
            await d.drain(reply)


@pytest.mark.parametrize("flavour", ["asyncio", "trio"])
async def test_async_client_takes_sync_and_async_hooks_together(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    seen: list[str] = []

    async def on_attempt(record: xroute.AttemptRecord) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(f"attempt {record.model}")

    d = drive(on_attempt=on_attempt, on_response=lambda reply: seen.append("response"))
    await d.chat(model=B)
    assert seen == [f"attempt {B}", "response"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_a_hook_that_raises_ends_the_call_and_leaves_nothing_in_flight(
    drive: Callable[..., Driver], gateway: MockGateway, stream: bool
) -> None:
    def explode(payload: Any) -> None:
        raise LookupError("the hook broke")

    recording = Recording(gateway)
    d = drive(transport=recording, on_response=explode, budget=1.0)
    try:
        with pytest.raises(LookupError):
            await d.chat(model=A, stream=stream)
        assert d.in_flight(A) == [0]
        assert d.client.budget.reserved_usd == 0
    finally:
        await recording.close_all(d.sync)


async def test_a_hook_that_raises_after_a_stream_was_primed_closes_its_response(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    recording = Recording(gateway)

    def explode(payload: Any) -> None:
        raise LookupError("the hook broke")

    d = drive(transport=recording, on_response=explode)
    try:
        with pytest.raises(LookupError):
            await d.chat(model=A, stream=True)
        assert [r.is_closed for r in recording.responses] == [True]
    finally:
        await recording.close_all(d.sync)


# ---------------------------------------------------------------------------- in flight


async def test_in_flight_returns_to_zero_on_every_path(
    drive: Callable[..., Driver], gateway: MockGateway
) -> None:
    d = drive(max_retries=0, timeout=TIMEOUT)
    await d.chat(model=A)  # success
    assert d.in_flight(A) == [0]
    await d.drain(await d.chat(model=A, stream=True))  # stream completed
    assert d.in_flight(A) == [0]
    stream = await d.chat(model=A, stream=True)
    assert d.in_flight(A) == [1]  # a stream holds its model until it ends
    assert await d.close_early(stream)  # closed early
    assert d.in_flight(A) == [0]
    assert stream.route.attempts[-1].outcome == "ok"  # no verdict on the model
    gateway.fail_next(A, "reset")
    _, error = await d.read_until_error(await d.chat(model=A, stream=True))  # failed mid-way
    assert isinstance(error, xroute.StreamInterruptedError)
    assert d.in_flight(A) == [0]
    gateway.fail_next(A, "unavailable")
    with pytest.raises(xroute.InternalServerError):  # failed
        await d.chat(model=A)
    assert d.in_flight(A) == [0]


@pytest.mark.parametrize("where", ["waiting", "priming", "reading"])
@pytest.mark.parametrize("flavour", ["asyncio", "trio"])
async def test_a_cancelled_async_call_releases_everything(
    flavour: str, gateway: MockGateway, where: str
) -> None:
    gateway.time_scale = 1.0
    if where == "waiting":
        gateway.script(A, latency=5.0, jitter=0.0)
    elif where == "priming":
        gateway.script(A, latency=0.0, time_to_first_token=5.0, jitter=0.0)
    else:
        gateway.script(A, latency=0.0, time_to_first_token=0.0, tokens_per_second=5.0, jitter=0.0)
    d = Driver(flavour, gateway, budget=1.0)
    try:
        stream: Any = None
        with anyio.move_on_after(0.2) as scope:
            result = await d.chat(model=[A, B], stream=where != "waiting")
            if where == "reading":
                stream = result
                async for _ in stream:
                    pass
        assert scope.cancelled_caught
        assert d.in_flight(A, B) == [0, 0]
        assert d.client.budget.reserved_usd == 0
        assert gateway.stats_for(B).requests == 0  # cancelled, not failed over
        if stream is not None:
            assert stream.route.model == A
            assert stream.route.latency_s > 0
    finally:
        await d.close()
