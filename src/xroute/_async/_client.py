"""`AsyncXRoute`: the asynchronous client (asyncio and trio, through anyio). A driver of
the core plan: it sends, sleeps and reads; `_sync/_client.py` is its mirror."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any, Literal, overload

import anyio
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
from ._stream import AsyncStream

# An error body worth showing is small; a gateway that streams megabytes of HTML is cut off.
_MAX_ERROR_BODY = 64 * 1024


class AsyncXRoute(ClientBase[httpx.AsyncClient]):
    """The asynchronous client of the XRoute endpoint, a drop-in for `openai.AsyncOpenAI`.

    Same arguments as `XRoute`; runs on asyncio and trio.

    >>> async with AsyncXRoute() as client:
    ...     reply = await client.chat.completions.create(model="openai/gpt-4o", messages=[...])
    """

    _http_client_type = httpx.AsyncClient

    def _new_http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(limits=DEFAULT_LIMITS)

    def _new_lock(self) -> anyio.Lock:
        return anyio.Lock()

    def _bind_resources(self) -> None:
        self.chat = AsyncChat(self)
        self.embeddings = AsyncEmbeddings(self)
        self.models = AsyncModels(self)

    async def aclose(self) -> None:
        """Close the connection pool (unless it was passed in as `http_client`)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self, call: Call, parse: Parse) -> Any:
        return await self._drive(attempt_plan(call, self._context(), parse))

    async def _drive(self, plan: Generator[Any, Any, Any]) -> Any:
        """Do what `plan` asks until it returns (a hedged lane that lost is cancelled)."""
        command: Any = next(plan)
        pending: httpx.Response | None = None
        primed: Any = None  # a stream handed to the plan but not yet to the caller
        try:
            while True:
                outcome: Any = None
                if isinstance(command, Send):
                    try:
                        outcome = pending = await self._send(command)
                    except httpx.RequestError as err:
                        outcome = err
                elif isinstance(command, Sleep):
                    await anyio.sleep(command.seconds)
                elif isinstance(command, Discard):
                    outcome = await _discard(command.response)
                elif isinstance(command, PrimeStream):
                    outcome = await _prime(command, self._hooks.get("call_end"))
                    primed = None if isinstance(outcome, Exception) else outcome
                elif isinstance(command, LoadCatalog):
                    outcome = await self._load_catalog(fetch=command.fetch)
                elif isinstance(command, Notify):
                    called = self._hooks[command.event](command.payload)
                    if inspect.isawaitable(called):
                        await called
                elif isinstance(command, Race):
                    outcome = await self._race(command)
                pending = None if not isinstance(command, Send) else pending
                command = plan.send(outcome)
        except StopIteration as done:
            return done.value
        except BaseException:
            if pending is not None:  # cancelled between send and the plan's verdict
                with anyio.CancelScope(shield=True):
                    await pending.aclose()
            if primed is not None:  # a hook raised (or a cancel hit) after the hand-over
                await primed.aclose()
            plan.close()  # runs the plan's clean-up (in-flight counts, budget) now
            raise

    async def _send(self, command: Send) -> httpx.Response:
        if command.stream or command.deadline_at is None:
            return await self._http.send(
                command.request, stream=command.stream, follow_redirects=True
            )
        # A plain body must be read by the call's deadline, however slowly it trickles in.
        with anyio.move_on_after(command.deadline_at - time.monotonic()):
            return await self._http.send(command.request, follow_redirects=True)
        raise httpx.ReadTimeout("the deadline passed while reading the body")

    async def _race(self, race: Race) -> list[Any]:
        """Hedged lanes as tasks; the lanes that lost are cancelled (their connections are
        closed by their drivers) before the race returns."""
        schedule = RaceSchedule(race.delays)
        results: list[Any] = [None] * len(race.lanes)
        scopes = [anyio.CancelScope() for _ in race.lanes]
        send, receive = anyio.create_memory_object_stream[int](len(race.lanes))

        async def run(lane: int) -> None:
            with scopes[lane]:
                try:
                    results[lane] = await self._drive(race.lanes[lane]())
                except Exception as err:  # the lane's outcome; the plan decides what it means
                    results[lane] = err
            late = results[lane]
            if isinstance(late, LaneLost) and isinstance(late.value, AsyncStream):
                await late.value.aclose()
            send.send_nowait(lane)

        with send, receive:
            async with anyio.create_task_group() as lanes:
                while not schedule.over:
                    for lane in schedule.due(time.monotonic()):
                        lanes.start_soon(run, lane)
                    with anyio.move_on_after(schedule.wait_s(time.monotonic())):
                        lane = await receive.receive()
                        schedule.finished(lane, results[lane])
                for lane in schedule.losers():
                    scopes[lane].cancel()
        return schedule.replies(results, time.monotonic())

    async def _load_catalog(
        self, *, fetch: bool, refresh: bool = False
    ) -> ModelCatalog | Exception | None:
        cache = self._catalog_cache
        if not fetch:
            return cache.peek(time.monotonic())
        # One fetch at a time: concurrent first callers wait for it and share its result.
        async with self._catalog_lock:
            found = None if refresh else cache.fresh(time.monotonic())
            if found is None:
                try:
                    outcome: Any = await self._run(models_call(), parse_json)
                except XRouteError as err:
                    outcome = err
                try:
                    found = cache.settle(outcome, time.monotonic())
                except XRouteError as err:
                    return err
            return found


async def _discard(response: httpx.Response) -> bytes:
    body = b""
    try:
        async for piece in response.aiter_bytes():
            body += piece
            if len(body) >= _MAX_ERROR_BODY:
                break
    except httpx.HTTPError:
        pass  # the status alone still says what went wrong
    finally:
        await response.aclose()
    return body


async def _prime(
    command: PrimeStream, on_end: Callable[[Any], object] | None
) -> AsyncStream[ChatCompletionChunk] | Exception:
    stream: AsyncStream[ChatCompletionChunk] = AsyncStream(
        command.response, command.session, clock=time.monotonic
    )
    stream.on_end = on_end
    try:
        await stream.prime()
    except Exception as err:
        return err
    return stream


class AsyncCompletions:
    """`client.chat.completions`."""

    def __init__(self, client: AsyncXRoute) -> None:
        self._client = client

    @overload
    async def create(
        self, *, stream: Literal[False] = False, **params: Unpack[ChatCreateParams]
    ) -> ChatCompletion: ...
    @overload
    async def create(
        self, *, stream: Literal[True], **params: Unpack[ChatCreateParams]
    ) -> AsyncStream[ChatCompletionChunk]: ...
    @overload
    async def create(
        self, *, stream: bool, **params: Unpack[ChatCreateParams]
    ) -> ChatCompletion | AsyncStream[ChatCompletionChunk]: ...
    async def create(
        self, *, stream: bool = False, **params: Unpack[ChatCreateParams]
    ) -> ChatCompletion | AsyncStream[ChatCompletionChunk]:
        """Create a chat completion; with `stream=True`, an `AsyncStream` of chunks.

        >>> await client.chat.completions.create(model="openai/gpt-4o",
        ...     messages=[{"role": "user", "content": "Hi"}])
        """
        call = chat_call(params, stream=stream)
        result: ChatCompletion | AsyncStream[ChatCompletionChunk] = await self._client._run(
            call, lambda r, c: parse_model(ChatCompletion, r, c)
        )
        return result


class AsyncChat:
    """`client.chat`."""

    def __init__(self, client: AsyncXRoute) -> None:
        self.completions = AsyncCompletions(client)


class AsyncEmbeddings:
    """`client.embeddings`."""

    def __init__(self, client: AsyncXRoute) -> None:
        self._client = client

    async def create(self, **params: Unpack[EmbeddingCreateParams]) -> CreateEmbeddingResponse:
        """Embed a string or a list of strings; vectors come back as floats."""
        result: CreateEmbeddingResponse = await self._client._run(
            embeddings_call(params), lambda r, c: parse_model(CreateEmbeddingResponse, r, c)
        )
        return result


class AsyncModels:
    """`client.models`: the model catalog of the endpoint, fetched once and cached."""

    def __init__(self, client: AsyncXRoute) -> None:
        self._client = client

    async def list(self, *, refresh: bool = False) -> ModelCatalog:
        """The catalog: every model with prices, context window and capabilities.

        Cached for `catalog_ttl` seconds (one fetch however many callers ask at once);
        `refresh=True` fetches again now.

        >>> catalog = await client.models.list()
        >>> catalog.cheapest(supports="tools").id
        """
        found = await self._client._load_catalog(fetch=True, refresh=refresh)
        if isinstance(found, Exception):
            raise found
        assert found is not None  # fetch=True yields a catalog or an error
        return found

    async def retrieve(self, model: str) -> Model:
        """One model of the catalog; `UnknownModelError` (with a suggestion) if absent.

        >>> await client.models.retrieve("openai/gpt-4o")
        """
        if not isinstance(model, str) or not model:
            raise InvalidArgumentError(f"model id must be a non-empty str, got {model!r}")
        return (await self.list())[model]
