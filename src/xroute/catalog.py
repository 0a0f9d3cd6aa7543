"""The model catalog: any gateway's ``GET /models`` read into one shape, with cost maths.

Gateways disagree on what a model entry looks like, and above all on price units. Every entry
is read by which fields it has, so one list may mix shapes. What is read, in order of
precedence (the first usable value wins; the rest stays in ``Model.raw``):

id
    ``id``, ``model``, ``model_name``; or the key, when the payload is a map of id to entry
    (LiteLLM). An entry with a nested ``model_info`` object (LiteLLM ``/model/info``) is read
    as if those fields were at the top.
provider
    ``provider``; the id prefix before ``/`` (``openai/gpt-4o``; Google's ``models/`` prefix
    is not a provider); ``owned_by``; ``organization``; ``litellm_provider``.
name
    ``name``, ``display_name``; else the id.
context_length (tokens)
    ``context_length``, ``context_window``, ``max_context_tokens``, ``max_input_tokens``,
    ``input_token_limit``, ``inputTokenLimit``, ``top_provider.context_length``.
max_output_tokens (tokens)
    ``max_output_tokens``, ``max_completion_tokens``, ``output_token_limit``,
    ``outputTokenLimit``, ``top_provider.max_completion_tokens``; last LiteLLM's legacy
    ``max_tokens``, unless it equals the context length (LiteLLM copies the input limit there
    when it knows no output limit).
prices (USD), inside a ``pricing`` object first, then at the top level
    ``{base}{conn}_per_{unit}`` where ``base`` is ``prompt`` | ``input`` (prompt tokens),
    ``completion`` | ``output`` (completion tokens) or ``cached_prompt`` | ``cached_input`` |
    ``cache_read`` | ``input_cache_read`` | ``cache_read_input`` (cached prompt tokens);
    ``conn`` is empty, ``_usd``, ``_price`` or ``_cost``; ``unit`` is ``token`` (x1), ``1k`` |
    ``1k_tokens`` (/1,000) or ``1m`` | ``1m_tokens`` | ``mtok`` | ``million_tokens``
    (/1,000,000). So ``input_cost_per_token`` (LiteLLM), ``prompt_price_per_1k_tokens`` and
    ``pricing.input_per_1k`` all work. Also ``cache_read_input_token_cost`` and
    ``input_cost_per_token_cache_hit`` (LiteLLM, per token), ``request_usd`` |
    ``input_cost_per_request`` (per request), ``image_usd`` | ``input_cost_per_image`` (per
    image). Inside ``pricing`` only, OpenRouter's bare ``prompt``, ``completion``,
    ``input_cache_read``, ``cached_prompt``, ``cache_read`` are USD per token and ``request``,
    ``image`` USD per unit. A bare ``pricing.input`` / ``pricing.output`` is *not* read: some
    gateways mean per token and others (Together) per million, and a price off by 10^6 is
    worse than an unknown one; give it with ``with_overrides`` instead.
    Numbers or numeric strings; a negative (OpenRouter's ``"-1"`` for routers), NaN or
    infinite price is unknown, never 0.
modalities
    ``architecture.input_modalities`` / ``output_modalities``, ``architecture.modality``
    (``"text+image->text"``), ``input_modalities`` / ``output_modalities``,
    ``modalities.input`` / ``modalities.output``, ``supported_modalities`` /
    ``supported_output_modalities``, LiteLLM's ``mode`` (``chat``, ``embedding``, ...).
parameters and capabilities
    ``supported_parameters``, ``supported_openai_params``; ``supports_<x>`` booleans
    (``supports_function_calling``, ``supports_vision``, ``supports_response_schema``,
    ``supports_reasoning``, ``supports_native_streaming``, ...; an unknown ``supports_<x>:
    true`` adds the parameter ``<x>``); ``capabilities`` as a list of names or an object of
    booleans (``{"tools": true, "vision": true}``).

Token limits accept ints, integral floats (``200000.0``) and numeric strings; zero, negative
or non-finite limits are unknown. Unknown capability information never claims support, except
streaming, which every chat endpoint offers unless the entry says otherwise.
"""

from __future__ import annotations

import difflib
import html
import json
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from itertools import repeat
from pathlib import Path
from typing import Any, Literal, TypeGuard, overload

from ._exceptions import CatalogError, InvalidArgumentError, UnknownModelError, redact

__all__ = ["CatalogWarning", "Model", "ModelCatalog", "Pricing", "SortKey"]

SortKey = Literal["price", "prompt_price", "completion_price", "context", "id", "provider"]
"""What `ModelCatalog.sort_by` can order by; ``price`` is prompt plus completion per token."""

_INF = math.inf
_PER_MTOK = 1_000_000.0
# Threshold filters compare per-token prices against a per-million limit; a price converted
# from per-1K or per-1M units can be one ulp off, so "at most $3/Mtok" must not drop $3.
_PRICE_TOLERANCE = 1e-9


class CatalogWarning(UserWarning):
    """A model entry was skipped, or a stale catalog is being served after a failed refresh."""


def _tidy(value: float) -> float:
    # Unit conversion leaves binary noise (3.0000000000000004e-06); 15 significant digits
    # round-trip any price a gateway writes in decimal.
    return float(f"{value:.15g}")


@dataclass(frozen=True, slots=True)
class Pricing:
    """What a model costs, in USD. ``None`` means unknown, never free.

    >>> p = Pricing(prompt_usd_per_token=3e-6, completion_usd_per_token=15e-6)
    >>> p.prompt_usd_per_mtok, p.estimate(1_000, 500)
    (3.0, 0.0105)
    """

    prompt_usd_per_token: float | None
    completion_usd_per_token: float | None
    request_usd: float | None = None
    image_usd: float | None = None
    cached_prompt_usd_per_token: float | None = None

    @classmethod
    def per_mtok(
        cls,
        prompt: float | None,
        completion: float | None,
        *,
        cached_prompt: float | None = None,
        request_usd: float | None = None,
        image_usd: float | None = None,
    ) -> Pricing:
        """Build from USD per million tokens, the unit price lists are written in.

        >>> Pricing.per_mtok(3, 15).completion_usd_per_token
        1.5e-05
        """

        def per_token(value: float | None) -> float | None:
            return None if value is None else _tidy(value / _PER_MTOK)

        return cls(
            per_token(prompt),
            per_token(completion),
            request_usd=request_usd,
            image_usd=image_usd,
            cached_prompt_usd_per_token=per_token(cached_prompt),
        )

    @property
    def known(self) -> bool:
        """True when both the prompt and the completion price are known."""
        return self.prompt_usd_per_token is not None and self.completion_usd_per_token is not None

    @property
    def prompt_usd_per_mtok(self) -> float | None:
        """USD per million prompt tokens, for people."""
        p = self.prompt_usd_per_token
        return None if p is None else _tidy(p * _PER_MTOK)

    @property
    def completion_usd_per_mtok(self) -> float | None:
        """USD per million completion tokens, for people."""
        p = self.completion_usd_per_token
        return None if p is None else _tidy(p * _PER_MTOK)

    def estimate(
        self,
        prompt_tokens: int,
        completion_tokens: int,
        *,
        cached_prompt_tokens: int = 0,
        requests: int = 1,
        images: int = 0,
    ) -> float | None:
        """The USD cost of a call, or ``None`` when a price it needs is unknown.

        ``cached_prompt_tokens`` are part of ``prompt_tokens`` (as in OpenAI's usage) and are
        billed at the cached price, or at the full prompt price when no cached price is
        listed (an upper bound). A per-request fee is added when listed; an unlisted one
        counts as none, since most gateways bill per token only.

        >>> Pricing.per_mtok(3, 15, cached_prompt=0.3).estimate(
        ...     10_000, 1_000, cached_prompt_tokens=8_000)
        0.0234
        """
        if min(prompt_tokens, completion_tokens, cached_prompt_tokens, requests, images) < 0:
            raise InvalidArgumentError("token, request and image counts must not be negative")
        if cached_prompt_tokens > prompt_tokens:
            raise InvalidArgumentError(
                f"cached_prompt_tokens ({cached_prompt_tokens}) is part of prompt_tokens "
                f"({prompt_tokens}) and cannot exceed it"
            )
        total = 0.0
        prompt = self.prompt_usd_per_token
        uncached = prompt_tokens - cached_prompt_tokens
        if uncached:
            if prompt is None:
                return None
            total += uncached * prompt
        if cached_prompt_tokens:
            cached = self.cached_prompt_usd_per_token
            rate = prompt if cached is None else cached
            if rate is None:
                return None
            total += cached_prompt_tokens * rate
        if completion_tokens:
            if self.completion_usd_per_token is None:
                return None
            total += completion_tokens * self.completion_usd_per_token
        if images:
            if self.image_usd is None:
                return None
            total += images * self.image_usd
        if self.request_usd is not None:
            total += requests * self.request_usd
        return _tidy(total)


_UNKNOWN_PRICING = Pricing(None, None)

# Canonical capability names: what `Model.supports` answers beyond plain parameter names.
_TOOL_PARAMS = frozenset({"tools", "tool_choice", "functions", "function_call"})
_JSON_PARAMS = frozenset({"response_format", "structured_outputs"})
_REASONING_PARAMS = frozenset({"reasoning", "include_reasoning", "reasoning_effort"})
_FEATURE_ALIASES = {
    "tools": "tools",
    "tool_calls": "tools",
    "function_calling": "tools",
    "functions": "tools",
    "json": "json",
    "json_mode": "json",
    "response_format": "json",
    "structured_outputs": "structured_outputs",
    "json_schema": "structured_outputs",
    "vision": "vision",
    "streaming": "streaming",
    "stream": "streaming",
    "reasoning": "reasoning",
}
_CAPABILITIES = ("tools", "json", "structured_outputs", "vision", "reasoning", "streaming")
_NO_PARAMS: frozenset[str] = frozenset()


def _id_prefix(model_id: str) -> str | None:
    prefix, slash, _ = model_id.partition("/")
    # Google's OpenAI-compatible endpoint names models "models/gemini-...": not a provider.
    if slash and prefix and prefix != "models":
        return prefix
    return None


@dataclass(frozen=True, slots=True, repr=False)
class Model:
    """One model of the catalog, normalised; the entry it came from is kept in ``raw``.

    `provider` defaults to the id prefix (``openai/gpt-4o``) and `name` to the id.
    `context_length` is the input window and `max_output_tokens` the completion limit, in
    tokens; ``None`` (like an empty modality tuple or parameter set) means the gateway did
    not say. `supported_parameters` are the request parameters the gateway says it accepts
    (lower-case); `streaming` is true unless the entry says otherwise. `raw` is left out of
    equality and hashing.

    >>> m = catalog["anthropic/claude-sonnet-4"]
    >>> m.provider, m.context_length, m.pricing.prompt_usd_per_mtok, m.supports("tools")
    ('anthropic', 200000, 3.0, True)
    """

    id: str
    provider: str | None = None
    name: str = ""
    context_length: int | None = None
    max_output_tokens: int | None = None
    pricing: Pricing = _UNKNOWN_PRICING
    input_modalities: tuple[str, ...] = ()
    output_modalities: tuple[str, ...] = ()
    supported_parameters: frozenset[str] = _NO_PARAMS
    streaming: bool = True
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.id)
        if self.provider is None:
            object.__setattr__(self, "provider", _id_prefix(self.id))

    def supports(self, feature: str) -> bool:
        """Whether the model is known to support `feature`; unknown means no.

        Features: ``tools`` (tools, tool_choice or legacy functions), ``json`` /
        ``response_format`` (JSON mode or schemas), ``structured_outputs`` / ``json_schema``
        (schemas), ``vision`` (image input), ``streaming`` (true unless the entry says not),
        ``reasoning``; any other name is looked up in ``supported_parameters``.

        >>> model.supports("tools"), model.supports("logprobs")
        (True, False)
        """
        name = feature.lower()
        canonical = _FEATURE_ALIASES.get(name)
        params = self.supported_parameters
        if canonical is None:
            return name in params
        if canonical == "tools":
            return not params.isdisjoint(_TOOL_PARAMS)
        if canonical == "json":
            return not params.isdisjoint(_JSON_PARAMS)
        if canonical == "structured_outputs":
            # OpenRouter lists `response_format` for JSON mode alone; schemas need this one.
            return "structured_outputs" in params
        if canonical == "vision":
            return "image" in self.input_modalities
        if canonical == "streaming":
            return self.streaming
        return not params.isdisjoint(_REASONING_PARAMS)

    @property
    def capabilities(self) -> tuple[str, ...]:
        """The canonical features this model supports, e.g. ``('tools', 'json', 'streaming')``."""
        return tuple(c for c in _CAPABILITIES if self.supports(c))

    def to_dict(self) -> dict[str, Any]:
        """The normalised fields as JSON-ready data, in keys `ModelCatalog.from_response` reads."""
        p = self.pricing
        return {
            "id": self.id,
            "provider": self.provider,
            "name": self.name,
            "context_length": self.context_length,
            "max_output_tokens": self.max_output_tokens,
            "pricing": {
                "prompt_usd_per_token": p.prompt_usd_per_token,
                "completion_usd_per_token": p.completion_usd_per_token,
                "cached_prompt_usd_per_token": p.cached_prompt_usd_per_token,
                "request_usd": p.request_usd,
                "image_usd": p.image_usd,
            },
            "input_modalities": list(self.input_modalities),
            "output_modalities": list(self.output_modalities),
            "supported_parameters": sorted(self.supported_parameters),
            "supports_streaming": self.streaming,
        }

    def __repr__(self) -> str:
        p = self.pricing
        price = (
            f"${_money(p.prompt_usd_per_mtok)}/${_money(p.completion_usd_per_mtok)} per Mtok"
            if p.known
            else "price unknown"
        )
        ctx = "?" if self.context_length is None else f"{self.context_length:,}"
        return f"<Model {self.id!r} ctx={ctx} {price}>"

    def _repr_html_(self) -> str:
        return _html_table([_row(self)], more=0)


# ---------------------------------------------------------------------------------------------
# Reading entries
#
# This runs for every entry of every /models response, so it is written for speed: one pass
# over the keys that come in open-ended families (prices, supports_*), `type(x) is dict`
# before the slower ABC check, name lists memoised (a gateway's entries share a handful), and
# `Model` / `Pricing` filled through their slot descriptors, which is over twice as fast as
# the frozen-dataclass __init__ (it goes through object.__setattr__ once per field).


def _usd(value: object) -> float | None:
    """A price from a number or numeric string; None if missing, negative or not finite."""
    if value is None or value.__class__ is bool:  # float(True) would be 1.0
        return None
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # "abc", [], an int beyond float range
        return None
    # NaN fails both comparisons.
    return x if 0.0 <= x < _INF else None


def _tokens(value: object) -> int | None:
    """A token limit from an int, integral float or numeric string; None unless positive."""
    if value.__class__ is int:
        return value if value > 0 else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float):
        return int(value) if 1.0 <= value < _INF else None
    return None


def _is_mapping(value: object) -> TypeGuard[Mapping[Any, Any]]:
    return value.__class__ is dict or isinstance(value, Mapping)


_MEMO_LIMIT = 1024
_NAMES_MEMO: dict[tuple[Any, ...], tuple[str, ...]] = {}
_NAME_SET_MEMO: dict[tuple[Any, ...], frozenset[str]] = {}


def _memo_key(value: list[Any] | tuple[Any, ...]) -> tuple[Any, ...] | None:
    key = tuple(value)
    try:
        hash(key)
    except TypeError:  # a list holding lists or objects: read it, don't remember it
        return None
    return key


def _names(value: object) -> tuple[str, ...] | None:
    """Lower-cased, de-duplicated names from a JSON list; None when it is not a list."""
    if value.__class__ is not list and not isinstance(value, (list, tuple)):
        return None
    key = _memo_key(value)
    found = None if key is None else _NAMES_MEMO.get(key)
    if found is None:
        names = dict.fromkeys(v.strip().lower() for v in value if isinstance(v, str))
        names.pop("", None)
        found = tuple(names)
        if key is not None:
            if len(_NAMES_MEMO) >= _MEMO_LIMIT:
                _NAMES_MEMO.clear()
            _NAMES_MEMO[key] = found
    return found


def _name_set(value: object) -> frozenset[str] | None:
    """`_names` as a frozenset, for parameter lists."""
    if value.__class__ is not list and not isinstance(value, (list, tuple)):
        return None
    key = _memo_key(value)
    found = None if key is None else _NAME_SET_MEMO.get(key)
    if found is None:
        found = frozenset(_names(value) or ())
        if key is not None:
            if len(_NAME_SET_MEMO) >= _MEMO_LIMIT:
                _NAME_SET_MEMO.clear()
            _NAME_SET_MEMO[key] = found
    return found


def _modality_arrow(value: object) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """OpenRouter's older ``architecture.modality``: ``"text+image->text"``."""
    if not isinstance(value, str):
        return None
    left, arrow, right = value.partition("->")
    if not arrow:
        return None
    return _names(left.split("+")) or (), _names(right.split("+")) or ()


def _price_keys() -> dict[str, tuple[str, float]]:
    bases = {
        "prompt": "prompt",
        "input": "prompt",
        "completion": "completion",
        "output": "completion",
        "cached_prompt": "cached",
        "cached_input": "cached",
        "cache_read": "cached",
        "input_cache_read": "cached",
        "cache_read_input": "cached",
    }
    units = {
        "token": 1.0,
        "1k": 1e-3,
        "1k_tokens": 1e-3,
        "1m": 1e-6,
        "1m_tokens": 1e-6,
        "mtok": 1e-6,
        "million_tokens": 1e-6,
    }
    table = {
        f"{base}{conn}_per_{unit}": (slot, scale)
        for base, slot in bases.items()
        for conn in ("", "_usd", "_price", "_cost")
        for unit, scale in units.items()
    }
    table.update(
        {
            "cache_read_input_token_cost": ("cached", 1.0),
            "input_cost_per_token_cache_hit": ("cached", 1.0),
            "request_usd": ("request", 1.0),
            "input_cost_per_request": ("request", 1.0),
            "image_usd": ("image", 1.0),
            "input_cost_per_image": ("image", 1.0),
        }
    )
    return table


# Read at the top level of an entry and inside `pricing`.
_PRICE_KEYS = _price_keys()
# Read inside `pricing` only: OpenRouter's spelling, USD per token (request, image: per unit).
_PRICING_KEYS = {
    **_PRICE_KEYS,
    "prompt": ("prompt", 1.0),
    "completion": ("completion", 1.0),
    "input_cache_read": ("cached", 1.0),
    "cached_prompt": ("cached", 1.0),
    "cache_read": ("cached", 1.0),
    "request": ("request", 1.0),
    "image": ("image", 1.0),
}


@dataclass(frozen=True, slots=True)
class _Flag:
    """What one capability switch means: parameters, input/output modalities, streaming."""

    params: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    streaming: bool = False


_NO_FLAG = _Flag()

# Keyed by the name after `supports_` (LiteLLM) or inside `capabilities`.
_FLAGS = {
    "function_calling": _Flag(params=("tools", "tool_choice")),
    "tools": _Flag(params=("tools", "tool_choice")),
    "tool_calls": _Flag(params=("tools", "tool_choice")),
    "tool_choice": _Flag(params=("tool_choice",)),
    "parallel_function_calling": _Flag(params=("parallel_tool_calls",)),
    "response_schema": _Flag(params=("response_format", "structured_outputs")),
    "structured_outputs": _Flag(params=("response_format", "structured_outputs")),
    "json_schema": _Flag(params=("response_format", "structured_outputs")),
    "json_mode": _Flag(params=("response_format",)),
    "json": _Flag(params=("response_format",)),
    "response_format": _Flag(params=("response_format",)),
    "reasoning": _Flag(params=("reasoning",)),
    "web_search": _Flag(params=("web_search_options",)),
    "vision": _Flag(inputs=("image",)),
    "image_input": _Flag(inputs=("image",)),
    "audio_input": _Flag(inputs=("audio",)),
    "pdf_input": _Flag(inputs=("file",)),
    "audio_output": _Flag(outputs=("audio",)),
    # LiteLLM fakes streaming for models without it; the model itself does not stream.
    "native_streaming": _Flag(streaming=True),
    "streaming": _Flag(streaming=True),
    "stream": _Flag(streaming=True),
}

# LiteLLM's `mode`, for entries that list no modalities.
_MODES = {
    "chat": (("text",), ("text",)),
    "completion": (("text",), ("text",)),
    "responses": (("text",), ("text",)),
    "embedding": (("text",), ("embeddings",)),
    "image_generation": (("text",), ("image",)),
    "audio_transcription": (("audio",), ("text",)),
    "audio_speech": (("text",), ("audio",)),
}

_ID_KEYS = ("id", "model", "model_name")
_OWNER_KEYS = ("owned_by", "organization", "litellm_provider")
_CONTEXT_KEYS = (
    "context_length",
    "context_window",
    "max_context_tokens",
    "max_input_tokens",
    "input_token_limit",
    "inputTokenLimit",
)
_OUTPUT_KEYS = (
    "max_output_tokens",
    "max_completion_tokens",
    "output_token_limit",
    "outputTokenLimit",
)

# The one pass over an entry's keys looks each key up here: a price, a capability switch,
# or a key read elsewhere (or known to be noise), which spares it the `supports_` test.
_KNOWN = object()
_TOP_KEYS: dict[str, object] = {
    **dict.fromkeys(
        (
            *_ID_KEYS,
            *_OWNER_KEYS,
            *_CONTEXT_KEYS,
            *_OUTPUT_KEYS,
            "provider",
            "name",
            "display_name",
            "max_tokens",
            "top_provider",
            "pricing",
            "architecture",
            "input_modalities",
            "output_modalities",
            "modalities",
            "supported_modalities",
            "supported_output_modalities",
            "mode",
            "supported_parameters",
            "supported_openai_params",
            "capabilities",
            "model_info",
            "object",
            "created",
            "description",
            "canonical_slug",
            "hugging_face_id",
            "per_request_limits",
            "default_parameters",
            "type",
            "litellm_params",
            "source",
        ),
        _KNOWN,
    ),
    **_PRICE_KEYS,
    **{f"supports_{name}": flag for name, flag in _FLAGS.items()},
}

# What an entry states, None where it is silent, so that overrides can merge field by field:
# (provider, owner, name, context_length, max_output_tokens, prices {slot: USD},
#  input modalities, output modalities, parameters, capability switches [(flag, on)]).
_Stated = tuple[
    "str | None",
    "str | None",
    "str | None",
    "int | None",
    "int | None",
    "dict[str, float]",
    "tuple[str, ...] | None",
    "tuple[str, ...] | None",
    "frozenset[str] | None",
    "list[tuple[_Flag, bool]]",
]


def _read(e: Mapping[str, Any]) -> _Stated:
    """What entry `e` states (its id is read by the caller)."""
    get = e.get
    provider = get("provider")
    if not isinstance(provider, str) or not provider:
        provider = None
    owner = None
    for key in _OWNER_KEYS:
        value = get(key)
        if isinstance(value, str) and value:
            owner = value
            break
    name = get("name")
    if not isinstance(name, str) or not name:
        name = get("display_name")
        if not isinstance(name, str) or not name:
            name = None

    top = get("top_provider")
    if top is not None and not _is_mapping(top):
        top = None
    context = None
    for key in _CONTEXT_KEYS:
        if key in e:
            context = _tokens(e[key])
            if context is not None:
                break
    if context is None and top is not None:
        context = _tokens(top.get("context_length"))
    output = None
    for key in _OUTPUT_KEYS:
        if key in e:
            output = _tokens(e[key])
            if output is not None:
                break
    if output is None and top is not None:
        output = _tokens(top.get("max_completion_tokens"))
    if output is None and "max_tokens" in e:
        output = _tokens(e["max_tokens"])
        if output == context:
            output = None

    prices: dict[str, float] = {}
    pricing = get("pricing")
    if pricing is not None and _is_mapping(pricing):
        for key, value in pricing.items():
            spec = _PRICING_KEYS.get(key)
            if spec is None:
                continue
            slot, scale = spec
            # `_usd`, inlined: OpenRouter sends eight prices per model.
            if slot in prices or value is None or value.__class__ is bool:
                continue
            try:
                x = float(value)
            except (TypeError, ValueError, OverflowError):
                continue
            if 0.0 <= x < _INF:
                prices[slot] = x if scale == 1.0 else _tidy(x * scale)

    inputs: tuple[str, ...] | None = None
    outputs: tuple[str, ...] | None = None
    arch = get("architecture")
    if arch is not None and _is_mapping(arch):
        inputs = _names(arch.get("input_modalities"))
        outputs = _names(arch.get("output_modalities"))
        if inputs is None and outputs is None:
            both = _modality_arrow(arch.get("modality"))
            if both is not None:
                inputs, outputs = both
    if inputs is None or outputs is None:
        # Seldom reached (OpenRouter has `architecture`), so the lookups are not hoisted.
        if inputs is None:
            inputs = _names(get("input_modalities"))
        if outputs is None:
            outputs = _names(get("output_modalities"))
        modalities = get("modalities")
        if modalities is not None and _is_mapping(modalities):
            if inputs is None:
                inputs = _names(modalities.get("input"))
            if outputs is None:
                outputs = _names(modalities.get("output"))
        if inputs is None:
            inputs = _names(get("supported_modalities"))
        if outputs is None:
            outputs = _names(get("supported_output_modalities"))
        if inputs is None and outputs is None:
            mode = get("mode")
            if isinstance(mode, str) and mode in _MODES:
                inputs, outputs = _MODES[mode]

    params = None
    for key in ("supported_parameters", "supported_openai_params"):
        if key in e:
            params = _name_set(e[key])
            if params is not None:
                break

    flags: list[tuple[_Flag, bool]] = []
    caps = get("capabilities")
    if caps is not None:
        if _is_mapping(caps):
            for key, on in caps.items():
                if isinstance(key, str) and isinstance(on, bool):
                    flags.append((_flag(key), on))
        elif isinstance(caps, list):
            flags.extend((_flag(key), True) for key in caps if isinstance(key, str))
    for key, value in e.items():
        found = _TOP_KEYS.get(key)
        if found is _KNOWN:
            continue
        if found is None:
            if isinstance(key, str) and key.startswith("supports_"):
                found = _flag(key[9:])
            else:
                continue
        if isinstance(found, tuple):
            slot, scale = found
            if slot not in prices and (usd := _usd(value)) is not None:
                prices[slot] = usd if scale == 1.0 else _tidy(usd * scale)
        elif isinstance(found, _Flag) and value.__class__ is bool:
            flags.append((found, value))
    return provider, owner, name, context, output, prices, inputs, outputs, params, flags


def _flag(name: str) -> _Flag:
    name = name.strip().lower()
    flag = _FLAGS.get(name)
    if flag is None:
        # An unknown switch names a parameter; an empty name switches nothing.
        flag = _Flag(params=(name,)) if name else _NO_FLAG
    return flag


def _slot_setters(cls: type) -> tuple[Any, ...]:
    return tuple(getattr(cls, f.name).__set__ for f in fields(cls))


_new = object.__new__
_P_PROMPT, _P_COMPLETION, _P_REQUEST, _P_IMAGE, _P_CACHED = _slot_setters(Pricing)
(
    _M_ID,
    _M_PROVIDER,
    _M_NAME,
    _M_CONTEXT,
    _M_OUTPUT,
    _M_PRICING,
    _M_INPUTS,
    _M_OUTPUTS,
    _M_PARAMS,
    _M_STREAMING,
    _M_RAW,
) = _slot_setters(Model)


def _pricing(prices: Mapping[str, float], base: Pricing) -> Pricing:
    get = prices.get
    p = _new(Pricing)
    _P_PROMPT(p, get("prompt", base.prompt_usd_per_token))
    _P_COMPLETION(p, get("completion", base.completion_usd_per_token))
    _P_REQUEST(p, get("request", base.request_usd))
    _P_IMAGE(p, get("image", base.image_usd))
    _P_CACHED(p, get("cached", base.cached_prompt_usd_per_token))
    return p


def _build(model_id: str, raw: Mapping[str, Any], stated: _Stated, base: Model | None) -> Model:
    """The model an entry describes; with `base`, only what the entry states replaces it."""
    provider, owner, name, context, output, prices, inputs, outputs, params, flags = stated
    prefix = _id_prefix(model_id)
    if base is None:
        # Provider precedence: stated, then the id prefix, then the owner fields.
        provider = provider or prefix or owner
        pricing = _pricing(prices, _UNKNOWN_PRICING) if prices else _UNKNOWN_PRICING
        streaming = True
        name = name or model_id
        inputs = inputs or ()
        outputs = outputs or ()
        params = params or _NO_PARAMS
    else:
        provider = provider or (None if prefix else owner) or base.provider
        pricing = _pricing(prices, base.pricing) if prices else base.pricing
        streaming = base.streaming
        name = name or base.name
        context = context or base.context_length
        output = output or base.max_output_tokens
        if inputs is None:
            inputs = base.input_modalities
        if outputs is None:
            outputs = base.output_modalities
        params = base.supported_parameters.union(params) if params else base.supported_parameters
    if flags:
        params, inputs, outputs, streaming = _apply_flags(flags, params, inputs, outputs, streaming)
    # Field by field through the slot descriptors: see the note at the top of this section.
    m = _new(Model)
    _M_ID(m, model_id)
    _M_PROVIDER(m, provider)
    _M_NAME(m, name)
    _M_CONTEXT(m, context)
    _M_OUTPUT(m, output)
    _M_PRICING(m, pricing)
    _M_INPUTS(m, inputs)
    _M_OUTPUTS(m, outputs)
    _M_PARAMS(m, params)
    _M_STREAMING(m, streaming)
    _M_RAW(m, raw)
    return m


def _apply_flags(
    flags: list[tuple[_Flag, bool]],
    params: frozenset[str],
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    streaming: bool,
) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...], bool]:
    on_params = set(params)
    in_list = list(inputs)
    out_list = list(outputs)
    for flag, on in flags:
        if flag.streaming:
            streaming = on
        _switch(on_params, flag.params, on)
        _switch(in_list, flag.inputs, on)
        _switch(out_list, flag.outputs, on)
    # A vision switch on an entry that listed no modalities still means text goes in too.
    if in_list and "text" not in in_list and not inputs:
        in_list.insert(0, "text")
    return frozenset(on_params), tuple(in_list), tuple(out_list), streaming


def _switch(target: set[str] | list[str], names: tuple[str, ...], on: bool) -> None:
    for name in names:
        if on and name not in target:
            if isinstance(target, set):
                target.add(name)
            else:
                target.append(name)
        elif not on and name in target:
            target.remove(name)


def _describe(value: object) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _entries(payload: object) -> Iterable[tuple[object, object]]:
    """``(map key or None, entry)`` for each entry of any payload shape."""
    if isinstance(payload, (list, tuple)):
        return zip(repeat(None), payload)
    if not isinstance(payload, Mapping):
        raise CatalogError(
            f"a model catalog is a JSON object or list; got {_describe(payload)}. "
            "Pass the parsed JSON body of GET /models."
        )
    inner: object = payload
    where = "object"
    for key in ("data", "models"):
        if key in payload:
            inner = payload[key]
            where = repr(key)
            break
    else:
        if "error" in payload:
            detail = payload["error"]
            if isinstance(detail, Mapping):
                detail = detail.get("message", detail)
            raise CatalogError(
                f"the server sent an error instead of a model catalog: {redact(str(detail))[:300]}"
            )
        if isinstance(payload.get("id"), str):
            # A single model (GET /models/{id}): a catalog of one.
            return ((None, payload),)
    if isinstance(inner, (list, tuple)):
        return zip(repeat(None), inner)
    if not isinstance(inner, Mapping):
        raise CatalogError(f"a model catalog's {where} is a list of models; got {_describe(inner)}")
    if not any(isinstance(v, Mapping) for v in inner.values()):
        raise CatalogError(
            "not a model catalog: expected {'data': [...]}, a list of models or an object "
            f"mapping model ids to entries; got an object with keys {_keys(inner)}"
        )
    return inner.items()


def _keys(mapping: Mapping[Any, Any]) -> str:
    keys = [str(k) for k in list(mapping)[:8]]
    return ", ".join(keys) + (", ..." if len(mapping) > 8 else "") if keys else "(none)"


def _parse(payload: object, stacklevel: int) -> dict[str, Model | Mapping[str, Any]]:
    """The usable entries of a payload by id, in order; each skipped one warned about."""
    models: dict[str, Model | Mapping[str, Any]] = {}
    for i, (key, entry) in enumerate(_entries(payload)):
        if key is not None and key == "sample_spec":
            continue  # LiteLLM's price map documents its own fields in this fake entry
        if not _is_mapping(entry):
            _skip(i, key, f"expected an object, got {_describe(entry)}", stacklevel)
            continue
        if key is None:
            model_id = entry.get("id")
            if not isinstance(model_id, str) or not model_id or model_id.isspace():
                model_id = None
                for id_key in _ID_KEYS[1:]:
                    value = entry.get(id_key)
                    if isinstance(value, str) and value and not value.isspace():
                        model_id = value
                        break
        else:
            model_id = key if isinstance(key, str) and key and not key.isspace() else None
        if model_id is None:
            _skip(i, key, f"no 'id' string (keys: {_keys(entry)})", stacklevel)
            continue
        if model_id in models:
            _skip(i, key, f"duplicate id {model_id!r}; the first one is kept", stacklevel)
            continue
        models[model_id] = entry
    return models


def _skip(index: int, key: object, why: str, stacklevel: int) -> None:
    label = f"#{index}" if key is None else repr(key)
    warnings.warn(f"skipped model entry {label}: {why}", CatalogWarning, stacklevel=stacklevel + 1)


def _read_json(path: str | os.PathLike[str], what: str) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        raise CatalogError(f"cannot read {what} from {os.fspath(path)!r}: {err}") from err


# ---------------------------------------------------------------------------------------------
# Display


def _money(value: float | None) -> str:
    return "?" if value is None else f"{value:.4g}"


def _row(m: Model) -> dict[str, Any]:
    p = m.pricing
    return {
        "id": m.id,
        "provider": m.provider,
        "context_length": m.context_length,
        "max_output_tokens": m.max_output_tokens,
        "prompt_usd_per_mtok": p.prompt_usd_per_mtok,
        "completion_usd_per_mtok": p.completion_usd_per_mtok,
        "capabilities": " ".join(m.capabilities),
    }


def _cells(row: Mapping[str, Any]) -> tuple[str, ...]:
    ctx = row["context_length"]
    return (
        row["id"],
        row["provider"] or "?",
        "?" if ctx is None else f"{ctx:,}",
        _money(row["prompt_usd_per_mtok"]),
        _money(row["completion_usd_per_mtok"]),
        row["capabilities"],
    )


_HEADERS = ("id", "provider", "context", "$/Mtok in", "$/Mtok out", "capabilities")


def _html_table(rows: list[dict[str, Any]], more: int) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _HEADERS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(r)) + "</tr>" for r in rows
    )
    tail = f"<p>… and {more} more</p>" if more else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{tail}"


def _text_table(rows: list[dict[str, Any]]) -> list[str]:
    cells = [_HEADERS, *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(_HEADERS))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


# ---------------------------------------------------------------------------------------------
# The catalog


def _price(m: Model) -> float | None:
    p = m.pricing
    a, b = p.prompt_usd_per_token, p.completion_usd_per_token
    return None if a is None or b is None else a + b


def _prompt_price(m: Model) -> float | None:
    return m.pricing.prompt_usd_per_token


def _completion_price(m: Model) -> float | None:
    return m.pricing.completion_usd_per_token


def _context(m: Model) -> int | None:
    return m.context_length


def _model_id(m: Model) -> str:
    return m.id


def _provider(m: Model) -> str | None:
    return None if m.provider is None else m.provider.casefold()


_SORT_KEYS: dict[str, Any] = {
    "price": _price,
    "prompt_price": _prompt_price,
    "completion_price": _completion_price,
    "context": _context,
    "id": _model_id,
    "provider": _provider,
}


def _sorted(models: Iterable[Model], key: str, descending: bool) -> tuple[Model, ...]:
    value = _SORT_KEYS[key]
    # Ties (free models, equal windows) stay in id order in both directions.
    by_id = sorted(models, key=_model_id)
    known = [m for m in by_id if value(m) is not None]
    unknown = [m for m in by_id if value(m) is None]
    known.sort(key=value, reverse=descending)
    return (*known, *unknown)


def _as_set(value: str | Iterable[str], what: str) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset((value,))
    try:
        items = frozenset(value)
    except TypeError as err:
        raise InvalidArgumentError(f"{what} must be a string or an iterable of strings") from err
    if not all(isinstance(v, str) for v in items):
        raise InvalidArgumentError(f"{what} must be a string or an iterable of strings")
    return items


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise InvalidArgumentError(f"{what} must be a number >= 0, got {value!r}")
    return float(value)


_NOTHING: tuple[frozenset[str], tuple[Model, ...]] = (frozenset(), ())
_MEMO_QUERIES = 64


class _Source:
    """A root catalog's models, normalised on first use, and the lookups built over them.

    `from_response` only checks ids; an entry becomes a `Model` when first looked up or when
    the catalog is first iterated, filtered or sorted, so a client that fetches ``/models``
    to price one model never normalises the other few hundred. Filtered and sorted catalogs
    share their root's source: they hold the very same `Model` objects, so an id set built
    over the root answers membership for all of them.

    Caching mutates this object but never what a catalog shows. Two threads racing to build
    the same value build equal values, and either may win.
    """

    __slots__ = ("features", "models", "orders", "providers", "slots")

    def __init__(self, slots: dict[str, Model | Mapping[str, Any]]) -> None:
        self.slots = slots
        self.models: tuple[Model, ...] | None = None
        self.features: dict[tuple[str, str], tuple[frozenset[str], tuple[Model, ...]]] = {}
        self.providers: dict[str, tuple[frozenset[str], tuple[Model, ...]]] | None = None
        self.orders: dict[tuple[str, bool], tuple[Model, ...]] = {}

    def model(self, model_id: str) -> Model | None:
        found = self.slots.get(model_id)
        if found is None or isinstance(found, Model):
            return found
        return self._normalise(model_id, found)

    def _normalise(self, model_id: str, entry: Mapping[str, Any]) -> Model:
        # LiteLLM's /model/info nests the metadata; the entry's own fields win.
        info = entry.get("model_info")
        fields_ = {**info, **entry} if info is not None and _is_mapping(info) else entry
        model = _build(model_id, entry, _read(fields_), None)
        self.slots[model_id] = model
        return model

    def all(self) -> tuple[Model, ...]:
        models = self.models
        if models is None:
            models = self.models = tuple(
                found if isinstance(found, Model) else self._normalise(model_id, found)
                for model_id, found in list(self.slots.items())
            )
        return models

    def feature(self, kind: str, name: str) -> tuple[frozenset[str], tuple[Model, ...]]:
        """The ids and (in order) the models that support `name` or take/give modality `name`."""
        key = (kind, name)
        found = self.features.get(key)
        if found is None:
            models = self.all()
            if kind == "supports":
                having = tuple(m for m in models if m.supports(name))
            elif kind == "in":
                having = tuple(m for m in models if name in m.input_modalities)
            else:
                having = tuple(m for m in models if name in m.output_modalities)
            found = self.features[key] = (frozenset(m.id for m in having), having)
        return found

    def provider(self, names: frozenset[str]) -> tuple[frozenset[str], tuple[Model, ...] | None]:
        """The ids of the models from any of `names` (with the models, for a single name)."""
        providers = self.providers
        if providers is None:
            groups: dict[str, list[Model]] = {}
            for m in self.all():
                if m.provider is not None:
                    groups.setdefault(m.provider.casefold(), []).append(m)
            providers = self.providers = {
                k: (frozenset(m.id for m in v), tuple(v)) for k, v in groups.items()
            }
        if len(names) == 1:
            return providers.get(next(iter(names)).casefold(), _NOTHING)
        empty: frozenset[str] = frozenset()
        return empty.union(*(providers.get(n.casefold(), _NOTHING)[0] for n in names)), None

    def order(self, key: str, descending: bool) -> tuple[Model, ...]:
        found = self.orders.get((key, descending))
        if found is None:
            found = self.orders[key, descending] = _sorted(self.all(), key, descending)
        return found


class ModelCatalog:
    """The models a gateway offers, normalised, immutable, and fast to filter and sort.

    Iterating yields `Model` objects in the server's order; indexing takes an id (or a
    position). Entries are normalised on first use and the lookups that filters and sorts
    need are built once and kept, so a catalog is cheap to make, fast to query again, and
    safe to share between threads.

    >>> catalog = ModelCatalog.from_response(httpx.get(url + "/models").json())
    >>> catalog.filter(supports="tools", max_prompt_usd_per_mtok=1).sort_by("context")
    >>> catalog.cheapest(supports=["vision", "json"], min_context=100_000)
    """

    # A root catalog (built from a payload, models or overrides) has `_models` None and
    # answers through its `_source`; a derived one (filter, sort) holds its models.
    __slots__ = ("_by_id", "_ids", "_memo", "_models", "_source")

    #: Rows shown by the notebook and IPython displays; the rest are summarised.
    repr_max_rows = 50

    def __init__(self, models: Iterable[Model] = ()) -> None:
        """A catalog of `models`, in the order given; ids must be unique."""
        by_id: dict[str, Model | Mapping[str, Any]] = {}
        for m in models:
            if not isinstance(m, Model):
                raise InvalidArgumentError(f"a ModelCatalog holds Model objects, got {m!r}")
            if m.id in by_id:
                raise InvalidArgumentError(f"duplicate model id {m.id!r}")
            by_id[m.id] = m
        self._init_root(by_id)

    def _init_root(self, slots: dict[str, Model | Mapping[str, Any]]) -> None:
        self._models: tuple[Model, ...] | None = None
        self._by_id: dict[str, Model] | None = None
        self._ids: frozenset[str] | None = None
        self._memo: dict[tuple[Any, ...], ModelCatalog] | None = None
        self._source = _Source(slots)

    def _derive(self, models: tuple[Model, ...]) -> ModelCatalog:
        # A subset of this catalog's models: no checks, no normalising, shared lookups.
        new = object.__new__(ModelCatalog)
        new._models = models
        new._by_id = None
        new._ids = None
        new._memo = None
        new._source = self._source
        return new

    def _all(self) -> tuple[Model, ...]:
        models = self._models
        return self._source.all() if models is None else models

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_response(cls, payload: object) -> ModelCatalog:
        """Read the parsed JSON of ``GET /models`` from any gateway (see the module docs).

        Accepts ``{"data": [...]}``, ``{"models": [...]}``, a bare list, or LiteLLM's object
        keyed by model id. An entry that cannot be read is skipped with a `CatalogWarning`;
        a payload that is no catalog at all raises `CatalogError`. Entries are checked here
        and normalised on first use, so the payload is kept, not copied: don't mutate it.
        """
        catalog = object.__new__(cls)
        catalog._init_root(_parse(payload, stacklevel=3))
        return catalog

    @classmethod
    def from_models(cls, models: Iterable[Model]) -> ModelCatalog:
        """A catalog of ready-made `Model` objects, e.g. for tests."""
        return cls(models)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ModelCatalog:
        """Read a JSON file holding any payload `from_response` accepts (offline catalogs)."""
        payload = _read_json(path, "a model catalog")
        catalog = object.__new__(cls)
        catalog._init_root(_parse(payload, stacklevel=3))
        return catalog

    def with_overrides(
        self, overrides: Mapping[str, Mapping[str, Any]] | str | os.PathLike[str]
    ) -> ModelCatalog:
        """A copy with prices, limits and capabilities corrected or added per model id.

        `overrides` maps model id to fields in the same vocabulary as catalog entries (or is
        the path of a JSON file holding that object). Stated fields replace the server's;
        capabilities are added, or removed with ``false`` (``{"supports_vision": false}``);
        ``pricing`` merges per price. Ids the server did not list are added at the end.

        >>> catalog.with_overrides({"my-llama": {"pricing": {"input_per_1m": 0.2,
        ...     "output_per_1m": 0.6}, "context_length": 131072}})
        """
        # Entries nobody overrides stay un-normalised in the copy.
        slots: dict[str, Model | Mapping[str, Any]] = (
            dict(self._source.slots) if self._models is None else dict(self._lookup())
        )
        for model_id, patch in _load_overrides(overrides).items():
            base = self.get(model_id)
            raw = patch if base is None else _merge_raw(base.raw, patch)
            slots[model_id] = _build(model_id, raw, _read(patch), base)
        catalog = object.__new__(ModelCatalog)
        catalog._init_root(slots)
        return catalog

    # -- collection protocol -----------------------------------------------------------------

    def __iter__(self) -> Iterator[Model]:
        return iter(self._all())

    def __len__(self) -> int:
        models = self._models
        return len(self._source.slots) if models is None else len(models)

    def __bool__(self) -> bool:
        return len(self) > 0

    def _lookup(self) -> dict[str, Model]:
        # Derived catalogs only: a root answers through its source.
        by_id = self._by_id
        if by_id is None:
            by_id = self._by_id = {m.id: m for m in self._all()}
        return by_id

    def get(self, model_id: str, default: Model | None = None) -> Model | None:
        """The model with this id, or `default`."""
        if self._models is None:
            found = self._source.model(model_id)
        else:
            found = self._lookup().get(model_id)
        return default if found is None else found

    @overload
    def __getitem__(self, key: str) -> Model: ...
    @overload
    def __getitem__(self, key: int) -> Model: ...
    def __getitem__(self, key: str | int) -> Model:
        """The model with id `key` (or at position `key`, e.g. ``catalog.sort_by("price")[0]``).

        Raises `UnknownModelError` (a `KeyError`) naming the closest id.
        """
        if isinstance(key, int):
            return self._all()[key]
        found = self.get(key)
        if found is None:
            raise UnknownModelError(key, self._suggest(key))
        return found

    def _suggest(self, model_id: str) -> str | None:
        ids = self.ids
        # "gpt-4o" on a gateway that namespaces ids: "openai/gpt-4o" beats a fuzzy match.
        tail = "/" + model_id
        for candidate in ids:
            if candidate.endswith(tail):
                return candidate
        close = difflib.get_close_matches(model_id, ids, n=1, cutoff=0.6)
        return close[0] if close else None

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            if self._models is None:
                return item in self._source.slots
            return item in self._lookup()
        if isinstance(item, Model):
            return self.get(item.id) == item
        return False

    @property
    def ids(self) -> tuple[str, ...]:
        """Every model id, in catalog order."""
        if self._models is None:
            return tuple(self._source.slots)
        return tuple(m.id for m in self._models)

    @property
    def providers(self) -> tuple[str, ...]:
        """The distinct providers, sorted."""
        return tuple(sorted({m.provider for m in self._all() if m.provider is not None}))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelCatalog):
            return NotImplemented
        return self._all() == other._all()

    def __hash__(self) -> int:
        return hash(self._all())

    # -- queries -----------------------------------------------------------------------------

    def filter(
        self,
        *,
        provider: str | Iterable[str] | None = None,
        min_context: int | None = None,
        supports: str | Iterable[str] | None = None,
        max_prompt_usd_per_mtok: float | None = None,
        max_completion_usd_per_mtok: float | None = None,
        modality: str | Iterable[str] | None = None,
        ids: str | Iterable[str] | None = None,
    ) -> ModelCatalog:
        """The models meeting every given constraint, in catalog order.

        `provider` is one name or several (any of them, case-insensitive); `supports` and
        `modality` need all the named features (see `Model.supports`) and input modalities,
        where ``"->image"`` names an output modality and ``"text+image->text"`` both. A
        model whose price or context length is unknown fails a price or context limit.

        >>> catalog.filter(provider="anthropic", supports=["tools", "vision"])
        >>> catalog.filter(min_context=128_000, max_prompt_usd_per_mtok=0.5)
        """
        query = (
            None if provider is None else _as_set(provider, "provider"),
            None if supports is None else _as_set(supports, "supports"),
            None if modality is None else _as_set(modality, "modality"),
            None if ids is None else _as_set(ids, "ids"),
            None if min_context is None else _number(min_context, "min_context"),
            None
            if max_prompt_usd_per_mtok is None
            else _number(max_prompt_usd_per_mtok, "max_prompt_usd_per_mtok"),
            None
            if max_completion_usd_per_mtok is None
            else _number(max_completion_usd_per_mtok, "max_completion_usd_per_mtok"),
        )
        # Routing asks the same question on every request; an immutable catalog can keep
        # the answer.
        memo = self._memo
        if memo is None:
            memo = self._memo = {}
        found = memo.get(query)
        if found is None:
            found = self._query(*query)
            if len(memo) >= _MEMO_QUERIES:
                memo.clear()
            memo[query] = found
        return found

    def _query(
        self,
        providers: frozenset[str] | None,
        features: frozenset[str] | None,
        modalities: frozenset[str] | None,
        ids: frozenset[str] | None,
        min_context: float | None,
        max_prompt: float | None,
        max_completion: float | None,
    ) -> ModelCatalog:
        source = self._source
        # Id-set constraints first: each comes with the root's models that meet it, in
        # order, so a root catalog walks the smallest of them rather than every model.
        groups: list[tuple[frozenset[str], tuple[Model, ...] | None]] = []
        if providers is not None:
            groups.append(source.provider(providers))
        for name in features or ():
            groups.append(source.feature("supports", name.lower()))
        for spec in modalities or ():
            wanted_in, wanted_out = _modality_spec(spec)
            groups.extend(source.feature("in", n) for n in wanted_in)
            groups.extend(source.feature("out", n) for n in wanted_out)
        if ids is not None:
            groups.append((ids, None))
        every = self._all()
        models: Sequence[Model] = every
        if groups:
            groups.sort(key=lambda group: len(group[0]))
            first, ordered = groups[0]
            keep = first.intersection(*(g[0] for g in groups[1:])) if len(groups) > 1 else first
            if self._models is None and ordered is not None:
                models = (
                    ordered if len(keep) == len(ordered) else [m for m in ordered if m.id in keep]
                )
            else:
                models = [m for m in every if m.id in keep] if keep else ()
        if min_context is not None:
            models = [m for m in models if (c := m.context_length) is not None and c >= min_context]
        if max_prompt is not None:
            limit = max_prompt / _PER_MTOK * (1.0 + _PRICE_TOLERANCE)
            models = [
                m
                for m in models
                if (p := m.pricing.prompt_usd_per_token) is not None and p <= limit
            ]
        if max_completion is not None:
            limit = max_completion / _PER_MTOK * (1.0 + _PRICE_TOLERANCE)
            models = [
                m
                for m in models
                if (p := m.pricing.completion_usd_per_token) is not None and p <= limit
            ]
        # A subset in order, as long as the whole, is the whole.
        if len(models) == len(every):
            return self
        return self._derive(tuple(models))

    def _id_set(self) -> frozenset[str]:
        ids = self._ids
        if ids is None:
            models = self._models
            ids = self._ids = frozenset(
                self._source.slots if models is None else (m.id for m in models)
            )
        return ids

    def sort_by(self, key: SortKey, *, descending: bool = False) -> ModelCatalog:
        """The same models ordered by `key`; unknown values sort last in both directions.

        Keys: ``price`` (prompt plus completion per token), ``prompt_price``,
        ``completion_price``, ``context``, ``id``, ``provider``. Ties are in id order.

        >>> catalog.sort_by("context", descending=True)[0]
        """
        if key not in _SORT_KEYS:
            raise InvalidArgumentError(
                f"cannot sort by {key!r}; use one of {', '.join(map(repr, _SORT_KEYS))}"
            )
        source = self._source
        models = self._models
        if models is None:
            return self._derive(source.order(key, descending))
        # Walking the root's cached order is O(root); sorting a much smaller subset directly
        # is cheaper. Both give the same order.
        if len(models) * 8 < len(source.all()):
            return self._derive(_sorted(models, key, descending))
        ids = self._id_set()
        return self._derive(tuple(m for m in source.order(key, descending) if m.id in ids))

    def cheapest(
        self,
        *,
        by: Literal["price", "prompt_price", "completion_price"] = "price",
        provider: str | Iterable[str] | None = None,
        min_context: int | None = None,
        supports: str | Iterable[str] | None = None,
        max_prompt_usd_per_mtok: float | None = None,
        max_completion_usd_per_mtok: float | None = None,
        modality: str | Iterable[str] | None = None,
        ids: str | Iterable[str] | None = None,
    ) -> Model:
        """The lowest-priced model meeting every constraint (those of `filter`).

        `by` is ``price`` (prompt plus completion per token), ``prompt_price`` or
        ``completion_price``; ties go to the smallest id. Raises `CatalogError` saying which
        constraints matched nothing, or that no match has a known price.

        >>> catalog.cheapest(supports="tools", min_context=64_000).id
        'deepseek/deepseek-chat'
        """
        if by not in ("price", "prompt_price", "completion_price"):
            raise InvalidArgumentError(
                f"cheapest(by={by!r}): use 'price', 'prompt_price' or 'completion_price'"
            )
        constraints: dict[str, Any] = {
            "provider": provider,
            "min_context": min_context,
            "supports": supports,
            "max_prompt_usd_per_mtok": max_prompt_usd_per_mtok,
            "max_completion_usd_per_mtok": max_completion_usd_per_mtok,
            "modality": modality,
            "ids": ids,
        }
        given = {k: v for k, v in constraints.items() if v is not None}
        found = self.filter(**given)
        if found:
            # The root's price order puts the cheapest first (ties by id, unknown last):
            # the first model of it that matched is the answer.
            matched = found._id_set()
            first = next(m for m in self._source.order(by, False) if m.id in matched)
            if _SORT_KEYS[by](first) is not None:
                return first
            n, what = len(found), by.replace("_", " ")
            if given:
                problem = (
                    f"{_count(n, 'model')} {'matches' if n == 1 else 'match'} "
                    f"{_constraints(given)}, but none has a known {what}"
                )
            else:
                problem = f"none of the {_count(n, 'model')} in the catalog has a known {what}"
            raise CatalogError(f"{problem}; add prices with catalog.with_overrides()")
        if not self:
            raise CatalogError("the model catalog is empty")
        if len(given) < 2:
            raise CatalogError(f"no model matches {_constraints(given)}")
        alone = ", ".join(
            f"{k}={v!r} matches {len(self.filter(**{k: v}))}" for k, v in given.items()
        )
        raise CatalogError(f"no model matches {_constraints(given)}; on its own, {alone}")

    # -- output ------------------------------------------------------------------------------

    def as_rows(self) -> list[dict[str, Any]]:
        """One dict per model for tables: id, provider, context_length, max_output_tokens,
        prompt_usd_per_mtok, completion_usd_per_mtok and capabilities (space-separated)."""
        return [_row(m) for m in self._all()]

    def to_json(self, *, indent: int | None = None) -> str:
        """The normalised catalog as JSON that `from_response` reads back unchanged."""
        return json.dumps({"data": [m.to_dict() for m in self._all()]}, indent=indent)

    def __repr__(self) -> str:
        models = self._all()
        n_providers = len({m.provider for m in models if m.provider is not None})
        return (
            f"<ModelCatalog {_count(len(models), 'model')} from {_count(n_providers, 'provider')}>"
        )

    def _shown(self) -> tuple[list[dict[str, Any]], int]:
        models = self._all()
        shown = models[: self.repr_max_rows]
        return [_row(m) for m in shown], len(models) - len(shown)

    def to_text(self) -> str:
        """The whole catalog as a plain-text table (id, provider, context, $/Mtok, ...).

        >>> print(client.models.list().filter(provider="openai").to_text())  # doctest: +SKIP
        """
        return "\n".join(_text_table(self.as_rows()))

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        rows, more = self._shown()
        lines = [repr(self), *_text_table(rows)]
        if more:
            lines.append(f"… and {more} more")
        p.text("\n".join(lines))

    def _repr_html_(self) -> str:
        rows, more = self._shown()
        return f"<p>{html.escape(repr(self))}</p>" + _html_table(rows, more)


def _modality_spec(spec: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if "->" in spec:
        both = _modality_arrow(spec)
        assert both is not None  # "->" is in spec
        return both
    return _names([spec]) or (), ()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _constraints(given: Mapping[str, Any]) -> str:
    return " and ".join(f"{k}={v!r}" for k, v in given.items())


def _load_overrides(
    overrides: Mapping[str, Mapping[str, Any]] | str | os.PathLike[str],
) -> Mapping[str, Mapping[str, Any]]:
    """Overrides checked (and read, from a path): model id -> fields. Raises `CatalogError`."""
    if isinstance(overrides, (str, os.PathLike)):
        loaded = _read_json(overrides, "model overrides")
        where = f" in {os.fspath(overrides)!r}"
    else:
        loaded, where = overrides, ""
    if not isinstance(loaded, Mapping):
        raise CatalogError(
            f"model overrides{where} must be an object mapping model ids to fields; "
            f"got {_describe(loaded)}"
        )
    for model_id, patch in loaded.items():
        if not isinstance(model_id, str) or not model_id:
            raise CatalogError(f"model overrides{where}: {model_id!r} is not a model id")
        if not isinstance(patch, Mapping):
            raise CatalogError(
                f"model overrides{where}: the value for {model_id!r} must be an object, "
                f"got {_describe(patch)}"
            )
    return loaded


def _merge_raw(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = {**old, **value}
        else:
            merged[key] = value
    return merged
