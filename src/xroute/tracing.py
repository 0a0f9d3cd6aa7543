"""OpenTelemetry spans and metrics for xroute calls (the ``xroute[otel]`` extra).

One line turns it on; spans go wherever your tracer provider sends them::

    from xroute.tracing import instrument
    instrument(client)  # the global tracer and meter providers, no message content

Per routed call, one span named ``chat <model>`` (kind CLIENT) with the OpenTelemetry GenAI
attributes (``gen_ai.operation.name``, ``gen_ai.request.model``, ``gen_ai.response.model``,
``gen_ai.usage.input_tokens`` / ``output_tokens``, ``gen_ai.provider.name`` = ``xroute``,
``server.address`` / ``server.port``, ``error.type``) and xroute's (``xroute.fallback.count``,
``xroute.cost_usd``, ``xroute.route.policy``, ``xroute.route.model``). Under it one span per
attempt sent, ``xroute.attempt <model>`` (kind INTERNAL: usage stays on the call span, so a
backend that sums tokens over GenAI spans counts each call once) with
``xroute.attempt.number``, ``xroute.attempt.outcome``, the HTTP status and ``error.type``.
Candidates skipped (breaker open) are events on the call span. Metrics:
``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage``,
``gen_ai.client.operation.time_to_first_chunk`` (streams) and ``xroute.client.cost``.

Prompts and answers are recorded only with ``capture_content=True``
(``gen_ai.input.messages`` / ``gen_ai.output.messages``). The API key never is.

How: through the client's hooks (`on_attempt` and `on_call_end`), chained with any hooks
already set. Spans are made when a call ends, with the start and end times it had, so nothing
waits on the tracer while the call runs. Failed calls get their span too; a stream's span ends
with the stream.
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ._client_base import ClientBase
from ._exceptions import InvalidArgumentError
from .routing._report import AttemptRecord, RouteReport
from .types.chat import ChatCompletion

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

__all__ = ["CallEndLike", "Instrumentation", "instrument"]

PROVIDER = "xroute"
# The GenAI conventions' advice for these histograms' buckets.
_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48]
_DURATION_BUCKETS += [40.96, 81.92]
_TOKEN_BUCKETS = [float(4**i) for i in range(14)]
# Attempts whose call has not ended yet: when each ended (wall ns). A call that raised on a
# client without `on_call_end` never claims its own, so the oldest are dropped past this.
_MAX_PENDING = 4096

_instrumented: weakref.WeakKeyDictionary[ClientBase[Any], Instrumentation] = (
    weakref.WeakKeyDictionary()
)


def _otel() -> Any:
    try:
        from opentelemetry import context, metrics, trace
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("xroute.tracing needs OpenTelemetry: pip install 'xroute[otel]'") from err
    return context, metrics, trace


class CallEndLike(Protocol):
    """What `on_call_end` hands over when a routed call is over (its stream too)."""

    operation: str  # "chat" or "embeddings"
    candidates: Sequence[str]  # the models in the order the policy chose, before any attempt
    policy: str  # the policy's class name, e.g. "Fallback"
    stream: bool
    attempts: Sequence[AttemptRecord]
    latency_s: float  # from the call's start to its end (the stream's end for streams)
    result: Any  # the response or stream; None if the call failed
    error: BaseException | None  # what the call raised, or the stream's failure
    cost_usd: float | None
    usage: Any
    body: Mapping[str, Any] | None  # the JSON body sent (messages, max_tokens, ...)


@dataclass(frozen=True, slots=True)
class _Ended:
    """A call as the tracer records it, whichever hook told of it."""

    operation: str
    stream: bool
    attempts: Sequence[AttemptRecord]
    end_ns: int
    latency_s: float
    result: Any
    error: BaseException | None
    cost_usd: float | None
    usage: Any
    route: RouteReport | None
    candidates: Sequence[str] = ()
    policy: str | None = None
    body: Mapping[str, Any] | None = None
    output: Any = None  # the completion to take content from (a stream's final snapshot)
    parent: Context | None = None
    ends: Sequence[int | None] | None = None  # when each attempt ended, if already looked up


class Instrumentation:
    """The spans and metrics of one client; `uninstrument()` puts its hooks back."""

    def __init__(
        self,
        client: ClientBase[Any],
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        capture_content: bool = False,
    ) -> None:
        otel_context, metrics, trace = _otel()
        from ._version import __version__

        self._context_api = otel_context
        self._trace = trace
        self._tracer = trace.get_tracer("xroute", __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter("xroute", __version__, meter_provider=meter_provider)
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Measures number of input and output tokens used",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self._ttft = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._cost = meter.create_histogram(
            "xroute.client.cost", unit="USD", description="What a call cost, in USD"
        )
        self.capture_content = capture_content
        url = client.base_url
        self._server: dict[str, Any] = {"server.address": url.host}
        if url.port is not None or url.scheme in ("http", "https"):
            self._server["server.port"] = url.port or (443 if url.scheme == "https" else 80)
        self._client = client
        self._lock = threading.Lock()
        self._ended_at: OrderedDict[int, tuple[AttemptRecord, int]] = OrderedDict()
        # `on_call_end` reports every call, failed ones too, and streams when they end.
        self.uses_call_end = True
        self._previous: dict[str, Callable[[Any], object] | None] = {}
        events = ["attempt", "call_end"]
        mine: dict[str, Callable[[Any], None]] = {
            "attempt": self.on_attempt,
            "call_end": self.on_call_end,
        }
        hooks: dict[str, Callable[[Any], object]] = client._hooks
        for event in events:
            previous = hooks.get(event)
            self._previous[event] = previous
            hooks[event] = _chain(mine[event], previous)

    def uninstrument(self) -> None:
        """Restore the client's own hooks; spans and metrics stop."""
        hooks = self._client._hooks
        for event, previous in self._previous.items():
            if previous is None:
                hooks.pop(event, None)
            else:
                hooks[event] = previous
        self._previous = {}
        _instrumented.pop(self._client, None)

    # ------------------------------------------------------------------------------ hooks

    def on_attempt(self, record: AttemptRecord) -> None:
        """Note when the attempt ended; its span is made when its call ends."""
        with self._lock:
            self._ended_at[id(record)] = (record, time.time_ns())
            while len(self._ended_at) > _MAX_PENDING:
                self._ended_at.popitem(last=False)

    def on_call_end(self, end: CallEndLike) -> None:
        """A routed call is over, served or not (clients with `on_call_end`)."""
        result = end.result
        route = getattr(result, "route", None)
        output = result
        if end.stream and result is not None:
            output = getattr(result, "completion_so_far", None)
        self._record(
            _Ended(
                operation=end.operation,
                stream=end.stream,
                attempts=tuple(end.attempts),
                end_ns=time.time_ns(),
                latency_s=end.latency_s,
                result=result,
                error=end.error,
                cost_usd=end.cost_usd,
                usage=end.usage,
                route=route if isinstance(route, RouteReport) else None,
                candidates=tuple(end.candidates),
                policy=end.policy,
                body=end.body,
                output=output,
            )
        )

    # --------------------------------------------------------------------------- recording

    def _record(self, call: _Ended) -> None:
        trace = self._trace
        attempts = list(call.attempts)
        requested = (
            call.candidates[0] if call.candidates else (attempts[0].model if attempts else "")
        )
        served = call.route.model if call.route is not None else None
        start_ns = call.end_ns - int(call.latency_s * 1e9)
        attributes = self._call_attributes(call, requested, served)
        span = self._tracer.start_span(
            f"{call.operation} {requested}".strip(),
            context=call.parent,
            kind=trace.SpanKind.CLIENT,
            attributes=attributes,
            start_time=start_ns,
        )
        for index, attempt in enumerate(attempts, 1):
            if attempt.outcome == "skipped":
                span.add_event(
                    "xroute.attempt.skipped",
                    {
                        "gen_ai.request.model": attempt.model,
                        "xroute.attempt.number": index,
                        "xroute.skip.reason": attempt.error_message or "",
                    },
                    timestamp=start_ns,
                )
        self._attempt_spans(call, span, attempts, start_ns)
        if call.error is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(call.error).__name__))
        span.end(end_time=call.end_ns)
        self._metrics(call, requested, attributes)

    def _call_attributes(self, call: _Ended, requested: str, served: str | None) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": call.operation,
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.system": PROVIDER,
            "gen_ai.request.model": requested,
            **self._server,
            "xroute.attempt.count": len(call.attempts),
        }
        if call.policy:
            attributes["xroute.route.policy"] = call.policy
        if call.stream:
            attributes["gen_ai.request.stream"] = True
        body = call.body or {}
        for name, key in (
            ("max_tokens", "gen_ai.request.max_tokens"),
            ("max_completion_tokens", "gen_ai.request.max_tokens"),
            ("temperature", "gen_ai.request.temperature"),
            ("top_p", "gen_ai.request.top_p"),
            ("seed", "gen_ai.request.seed"),
        ):
            value = body.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                attributes[key] = value
        route = call.route
        if route is not None:
            attributes["xroute.route.model"] = route.model
            attributes["xroute.fallback.count"] = route.fallbacks
            if route.ttft_s is not None:
                attributes["gen_ai.response.time_to_first_chunk"] = route.ttft_s
        else:  # failed: every model but the first was a fallback
            attributes["xroute.fallback.count"] = max(0, len({a.model for a in call.attempts}) - 1)
        if call.cost_usd is not None:
            attributes["xroute.cost_usd"] = call.cost_usd
        result = call.output if call.output is not None else call.result
        response_model = getattr(result, "model", None) or served
        if response_model:
            attributes["gen_ai.response.model"] = response_model
        response_id = getattr(result, "id", None)
        if isinstance(response_id, str) and response_id:
            attributes["gen_ai.response.id"] = response_id
        reasons = [
            c.finish_reason for c in getattr(result, "choices", None) or [] if c.finish_reason
        ]
        if reasons:
            attributes["gen_ai.response.finish_reasons"] = reasons
        usage = call.usage
        if usage is not None:
            attributes["gen_ai.usage.input_tokens"] = usage.prompt_tokens
            completion = getattr(usage, "completion_tokens", None)
            if completion is not None:
                attributes["gen_ai.usage.output_tokens"] = completion
        if call.error is not None:
            attributes["error.type"] = type(call.error).__name__
        if self.capture_content:
            messages = body.get("messages")
            if messages is not None:
                attributes["gen_ai.input.messages"] = _json(_input_messages(messages))
            if isinstance(result, ChatCompletion):
                attributes["gen_ai.output.messages"] = _json(_output_messages(result))
        return attributes

    def _attempt_spans(
        self, call: _Ended, parent: Span, attempts: list[AttemptRecord], call_start_ns: int
    ) -> None:
        trace = self._trace
        context = trace.set_span_in_context(parent)
        ends = list(call.ends) if call.ends is not None else self._pop_ends(attempts)
        ends += [None] * (len(attempts) - len(ends))
        previous_end = call_start_ns
        for index, (attempt, ended) in enumerate(zip(attempts, ends, strict=True), 1):
            if attempt.outcome == "skipped":
                continue
            elapsed_ns = int(attempt.elapsed_s * 1e9)
            end_ns = ended if ended is not None else previous_end + elapsed_ns
            if call.stream and index == len(attempts) and call.result is not None:
                end_ns = call.end_ns  # the serving exchange lasts until the stream's end
            start_ns = max(call_start_ns, end_ns - elapsed_ns)
            attributes: dict[str, Any] = {
                "gen_ai.operation.name": call.operation,
                "gen_ai.provider.name": PROVIDER,
                "gen_ai.request.model": attempt.model,
                **self._server,
                "xroute.attempt.number": index,
                "xroute.attempt.outcome": attempt.outcome,
            }
            if attempt.status_code is not None:
                attributes["http.response.status_code"] = attempt.status_code
            if attempt.ttft_s is not None:
                attributes["gen_ai.response.time_to_first_chunk"] = attempt.ttft_s
            if attempt.error_type:
                attributes["error.type"] = attempt.error_type
            span = self._tracer.start_span(
                f"xroute.attempt {attempt.model}",
                context=context,
                kind=trace.SpanKind.INTERNAL,
                attributes=attributes,
                start_time=start_ns,
            )
            if attempt.outcome == "error":
                span.set_status(trace.Status(trace.StatusCode.ERROR, attempt.error_message or ""))
            span.end(end_time=max(end_ns, start_ns))
            previous_end = end_ns

    def _pop_ends(self, attempts: Sequence[AttemptRecord]) -> list[int | None]:
        with self._lock:
            return [self._ended_at.pop(id(a), (a, None))[1] for a in attempts]

    def _metrics(self, call: _Ended, requested: str, span_attributes: dict[str, Any]) -> None:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": call.operation,
            "gen_ai.provider.name": PROVIDER,
            "gen_ai.request.model": requested,
            **self._server,
        }
        if "gen_ai.response.model" in span_attributes:
            attributes["gen_ai.response.model"] = span_attributes["gen_ai.response.model"]
        if call.error is not None:
            attributes["error.type"] = type(call.error).__name__
        self._duration.record(call.latency_s, attributes)
        usage = call.usage
        if usage is not None:
            self._tokens.record(usage.prompt_tokens, {**attributes, "gen_ai.token.type": "input"})
            completion = getattr(usage, "completion_tokens", None)
            if completion is not None:
                self._tokens.record(completion, {**attributes, "gen_ai.token.type": "output"})
        ttft = call.route.ttft_s if call.route is not None else None
        if call.stream and ttft is not None:
            self._ttft.record(ttft, attributes)
        if call.cost_usd is not None:
            self._cost.record(call.cost_usd, attributes)


def _chain(
    mine: Callable[[Any], None], previous: Callable[[Any], object] | None
) -> Callable[[Any], object]:
    if previous is None:
        return mine

    def both(payload: Any) -> object:
        mine(payload)
        return previous(payload)  # an awaitable from an async hook is awaited by the client

    return both


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _parts(content: Any) -> Iterator[dict[str, Any]]:
    if isinstance(content, str):
        yield {"type": "text", "content": content}
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                yield {"type": "text", "content": part.get("text", "")}
            elif isinstance(part, Mapping):
                yield {"type": str(part.get("type", "unknown"))}


def _input_messages(messages: Any) -> list[dict[str, Any]]:
    out = []
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, Mapping):
            parts = list(_parts(message.get("content")))
            for call in message.get("tool_calls") or []:
                function = call.get("function", {}) if isinstance(call, Mapping) else {}
                parts.append(
                    {
                        "type": "tool_call",
                        "id": call.get("id") if isinstance(call, Mapping) else None,
                        "name": function.get("name"),
                        "arguments": function.get("arguments"),
                    }
                )
            out.append({"role": message.get("role"), "parts": parts})
    return out


def _output_messages(completion: ChatCompletion) -> list[dict[str, Any]]:
    out = []
    for choice in completion.choices:
        message = choice.message
        parts = list(_parts(message.content)) if message.content else []
        for call in message.tool_calls or []:
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.id,
                    "name": call.function.name,
                    "arguments": call.function.arguments,
                }
            )
        out.append(
            {"role": message.role, "parts": parts, "finish_reason": choice.finish_reason or ""}
        )
    return out


def instrument(
    client: ClientBase[Any],
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    capture_content: bool = False,
) -> Instrumentation:
    """Trace `client`'s calls (spans and metrics, module doc); returns the `Instrumentation`.

    Works on `XRoute` and `AsyncXRoute`, and on copies made with `with_options` (they share
    the hooks). Providers default to OpenTelemetry's global ones. `capture_content=True` adds
    prompts and answers to the call spans: only where that data may be stored.

    >>> from xroute.tracing import instrument
    >>> tracing = instrument(client)  # doctest: +SKIP
    >>> tracing.uninstrument()  # doctest: +SKIP
    """
    if not isinstance(client, ClientBase):
        raise InvalidArgumentError(
            f"instrument() takes an XRoute or AsyncXRoute, got {type(client).__name__}"
        )
    # Copies made by with_options() share their original's hooks: instrumenting both would
    # record every call twice.
    if any(other._hooks is client._hooks for other in list(_instrumented)):
        raise InvalidArgumentError(
            "this client (or the client it was copied from with with_options()) is already "
            "instrumented, and its copies are traced too; call .uninstrument() first"
        )
    instrumentation = Instrumentation(
        client,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        capture_content=capture_content,
    )
    _instrumented[client] = instrumentation
    return instrumentation
