"""`Stream` and `AsyncStream` over `httpx.MockTransport` streaming bodies: chunks come out,
failures carry the partial text, timeouts fire, and the connection is always released."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest

from xroute import AsyncStream, Stream
from xroute._core.stream_state import StreamSession
from xroute._exceptions import (
    StreamErrorEvent,
    StreamInterruptedError,
    StreamTimeoutError,
)
from xroute.types.chat import ChatCompletionChunk

# httpx reads bodies through a chain of async generators; a stream closed before the end of
# its body leaves them unfinished, and trio warns when the GC finalises them. That is httpx's
# to fix (encode/httpx#3686); our own async iterators are classes and are not excused here.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Async generator 'httpx\._\w+\.[\w.]+' was garbage collected:ResourceWarning"
)

URL = "http://gateway.test/v1/chat/completions"
HEADERS = {"content-type": "text/event-stream"}


def sse(payload: object) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def content(text: str, index: int = 0) -> bytes:
    return sse(
        {"id": "c1", "model": "m", "choices": [{"index": index, "delta": {"content": text}}]}
    )


ROLE = sse({"id": "c1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
STOP = sse({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
USAGE = sse(
    {"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}}
)
KEEPALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"
ERROR = b'event: error\ndata: {"error": {"message": "upstream died", "code": 502}}\n\n'
HAPPY = [ROLE, content("Hel"), content("lo"), STOP, USAGE, DONE]


def texts(chunks: Iterable[ChatCompletionChunk]) -> list[str]:
    return [c.choices[0].delta.content or "" for c in chunks if c.choices]


class Body:
    """A sync response body that records how far it was read."""

    def __init__(self, pieces: Iterable[bytes], error: Exception | None = None) -> None:
        self.pieces = list(pieces)
        self.error = error
        self.pulled = 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            self.pulled += 1
            yield piece
        if self.error is not None:
            raise self.error


MakeStream = Callable[..., Stream[ChatCompletionChunk]]


@pytest.fixture
def make_stream() -> Iterator[MakeStream]:
    clients: list[httpx.Client] = []

    def make(
        body: Iterable[bytes], *, clock: Callable[[], float] = time.monotonic, **limits: Any
    ) -> Stream[ChatCompletionChunk]:
        client = httpx.Client(
            transport=httpx.MockTransport(
                lambda _: httpx.Response(200, headers=HEADERS, content=iter(body))
            )
        )
        clients.append(client)
        request = client.build_request("POST", URL, json={"stream": True})
        response = client.send(request, stream=True)
        session = StreamSession(request=request, started_at=clock(), **limits)
        return Stream(response, session, clock=clock)

    yield make
    for client in clients:
        client.close()


# --------------------------------------------------------------------------- sync


def test_iteration_yields_every_chunk_and_exhaustion_releases(make_stream: MakeStream) -> None:
    stream = make_stream(HAPPY)
    assert texts(stream) == ["", "Hel", "lo", ""]
    assert stream.response.is_closed
    final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello"
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None
    assert final.usage.total_tokens == 5
    assert stream.completion_so_far is final


def test_get_final_completion_drains_the_rest(make_stream: MakeStream) -> None:
    stream = make_stream(HAPPY)
    assert next(stream).choices[0].delta.role == "assistant"
    completion = stream.get_final_completion()
    assert completion.choices[0].message.content == "Hello"
    assert stream.response.is_closed


def test_text_stream_gives_non_empty_text_of_the_first_choice(make_stream: MakeStream) -> None:
    body = [ROLE, content("A"), content("x", index=1), content(""), content("B"), DONE]
    stream = make_stream(body)
    assert list(stream.text_stream) == ["A", "B"]
    assert stream.response.is_closed


def test_breaking_out_of_a_for_loop_releases_the_connection(make_stream: MakeStream) -> None:
    stream = make_stream(HAPPY)
    for chunk in stream:
        if chunk.choices[0].delta.content:
            break
    # CPython finalises the loop's generator right away; its `finally` closes the response.
    assert stream.response.is_closed
    with pytest.raises(StreamInterruptedError, match="closed before") as caught:
        stream.get_final_completion()
    assert caught.value.partial_text == "Hel"


def test_breaking_out_of_text_stream_releases_the_connection(make_stream: MakeStream) -> None:
    stream = make_stream(HAPPY)
    for _ in stream.text_stream:
        break
    assert stream.response.is_closed


def test_an_exception_in_the_loop_body_inside_with_releases(make_stream: MakeStream) -> None:
    stream = make_stream(HAPPY)

    def user_code() -> None:
        with stream:
            next(stream)  # the stream keeps this iterator: only __exit__ can release it
            assert not stream.response.is_closed
            raise RuntimeError("user code")

    with pytest.raises(RuntimeError, match="user code"):
        user_code()
    assert stream.response.is_closed


def test_close_is_idempotent_and_reading_on_raises(make_stream: MakeStream) -> None:
    stream = make_stream(HAPPY)
    stream.prime()
    stream.close()
    stream.close()
    assert stream.response.is_closed
    with pytest.raises(StreamInterruptedError, match="closed before") as caught:
        list(stream)
    assert caught.value.partial_text == "Hel"


def test_a_finished_stream_iterates_as_empty(make_stream: MakeStream) -> None:
    stream = make_stream(HAPPY)
    assert len(list(stream)) == 5
    assert list(stream) == []
    assert list(stream.text_stream) == []
    assert stream.get_final_completion().choices[0].message.content == "Hello"


def test_a_failed_stream_raises_its_error_again(make_stream: MakeStream) -> None:
    stream = make_stream([ROLE, ERROR])
    with pytest.raises(StreamErrorEvent) as caught:
        stream.prime()
    with pytest.raises(StreamErrorEvent) as again:
        list(stream)  # the role chunk read before the error, then the error again
    assert again.value is caught.value
    with pytest.raises(StreamErrorEvent):
        stream.get_final_completion()


def test_prime_reads_up_to_the_first_token_and_iteration_replays_it(
    make_stream: MakeStream,
) -> None:
    body = Body([ROLE, KEEPALIVE, content("Hel"), content("lo"), DONE])
    stream = make_stream(body)
    stream.prime()
    assert body.pulled == 3  # role, keep-alive, first token: no further
    assert not stream.response.is_closed
    assert stream.completion_so_far.choices[0].message.content == "Hel"
    stream.prime()  # already primed: reads nothing more
    assert body.pulled == 3
    assert texts(stream) == ["", "Hel", "lo"]


def test_prime_raises_an_error_event_and_releases(make_stream: MakeStream) -> None:
    stream = make_stream([ROLE, ERROR, content("never")])
    with pytest.raises(StreamErrorEvent) as caught:
        stream.prime()
    assert caught.value.status_code == 502
    assert "upstream died" in str(caught.value)
    assert stream.response.is_closed


def test_an_error_event_mid_stream_carries_the_partial_text(make_stream: MakeStream) -> None:
    stream = make_stream([ROLE, content("Hello, wor"), ERROR, content("ld")])
    seen: list[str] = []

    def consume() -> None:
        for chunk in stream:
            seen.append(chunk.choices[0].delta.content or "")

    with pytest.raises(StreamErrorEvent) as caught:
        consume()
    assert seen == ["", "Hello, wor"]
    assert caught.value.partial_text == "Hello, wor"
    assert stream.response.is_closed
    with pytest.raises(StreamErrorEvent) as again:
        stream.get_final_completion()
    assert again.value is caught.value


def test_a_truncated_body_is_interrupted_with_the_partial(make_stream: MakeStream) -> None:
    stream = make_stream([ROLE, content("Hel"), b'data: {"choi'])
    with pytest.raises(StreamInterruptedError, match="middle of an event") as caught:
        stream.get_final_completion()
    assert caught.value.partial_text == "Hel"
    assert stream.response.is_closed


def test_a_dropped_connection_is_interrupted_from_the_transport_error(
    make_stream: MakeStream,
) -> None:
    stream = make_stream(Body([ROLE, content("Hel")], error=httpx.ReadError("connection reset")))
    with pytest.raises(StreamInterruptedError, match="connection reset") as caught:
        list(stream)
    assert isinstance(caught.value.__cause__, httpx.ReadError)
    assert caught.value.partial_text == "Hel"
    assert caught.value.request is stream.response.request
    assert stream.response.is_closed


def test_bytes_after_done_are_drained_and_ignored(make_stream: MakeStream) -> None:
    body = Body([ROLE, content("Hi"), DONE, b"data: junk\n\n", b"more junk"])
    stream = make_stream(body)
    assert texts(stream) == ["", "Hi"]
    assert body.pulled == 5  # read to the end, so the connection could go back to the pool
    assert stream.response.is_closed


def test_done_without_its_blank_line_and_a_failing_drain_still_finish(
    make_stream: MakeStream,
) -> None:
    stream = make_stream([ROLE, content("Hi"), b"data: [DONE]\n"])
    assert stream.get_final_completion().choices[0].message.content == "Hi"
    assert stream.response.is_closed
    stream = make_stream(Body([content("Hi"), DONE], error=httpx.ReadError("reset after done")))
    assert stream.get_final_completion().choices[0].message.content == "Hi"
    assert stream.response.is_closed


def test_the_read_timeout_extension_follows_the_session(make_stream: MakeStream) -> None:
    stream = make_stream(HAPPY, first_token_timeout=2.0, idle_timeout=3.0)
    original = stream.response.request.extensions["timeout"]
    configured = original["read"]
    stream.prime()
    timeouts = stream.response.request.extensions["timeout"]
    assert timeouts is not original  # copied, never mutated in place
    assert original["read"] == configured
    assert 1.0 < timeouts["read"] <= 2.0  # waiting for the first token
    next(stream)
    next(stream)
    next(stream)  # the next read happens after the first token: the idle limit applies
    assert timeouts["read"] == 3.0


def test_first_token_timeout_with_only_keepalives_on_a_fake_clock(
    make_stream: MakeStream,
) -> None:
    clock = itertools.count(0.0, 1.0).__next__
    stream = make_stream(
        [ROLE] + [KEEPALIVE] * 20 + [content("late"), DONE], clock=clock, first_token_timeout=5.0
    )
    with pytest.raises(StreamTimeoutError) as caught:
        stream.prime()
    assert caught.value.code == "first_token_timeout"
    assert stream.response.is_closed


def test_no_first_token_timeout_once_a_token_came(make_stream: MakeStream) -> None:
    clock = itertools.count(0.0, 1.0).__next__
    stream = make_stream(
        [content("a")] + [KEEPALIVE] * 20 + [DONE], clock=clock, first_token_timeout=5.0
    )
    assert stream.get_final_completion().choices[0].message.content == "a"


def test_route_and_response_properties(make_stream: MakeStream) -> None:
    stream = make_stream(HAPPY)
    assert stream.route is None
    stream.route = "report"
    assert stream.route == "report"
    assert stream.response.status_code == 200
    assert stream.completion_so_far.choices == []
    stream.close()


# --------------------------------------------------------------------------- async


class AsyncBody:
    """An async response body: pieces (each after `every` s), then a `sleep` or an `error`.

    A class, not an async generator, so that a body left unfinished is not reported by trio.
    """

    def __init__(
        self,
        pieces: Iterable[bytes],
        *,
        sleep: float = 0.0,
        every: float = 0.0,
        error: Exception | None = None,
    ) -> None:
        self.pieces = list(pieces)
        self.sleep = sleep
        self.every = every
        self.error = error
        self.pulled = 0

    def __aiter__(self) -> AsyncBody:
        return self

    async def __anext__(self) -> bytes:
        if self.pulled < len(self.pieces):
            if self.every:
                await anyio.sleep(self.every)
            self.pulled += 1
            return self.pieces[self.pulled - 1]
        if self.sleep:
            await anyio.sleep(self.sleep)
        if self.error is not None:
            raise self.error
        raise StopAsyncIteration


@asynccontextmanager
async def async_stream(
    body: AsyncBody, **limits: Any
) -> AsyncIterator[AsyncStream[ChatCompletionChunk]]:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=HEADERS, content=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        request = client.build_request("POST", URL, json={"stream": True})
        response = await client.send(request, stream=True)
        session = StreamSession(request=request, started_at=time.monotonic(), **limits)
        yield AsyncStream(response, session)
        await response.aclose()


async def atexts(stream: AsyncStream[ChatCompletionChunk]) -> list[str]:
    return [c.choices[0].delta.content or "" async for c in stream if c.choices]


@pytest.mark.anyio
async def test_async_iteration_and_final_completion() -> None:
    async with async_stream(AsyncBody(HAPPY)) as stream:
        assert await atexts(stream) == ["", "Hel", "lo", ""]
        assert stream.response.is_closed
        final = await stream.get_final_completion()
        assert final.choices[0].message.content == "Hello"
        assert final.usage is not None
        assert final.usage.total_tokens == 5


@pytest.mark.anyio
async def test_async_text_stream() -> None:
    body = AsyncBody([ROLE, content("A"), content("x", index=1), content("B"), DONE])
    async with async_stream(body) as stream:
        assert [t async for t in stream.text_stream] == ["A", "B"]
        assert stream.response.is_closed


@pytest.mark.anyio
async def test_leaving_async_with_after_a_break_releases() -> None:
    async with async_stream(AsyncBody(HAPPY)) as stream:
        async with stream:
            async for chunk in stream:
                if chunk.choices[0].delta.content:
                    break
        assert stream.response.is_closed
        with pytest.raises(StreamInterruptedError) as caught:
            await stream.get_final_completion()
        assert caught.value.partial_text == "Hel"


@pytest.mark.anyio
async def test_async_exception_in_the_loop_body_releases() -> None:
    async with async_stream(AsyncBody(HAPPY)) as stream:

        async def user_code() -> None:
            async with stream:
                async for _ in stream:
                    raise RuntimeError("user code")

        with pytest.raises(RuntimeError, match="user code"):
            await user_code()
        assert stream.response.is_closed


@pytest.mark.anyio
async def test_aclose_is_idempotent_and_reading_on_raises() -> None:
    async with async_stream(AsyncBody(HAPPY)) as stream:
        await stream.aclose()
        await stream.aclose()
        assert stream.response.is_closed
        with pytest.raises(StreamInterruptedError, match="closed before"):
            await atexts(stream)


@pytest.mark.anyio
async def test_a_finished_async_stream_iterates_as_empty() -> None:
    async with async_stream(AsyncBody(HAPPY)) as stream:
        assert len(await atexts(stream)) == 4
        assert await atexts(stream) == []
        assert [t async for t in stream.text_stream] == []
        assert (await stream.get_final_completion()).choices[0].message.content == "Hello"


@pytest.mark.anyio
async def test_async_prime_buffers_up_to_the_first_token() -> None:
    body = AsyncBody([ROLE, KEEPALIVE, content("Hel"), content("lo"), DONE])
    async with async_stream(body) as stream:
        await stream.prime()
        assert body.pulled == 3
        assert not stream.response.is_closed
        assert await atexts(stream) == ["", "Hel", "lo"]
        assert stream.response.is_closed


@pytest.mark.anyio
async def test_async_error_event_mid_stream() -> None:
    async with async_stream(AsyncBody([ROLE, content("Hello, wor"), ERROR])) as stream:
        with pytest.raises(StreamErrorEvent) as caught:
            await atexts(stream)
        assert caught.value.partial_text == "Hello, wor"
        assert caught.value.status_code == 502
        assert stream.response.is_closed


@pytest.mark.anyio
async def test_a_failed_async_stream_raises_its_error_again() -> None:
    async with async_stream(AsyncBody([ERROR])) as stream:
        with pytest.raises(StreamErrorEvent) as caught:
            await stream.prime()
        with pytest.raises(StreamErrorEvent) as again:
            await stream.get_final_completion()
        assert again.value is caught.value


@pytest.mark.anyio
async def test_async_truncated_body() -> None:
    async with async_stream(AsyncBody([ROLE, content("Hel")])) as stream:
        with pytest.raises(StreamInterruptedError, match=r"\.partial") as caught:
            await stream.get_final_completion()
        assert caught.value.partial_text == "Hel"
        assert stream.response.is_closed


@pytest.mark.anyio
async def test_async_dropped_connection() -> None:
    body = AsyncBody([ROLE, content("Hel")], error=httpx.RemoteProtocolError("peer closed"))
    async with async_stream(body) as stream:
        with pytest.raises(StreamInterruptedError) as caught:
            await atexts(stream)
        assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
        assert caught.value.partial_text == "Hel"
        assert stream.response.is_closed


@pytest.mark.anyio
async def test_async_idle_timeout_cuts_a_stalled_body() -> None:
    body = AsyncBody([ROLE, content("Hi")], sleep=10.0)
    async with async_stream(body, idle_timeout=0.05) as stream:
        with pytest.raises(StreamTimeoutError) as caught:
            await atexts(stream)
        assert caught.value.code == "stream_idle_timeout"
        assert isinstance(caught.value.__cause__, TimeoutError)
        assert caught.value.partial_text == "Hi"
        assert stream.response.is_closed


@pytest.mark.anyio
async def test_async_first_token_timeout_despite_keepalives() -> None:
    body = AsyncBody([ROLE] + [KEEPALIVE] * 1000 + [content("late"), DONE], every=0.01)
    async with async_stream(body, first_token_timeout=0.05, idle_timeout=1.0) as stream:
        with pytest.raises(StreamTimeoutError) as caught:
            await stream.prime()
        assert caught.value.code == "first_token_timeout"
        assert caught.value.partial_text == ""
        assert stream.response.is_closed
        assert body.pulled < 100  # cut off long before the body would have ended


@pytest.mark.anyio
async def test_async_first_token_timeout_cuts_a_silent_body() -> None:
    body = AsyncBody([ROLE], sleep=10.0)
    async with async_stream(body, first_token_timeout=0.05) as stream:
        with pytest.raises(StreamTimeoutError) as caught:
            await stream.prime()
        assert caught.value.code == "first_token_timeout"
        assert isinstance(caught.value.__cause__, TimeoutError)
        assert stream.response.is_closed


@pytest.mark.anyio
async def test_async_done_without_its_blank_line_and_a_failing_drain_still_finish() -> None:
    async with async_stream(AsyncBody([ROLE, content("Hi"), b"data: [DONE]\n"])) as stream:
        assert (await stream.get_final_completion()).choices[0].message.content == "Hi"
        assert stream.response.is_closed
    body = AsyncBody([content("Hi"), DONE], error=httpx.ReadError("reset after done"))
    async with async_stream(body) as stream:
        assert (await stream.get_final_completion()).choices[0].message.content == "Hi"
        assert stream.completion_so_far.choices[0].message.content == "Hi"
        assert stream.response.is_closed


@pytest.mark.anyio
async def test_async_bytes_after_done_are_drained() -> None:
    body = AsyncBody([ROLE, content("Hi"), DONE, b"data: junk\n\n"])
    async with async_stream(body) as stream:
        assert await atexts(stream) == ["", "Hi"]
        assert body.pulled == 4
        assert stream.response.is_closed
