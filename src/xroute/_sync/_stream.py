"""`Stream`: the synchronous shell over a streamed response. Every decision is in
`xroute._core.stream_state`; this file reads bytes, passes them on with the time, and makes
sure the connection is released."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from types import TracebackType
from typing import Any, Generic, cast

import httpx
from typing_extensions import Self, TypeVar

from .._core.stream_state import MAX_DRAIN_PIECES, READ_ERRORS, StreamSession, first_choice_text
from .._exceptions import StreamError
from ..routing._report import RouteReport
from ..types.chat import ChatCompletion, ChatCompletionChunk

__all__ = ["Stream"]

T = TypeVar("T", default=ChatCompletionChunk)


class Stream(Generic[T]):
    """The chunks of a streamed chat completion, as they arrive.

    Iterate it for `ChatCompletionChunk`s, or use `text_stream` for just the text; either way
    `get_final_completion()` then returns the whole `ChatCompletion`. The connection is
    released when the stream is exhausted, fails, is closed, leaves its ``with`` block, or a
    ``for`` loop over it is left early (CPython finalises the loop's generator at once; use
    ``with`` to be sure everywhere)::

        with client.chat.completions.create(model=model, messages=messages, stream=True) as stream:
            for text in stream.text_stream:
                print(text, end="", flush=True)
        print(stream.get_final_completion().usage)

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
        self._body: Iterator[bytes] | None = None
        self._timeouts: dict[str, Any] | None = None
        self._configured_read: float | None = None
        self._next: Iterator[ChatCompletionChunk] | None = None
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
    def text_stream(self) -> Iterator[str]:
        """The text deltas of the first choice (index 0), skipping empty ones."""
        return self._texts()

    def prime(self) -> None:
        """Read until the first token, ``[DONE]`` or an error; iteration yields those chunks.

        The client calls this before returning the stream, so that a model that fails before
        its first token can still be swapped for a fallback. Raises the `StreamError` (and
        closes the response) if the stream fails first.
        """
        session = self._session
        while not (session.has_content or session.done) and self._fill():
            pass

    def get_final_completion(self) -> ChatCompletion:
        """Read what is left and return the whole completion (usage included, if sent).

        Raises the stream's `StreamError` if it failed, or `StreamInterruptedError` if it was
        closed before the end.
        """
        for _ in self._chunks():
            pass
        completion = self._session.snapshot()
        completion._route = self.route
        return completion

    def close(self) -> None:
        """Release the connection; the stream ends. Safe to call more than once."""
        if not self._closed:
            self._closed = True
            self._response.close()
            ended = self._session.close(self._clock(), self._failure)
            if ended is not None and self.on_end is not None:
                self.on_end(ended)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[T]:
        # A fresh generator per loop, referenced by the loop alone: leaving the loop early
        # finalises it, and its `finally` releases the connection.
        return cast("Iterator[T]", self._chunks())

    def __next__(self) -> T:
        if self._next is None:
            self._next = self._chunks()
        return cast("T", next(self._next))

    # ------------------------------------------------------------------ reading

    def _chunks(self) -> Generator[ChatCompletionChunk, None, None]:
        buffer = self._buffer
        try:
            while True:
                while buffer:
                    yield buffer.popleft()
                if not self._fill():
                    return
        finally:
            self.close()

    def _texts(self) -> Iterator[str]:
        chunks = self._chunks()
        try:
            for chunk in chunks:
                text = first_choice_text(chunk)
                if text:
                    yield text
        finally:
            chunks.close()

    def _fill(self) -> bool:
        """Read one piece of the body into the buffer; False once there is nothing more."""
        if self._closed:
            return self._after_close()
        try:
            return self._read()
        except BaseException as err:
            if isinstance(err, StreamError):
                self._failure = err
            self.close()
            raise

    def _after_close(self) -> bool:
        # Reading a closed stream: over if it had finished, else an error (as httpx raises
        # StreamClosed) rather than a silent, truncated end.
        if self._failure is not None:
            raise self._failure
        if self._session.done:
            return False
        raise self._session.closed_early()

    def _read(self) -> bool:
        session = self._session
        if session.done:
            self._drain()
            self.close()
            return False
        now = self._clock()
        session.check(now)
        self._set_read_timeout(now)
        if self._body is None:
            self._body = self._response.iter_bytes()
        try:
            piece = next(self._body, None)
        except READ_ERRORS as err:
            raise session.fail(err, self._clock()) from err
        if piece is None:
            session.finish()  # raises StreamInterruptedError unless [DONE] was seen
            self.close()
            return False
        self._buffer.extend(session.feed(piece, self._clock()))
        return True

    def _set_read_timeout(self, now: float) -> None:
        # A blocking read cannot be interrupted, so our limits go into httpcore's per-read
        # timeout. Over HTTP/1.1 httpcore reads it once, when body iteration starts: the
        # tightest limit at that moment (usually the first-token one) then bounds every later
        # read too, and the other limits are noticed only when the next piece arrives (the
        # `check` before each read). Over HTTP/2 it
        # is read before every read, so updating it per piece keeps it exact. The async stream
        # has none of these limits: it cancels the wait itself.
        timeout = self._session.read_timeout(now)
        if self._timeouts is None:
            if timeout is None:
                return
            request = self._response.request
            # A copy: the dict may be shared with other requests built from the same config.
            self._timeouts = dict(request.extensions.get("timeout") or {})
            self._configured_read = self._timeouts.get("read")
            request.extensions["timeout"] = self._timeouts
        configured = self._configured_read
        if timeout is None or (configured is not None and configured < timeout):
            timeout = configured
        self._timeouts["read"] = timeout

    def _drain(self) -> None:
        # Read to the end of the body after [DONE] so the connection can be reused.
        if self._body is None:
            return
        try:
            for _ in range(MAX_DRAIN_PIECES):
                if next(self._body, None) is None:
                    return
        except READ_ERRORS:
            return  # the completion is whole; the connection is simply not reused
