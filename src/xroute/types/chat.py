"""Chat completion types: response models (OpenAI shapes) and request parameter TypedDicts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from pydantic import PrivateAttr, field_validator
from typing_extensions import Required, TypedDict

from ._base import XRouteModel

if TYPE_CHECKING:
    from ..routing._report import RouteReport

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "ChatCompletionMessageParam",
    "ChatCompletionMessageToolCall",
    "ChatCompletionTokenLogprob",
    "ChatCreateParams",
    "Choice",
    "ChoiceDelta",
    "ChoiceDeltaToolCall",
    "ChoiceDeltaToolCallFunction",
    "ChoiceLogprobs",
    "ChunkChoice",
    "CompletionUsage",
    "Function",
    "TopLogprob",
]


# --------------------------------------------------------------------------- responses


class TopLogprob(XRouteModel):
    """One alternative token and its log probability."""

    token: str
    logprob: float
    bytes: list[int] | None = None


class ChatCompletionTokenLogprob(XRouteModel):
    """A sampled token, its log probability and the most likely alternatives."""

    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] = []


class ChoiceLogprobs(XRouteModel):
    """Log probabilities of a choice's content and refusal tokens."""

    content: list[ChatCompletionTokenLogprob] | None = None
    refusal: list[ChatCompletionTokenLogprob] | None = None


class Function(XRouteModel):
    """The function a tool call invokes; `arguments` is a JSON string produced by the model."""

    name: str
    arguments: str = ""


class ChatCompletionMessageToolCall(XRouteModel):
    """A tool call in an assistant message."""

    id: str
    type: str = "function"
    function: Function


class ChatCompletionMessage(XRouteModel):
    """The assistant message of a choice."""

    role: str = "assistant"
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ChatCompletionMessageToolCall] | None = None
    function_call: Function | None = None


class Choice(XRouteModel):
    """One answer of a completion (several when `n` > 1)."""

    index: int = 0
    message: ChatCompletionMessage
    finish_reason: str | None = None
    logprobs: ChoiceLogprobs | None = None


class CompletionUsage(XRouteModel):
    """Token counts of a call. Gateways that report a price add `cost` (USD), kept as an extra."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: dict[str, Any] | None = None
    completion_tokens_details: dict[str, Any] | None = None


class ChatCompletion(XRouteModel):
    """A chat completion, shaped like OpenAI's.

    >>> completion.choices[0].message.content  # doctest: +SKIP
    'Hello!'
    """

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[Choice]
    usage: CompletionUsage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None

    _route: RouteReport | None = PrivateAttr(default=None)

    @property
    def route(self) -> RouteReport | None:
        """How the call was routed: the model that served, every attempt, cost and latency."""
        return self._route

    def __repr__(self) -> str:
        # Short on purpose: a notebook or a log line wants the gist, not every field.
        answer = ""
        if self.choices:
            message = self.choices[0].message
            answer = message.content or message.refusal or ""
            if not answer and message.tool_calls:
                answer = ", ".join(f"{c.function.name}(…)" for c in message.tool_calls)
        shown = answer if len(answer) <= 60 else answer[:59] + "…"
        tokens = f", tokens={self.usage.total_tokens}" if self.usage is not None else ""
        more = f", choices={len(self.choices)}" if len(self.choices) > 1 else ""
        return f"ChatCompletion(model={self.model!r}, answer={shown!r}{tokens}{more})"

    def _repr_html_(self) -> str:
        from .._jupyter import completion_html

        return completion_html(self)


class ChoiceDeltaToolCallFunction(XRouteModel):
    """A fragment of a streamed tool call's function: the name once, then argument pieces."""

    name: str | None = None
    arguments: str | None = None


class ChoiceDeltaToolCall(XRouteModel):
    """A fragment of a streamed tool call, matched to its call by `index`."""

    index: int = 0
    id: str | None = None
    type: str | None = None
    function: ChoiceDeltaToolCallFunction | None = None


class ChoiceDelta(XRouteModel):
    """What one stream chunk adds to a choice."""

    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ChoiceDeltaToolCall] | None = None
    function_call: ChoiceDeltaToolCallFunction | None = None


class ChunkChoice(XRouteModel):
    """One choice's part of a stream chunk."""

    index: int = 0
    delta: ChoiceDelta = ChoiceDelta()
    finish_reason: str | None = None
    logprobs: ChoiceLogprobs | None = None

    @field_validator("delta", mode="before")
    @classmethod
    def _null_delta(cls, value: Any) -> Any:
        # Some providers send `"delta": null` on the final chunk of a choice.
        return {} if value is None else value


class ChatCompletionChunk(XRouteModel):
    """One server-sent chunk of a streamed chat completion."""

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = []
    usage: CompletionUsage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None


# --------------------------------------------------------------------------- request params


class ChatCompletionContentPartTextParam(TypedDict):
    """A text part of a multimodal message."""

    type: Literal["text"]
    text: str


class ImageURL(TypedDict, total=False):
    """An image by URL or `data:` URI, with an optional detail level."""

    url: Required[str]
    detail: Literal["auto", "low", "high"]


class ChatCompletionContentPartImageParam(TypedDict):
    """An image part of a multimodal message."""

    type: Literal["image_url"]
    image_url: ImageURL


class InputAudio(TypedDict):
    """Base64 audio data and its format."""

    data: str
    format: Literal["wav", "mp3"]


class ChatCompletionContentPartInputAudioParam(TypedDict):
    """An audio part of a multimodal message."""

    type: Literal["input_audio"]
    input_audio: InputAudio


class FileFile(TypedDict, total=False):
    """A file by id or inline data."""

    file_data: str
    file_id: str
    filename: str


class ChatCompletionContentPartFileParam(TypedDict):
    """A file part of a multimodal message."""

    type: Literal["file"]
    file: FileFile


ChatCompletionContentPartParam: TypeAlias = (
    ChatCompletionContentPartTextParam
    | ChatCompletionContentPartImageParam
    | ChatCompletionContentPartInputAudioParam
    | ChatCompletionContentPartFileParam
)


class ChatCompletionSystemMessageParam(TypedDict, total=False):
    """A system message."""

    role: Required[Literal["system"]]
    content: Required[str | Sequence[ChatCompletionContentPartTextParam]]
    name: str


class ChatCompletionDeveloperMessageParam(TypedDict, total=False):
    """A developer message (newer OpenAI models' name for system)."""

    role: Required[Literal["developer"]]
    content: Required[str | Sequence[ChatCompletionContentPartTextParam]]
    name: str


class ChatCompletionUserMessageParam(TypedDict, total=False):
    """A user message: text or multimodal content parts."""

    role: Required[Literal["user"]]
    content: Required[str | Sequence[ChatCompletionContentPartParam]]
    name: str


class FunctionCallParam(TypedDict):
    """A function name and its JSON arguments."""

    name: str
    arguments: str


class ChatCompletionMessageToolCallParam(TypedDict):
    """A tool call the assistant made, sent back in the history."""

    id: str
    type: Literal["function"]
    function: FunctionCallParam


class ChatCompletionAssistantMessageParam(TypedDict, total=False):
    """An earlier assistant turn, possibly with tool calls."""

    role: Required[Literal["assistant"]]
    content: str | Sequence[ChatCompletionContentPartTextParam] | None
    refusal: str | None
    name: str
    tool_calls: Sequence[ChatCompletionMessageToolCallParam]
    function_call: FunctionCallParam | None


class ChatCompletionToolMessageParam(TypedDict):
    """The result of a tool call, matched by `tool_call_id`."""

    role: Literal["tool"]
    content: str | Sequence[ChatCompletionContentPartTextParam]
    tool_call_id: str


ChatCompletionMessageParam: TypeAlias = (
    ChatCompletionSystemMessageParam
    | ChatCompletionDeveloperMessageParam
    | ChatCompletionUserMessageParam
    | ChatCompletionAssistantMessageParam
    | ChatCompletionToolMessageParam
)


class ChatCreateParams(TypedDict, total=False):
    """Every argument of `chat.completions.create` except `stream`, for type checkers.

    `model` is a model id, a list of ids (a fallback chain) or a routing policy. The
    OpenAI parameters are passed through unchanged; `extra_headers`, `extra_query` and
    `extra_body` reach the wire as given; `timeout` overrides the client's for this call.
    """

    model: Any  # an id, a list of ids or a policy; omitted: the client's default_model
    messages: Required[Iterable[ChatCompletionMessageParam]]
    audio: Mapping[str, Any] | None
    frequency_penalty: float | None
    function_call: str | Mapping[str, Any]
    functions: Iterable[Mapping[str, Any]]
    logit_bias: Mapping[str, int] | None
    logprobs: bool | None
    max_completion_tokens: int | None
    max_tokens: int | None
    metadata: Mapping[str, str] | None
    modalities: Sequence[str] | None
    n: int | None
    parallel_tool_calls: bool
    prediction: Mapping[str, Any] | None
    presence_penalty: float | None
    prompt_cache_key: str
    reasoning_effort: str | None
    response_format: Mapping[str, Any]
    safety_identifier: str
    seed: int | None
    service_tier: str | None
    stop: str | Sequence[str] | None
    store: bool | None
    stream_options: Mapping[str, Any] | None
    temperature: float | None
    tool_choice: str | Mapping[str, Any]
    tools: Iterable[Mapping[str, Any]]
    top_logprobs: int | None
    top_p: float | None
    user: str
    verbosity: str | None
    web_search_options: Mapping[str, Any]
    extra_headers: Mapping[str, str] | None
    extra_query: Mapping[str, object] | None
    extra_body: Mapping[str, object] | None
    timeout: Any
    stream_idle_timeout: float | None
    first_token_timeout: float | None
