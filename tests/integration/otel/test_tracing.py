"""xroute.tracing: GenAI spans and metrics of real calls over loopback, read back from the
OpenTelemetry SDK's in-memory exporter and reader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import xroute
from xroute.routing import AttemptRecord
from xroute.testing import MockGateway
from xroute.tracing import Instrumentation, instrument

pytestmark = pytest.mark.anyio

KEY = "xr-live-0123456789abcdefSECRET"
DOWN, UP = "openai/gpt-4o", "anthropic/claude-3.5-sonnet"
MSGS = [{"role": "user", "content": "Tell me a secret about lighthouses"}]


@pytest.fixture(scope="module")
def gateway() -> Iterator[MockGateway]:
    gw = MockGateway(seed=7, api_key=KEY, time_scale=0.02)
    gw.script(DOWN, failure="unavailable")
    with gw.serve():
        yield gw


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Telemetry:
    """Providers with in-memory export, and readers of what they got."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def calls(self) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.kind == SpanKind.CLIENT]

    def attempts_of(self, call: ReadableSpan) -> list[ReadableSpan]:
        found = [
            s
            for s in self.spans()
            if s.parent is not None and s.parent.span_id == call.context.span_id
        ]
        return sorted(found, key=lambda s: s.attributes["xroute.attempt.number"])  # type: ignore[index]

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        out: list[Any] = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        out.extend(metric.data.data_points)
        return out

    def instrument(self, client: Any, **kwargs: Any) -> Instrumentation:
        return instrument(
            client,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            **kwargs,
        )

    def close(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    made = Telemetry()
    yield made
    made.close()


def make_client(gateway: MockGateway, kind: str, **kwargs: Any) -> Any:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("base_url", gateway.base_url)
    kwargs.setdefault("max_retries", 0)
    return xroute.XRoute(**kwargs) if kind == "sync" else xroute.AsyncXRoute(**kwargs)


async def call(kind: str, method: Any, /, *args: Any, **kwargs: Any) -> Any:
    result = method(*args, **kwargs)
    return (await result) if kind == "async" else result


async def close(kind: str, client: Any) -> None:
    if kind == "sync":
        client.close()
    else:
        await client.aclose()


async def test_a_fallback_call_is_one_client_span_over_its_attempts(
    gateway: MockGateway, kind: str, telemetry: Telemetry
) -> None:
    client = make_client(gateway, kind)
    telemetry.instrument(client)
    try:
        reply = await call(
            kind, client.chat.completions.create, model=[DOWN, UP], messages=MSGS, max_tokens=50
        )
    finally:
        await close(kind, client)
    (span,) = telemetry.calls()
    attrs = span.attributes or {}
    assert span.name == f"chat {DOWN}"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "xroute"
    assert attrs["gen_ai.system"] == "xroute"
    assert attrs["gen_ai.request.model"] == DOWN
    assert attrs["gen_ai.response.model"] == reply.model
    assert attrs["xroute.route.model"] == UP
    assert attrs["gen_ai.usage.input_tokens"] == reply.usage.prompt_tokens
    assert attrs["gen_ai.usage.output_tokens"] == reply.usage.completion_tokens
    assert attrs["gen_ai.response.id"] == reply.id
    assert attrs["xroute.fallback.count"] == 1
    assert attrs["xroute.cost_usd"] == pytest.approx(reply.route.cost_usd)
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == int(gateway.base_url.split(":")[2].split("/")[0])
    assert "error.type" not in attrs
    assert span.status.status_code != StatusCode.ERROR
    first, second = telemetry.attempts_of(span)
    assert first.name == f"xroute.attempt {DOWN}"
    assert first.kind == SpanKind.INTERNAL
    assert first.attributes["xroute.attempt.number"] == 1  # type: ignore[index]
    assert first.attributes["http.response.status_code"] == 503  # type: ignore[index]
    assert first.attributes["error.type"] == "InternalServerError"  # type: ignore[index]
    assert first.status.status_code == StatusCode.ERROR
    assert second.attributes["gen_ai.request.model"] == UP  # type: ignore[index]
    assert second.attributes["xroute.attempt.outcome"] == "ok"  # type: ignore[index]
    # Usage is on the call span only, so a backend summing tokens counts the call once.
    assert "gen_ai.usage.input_tokens" not in (second.attributes or {})
    # The attempts sit inside the call, one after the other.
    assert span.start_time is not None and span.end_time is not None
    for attempt in (first, second):
        assert attempt.start_time is not None and attempt.end_time is not None
        assert span.start_time <= attempt.start_time <= attempt.end_time <= span.end_time
    assert first.end_time <= second.start_time + 1_000_000  # type: ignore[operator]


async def test_a_stream_span_lasts_until_the_stream_ends(
    gateway: MockGateway, kind: str, telemetry: Telemetry
) -> None:
    client = make_client(gateway, kind)
    telemetry.instrument(client)
    try:
        stream = await call(
            kind,
            client.chat.completions.create,
            model=UP,
            messages=MSGS,
            stream=True,
            stream_options={"include_usage": True},
        )
        assert telemetry.calls() == []  # still streaming
        if kind == "sync":
            with stream:
                final = stream.get_final_completion()
        else:
            async with stream:
                final = await stream.get_final_completion()
    finally:
        await close(kind, client)
    (span,) = telemetry.calls()
    attrs = span.attributes or {}
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.usage.output_tokens"] == final.usage.completion_tokens
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert 0 < attrs["gen_ai.response.time_to_first_chunk"] < stream.route.latency_s
    assert attrs["xroute.cost_usd"] == pytest.approx(stream.route.cost_usd)
    (attempt,) = telemetry.attempts_of(span)
    assert attempt.end_time == span.end_time
    (ttft,) = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttft.count == 1


async def test_metrics_for_latency_tokens_and_cost(
    gateway: MockGateway, kind: str, telemetry: Telemetry
) -> None:
    client = make_client(gateway, kind)
    telemetry.instrument(client)
    try:
        for _ in range(3):
            await call(kind, client.chat.completions.create, model=UP, messages=MSGS)
        await call(kind, client.embeddings.create, model="openai/text-embedding-3-small", input="x")
    finally:
        await close(kind, client)
    durations = telemetry.points("gen_ai.client.operation.duration")
    by_operation = {p.attributes["gen_ai.operation.name"]: p for p in durations}
    assert by_operation["chat"].count == 3
    assert by_operation["embeddings"].count == 1
    assert by_operation["chat"].attributes["gen_ai.request.model"] == UP
    tokens = telemetry.points("gen_ai.client.token.usage")
    kinds = {
        (p.attributes["gen_ai.operation.name"], p.attributes["gen_ai.token.type"]) for p in tokens
    }
    assert kinds == {("chat", "input"), ("chat", "output"), ("embeddings", "input")}
    usage = client.usage.total()
    assert sum(p.sum for p in tokens) == usage.prompt_tokens + usage.completion_tokens
    cost = telemetry.points("xroute.client.cost")
    assert sum(p.sum for p in cost) == pytest.approx(usage.cost_usd)
    (embed_span,) = [s for s in telemetry.calls() if s.name.startswith("embeddings")]
    assert embed_span.attributes["gen_ai.operation.name"] == "embeddings"  # type: ignore[index]


async def test_content_only_when_asked(
    gateway: MockGateway, kind: str, telemetry: Telemetry
) -> None:
    plain = make_client(gateway, kind)
    telemetry.instrument(plain)
    talkative = make_client(gateway, kind)
    telemetry.instrument(talkative, capture_content=True)
    try:
        await call(kind, plain.chat.completions.create, model=UP, messages=MSGS)
        reply = await call(kind, talkative.chat.completions.create, model=UP, messages=MSGS)
    finally:
        await close(kind, plain)
        await close(kind, talkative)
    quiet, loud = telemetry.calls()
    everything = str(dict(quiet.attributes or {})) + str([e.attributes for e in quiet.events])
    assert "lighthouses" not in everything
    assert "gen_ai.output.messages" not in (quiet.attributes or {})
    (output,) = json.loads(str((loud.attributes or {})["gen_ai.output.messages"]))
    assert output["role"] == "assistant"
    assert output["parts"] == [{"type": "text", "content": reply.choices[0].message.content}]


async def test_the_api_key_is_never_in_telemetry(
    gateway: MockGateway, kind: str, telemetry: Telemetry
) -> None:
    good = make_client(gateway, kind)
    telemetry.instrument(good, capture_content=True)
    bad = make_client(gateway, kind, api_key=KEY[:-6] + "WRONG!")
    telemetry.instrument(bad, capture_content=True)
    try:
        await call(kind, good.chat.completions.create, model=[DOWN, UP], messages=MSGS)
        await call(kind, good.embeddings.create, model="openai/text-embedding-3-small", input="x")
        with pytest.raises(xroute.AuthenticationError):
            await call(kind, bad.chat.completions.create, model=UP, messages=MSGS)
    finally:
        await close(kind, good)
        await close(kind, bad)
    dumped = [
        str(
            (
                dict(s.attributes or {}),
                [(e.name, dict(e.attributes or {})) for e in s.events],
                s.status.description,
                s.name,
            )
        )
        for s in telemetry.spans()
    ]
    for name in (
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "xroute.client.cost",
    ):
        dumped += [str(dict(p.attributes)) for p in telemetry.points(name)]
    # Three calls, the failed one too (the clients report it through on_call_end).
    assert len(telemetry.calls()) == 3
    for text in dumped:
        assert KEY not in text
        assert "0123456789abcdef" not in text


async def test_the_call_is_a_child_of_the_current_span(
    gateway: MockGateway, kind: str, telemetry: Telemetry
) -> None:
    client = make_client(gateway, kind)
    telemetry.instrument(client)
    tracer = telemetry.tracer_provider.get_tracer("app")
    try:
        with tracer.start_as_current_span("handle request") as outer:
            await call(kind, client.chat.completions.create, model=UP, messages=MSGS)
    finally:
        await close(kind, client)
    (span,) = telemetry.calls()
    assert span.parent is not None
    assert span.parent.span_id == outer.get_span_context().span_id


async def test_hooks_of_the_user_still_run_and_uninstrument_restores_them(
    gateway: MockGateway, kind: str, telemetry: Telemetry
) -> None:
    seen: list[str] = []

    def on_attempt(record: AttemptRecord) -> None:
        seen.append(record.model)

    async def on_response_async(result: Any) -> None:
        seen.append("response")

    def on_response_sync(result: Any) -> None:
        seen.append("response")

    on_response = on_response_async if kind == "async" else on_response_sync
    client = make_client(gateway, kind, on_attempt=on_attempt, on_response=on_response)
    tracing = telemetry.instrument(client)
    with pytest.raises(xroute.InvalidArgumentError, match="already instrumented"):
        telemetry.instrument(client)
    try:
        await call(kind, client.chat.completions.create, model=UP, messages=MSGS)
        assert seen == [UP, "response"]
        assert len(telemetry.calls()) == 1
        tracing.uninstrument()
        assert client._hooks == {"attempt": on_attempt, "response": on_response}
        await call(kind, client.chat.completions.create, model=UP, messages=MSGS)
        assert len(telemetry.calls()) == 1
        telemetry.instrument(client)  # allowed again
    finally:
        await close(kind, client)


async def test_failed_calls_are_traced_through_on_call_end(
    gateway: MockGateway, kind: str, telemetry: Telemetry
) -> None:
    client = make_client(gateway, kind)
    tracing = telemetry.instrument(client, capture_content=True)
    assert tracing.uses_call_end
    assert set(client._hooks) == {"attempt", "call_end"}
    try:
        with pytest.raises(xroute.InternalServerError):
            await call(
                kind,
                client.chat.completions.create,
                model=DOWN,
                messages=MSGS,
                max_tokens=20,
                temperature=0.5,
            )
    finally:
        await close(kind, client)
    (span,) = telemetry.calls()
    attrs = span.attributes or {}
    assert attrs["error.type"] == "InternalServerError"
    assert attrs["xroute.route.policy"] == "Fallback"
    assert attrs["gen_ai.request.max_tokens"] == 20
    assert attrs["gen_ai.request.temperature"] == 0.5
    assert "lighthouses" in str(attrs["gen_ai.input.messages"])
    assert span.status.status_code == StatusCode.ERROR
    attempts = telemetry.attempts_of(span)
    assert attempts
    assert all(a.attributes["http.response.status_code"] == 503 for a in attempts)  # type: ignore[index]
    (duration,) = telemetry.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "InternalServerError"


def test_instrument_takes_only_clients(telemetry: Telemetry) -> None:
    with pytest.raises(xroute.InvalidArgumentError):
        telemetry.instrument(object())


def test_a_copy_of_an_instrumented_client_is_not_instrumented_twice(
    telemetry: Telemetry,
) -> None:
    client = xroute.XRoute(api_key=KEY, base_url="http://127.0.0.1:9/v1")
    telemetry.instrument(client)
    copy = client.with_options(max_retries=5)
    with pytest.raises(xroute.InvalidArgumentError, match="already instrumented"):
        telemetry.instrument(copy)
    client.close()
