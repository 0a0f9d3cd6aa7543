"""`AsyncStream`: the asynchronous shell over a streamed response. Every decision is in
`xroute._core.stream_state`; this file reads bytes, passes them on with the time, enforces
the session's waits with cancel scopes, and makes sure the connection is released."""

from __future__ import annotations

import inspect
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Generic, cast

import anyio
import httpx
from typing_extensions import Self, TypeVar

from .._core.stream_state import MAX_DRAIN_PIECES, READ_ERRORS, StreamSession, first_choice_text
from .._exceptions import StreamError
from ..routing._report import RouteReport
from ..types.chat import ChatCompletion, ChatCompletionChunk

__all__ = ["AsyncStream"]

T = TypeVar("T", default=ChatCompletionChunk)


class AsyncStream(Generic[T]):
    """The chunks of a streamed chat completion, as they arrive (asyncio or trio).

    Iterate it with ``async for`` for `ChatCompletionChunk`s, or use `text_stream` for just the
    text; either way `get_final_completion()` then returns the whole `ChatCompletion`. The
    connection is released when the stream is exhausted, fails, is closed with `aclose()`, or
    leaves its ``async with`` block. Leaving an ``async for`` early does *not* release it (async
    iteration has no prompt finaliser): use ``async with`` or call `aclose()`::

        stream = await client.chat.completions.create(model=model, messages=messages, stream=True)
        async with stream:
            async for text in stream.text_stream:
                print(text, end="", flush=True)
        print((await stream.get_final_completion()).usage)

    Failures after the stream started raise a `StreamError` whose `.partial` holds what was
    received: `StreamErrorEvent`, `StreamInterruptedError` or `StreamTimeoutError`.
    """

    route: RouteReport | None
    """How the call was routed (model, attempts, cost, latency); the cost and latency are
    final once the stream has ended."""

    def __init__(
        self,
        response: httpx.Response,
        session: StreamSession,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._response = response
        self._session = session
        self._clock = clock
        self._buffer: deque[ChatCompletionChunk] = deque()  # read but not yet yielded
        self._body: AsyncIterator[bytes] | None = None
        self._failure: StreamError | None = None
        self._closed = False
        self.route = None
        self.on_end: Callable[[Any], object] | None = None  # the client's on_call_end hook

    @property
    def response(self) -> httpx.Response:
        """The underlying `httpx.Response` (status, headers; its body is read by the stream)."""
        return self._response

    @property
    def completion_so_far(self) -> ChatCompletion:
        """Everything received so far, accumulated into a `ChatCompletion`."""
        return self._session.snapshot()

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """The text deltas of the first choice (index 0), skipping empty ones."""
        return _TextDeltas(self._next_chunk)

    async def prime(self) -> None:
        """Read until the first token, ``[DONE]`` or an error; iteration yields those chunks.

        The client calls this before returning the stream, so that a model that fails before
        its first token can still be swapped for a fallback. Raises the `StreamError` (and
        closes the response) if the stream fails first.
        """
        session = self._session
        while not (session.has_content or session.done) and await self._fill():
            pass

    async def get_final_completion(self) -> ChatCompletion:
        """Read what is left and return the whole completion (usage included, if sent).

        Raises the stream's `StreamError` if it failed, or `StreamInterruptedError` if it was
        closed before the end.
        """
        async for _ in self:
            pass
        completion = self._session.snapshot()
        completion._route = self.route
        return completion

    async def aclose(self) -> None:
        """Release the connection; the stream ends. Safe to call more than once."""
        if not self._closed:
            self._closed = True
            # Shielded: closing must finish even when we got here because of a cancellation.
            with anyio.CancelScope(shield=True):
                await self._response.aclose()
                ended = self._session.close(self._clock(), self._failure)
                if ended is not None and self.on_end is not None:
                    called = self.on_end(ended)
                    if inspect.isawaitable(called):
                        await called

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        # `_next_chunk` inlined: one coroutine per chunk instead of two.
        buffer = self._buffer
        while not buffer:
            if not await self._fill():
                raise StopAsyncIteration
        return cast("T", buffer.popleft())

    # ------------------------------------------------------------------ reading

    async def _next_chunk(self) -> ChatCompletionChunk:
        # Methods and small classes rather than async generators: an async generator left
        # unfinished (a loop left early) is finalised by the GC, late, and trio warns about
        # it. Exhaustion and errors close the response here, in `_fill`.
        buffer = self._buffer
        while not buffer:
            if not await self._fill():
                raise StopAsyncIteration
        return buffer.popleft()

    async def _fill(self) -> bool:
        """Read one piece of the body into the buffer; False once there is nothing more."""
        if self._closed:
            return self._after_close()
        try:
            return await self._read()
        except BaseException as err:
            if isinstance(err, StreamError):
                self._failure = err
            await self.aclose()
            raise

    def _after_close(self) -> bool:
        # Reading a closed stream: over if it had finished, else an error (as httpx raises
        # StreamClosed) rather than a silent, truncated end.
        if self._failure is not None:
            raise self._failure
        if self._session.done:
            return False
        raise self._session.closed_early()

    async def _read(self) -> bool:
        session = self._session
        if session.done:
            await self._drain()
            await self.aclose()
            return False
        if self._body is None:
            self._body = self._response.aiter_bytes()
        now = self._clock()
        session.check(now)
        timeout = session.read_timeout(now)
        try:
            if timeout is None:
                piece = await anext(self._body, None)
            else:
                with anyio.fail_after(timeout):
                    piece = await anext(self._body, None)
        except READ_ERRORS as err:
            raise session.fail(err, self._clock()) from err
        if piece is None:
            session.finish()  # raises StreamInterruptedError unless [DONE] was seen
            await self.aclose()
            return False
        self._buffer.extend(session.feed(piece, self._clock()))
        return True

    async def _drain(self) -> None:
        # Read to the end of the body after [DONE] so the connection can be reused.
        if self._body is None:
            return
        with anyio.move_on_after(self._session.read_timeout(self._clock())):
            try:
                for _ in range(MAX_DRAIN_PIECES):
                    if await anext(self._body, None) is None:
                        return
            except READ_ERRORS:
                return  # the completion is whole; the connection is simply not reused


class _TextDeltas:
    """`AsyncStream.text_stream`: the non-empty text deltas of choice 0."""

    __slots__ = ("_next_chunk",)

    def __init__(self, next_chunk: Callable[[], Awaitable[ChatCompletionChunk]]) -> None:
        self._next_chunk = next_chunk

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> str:
        while True:
            text = first_choice_text(await self._next_chunk())  # StopAsyncIteration at the end
            if text:
                return text
