"""`Driver`: one test body for `XRoute` and `AsyncXRoute` against a `MockGateway`.

Every call is awaited, which is a no-op for the sync client.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio

import xroute
from xroute.testing import MockGateway

MESSAGES = [{"role": "user", "content": "Name a city on a river"}]


class Driver:
    """A client of `gateway` (over loopback while it serves) driven by awaited calls."""

    def __init__(self, flavour: str, gateway: MockGateway, **options: Any) -> None:
        self.sync = flavour == "sync"
        self.gateway = gateway
        self.client: Any = (
            gateway.client(**options) if self.sync else gateway.async_client(**options)
        )

    async def _await(self, value: Any) -> Any:
        return value if self.sync else await value

    async def chat(self, **params: Any) -> Any:
        """`chat.completions.create`, with `MESSAGES` unless given."""
        params.setdefault("messages", MESSAGES)
        return await self._await(self.client.chat.completions.create(**params))

    async def chat_many(self, count: int, **params: Any) -> list[Any]:
        """`count` concurrent `chat` calls (threads for the sync client, tasks for the async
        one); their results, or the exceptions they raised, in order."""
        params.setdefault("messages", MESSAGES)
        create = self.client.chat.completions.create
        results: list[Any] = [None] * count
        if self.sync:

            def one(i: int) -> None:
                try:
                    results[i] = create(**params)
                except Exception as err:
                    results[i] = err

            with ThreadPoolExecutor(count) as pool:
                list(pool.map(one, range(count)))
            return results

        async def task(i: int) -> None:
            try:
                results[i] = await create(**params)
            except Exception as err:
                results[i] = err

        async with anyio.create_task_group() as group:
            for i in range(count):
                group.start_soon(task, i)
        return results

    async def embed(self, **params: Any) -> Any:
        return await self._await(self.client.embeddings.create(**params))

    async def catalog(self) -> xroute.ModelCatalog:
        found: xroute.ModelCatalog = await self._await(self.client.models.list())
        return found

    async def drain(self, stream: Any) -> str:
        """Read a stream to its end; the text of its first choice."""
        if self.sync:
            with stream:
                return "".join(stream.text_stream)
        async with stream:
            return "".join([text async for text in stream.text_stream])

    async def read_until_error(self, stream: Any) -> tuple[str, xroute.StreamError | None]:
        """Read a stream until it ends or fails; the text read and the `StreamError`, if any."""
        pieces: list[str] = []
        try:
            if self.sync:
                for text in stream.text_stream:
                    pieces.append(text)
            else:
                async for text in stream.text_stream:
                    pieces.append(text)
        except xroute.StreamError as err:
            return "".join(pieces), err
        return "".join(pieces), None

    async def first_chunk(self, stream: Any) -> Any:
        return next(stream) if self.sync else await anext(stream)

    async def close_stream(self, stream: Any) -> None:
        await self._await(stream.close() if self.sync else stream.aclose())

    async def close(self) -> None:
        await self._await(self.client.close() if self.sync else self.client.aclose())

    def in_flight(self, *models: str) -> list[int]:
        state = self.client.route_state
        return [state.snapshot(model).in_flight for model in models]

    def busy_connections(self) -> int:
        """Connections checked out of the client's pool (neither idle nor closed)."""
        pool = self.client._http._transport._pool
        return sum(1 for c in pool.connections if not c.is_idle() and not c.is_closed())
