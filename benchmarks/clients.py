"""The clients under comparison, each behind the same small interface.

Every adapter does what a user of that library writes for the same job, and reads the answer
the way such a user would (the text of the first choice), so each pays its own parsing:

- ``raw``: ``httpx`` by hand, ``json.loads`` per SSE line: the baseline every ratio is against.
- ``xroute``: ``xroute.XRoute`` / ``AsyncXRoute``.
- ``openai``: the official ``openai`` package pointed at the same server.
- ``litellm``: ``litellm.completion`` / ``acompletion`` with ``api_base``.

Only the adapter asked for is imported, so a worker process holds one library.
"""

from __future__ import annotations

import json
import os
from typing import Any

KEY = "sk-bench-not-a-secret"
MODEL = "gpt-4o-mini"
HOLD_MODEL = "gpt-4o-mini-hold"  # the canned server holds such a stream open
MESSAGES = [{"role": "user", "content": "Say hello in one short sentence."}]
PLAIN_MAX_TOKENS = 16
NAMES = ("raw", "xroute", "xroute_aiohttp", "openai", "litellm")
LABELS = {
    "raw": "raw httpx",
    "xroute": "xroute",
    "xroute_aiohttp": "xroute, aiohttp transport",
    "openai": "openai",
    "litellm": "LiteLLM",
}
# Clients measured on the async figures only.
ASYNC_ONLY = frozenset({"xroute_aiohttp"})


class Unsupported(Exception):
    """The library has no equivalent of this operation."""


def _is_content(choices: Any) -> bool:
    return bool(choices) and bool(choices[0].delta.content)


class Raw:
    """httpx by hand: the least a program must do to use the endpoint."""

    def __init__(self, url: str) -> None:
        import httpx

        self._httpx = httpx
        self._url = url.rstrip("/") + "/"
        self._headers = {"Authorization": f"Bearer {KEY}"}
        self.http = httpx.Client(base_url=self._url, headers=self._headers, timeout=120)
        self.ahttp: Any = None

    def version(self) -> str:
        return str(self._httpx.__version__)

    def nonstream(self) -> str:
        body = {"model": MODEL, "messages": MESSAGES, "max_tokens": PLAIN_MAX_TOKENS}
        response = self.http.post("chat/completions", json=body)
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"])

    def stream(self, chunks: int) -> int:
        body = {"model": MODEL, "messages": MESSAGES, "max_tokens": chunks, "stream": True}
        n = 0
        with self.http.stream("POST", "chat/completions", json=body) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    break
                choices = json.loads(data)["choices"]
                if choices and choices[0]["delta"].get("content"):
                    n += 1
        return n

    def catalog(self, normalise: bool) -> int:
        response = self.http.get("models")
        response.raise_for_status()
        return len(response.json()["data"])

    # --- async

    def _async_client(self) -> Any:
        if self.ahttp is None:
            # Enough kept-alive connections for every figure (200 concurrent, 1,000 held):
            # the baseline is httpx configured for the load, not httpx's defaults.
            limits = self._httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
            self.ahttp = self._httpx.AsyncClient(
                base_url=self._url, headers=self._headers, timeout=120, limits=limits
            )
        return self.ahttp

    async def anonstream(self) -> str:
        body = {"model": MODEL, "messages": MESSAGES, "max_tokens": PLAIN_MAX_TOKENS}
        response = await self._async_client().post("chat/completions", json=body)
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"])

    async def open_held(self) -> Any:
        body = {"model": HOLD_MODEL, "messages": MESSAGES, "max_tokens": 16, "stream": True}
        request = self._async_client().build_request("POST", "chat/completions", json=body)
        response = await self._async_client().send(request, stream=True)
        lines = response.aiter_lines()
        async for line in lines:
            if line.startswith("data: ") and json.loads(line[6:])["choices"][0]["delta"].get(
                "content"
            ):
                break
        return (response, lines)

    async def close_held(self, handle: Any) -> None:
        await handle[1].aclose()  # the line iterator first, or it is left unfinished
        await handle[0].aclose()


class XRouteAdapter:
    """xroute's clients, with a plain model id (no catalog needed)."""

    def __init__(self, url: str) -> None:
        import xroute

        self._xroute = xroute
        self._url = url
        self.client = xroute.XRoute(api_key=KEY, base_url=url, timeout=120)
        self.aclient: Any = None

    def version(self) -> str:
        return str(self._xroute.__version__)

    def nonstream(self) -> str:
        reply = self.client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=PLAIN_MAX_TOKENS
        )
        return str(reply.choices[0].message.content)

    def stream(self, chunks: int) -> int:
        n = 0
        with self.client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=chunks, stream=True
        ) as stream:
            for chunk in stream:
                if _is_content(chunk.choices):
                    n += 1
        return n

    def catalog(self, normalise: bool) -> int:
        catalog = self.client.models.list(refresh=True)
        if normalise:  # entries are normalised on first use: touch every one
            return sum(1 for model in catalog if model.pricing is not None)
        return len(catalog)

    def _async_client(self) -> Any:
        if self.aclient is None:
            self.aclient = self._xroute.AsyncXRoute(api_key=KEY, base_url=self._url, timeout=120)
        return self.aclient

    async def anonstream(self) -> str:
        reply = await self._async_client().chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=PLAIN_MAX_TOKENS
        )
        return str(reply.choices[0].message.content)

    async def open_held(self) -> Any:
        stream = await self._async_client().chat.completions.create(
            model=HOLD_MODEL, messages=MESSAGES, max_tokens=16, stream=True
        )
        async for chunk in stream:
            if _is_content(chunk.choices):
                break
        return stream

    async def close_held(self, handle: Any) -> None:
        await handle.aclose()


class XRouteAiohttpAdapter(XRouteAdapter):
    """`AsyncXRoute` over `xroute.transports.aiohttp_http_client()` (the ``aiohttp`` extra):
    xroute's own answer to httpx's pool slowing down with hundreds of connections."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        import aiohttp  # noqa: F401  (not importable: this client is skipped)

        from xroute.transports import aiohttp_http_client

        self._http_client = aiohttp_http_client

    def _async_client(self) -> Any:
        if self.aclient is None:  # created inside the event loop, as aiohttp wants
            self.aclient = self._xroute.AsyncXRoute(
                api_key=KEY, base_url=self._url, timeout=120, http_client=self._http_client()
            )
        return self.aclient


class OpenAIAdapter:
    """The official SDK, `base_url` pointed at the canned server."""

    def __init__(self, url: str) -> None:
        import openai

        self._openai = openai
        self._url = url
        self.client = openai.OpenAI(api_key=KEY, base_url=url, timeout=120)
        self.aclient: Any = None

    def version(self) -> str:
        return str(self._openai.__version__)

    def nonstream(self) -> str:
        reply = self.client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=PLAIN_MAX_TOKENS
        )
        return str(reply.choices[0].message.content)

    def stream(self, chunks: int) -> int:
        n = 0
        for chunk in self.client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=chunks, stream=True
        ):
            if _is_content(chunk.choices):
                n += 1
        return n

    def catalog(self, normalise: bool) -> int:
        return len(self.client.models.list().data)

    def _async_client(self) -> Any:
        if self.aclient is None:
            self.aclient = self._openai.AsyncOpenAI(api_key=KEY, base_url=self._url, timeout=120)
        return self.aclient

    async def anonstream(self) -> str:
        reply = await self._async_client().chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=PLAIN_MAX_TOKENS
        )
        return str(reply.choices[0].message.content)

    async def open_held(self) -> Any:
        stream = await self._async_client().chat.completions.create(
            model=HOLD_MODEL, messages=MESSAGES, max_tokens=16, stream=True
        )
        async for chunk in stream:
            if _is_content(chunk.choices):
                break
        return stream

    async def close_held(self, handle: Any) -> None:
        await handle.close()


class LiteLLMAdapter:
    """`litellm.completion` with `api_base`: LiteLLM's own way to reach such an endpoint."""

    def __init__(self, url: str) -> None:
        # Offline: no fetch of the remote price map or tokenizers (this network has none);
        # LiteLLM falls back to the copies it ships.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
        import litellm

        litellm.suppress_debug_info = True
        litellm.telemetry = False
        self._litellm = litellm
        self._kw = {"api_base": url, "api_key": KEY, "timeout": 120}

    def version(self) -> str:
        from importlib.metadata import version

        return version("litellm")

    def nonstream(self) -> str:
        reply = self._litellm.completion(
            model="openai/" + MODEL, messages=MESSAGES, max_tokens=PLAIN_MAX_TOKENS, **self._kw
        )
        return str(reply.choices[0].message.content)

    def stream(self, chunks: int) -> int:
        n = 0
        for chunk in self._litellm.completion(
            model="openai/" + MODEL, messages=MESSAGES, max_tokens=chunks, stream=True, **self._kw
        ):
            if _is_content(chunk.choices):
                n += 1
        return n

    def catalog(self, normalise: bool) -> int:
        raise Unsupported("LiteLLM has no call that lists an OpenAI-compatible /models")

    async def anonstream(self) -> str:
        reply = await self._litellm.acompletion(
            model="openai/" + MODEL, messages=MESSAGES, max_tokens=PLAIN_MAX_TOKENS, **self._kw
        )
        return str(reply.choices[0].message.content)

    async def open_held(self) -> Any:
        stream = await self._litellm.acompletion(
            model="openai/" + HOLD_MODEL, messages=MESSAGES, max_tokens=16, stream=True, **self._kw
        )
        async for chunk in stream:
            if _is_content(chunk.choices):
                break
        return stream

    async def close_held(self, handle: Any) -> None:
        closer = getattr(handle, "aclose", None)
        if closer is not None:
            await closer()


ADAPTERS: dict[str, type[Any]] = {
    "raw": Raw,
    "xroute": XRouteAdapter,
    "xroute_aiohttp": XRouteAiohttpAdapter,
    "openai": OpenAIAdapter,
    "litellm": LiteLLMAdapter,
}
