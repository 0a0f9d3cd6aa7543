"""Drive `XRoute` and `AsyncXRoute` with one test body (asyncio and trio through anyio).

`Harness` builds either client over `httpx.MockTransport` and offers awaitable wrappers, so
a test reads the same whichever client it drives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

import xroute

KEY = "xr-test-key-0123456789abcdef"
BASE = "https://gw.test/v1"
Handler = Callable[[httpx.Request], httpx.Response]


class Harness:
    """Drive a sync or async client with the same awaitable calls."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.responses: list[httpx.Response] = []
        self.clients: list[Any] = []

    def client(self, handler: Handler, **kwargs: Any) -> Any:
        def recording(request: httpx.Request) -> httpx.Response:
            response = handler(request)
            self.responses.append(response)
            return response

        transport = httpx.MockTransport(recording)
        kwargs.setdefault("api_key", KEY)
        kwargs.setdefault("base_url", BASE)
        if self.kind == "sync":
            client: Any = xroute.XRoute(http_client=httpx.Client(transport=transport), **kwargs)
        else:
            client = xroute.AsyncXRoute(
                http_client=httpx.AsyncClient(transport=transport), **kwargs
            )
        self.clients.append(client)
        return client

    async def call(self, method: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        if self.kind == "async":
            result = await result
        return result

    async def chat(self, client: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("model", "openai/gpt-4o")
        kwargs.setdefault("messages", [{"role": "user", "content": "hi"}])
        return await self.call(client.chat.completions.create, **kwargs)

    async def close(self, client: Any) -> None:
        if self.kind == "sync":
            client.close()
        else:
            await client.aclose()

    def all_closed(self) -> bool:
        return all(r.is_closed for r in self.responses)


def completion(content: str = "Hello!", **extra: Any) -> dict[str, Any]:
    """A minimal OpenAI chat completion body."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "openai/gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        **extra,
    }
