"""Reading chat and embedding requests, and composing and rendering their answers (pure).

Nothing here keeps state: the engine passes in the model, the seed and the request number, so
the same inputs always render the same bytes.
"""

from __future__ import annotations

import base64
import json
import random
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._catalog_data import CatalogModel
from ._generate import (
    answer_text,
    count_tokens,
    digest,
    embedding,
    example_from_schema,
    image_count,
    message_text,
    split_tokens,
)
from ._scripts import FailureKind, ModelScript
from ._wire import SSE_HEADERS, Drop, Hang, Head, Pause, Rejection, Step, dumps

DEFAULT_EMBEDDING_DIMENSIONS = 16
_MAX_EMBEDDING_DIMENSIONS = 4096
_MAX_CHOICES = 128
_IMAGE_TOKENS = 85
_MESSAGE_OVERHEAD = 3  # tokens per message and per request, as OpenAI's cookbook counts them
_FINGERPRINT = "fp_xroute_mock"


def price_text(usd_per_token: float) -> str:
    """A per-token price as OpenRouter writes it: a plain decimal string, no exponent."""
    text = f"{usd_per_token:.12f}".rstrip("0").rstrip(".")
    return text or "0"


@dataclass
class ServedModel:
    """A catalog entry with the script now in force for it."""

    entry: CatalogModel
    script: ModelScript

    @property
    def context_length(self) -> int:
        return self.script.context_length or self.entry.context_length

    @property
    def prompt_price(self) -> float:
        price = self.script.prompt_usd_per_token
        return self.entry.prompt_usd_per_token if price is None else price

    @property
    def completion_price(self) -> float:
        price = self.script.completion_usd_per_token
        return self.entry.completion_usd_per_token if price is None else price

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD, exactly ``prompt_tokens * prompt price + completion_tokens * completion price``."""
        return prompt_tokens * self.prompt_price + completion_tokens * self.completion_price

    def to_json(self) -> dict[str, Any]:
        """The OpenRouter-style ``/models`` entry (with OpenAI's ``object`` and ``owned_by``)."""
        entry = self.entry
        context = self.context_length
        modality = "+".join(entry.input_modalities) + "->" + "+".join(entry.output_modalities)
        return {
            "id": entry.id,
            "object": "model",
            "created": entry.created,
            "owned_by": entry.owned_by,
            "name": entry.name,
            "description": f"{entry.name}, served by the xroute mock gateway.",
            "context_length": context,
            "pricing": {
                "prompt": price_text(self.prompt_price),
                "completion": price_text(self.completion_price),
                "request": "0",
                "image": "0",
            },
            "architecture": {
                "modality": modality,
                "input_modalities": list(entry.input_modalities),
                "output_modalities": list(entry.output_modalities),
                "tokenizer": entry.tokenizer,
            },
            "top_provider": {
                "context_length": context,
                "max_completion_tokens": entry.max_completion_tokens,
                "is_moderated": False,
            },
            "supported_parameters": list(entry.supported_parameters),
        }


# --- chat requests ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatRequest:
    """The parts of a chat body the answer depends on, checked for shape."""

    body: Mapping[str, Any]
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    stream: bool
    include_usage: bool
    choices: int
    max_tokens: int | None
    prompt_tokens: int
    images: int


def read_chat(body: Mapping[str, Any]) -> ChatRequest:
    """Check a chat body's shape (not yet against the model) and count its prompt tokens."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Rejection(
            400, "'messages' must be a non-empty array of message objects.", param="messages"
        )
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise Rejection(400, "Each message needs a string 'role'.", param="messages")
    tools = _tools(body)
    options = body.get("stream_options")
    max_tokens = _positive_int(body, "max_completion_tokens") or _positive_int(body, "max_tokens")
    prompt_tokens, images = _prompt_tokens(messages, tools)
    return ChatRequest(
        body=body,
        messages=messages,
        tools=tools,
        stream=body.get("stream") is True,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        choices=_positive_int(body, "n", upper=_MAX_CHOICES) or 1,
        max_tokens=max_tokens,
        prompt_tokens=prompt_tokens,
        images=images,
    )


def check_fits(request: ChatRequest, model_id: str, model: ServedModel) -> None:
    """Reject what this model cannot take: images without vision, too many tokens."""
    if request.images and not model.entry.vision:
        raise Rejection(
            400,
            f"Model {model_id} does not accept image input; pick a model whose "
            "architecture.input_modalities includes 'image'.",
            param="messages",
            code="unsupported_modality",
        )
    prompt, completion = request.prompt_tokens, request.max_tokens
    requested = prompt + (completion or 0)
    if requested > model.context_length:
        # OpenAI's wording, which clients and people grep for.
        detail = (
            f"you requested {requested} tokens ({prompt} in the messages, {completion} in the "
            "completion)"
            if completion
            else f"your messages resulted in {prompt} tokens"
        )
        raise Rejection(
            400,
            f"This model's maximum context length is {model.context_length} tokens. However, "
            f"{detail}. Please reduce the length of the messages or completion.",
            param="messages",
            code="context_length_exceeded",
        )


def _positive_int(body: Mapping[str, Any], name: str, *, upper: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    # bool is an int subclass; `"n": true` is a client bug worth a 400, as OpenAI gives.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Rejection(400, f"Invalid '{name}': expected an integer >= 1.", param=name)
    if upper is not None and value > upper:
        raise Rejection(400, f"Invalid '{name}': expected at most {upper}.", param=name)
    return value


def _tools(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's function definitions (``{"name", "parameters", ...}``)."""
    tools = body.get("tools")
    if tools is None:
        return []
    functions = []
    for tool in tools if isinstance(tools, list) else [None]:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise Rejection(
                400,
                'Invalid \'tools\': expected an array of {"type": "function", "function": '
                '{"name": ..., "parameters": {...}}}.',
                param="tools",
            )
        functions.append(function)
    return functions


def _prompt_tokens(
    messages: Iterable[dict[str, Any]], tools: list[dict[str, Any]]
) -> tuple[int, int]:
    """Prompt tokens by the ``_generate`` rule plus framing, and the number of images."""
    total = _MESSAGE_OVERHEAD
    images = 0
    for message in messages:
        content = message.get("content")
        count = image_count(content)
        images += count
        total += _MESSAGE_OVERHEAD + count_tokens(message_text(content)) + count * _IMAGE_TOKENS
        name = message.get("name")
        if isinstance(name, str):
            total += count_tokens(name)
        if message.get("tool_calls"):
            total += count_tokens(json.dumps(message["tool_calls"], default=str))
    if tools:
        total += count_tokens(json.dumps(tools, default=str))
    return total, images


# --- chat answers -----------------------------------------------------------------------------


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: list[str]  # the JSON text, split into one piece per token


@dataclass
class Choice:
    index: int
    content: list[str] | None  # one piece per token; None when the model calls tools
    calls: list[ToolCall] = field(default_factory=list)
    finish: str = "stop"

    @property
    def tokens(self) -> int:
        if self.content is not None:
            return len(self.content)
        return sum(1 + len(call.arguments) for call in self.calls)


@dataclass(frozen=True)
class Completion:
    """A composed answer, before it is rendered plain or as a stream."""

    id: str
    created: int
    model_id: str
    model: ServedModel
    choices: list[Choice]
    prompt_tokens: int

    @property
    def completion_tokens(self) -> int:
        return sum(choice.tokens for choice in self.choices)

    def usage(self, completion_tokens: int | None = None) -> dict[str, Any]:
        completion = self.completion_tokens if completion_tokens is None else completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
            "cost": self.model.cost(self.prompt_tokens, completion),
        }


@dataclass(frozen=True)
class Timing:
    """Scaled seconds: before the head, before the first token, and between tokens."""

    latency: float
    first_token: float
    per_token: float


def compose(
    request: ChatRequest,
    model_id: str,
    model: ServedModel,
    *,
    seed: int,
    number: int,
    created: int,
) -> Completion:
    """Every choice's text or tool calls, from the seed, the model and the prompt only."""
    body = request.body
    prompt_key = digest(
        json.dumps(
            [request.messages, request.tools, body.get("response_format"), body.get("seed")],
            sort_keys=True,
            default=str,
        )
    )
    choices = []
    for index in range(request.choices):
        rng = random.Random(digest(seed, model_id, "answer", prompt_key, index))
        called = _tools_to_call(body, request.messages, request.tools)
        if called:
            calls = [
                ToolCall(
                    id=f"call_{digest(seed, model_id, prompt_key, index, k):016x}",
                    name=tool["name"],
                    arguments=split_tokens(
                        json.dumps(
                            example_from_schema(tool.get("parameters"), rng),
                            separators=(",", ":"),
                            ensure_ascii=False,
                        )
                    ),
                )
                for k, tool in enumerate(called)
            ]
            choice = _cut_calls(Choice(index, None, calls, "tool_calls"), request.max_tokens)
        else:
            choice = _text_choice(request, model_id, model, index, rng)
        choices.append(choice)
    return Completion(
        id=f"chatcmpl-{digest(seed, model_id, 'completion', number):016x}",
        created=created,
        model_id=model_id,
        model=model,
        choices=choices,
        prompt_tokens=request.prompt_tokens,
    )


def _text_choice(
    request: ChatRequest, model_id: str, model: ServedModel, index: int, rng: random.Random
) -> Choice:
    messages = request.messages
    last = next((m for m in reversed(messages) if m["role"] in ("user", "tool")), messages[-1])
    echo = message_text(last.get("content"))
    tool_result = last["role"] == "tool"
    response_format = request.body.get("response_format")
    if not isinstance(response_format, dict):
        response_format = {}
    if model.script.reply is not None:
        text = model.script.reply
    elif response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        text = json.dumps(example_from_schema(schema, rng), ensure_ascii=False)
    elif response_format.get("type") == "json_object":
        answer = answer_text(model.entry.name, echo, tool_result=tool_result, rng=rng)
        text = json.dumps({"answer": answer, "model": model_id}, ensure_ascii=False)
    else:
        text = answer_text(model.entry.name, echo, tool_result=tool_result, rng=rng)

    stop = request.body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    cuts = [text.find(s) for s in stops if isinstance(s, str) and s and s in text]
    if cuts:
        text = text[: min(cuts)]
    pieces = split_tokens(text)
    if request.max_tokens is not None and len(pieces) > request.max_tokens:
        return Choice(index, pieces[: request.max_tokens], finish="length")
    return Choice(index, pieces)


def _tools_to_call(
    body: Mapping[str, Any], messages: list[dict[str, Any]], tools: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The functions the fake model calls: the forced one, else those the last user message
    names (all of them unless ``parallel_tool_calls`` is false), else the first.  None when
    ``tool_choice`` is "none", or is "auto" and the last message is a tool result: then the
    model answers in text, which lets an agent loop end."""
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none":
        return []
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        forced = [tool for tool in tools if tool["name"] == name]
        if not forced:
            raise Rejection(
                400,
                f"Invalid 'tool_choice': no function named {name!r} in 'tools'.",
                param="tool_choice",
            )
        return forced
    if choice != "required" and messages[-1]["role"] == "tool":
        return []
    last_user = next((m for m in reversed(messages) if m["role"] == "user"), messages[-1])
    said = message_text(last_user.get("content")).lower()
    named = [
        tool
        for tool in tools
        if tool["name"].lower() in said or tool["name"].lower().replace("_", " ") in said
    ]
    if not named:
        return tools[:1]
    return named if body.get("parallel_tool_calls", True) is not False else named[:1]


def _cut_calls(choice: Choice, max_tokens: int | None) -> Choice:
    if max_tokens is None or choice.tokens <= max_tokens:
        return choice
    budget = max_tokens
    kept: list[ToolCall] = []
    for call in choice.calls:
        if budget <= 0:
            break
        kept.append(ToolCall(call.id, call.name, call.arguments[: budget - 1]))
        budget -= 1 + len(call.arguments)
    return Choice(choice.index, None, kept, "length")


def render_plain(completion: Completion) -> bytes:
    """The ``chat.completion`` JSON body."""
    return dumps(
        {
            "id": completion.id,
            "object": "chat.completion",
            "created": completion.created,
            "model": completion.model_id,
            "system_fingerprint": _FINGERPRINT,
            "choices": [_message(choice) for choice in completion.choices],
            "usage": completion.usage(),
        }
    )


def _message(choice: Choice) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "refusal": None}
    if choice.content is not None:
        message["content"] = "".join(choice.content)
    else:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": "".join(call.arguments)},
            }
            for call in choice.calls
        ]
    finish = choice.finish
    return {"index": choice.index, "message": message, "logprobs": None, "finish_reason": finish}


def render_stream(
    completion: Completion,
    request: ChatRequest,
    timing: Timing,
    failure: FailureKind | None,
    request_id: str,
) -> tuple[list[Step], int]:
    """The SSE steps, cut half-way by a mid-stream ``failure``; and the tokens they carry."""
    base: dict[str, Any] = {
        "id": completion.id,
        "object": "chat.completion.chunk",
        "created": completion.created,
        "model": completion.model_id,
        "system_fingerprint": _FINGERPRINT,
    }
    if request.include_usage:
        base["usage"] = None  # OpenAI sends an explicit null until the usage chunk

    def event(index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + dumps({**base, "choices": [choice]}) + b"\n\n"

    steps: list[Step] = [Pause(timing.latency)] if timing.latency > 0 else []
    steps.append(Head(200, (*SSE_HEADERS, ("x-request-id", request_id))))
    for choice in completion.choices:
        content = "" if choice.content is not None else None
        steps.append(event(choice.index, {"role": "assistant", "content": content}))

    # One chunk per token; choices interleave, as OpenAI's do for n > 1.
    per_choice = [_token_deltas(choice) for choice in completion.choices]
    tokens: list[bytes] = []
    for position in range(max(len(deltas) for deltas in per_choice)):
        for choice, deltas in zip(completion.choices, per_choice, strict=True):
            if position < len(deltas):
                tokens.append(event(choice.index, deltas[position]))
    sent = len(tokens) if failure is None else len(tokens) // 2
    for position, chunk in enumerate(tokens[:sent]):
        wait = timing.first_token if position == 0 else timing.per_token
        if wait > 0:
            steps.append(Pause(wait))
        steps.append(chunk)

    if failure == "reset":
        return [*steps, Drop()], sent
    if failure == "hang":
        return [*steps, Hang(completion.model.script.hang_seconds), Drop()], sent
    if failure == "error_event":
        error = {
            "message": f"The upstream provider for {completion.model_id} failed mid-stream "
            "(scripted 'error_event').",
            "type": "server_error",
            "param": None,
            "code": "upstream_error",
        }
        return [*steps, b"data: " + dumps({"error": error}) + b"\n\n"], sent
    if failure == "truncate":
        return steps, sent
    steps.extend(event(choice.index, {}, choice.finish) for choice in completion.choices)
    if request.include_usage:
        steps.append(
            b"data: " + dumps({**base, "choices": [], "usage": completion.usage()}) + b"\n\n"
        )
    steps.append(b"data: [DONE]\n\n")
    return steps, sent


def _token_deltas(choice: Choice) -> list[dict[str, Any]]:
    if choice.content is not None:
        return [{"content": piece} for piece in choice.content]
    deltas: list[dict[str, Any]] = []
    for k, call in enumerate(choice.calls):
        # As OpenAI streams a call: id, type and name first with empty arguments, then the
        # argument text in fragments that carry only the call's index.
        header = {"name": call.name, "arguments": ""}
        deltas.append(
            {"tool_calls": [{"index": k, "id": call.id, "type": "function", "function": header}]}
        )
        deltas.extend(
            {"tool_calls": [{"index": k, "function": {"arguments": fragment}}]}
            for fragment in call.arguments
        )
    return deltas


# --- embeddings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddingRequest:
    texts: list[str]
    token_counts: list[int]
    dimensions: int
    base64: bool


def read_embeddings(body: Mapping[str, Any]) -> EmbeddingRequest:
    """Check an embeddings body's shape; token-id inputs are embedded by their digits."""
    texts, counts = _embedding_inputs(body.get("input"))
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise Rejection(
            400,
            "Invalid 'encoding_format': expected 'float' or 'base64'.",
            param="encoding_format",
        )
    dimensions = _positive_int(body, "dimensions", upper=_MAX_EMBEDDING_DIMENSIONS)
    return EmbeddingRequest(
        texts, counts, dimensions or DEFAULT_EMBEDDING_DIMENSIONS, encoding == "base64"
    )


def _embedding_inputs(value: Any) -> tuple[list[str], list[int]]:
    if isinstance(value, str) and value:
        return [value], [count_tokens(value)]
    if isinstance(value, list) and value:
        if all(isinstance(item, str) and item for item in value):
            return list(value), [count_tokens(item) for item in value]
        if _token_ids(value):
            return [" ".join(map(str, value))], [len(value)]
        if all(isinstance(item, list) and item and _token_ids(item) for item in value):
            return [" ".join(map(str, item)) for item in value], [len(item) for item in value]
    raise Rejection(
        400,
        "Invalid 'input': expected a non-empty string, an array of non-empty strings, or token "
        "ids.",
        param="input",
    )


def _token_ids(values: list[Any]) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def render_embeddings(
    request: EmbeddingRequest, model_id: str, model: ServedModel, *, seed: int
) -> bytes:
    """The embeddings JSON body; refuses an input longer than the model's context."""
    longest = max(request.token_counts)
    if longest > model.context_length:
        raise Rejection(
            400,
            f"This model's maximum context length is {model.context_length} tokens, however "
            f"you requested {longest} tokens in one input. Please reduce your input.",
            param="input",
            code="context_length_exceeded",
        )
    data = []
    for index, text in enumerate(request.texts):
        vector = embedding(seed, model_id, text, request.dimensions)
        value: Any = vector
        if request.base64:
            packed = struct.pack(f"<{request.dimensions}f", *vector)
            value = base64.b64encode(packed).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": value})
    tokens = sum(request.token_counts)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens, "cost": model.cost(tokens, 0)}
    return dumps({"object": "list", "data": data, "model": model_id, "usage": usage})
