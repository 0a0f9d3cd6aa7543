"""Streamed chat completions, decided once for both shells: bytes in, chunks out.

`ChunkAccumulator` folds `ChatCompletionChunk`s into the `ChatCompletion` they add up to.
`StreamSession` is one streamed response: it owns an `SSEDecoder` and a `ChunkAccumulator`,
turns body bytes into validated chunks, notices ``data: [DONE]``, error events and truncation,
maps transport failures to `StreamError`s that carry the partial completion, and does the
timeout arithmetic (idle, first token, deadline). The sync and async `Stream` classes only
read bytes and pass them in, with the time: nothing here reads a clock or a socket.

>>> session = StreamSession(started_at=0.0, first_token_timeout=5.0)
>>> chunks = session.feed(b'data: {"choices": [{"delta": {"content": "Hi"}}]}\\n\\n', now=0.2)
>>> session.feed(b"data: [DONE]\\n\\n", now=0.3), session.done, session.first_content_at
([], True, 0.2)
>>> session.snapshot().choices[0].message.content
'Hi'
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

import httpx
from pydantic import ValidationError

from .._exceptions import (
    StreamError,
    StreamErrorEvent,
    StreamInterruptedError,
    StreamTimeoutError,
    redact,
)
from ..types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageToolCall,
    ChatCompletionTokenLogprob,
    Choice,
    ChoiceDeltaToolCall,
    ChoiceLogprobs,
    CompletionUsage,
    Function,
)
from .sse import RawEvent, SSEDecoder

__all__ = [
    "MAX_DRAIN_PIECES",
    "READ_ERRORS",
    "ChunkAccumulator",
    "StreamSession",
    "first_choice_text",
]

#: What reading a response body can raise; the shells hand these to `StreamSession.fail`.
#: (`httpx.DecodingError` is a `RequestError` but not a `TransportError`; `TimeoutError` is
#: what `anyio.fail_after` raises.)
READ_ERRORS: tuple[type[BaseException], ...] = (httpx.RequestError, httpx.StreamError, TimeoutError)

#: After ``[DONE]`` the shells read on to the end of the body, at most this many pieces, so
#: that httpcore sees the end of the message and can put the connection back in the pool
#: (closing a half-read HTTP/1.1 response throws the connection away).
MAX_DRAIN_PIECES = 8

# Deltas that stream a model's reasoning. They count as its first token for the first-token
# timeout: a reasoning model that is thinking is alive, and may think for a long time.
_REASONING_KEYS = ("reasoning", "reasoning_content")

# `model_validate_json` minus its Python wrapper (a third of a microsecond per chunk): the
# same validator, called straight. The chunk model has no forward references to rebuild.
_validate_chunk: Callable[[str], ChatCompletionChunk] = (
    ChatCompletionChunk.__pydantic_validator__.validate_json
)


def first_choice_text(chunk: ChatCompletionChunk) -> str:
    """The text that `chunk` adds to the choice with index 0 ('' if none); for `text_stream`."""
    for choice in chunk.choices:
        if choice.index == 0:
            return choice.delta.content or ""
    return ""


class _Text(list[str]):
    """The fragments of a streamed string field that is not in our models (e.g. `reasoning`);
    kept apart so that they are joined once, in `snapshot()`, not once per chunk."""


def _merge_delta_extra(target: dict[str, Any], extra: dict[str, Any]) -> None:
    # Fields we do not model are merged the way deltas work: strings are fragments to
    # concatenate (reasoning text), lists are items to append (reasoning_details,
    # annotations); anything else is a value whose latest version wins.
    for key, value in extra.items():
        old = target.get(key)
        if isinstance(value, str):
            if isinstance(old, _Text):
                old.append(value)
            else:
                target[key] = _Text([value])
        elif isinstance(value, list):
            if isinstance(old, list) and not isinstance(old, _Text):
                old.extend(value)
            else:
                target[key] = list(value)
        elif value is not None or key not in target:
            target[key] = value


def _settle(extra: dict[str, Any] | None) -> dict[str, Any]:
    if not extra:
        return {}
    return {k: "".join(v) if isinstance(v, _Text) else v for k, v in extra.items()}


class _ToolCallState:
    __slots__ = ("arguments", "extra", "function_extra", "id", "name", "type")

    def __init__(self) -> None:
        self.id = ""
        self.type = ""
        self.name = ""
        self.arguments: list[str] = []
        self.extra: dict[str, Any] | None = None
        self.function_extra: dict[str, Any] | None = None

    def build(self) -> ChatCompletionMessageToolCall:
        function = Function(
            **{
                **_settle(self.function_extra),
                "name": self.name,
                "arguments": "".join(self.arguments),
            }
        )
        return ChatCompletionMessageToolCall(
            **{
                **_settle(self.extra),
                "id": self.id,
                "type": self.type or "function",
                "function": function,
            }
        )


class _ChoiceState:
    __slots__ = (
        "choice_extra",
        "content",
        "finish_reason",
        "function_arguments",
        "function_name",
        "index",
        "logprobs_content",
        "logprobs_refusal",
        "message_extra",
        "refusal",
        "role",
        "tool_by_index",
        "tool_calls",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.role: str | None = None
        # Fragments, joined in build(). An empty list means "never sent" (None in the result);
        # a delta of "" still counts as sent.
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.tool_calls: list[_ToolCallState] = []
        self.tool_by_index: dict[int, _ToolCallState] = {}
        self.function_name: str | None = None
        self.function_arguments: list[str] = []
        self.finish_reason: str | None = None
        self.logprobs_content: list[ChatCompletionTokenLogprob] | None = None
        self.logprobs_refusal: list[ChatCompletionTokenLogprob] | None = None
        self.message_extra: dict[str, Any] | None = None
        self.choice_extra: dict[str, Any] | None = None

    def add_tool_calls(self, deltas: list[ChoiceDeltaToolCall]) -> None:
        for delta in deltas:
            call = self.tool_by_index.get(delta.index)
            # Some OpenAI-compatible servers give every call index 0 (or none) and tell them
            # apart only by id: a new id at a taken index is a new call, not a continuation.
            if call is None or (delta.id and call.id and delta.id != call.id):
                call = _ToolCallState()
                self.tool_calls.append(call)
                self.tool_by_index[delta.index] = call
            if delta.id and not call.id:
                call.id = delta.id
            if delta.type and not call.type:
                call.type = delta.type
            function = delta.function
            if function is not None:
                if function.name and not call.name:
                    call.name = function.name
                if function.arguments:
                    call.arguments.append(function.arguments)
                if function.__pydantic_extra__:
                    if call.function_extra is None:
                        call.function_extra = {}
                    _merge_delta_extra(call.function_extra, function.__pydantic_extra__)
            if delta.__pydantic_extra__:
                if call.extra is None:
                    call.extra = {}
                _merge_delta_extra(call.extra, delta.__pydantic_extra__)

    def add_logprobs(self, logprobs: ChoiceLogprobs) -> None:
        if logprobs.content is not None:
            if self.logprobs_content is None:
                self.logprobs_content = []
            self.logprobs_content.extend(logprobs.content)
        if logprobs.refusal is not None:
            if self.logprobs_refusal is None:
                self.logprobs_refusal = []
            self.logprobs_refusal.extend(logprobs.refusal)

    def build(self) -> Choice:
        function_call = None
        if self.function_name is not None or self.function_arguments:
            function_call = Function(
                name=self.function_name or "", arguments="".join(self.function_arguments)
            )
        message = ChatCompletionMessage(
            **{
                **_settle(self.message_extra),
                "role": self.role or "assistant",
                "content": "".join(self.content) if self.content else None,
                "refusal": "".join(self.refusal) if self.refusal else None,
                "tool_calls": [call.build() for call in self.tool_calls] or None,
                "function_call": function_call,
            }
        )
        logprobs = None
        if self.logprobs_content is not None or self.logprobs_refusal is not None:
            logprobs = ChoiceLogprobs(content=self.logprobs_content, refusal=self.logprobs_refusal)
        return Choice(
            **{
                **(self.choice_extra or {}),
                "index": self.index,
                "message": message,
                "finish_reason": self.finish_reason,
                "logprobs": logprobs,
            }
        )


class ChunkAccumulator:
    """Folds streamed chunks into the `ChatCompletion` they add up to.

    Handles several choices (by `index`), role, content, refusal, tool-call deltas (id, type
    and name once, argument fragments joined per tool call), legacy `function_call` deltas,
    `finish_reason`, logprobs, and usage from the final usage-only chunk (with ``choices: []``
    or a stub choice). Fields we do not model are kept: on the chunk and the choice the latest
    value wins; on a delta, strings are concatenated (e.g. `reasoning`) and lists appended.

    `add` only appends fragments to lists, so a stream of n chunks costs O(n) however long it
    is; `snapshot` joins them and caches the result until the next `add`.

    >>> acc = ChunkAccumulator()
    >>> for text in ("Hel", "lo"):
    ...     acc.add(ChatCompletionChunk.model_validate({"choices": [{"delta": {"content": text}}]}))
    >>> acc.snapshot().choices[0].message.content
    'Hello'
    """

    def __init__(self) -> None:
        self._choices: dict[int, _ChoiceState] = {}
        self._id = ""
        self._model = ""
        self._created = 0
        self._system_fingerprint: str | None = None
        self._service_tier: str | None = None
        self._usage: CompletionUsage | None = None
        self._extra: dict[str, Any] = {}
        self._has_content = False
        self._count = 0
        self._snapshot: ChatCompletion | None = None

    @property
    def has_content(self) -> bool:
        """True once any choice got a token: content, refusal, tool call or reasoning text.

        A role-only first chunk (``"content": ""``) or a usage chunk does not count.
        """
        return self._has_content

    @property
    def usage(self) -> CompletionUsage | None:
        """The token usage, once a chunk carried it (the last chunk, with `include_usage`)."""
        return self._usage

    @property
    def chunk_count(self) -> int:
        """How many chunks were added."""
        return self._count

    def add(self, chunk: ChatCompletionChunk) -> None:
        """Fold one chunk in."""
        self._snapshot = None
        self._count += 1
        # The first non-empty value wins: some servers repeat these on every chunk, some send
        # them once, a few fill them in late.
        if not self._id and chunk.id:
            self._id = chunk.id
        if not self._model and chunk.model:
            self._model = chunk.model
        if not self._created and chunk.created:
            self._created = chunk.created
        if chunk.system_fingerprint is not None:
            self._system_fingerprint = chunk.system_fingerprint
        if chunk.service_tier is not None:
            self._service_tier = chunk.service_tier
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.__pydantic_extra__:
            self._extra.update(chunk.__pydantic_extra__)
        choices = self._choices
        for choice in chunk.choices:
            state = choices.get(choice.index)
            if state is None:
                state = choices[choice.index] = _ChoiceState(choice.index)
            delta = choice.delta
            content = delta.content
            if content is not None:
                state.content.append(content)
                if content:
                    self._has_content = True
            if delta.role is not None and state.role is None:
                state.role = delta.role
            if delta.refusal is not None:
                state.refusal.append(delta.refusal)
                if delta.refusal:
                    self._has_content = True
            if delta.tool_calls:
                state.add_tool_calls(delta.tool_calls)
                self._has_content = True
            if delta.function_call is not None:
                function_call = delta.function_call
                if function_call.name and not state.function_name:
                    state.function_name = function_call.name
                if function_call.arguments:
                    state.function_arguments.append(function_call.arguments)
                self._has_content = True
            if delta.__pydantic_extra__:
                self._add_delta_extra(state, delta.__pydantic_extra__)
            if choice.finish_reason is not None:
                state.finish_reason = choice.finish_reason
            if choice.logprobs is not None:
                state.add_logprobs(choice.logprobs)
            if choice.__pydantic_extra__:
                if state.choice_extra is None:
                    state.choice_extra = {}
                state.choice_extra.update(choice.__pydantic_extra__)

    def _add_delta_extra(self, state: _ChoiceState, extra: dict[str, Any]) -> None:
        if state.message_extra is None:
            state.message_extra = {}
        _merge_delta_extra(state.message_extra, extra)
        if not self._has_content:
            self._has_content = any(
                isinstance(extra.get(key), str) and extra[key] for key in _REASONING_KEYS
            )

    def snapshot(self) -> ChatCompletion:
        """The completion so far (the same object until the next `add`; do not mutate it)."""
        if self._snapshot is None:
            self._snapshot = self._build()
        return self._snapshot

    def _build(self) -> ChatCompletion:
        return ChatCompletion(
            **{
                **self._extra,
                "id": self._id,
                "object": "chat.completion",
                "created": self._created,
                "model": self._model,
                "choices": [self._choices[i].build() for i in sorted(self._choices)],
                "usage": self._usage,
                "system_fingerprint": self._system_fingerprint,
                "service_tier": self._service_tier,
            }
        )


class StreamObserver(Protocol):
    """Told once how a stream ended, when its shell releases the connection (the routing
    plan uses it to settle health, cost and budget for streams that outlive the call).
    What it returns is handed to the shell: the payload of the user's `on_call_end` hook,
    or None."""

    def completed(self, snapshot: ChatCompletion, now: float) -> object:
        """The stream reached `[DONE]`."""

    def failed(self, error: Exception, now: float) -> object:
        """The stream failed after it was handed to the caller."""

    def abandoned(self, snapshot: ChatCompletion, now: float) -> object:
        """The caller closed the stream (or stopped on an exception) before `[DONE]`."""


class StreamSession:
    """One streamed chat completion response, decided without I/O: bytes in, chunks out.

    The client creates one per streamed attempt; a `Stream`/`AsyncStream` reads the body and
    calls `feed` with every piece, `finish` at the end of the body and `fail` when reading
    raised. Before each read it asks `read_timeout` how long it may wait and calls `check`.

    Times are monotonic seconds, passed in. `started_at` is when the request was sent (the
    first-token clock starts there; when None, at the first call that passes `now`);
    `first_token_timeout` limits the wait for the first token, `idle_timeout` any wait for
    bytes, and `deadline_at` is the call's absolute deadline. `secret` (the API key) is
    removed from any server text put into an error message; `request` is attached to errors.
    """

    def __init__(
        self,
        *,
        request: httpx.Request | None = None,
        started_at: float | None = None,
        first_token_timeout: float | None = None,
        idle_timeout: float | None = None,
        deadline_at: float | None = None,
        secret: str | None = None,
    ) -> None:
        self.request = request
        self.started_at = started_at
        self.first_token_timeout = first_token_timeout
        self.idle_timeout = idle_timeout
        self.deadline_at = deadline_at
        self.secret = secret
        self.decoder = SSEDecoder()
        self.accumulator = ChunkAccumulator()
        self._done = False
        self._first_content_at: float | None = None
        self._last_bytes_at: float | None = None
        self._wait_reason: str | None = None
        self.observer: StreamObserver | None = None

    # ------------------------------------------------------------------ state

    @property
    def done(self) -> bool:
        """True once ``data: [DONE]`` arrived; the shells stop reading then."""
        return self._done

    @property
    def has_content(self) -> bool:
        """True once a token arrived (see `ChunkAccumulator.has_content`)."""
        return self.accumulator.has_content

    @property
    def first_content_at(self) -> float | None:
        """When the first token arrived (the `now` of that `feed`), for time-to-first-token."""
        return self._first_content_at

    @property
    def usage(self) -> CompletionUsage | None:
        """The token usage, if the server sent it."""
        return self.accumulator.usage

    def snapshot(self) -> ChatCompletion:
        """The completion received so far."""
        return self.accumulator.snapshot()

    def close(self, now: float, failure: StreamError | None = None) -> object:
        """The shell released the connection: tell the observer, once, how the stream ended,
        and return what it returned (for the shell to hand to the `on_call_end` hook)."""
        observer, self.observer = self.observer, None
        if observer is None:
            return None
        if self._done:
            return observer.completed(self.snapshot(), now)
        if failure is not None:
            return observer.failed(failure, now)
        return observer.abandoned(self.snapshot(), now)

    # ------------------------------------------------------------------ bytes in, chunks out

    def feed(self, data: bytes, now: float) -> list[ChatCompletionChunk]:
        """Take one piece of the body; return the chunks it completed, already accumulated.

        Raises `StreamErrorEvent` for an error event and `StreamInterruptedError` for data
        that is not a chunk; `.partial` then holds every chunk parsed before it. Bytes after
        ``[DONE]`` are ignored. Named events other than ``error`` (pings, gateway metadata)
        are skipped: they are not chunks.
        """
        if self._done:
            return []
        if self.started_at is None:
            self.started_at = now
        self._last_bytes_at = now
        events = self.decoder.feed_raw(data)
        if not events:
            return []
        try:
            return self._chunks(events)
        finally:  # also when an error event follows the first token in the same piece
            if self._first_content_at is None and self.accumulator.has_content:
                self._first_content_at = now

    def _chunks(self, events: list[RawEvent]) -> list[ChatCompletionChunk]:
        chunks: list[ChatCompletionChunk] = []
        add = self.accumulator.add
        for kind, data, _, _ in events:
            if kind != "message":
                if kind == "error":
                    raise self._error_event(_error_payload(data))
                continue
            try:
                chunk = _validate_chunk(data)
            except ValidationError as err:
                payload = data.strip()
                if payload == "[DONE]":
                    self._done = True
                    break
                if not payload:
                    continue  # an empty data line used as a keep-alive
                # `from None`: pydantic's text quotes the data, which may echo the key.
                raise self._not_a_chunk(data, err) from None
            extra = chunk.__pydantic_extra__
            if extra and "error" in extra:
                raise self._error_event(extra["error"])
            add(chunk)
            chunks.append(chunk)
        return chunks

    def finish(self) -> None:
        """The body ended: raise `StreamInterruptedError` unless ``[DONE]`` was seen."""
        if self._done:
            return
        self.decoder.flush()  # settles `pending`; under the spec it completes no event
        pending = self.decoder.pending
        if pending is not None and pending.event == "message" and pending.data.strip() == "[DONE]":
            # `data: [DONE]` and then the connection closed without the blank line: the
            # spec drops the event, but the server plainly said it was done.
            self._done = True
            return
        where = " in the middle of an event" if self.decoder.truncated else ""
        raise StreamInterruptedError(
            f"the stream ended{where} before `data: [DONE]` after "
            f"{self.accumulator.chunk_count} chunk(s): the server or a proxy closed the "
            "response early; the text received so far is in .partial",
            partial=self.snapshot(),
            request=self.request,
        )

    def closed_early(self) -> StreamInterruptedError:
        """The error for reading on from a stream that was closed before ``[DONE]``."""
        return StreamInterruptedError(
            "the stream was closed before `data: [DONE]` (by close(), the end of its with "
            "block, or a loop over it left early), so there is nothing more to read; the text "
            "received so far is in .partial and in the stream's completion_so_far",
            partial=self.snapshot(),
            request=self.request,
        )

    # ------------------------------------------------------------------ timeouts

    def read_timeout(self, now: float) -> float | None:
        """How long the shell may wait for the next bytes (None: no limit of ours).

        The smallest of the idle timeout, the time left to the first-token limit while no
        token has arrived, and the time left to the deadline; never negative.
        """
        if self.started_at is None:
            self.started_at = now
        wait: float | None = None
        reason: str | None = None
        if self.idle_timeout is not None:
            wait, reason = self.idle_timeout, "idle"
        if self.first_token_timeout is not None and self._first_content_at is None:
            left = self.started_at + self.first_token_timeout - now
            if wait is None or left < wait:
                wait, reason = left, "first_token"
        if self.deadline_at is not None:
            left = self.deadline_at - now
            if wait is None or left < wait:
                wait, reason = left, "deadline"
        self._wait_reason = reason
        return None if wait is None else max(wait, 0.0)

    def check(self, now: float) -> None:
        """Raise `StreamTimeoutError` if the first-token limit or the deadline has passed.

        Bytes that carry no token (keep-alive comments, role-only chunks) do not stop the
        first-token clock. The idle limit is enforced by the wait itself (`read_timeout`).
        """
        if self._done:
            return
        reason = self._expired(now)
        if reason is not None:
            raise self._timeout(reason, now)

    def _expired(self, now: float) -> str | None:
        """The limit that has passed (the earlier one if both have), or None."""
        reason = None
        passed_at = float("inf")
        if self.first_token_timeout is not None and self._first_content_at is None:
            start = now if self.started_at is None else self.started_at
            limit = start + self.first_token_timeout
            if now >= limit:
                reason, passed_at = "first_token", limit
        if (
            self.deadline_at is not None
            and now >= self.deadline_at
            and self.deadline_at < passed_at
        ):
            reason = "deadline"
        return reason

    # ------------------------------------------------------------------ errors

    def fail(self, exc: BaseException, now: float) -> StreamError:
        """Map an exception raised while reading the body; the caller raises it ``from exc``.

        Timeouts (`httpx.TimeoutException`, or the `TimeoutError` of `anyio.fail_after`)
        become `StreamTimeoutError` naming the limit that ran out; anything else (connection
        reset, protocol error, bad content-encoding) `StreamInterruptedError`.
        """
        if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
            reason = self._expired(now) or self._wait_reason or "read"
            if reason == "idle" and self.idle_timeout is not None:
                start = now if self.started_at is None else self.started_at
                last = start if self._last_bytes_at is None else self._last_bytes_at
                if now - last < self.idle_timeout - 1e-3:
                    reason = "read"  # the HTTP client's own read timeout was the shorter one
            return self._timeout(reason, now)
        detail = redact(str(exc), self.secret) or "no detail"
        return StreamInterruptedError(
            f"the connection broke while streaming ({type(exc).__name__}: {detail}) after "
            f"{self.accumulator.chunk_count} chunk(s); the text received so far is in .partial",
            partial=self.snapshot(),
            request=self.request,
        )

    def _timeout(self, reason: str, now: float) -> StreamTimeoutError:
        start = now if self.started_at is None else self.started_at
        last = start if self._last_bytes_at is None else self._last_bytes_at
        if reason == "first_token":
            what = (
                f"no token within first_token_timeout={self.first_token_timeout:g} s "
                "(keep-alives and role-only chunks do not count)"
            )
            code = "first_token_timeout"
        elif reason == "deadline":
            what = f"the call's deadline passed {now - start:.2f} s into the stream"
            code = "deadline_exceeded"
        elif reason == "idle":
            what = (
                f"no data from the server for {now - last:.2f} s "
                f"(stream_idle_timeout={self.idle_timeout:g} s)"
            )
            code = "stream_idle_timeout"
        else:
            what = (
                f"the read timed out after {now - last:.2f} s without data (the HTTP read timeout)"
            )
            code = "read_timeout"
        return StreamTimeoutError(
            f"{what}; the text received so far is in .partial",
            partial=self.snapshot(),
            request=self.request,
            code=code,
        )

    def _error_event(self, error: object) -> StreamErrorEvent:
        message, code, status = _describe_error(error)
        shown = redact(message, self.secret)
        label = f" [{code}]" if code else ""
        return StreamErrorEvent(
            f"the server sent an error mid-stream{label}: {shown}; "
            "the text received so far is in .partial",
            partial=self.snapshot(),
            request=self.request,
            code=code,
            status_code=status,
        )

    def _not_a_chunk(self, data: str, err: ValidationError) -> StreamInterruptedError:
        first = err.errors()[0]
        why = "not JSON" if first["type"] == "json_invalid" else f"not a chunk ({first['msg']})"
        shown = redact(data[:200], self.secret)
        return StreamInterruptedError(
            f"the server sent data that is {why}: {shown!r}; the stream cannot go on; "
            "the text received so far is in .partial",
            partial=self.snapshot(),
            request=self.request,
        )


def _error_payload(data: str) -> object:
    """The error of an ``event: error`` block: its JSON (unwrapping ``{"error": ...}``)."""
    try:
        value: object = json.loads(data)
    except (ValueError, RecursionError):  # nested thousands deep: still just the text
        return data
    if isinstance(value, dict) and "error" in value:
        return value["error"]
    return value


def _describe_error(error: object) -> tuple[str, str | None, int | None]:
    """Message, code and HTTP status of an error object, in the shapes gateways use."""
    if not isinstance(error, dict):
        return (str(error) if error not in (None, "") else "no detail"), None, None
    message = error.get("message") or error.get("detail") or json.dumps(error)[:300]
    raw_code = error.get("code")
    code: str | None = None
    status: int | None = None
    # OpenRouter and others put the upstream HTTP status in `code`; OpenAI a string code.
    if isinstance(raw_code, int) and not isinstance(raw_code, bool):
        status = raw_code if 100 <= raw_code < 600 else None
        code = None if status is not None else str(raw_code)
    elif isinstance(raw_code, str) and raw_code:
        code = raw_code
    if code is None and isinstance(error.get("type"), str) and error["type"]:
        code = error["type"]
    for key in ("status", "status_code"):
        value = error.get(key)
        if status is None and isinstance(value, int) and 100 <= value < 600:
            status = value
    return str(message), code, status
