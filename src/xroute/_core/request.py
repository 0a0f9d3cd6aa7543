"""Checking call arguments and building the HTTP requests, once for both clients."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel

from .._exceptions import InvalidArgumentError
from .._version import __version__
from ..routing._tokens import estimate_input_tokens, estimate_prompt_tokens
from ..types.chat import ChatCreateParams
from ..types.embeddings import EmbeddingCreateParams
from .config import ClientConfig, Timeout, check_headers, check_seconds, to_timeout

USER_AGENT = f"xroute-python/{__version__}"

# Arguments that shape the HTTP request rather than the JSON body.
_TRANSPORT_ARGS = frozenset(
    {"extra_headers", "extra_query", "extra_body", "timeout"}
    | {"stream_idle_timeout", "first_token_timeout"}
)
_NUMBER = (int, float)
# The runtime check of each OpenAI argument: wrong types fail before any I/O, naming the
# argument, instead of coming back as a 400 from some provider three hops away.
_CHAT_TYPES: dict[str, tuple[type, ...]] = {
    "frequency_penalty": _NUMBER,
    "presence_penalty": _NUMBER,
    "temperature": _NUMBER,
    "top_p": _NUMBER,
    "max_tokens": (int,),
    "max_completion_tokens": (int,),
    "n": (int,),
    "seed": (int,),
    "top_logprobs": (int,),
    "logprobs": (bool,),
    "parallel_tool_calls": (bool,),
    "store": (bool,),
    "user": (str,),
    "reasoning_effort": (str,),
    "service_tier": (str,),
    "prompt_cache_key": (str,),
    "safety_identifier": (str,),
    "verbosity": (str,),
    "stop": (str, list, tuple),
    "modalities": (list, tuple),
    "tools": (list, tuple),
    "functions": (list, tuple),
    "tool_choice": (str, Mapping),
    "function_call": (str, Mapping),
    "response_format": (Mapping, BaseModel),
    "stream_options": (Mapping,),
    "metadata": (Mapping,),
    "logit_bias": (Mapping,),
    "prediction": (Mapping,),
    "audio": (Mapping,),
    "web_search_options": (Mapping,),
}
_CHAT_ARGS = frozenset(ChatCreateParams.__annotations__)
_EMBEDDING_ARGS = frozenset(EmbeddingCreateParams.__annotations__)


@dataclass(frozen=True, slots=True)
class Call:
    """One API operation as the caller asked for it, before routing picks a model."""

    method: str
    path: str
    # `model=` as given (None: the client's default_model); `routed` calls pick models.
    model: Any = None
    routed: bool = False
    body: dict[str, Any] | None = None
    stream: bool = False
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    extra_query: Mapping[str, Any] = field(default_factory=dict)
    timeout: Timeout | None = None
    stream_idle_timeout: float | None = None
    first_token_timeout: float | None = None
    # What routing needs to know about the request, worked out once.
    prompt_tokens: int = 0
    max_tokens: int | None = None
    needs: frozenset[str] = frozenset()


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_known(params: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    for name in params:
        if name not in known:
            raise InvalidArgumentError(
                f"{where}() got an unexpected argument {name!r}{_suggest(name, known)} "
                "(parameters this SDK does not know can go in extra_body={...})"
            )


def _check_required(params: Mapping[str, Any], names: tuple[str, ...], where: str) -> None:
    missing = [n for n in names if params.get(n) is None]
    if missing:
        raise InvalidArgumentError(
            f"{where}() is missing required argument(s): {', '.join(map(repr, missing))}"
        )


def _check_messages(messages: Any) -> list[Any]:
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Iterable):
        raise InvalidArgumentError(
            "messages must be a list of messages such as "
            "[{'role': 'user', 'content': 'Hello'}], "
            f"got {type(messages).__name__}"
        )
    checked = list(messages)
    if not checked:
        raise InvalidArgumentError("messages must not be empty")
    for i, message in enumerate(checked):
        if isinstance(message, BaseModel):
            continue
        if not isinstance(message, Mapping) or "role" not in message:
            raise InvalidArgumentError(
                f"messages[{i}] must be a dict with a 'role' (and usually 'content'), "
                f"got {message!r:.80}"
            )
    return checked


def _check_types(params: Mapping[str, Any], types: Mapping[str, tuple[type, ...]]) -> None:
    for name, allowed in types.items():
        value = params.get(name)
        if value is None:
            continue
        # bool is an int in Python, but `max_tokens=True` is a bug, not a count.
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            wanted = " or ".join(t.__name__ for t in allowed)
            raise InvalidArgumentError(f"{name} must be {wanted}, got {type(value).__name__}")


def _transport_options(params: Mapping[str, Any]) -> dict[str, Any]:
    timeout = params.get("timeout")
    return {
        "extra_headers": dict(check_headers(params.get("extra_headers"), "extra_headers") or {}),
        "extra_query": dict(params.get("extra_query") or {}),
        "timeout": None if timeout is None else to_timeout(timeout),
        "stream_idle_timeout": check_seconds(
            params.get("stream_idle_timeout"), "stream_idle_timeout"
        ),
        "first_token_timeout": check_seconds(
            params.get("first_token_timeout"), "first_token_timeout"
        ),
    }


def _extra_body(params: Mapping[str, Any]) -> Mapping[str, Any]:
    extra = params.get("extra_body") or {}
    if not isinstance(extra, Mapping):
        raise InvalidArgumentError("extra_body must be a dict of extra JSON fields")
    return extra


def chat_call(params: Mapping[str, Any], *, stream: object) -> Call:
    """Check `chat.completions.create` arguments and turn them into a `Call`."""
    if not isinstance(stream, bool):
        raise InvalidArgumentError(f"stream must be True or False, got {stream!r}")
    _check_known(params, _CHAT_ARGS, "chat.completions.create")
    _check_required(params, ("messages",), "chat.completions.create")
    _check_types(params, _CHAT_TYPES)
    body: dict[str, Any] = {
        k: v for k, v in params.items() if v is not None and k not in _TRANSPORT_ARGS
    }
    body.pop("model", None)
    body["messages"] = _check_messages(params["messages"])
    if stream:
        body["stream"] = True
    body.update(_extra_body(params))
    return Call(
        "POST",
        "chat/completions",
        model=params.get("model"),
        routed=True,
        body=body,
        stream=stream,
        prompt_tokens=estimate_prompt_tokens(body["messages"], tools=body.get("tools")),
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
        needs=_needs(body),
        **_transport_options(params),
    )


def _needs(body: Mapping[str, Any]) -> frozenset[str]:
    """Capabilities the request itself implies, so routing skips models without them."""
    needs = {"output:text"}
    if body.get("tools") or body.get("functions"):
        needs.add("tools")
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind in ("json_object", "json_schema"):
        needs.add("response_format")
    for message in body["messages"]:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list) and any(
            isinstance(part, Mapping) and part.get("type") == "image_url" for part in content
        ):
            needs.add("vision")
            break
    return frozenset(needs)


def embeddings_call(params: Mapping[str, Any]) -> Call:
    """Check `embeddings.create` arguments and turn them into a `Call`."""
    _check_known(params, _EMBEDDING_ARGS, "embeddings.create")
    _check_required(params, ("input",), "embeddings.create")
    _check_types(params, {"dimensions": (int,), "encoding_format": (str,), "user": (str,)})
    data = params["input"]
    if not isinstance(data, (str, list, tuple)) or (isinstance(data, (list, tuple)) and not data):
        raise InvalidArgumentError(
            "input must be a string or a non-empty list of strings (or token id lists)"
        )
    body: dict[str, Any] = {
        k: v for k, v in params.items() if v is not None and k not in _TRANSPORT_ARGS
    }
    body.pop("model", None)
    # Floats by default: some gateways mangle base64, and a caller asking for base64 gets
    # floats back anyway (the client decodes it).
    body.setdefault("encoding_format", "float")
    body.update(_extra_body(params))
    return Call(
        "POST",
        "embeddings",
        model=params.get("model"),
        body=body,
        routed=True,
        prompt_tokens=estimate_input_tokens(data),
        max_tokens=0,
        needs=frozenset({"output:embeddings"}),
        **_transport_options(params),
    )


def models_call(model_id: str | None = None) -> Call:
    """`GET /models` or `GET /models/{id}`."""
    if model_id is None:
        return Call("GET", "models")
    if not isinstance(model_id, str) or not model_id:
        raise InvalidArgumentError(f"model id must be a non-empty str, got {model_id!r}")
    return Call("GET", f"models/{model_id}")


def _json_default(value: Any) -> Any:
    # Callers pass back response objects (e.g. the assistant message) as history.
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, set, frozenset)) or hasattr(value, "__iter__"):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Compact JSON for the wire; any non-JSON value is an `InvalidArgumentError`."""
    try:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(f"the request body is not JSON serialisable: {err}") from err
    return text.encode()


def build_request(
    config: ClientConfig, call: Call, model: str | None, *, timeout: dict[str, float | None]
) -> httpx.Request:
    """The `httpx.Request` for one attempt of `call` against `model`."""
    headers = {
        "Authorization": f"Bearer {config.api_key.reveal()}",
        "Accept": "text/event-stream" if call.stream else "application/json",
        "User-Agent": USER_AGENT,
        **config.default_headers,
        **call.extra_headers,
    }
    content = None
    if call.body is not None:
        body = call.body if model is None else {"model": model, **call.body}
        content = encode_body(body)
        headers["Content-Type"] = "application/json"
    url = config.base_url.join(call.path)
    if call.extra_query:
        url = url.copy_merge_params(call.extra_query)
    return httpx.Request(
        call.method, url, headers=headers, content=content, extensions={"timeout": timeout}
    )
