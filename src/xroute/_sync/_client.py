"""`XRoute`: the synchronous client. A driver of the core plan: it sends, sleeps and reads."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any, Literal, cast, overload

import httpx
from typing_extensions import Self, Unpack

from .._client_base import DEFAULT_LIMITS, ClientBase
from .._core.plan import (
    Discard,
    LoadCatalog,
    Notify,
    Parse,
    PrimeStream,
    Race,
    Send,
    Sleep,
    attempt_plan,
)
from .._core.race import LaneLost, RaceSchedule
from .._core.request import Call, chat_call, embeddings_call, models_call
from .._core.responses import parse_json, parse_model
from .._exceptions import InvalidArgumentError, XRouteError
from ..catalog import Model, ModelCatalog
from ..types.chat import ChatCompletion, ChatCompletionChunk, ChatCreateParams
from ..types.embeddings import CreateEmbeddingResponse, EmbeddingCreateParams
from ._stream import Stream

# An error body worth showing is small; a gateway that streams megabytes of HTML is cut off.
_MAX_ERROR_BODY = 64 * 1024


class XRoute(ClientBase[httpx.Client]):
    """The synchronous client of the XRoute endpoint, a drop-in for `openai.OpenAI`.

    `api_key` falls back to `XROUTE_API_KEY`, `base_url` to `XROUTE_BASE_URL` and then
    `https://api.xroute.ai/openai/v1`. One connection pool per client: create it once.

    >>> client = XRoute(api_key="...")
    >>> reply = client.chat.completions.create(model="openai/gpt-4o", messages=[...])
    >>> reply.choices[0].message.content
    """

    _http_client_type = httpx.Client

    def _new_http(self) -> httpx.Client:
        return httpx.Client(limits=DEFAULT_LIMITS)

    def _new_lock(self) -> threading.Lock:
        return threading.Lock()

    def _bind_resources(self) -> None:
        self.chat = Chat(self)
        self.embeddings = Embeddings(self)
        self.models = Models(self)

    def close(self) -> None:
        """Close the connection pool (unless it was passed in as `http_client`)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, call: Call, parse: Parse) -> Any:
        return self._drive(attempt_plan(call, self._context(), parse))

    def _drive(self, plan: Generator[Any, Any, Any], stop: threading.Event | None = None) -> Any:
        """Do what `plan` asks until it returns; `stop` ends a hedged lane that lost."""
        command: Any = next(plan)
        pending: httpx.Response | None = None
        primed: Any = None  # a stream handed to the plan but not yet to the caller
        try:
            while True:
                if stop is not None and stop.is_set():
                    raise _LaneStopped
                outcome: Any = None
                if isinstance(command, Send):
                    try:
                        outcome = pending = self._send(command)
                    except httpx.RequestError as err:
                        outcome = err
                elif isinstance(command, Sleep):
                    time.sleep(command.seconds)
                elif isinstance(command, Discard):
                    outcome = _discard(command.response)
                elif isinstance(command, PrimeStream):
                    outcome = _prime(command, self._hooks.get("call_end"))
                    primed = None if isinstance(outcome, Exception) else outcome
                elif isinstance(command, LoadCatalog):
                    outcome = self._load_catalog(fetch=command.fetch)
                elif isinstance(command, Notify):
                    self._hooks[command.event](command.payload)
                elif isinstance(command, Race):
                    outcome = self._race(command)
                pending = None if not isinstance(command, Send) else pending
                command = plan.send(outcome)
        except StopIteration as done:
            return done.value
        except BaseException:
            if pending is not None:  # interrupted between send and the plan's verdict
                pending.close()
            if primed is not None:  # a hook raised after the hand-over
                primed.close()
            plan.close()  # runs the plan's clean-up (in-flight counts, budget) now
            raise

    def _send(self, command: Send) -> httpx.Response:
        plain_by_deadline = not command.stream and command.deadline_at is not None
        response = self._http.send(
            command.request, stream=command.stream or plain_by_deadline, follow_redirects=True
        )
        if plain_by_deadline:
            # A blocking read cannot be cut short, so the body is read piece by piece and the
            # deadline checked between pieces: a trickling server ends at the next piece.
            pieces = []
            try:
                for piece in response.iter_bytes():
                    pieces.append(piece)
                    if time.monotonic() >= cast(float, command.deadline_at):
                        raise httpx.ReadTimeout("the deadline passed while reading the body")
            finally:
                response.close()
            response._content = b"".join(pieces)  # what Response.read() itself stores
        return response

    def _race(self, race: Race) -> list[Any]:
        """Hedged lanes on threads (the httpx client is thread-safe). A lane that lost stops at
        its next step; a network wait already under way ends with its own timeout, in the
        background, and its connection is then closed."""
        schedule = RaceSchedule(race.delays)
        results: list[Any] = [None] * len(race.lanes)
        stops = [threading.Event() for _ in race.lanes]
        finished: queue.SimpleQueue[int] = queue.SimpleQueue()

        def run(lane: int) -> None:
            try:
                results[lane] = self._drive(race.lanes[lane](), stops[lane])
            except Exception as err:  # the lane's outcome; the plan decides what it means
                results[lane] = err
            if isinstance(results[lane], LaneLost) and isinstance(results[lane].value, Stream):
                results[lane].value.close()
            finished.put(lane)

        while not schedule.over:
            for lane in schedule.due(time.monotonic()):
                # Daemon threads: a losing lane still in a network wait never holds up the
                # caller, close(), or the interpreter's exit.
                threading.Thread(target=run, args=(lane,), daemon=True, name="xroute-hedge").start()
            try:
                lane = finished.get(timeout=schedule.wait_s(time.monotonic()))
            except queue.Empty:
                continue
            schedule.finished(lane, results[lane])
        for lane in schedule.losers():
            stops[lane].set()
        return schedule.replies(results, time.monotonic())

    def _load_catalog(
        self, *, fetch: bool, refresh: bool = False
    ) -> ModelCatalog | Exception | None:
        cache = self._catalog_cache
        if not fetch:
            return cache.peek(time.monotonic())
        # One fetch at a time: concurrent first callers wait for it and share its result.
        with self._catalog_lock:
            found = None if refresh else cache.fresh(time.monotonic())
            if found is None:
                try:
                    outcome: Any = self._run(models_call(), parse_json)
                except XRouteError as err:
                    outcome = err
                try:
                    found = cache.settle(outcome, time.monotonic())
                except XRouteError as err:
                    return err
            return found


class _LaneStopped(Exception):
    """Raised inside a hedged lane's driver once another lane has won."""


def _discard(response: httpx.Response) -> bytes:
    body = b""
    try:
        for piece in response.iter_bytes():
            body += piece
            if len(body) >= _MAX_ERROR_BODY:
                break
    except httpx.HTTPError:
        pass  # the status alone still says what went wrong
    finally:
        response.close()
    return body


def _prime(
    command: PrimeStream, on_end: Callable[[Any], object] | None
) -> Stream[ChatCompletionChunk] | Exception:
    stream: Stream[ChatCompletionChunk] = Stream(
        command.response, command.session, clock=time.monotonic
    )
    stream.on_end = on_end
    try:
        stream.prime()
    except Exception as err:
        return err
    return stream


class Completions:
    """`client.chat.completions`."""

    def __init__(self, client: XRoute) -> None:
        self._client = client

    @overload
    def create(
        self, *, stream: Literal[False] = False, **params: Unpack[ChatCreateParams]
    ) -> ChatCompletion: ...
    @overload
    def create(
        self, *, stream: Literal[True], **params: Unpack[ChatCreateParams]
    ) -> Stream[ChatCompletionChunk]: ...
    @overload
    def create(
        self, *, stream: bool, **params: Unpack[ChatCreateParams]
    ) -> ChatCompletion | Stream[ChatCompletionChunk]: ...
    def create(
        self, *, stream: bool = False, **params: Unpack[ChatCreateParams]
    ) -> ChatCompletion | Stream[ChatCompletionChunk]:
        """Create a chat completion; with `stream=True`, a `Stream` of chunks.

        Takes every OpenAI chat parameter. `model` is an id, a list of ids (a fallback
        chain) or a routing policy.

        >>> client.chat.completions.create(model="openai/gpt-4o",
        ...     messages=[{"role": "user", "content": "Hi"}])
        """
        call = chat_call(params, stream=stream)
        result: ChatCompletion | Stream[ChatCompletionChunk] = self._client._run(
            call, lambda r, c: parse_model(ChatCompletion, r, c)
        )
        return result


class Chat:
    """`client.chat`."""

    def __init__(self, client: XRoute) -> None:
        self.completions = Completions(client)


class Embeddings:
    """`client.embeddings`."""

    def __init__(self, client: XRoute) -> None:
        self._client = client

    def create(self, **params: Unpack[EmbeddingCreateParams]) -> CreateEmbeddingResponse:
        """Embed a string or a list of strings; vectors come back as floats.

        >>> client.embeddings.create(model="openai/text-embedding-3-small", input=["a", "b"])
        """
        result: CreateEmbeddingResponse = self._client._run(
            embeddings_call(params), lambda r, c: parse_model(CreateEmbeddingResponse, r, c)
        )
        return result


class Models:
    """`client.models`: the model catalog of the endpoint, fetched once and cached."""

    def __init__(self, client: XRoute) -> None:
        self._client = client

    def list(self, *, refresh: bool = False) -> ModelCatalog:
        """The catalog: every model with prices, context window and capabilities.

        Cached for `catalog_ttl` seconds (one fetch however many callers ask at once);
        `refresh=True` fetches again now.

        >>> catalog = client.models.list()
        >>> catalog.cheapest(supports="tools").id
        """
        found = self._client._load_catalog(fetch=True, refresh=refresh)
        if isinstance(found, Exception):
            raise found
        assert found is not None  # fetch=True yields a catalog or an error
        return found

    def retrieve(self, model: str) -> Model:
        """One model of the catalog; `UnknownModelError` (with a suggestion) if absent.

        >>> client.models.retrieve("openai/gpt-4o")
        """
        if not isinstance(model, str) or not model:
            raise InvalidArgumentError(f"model id must be a non-empty str, got {model!r}")
        return (self.list())[model]
