"""The mock gateway's model catalog: OpenRouter-style facts plus a default pace per model.

Prices are USD per token, as OpenRouter publishes them (late-2024 list prices, rounded).  The
default scripts keep the real models' relative speed but run about ten times faster than the
real services, so a test suite against the mock stays quick; ``time_scale=10`` gives roughly
real-world pacing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._scripts import ModelScript

_TEXT_PARAMETERS = (
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
)
_TOOL_PARAMETERS = ("tools", "tool_choice", "parallel_tool_calls")
_JSON_PARAMETERS = ("response_format", "structured_outputs")


@dataclass(frozen=True)
class CatalogModel:
    """One catalog entry (private: the public view is the ``GET /models`` JSON)."""

    id: str
    name: str
    created: int
    context_length: int
    max_completion_tokens: int | None
    prompt_usd_per_token: float
    completion_usd_per_token: float
    input_modalities: tuple[str, ...] = ("text",)
    output_modalities: tuple[str, ...] = ("text",)
    tokenizer: str = "Other"
    supported_parameters: tuple[str, ...] = _TEXT_PARAMETERS + _TOOL_PARAMETERS + _JSON_PARAMETERS
    script: ModelScript = field(default_factory=ModelScript)

    @property
    def owned_by(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def vision(self) -> bool:
        return "image" in self.input_modalities


def _pace(latency: float, ttft: float, tps: float) -> ModelScript:
    return ModelScript(latency=latency, time_to_first_token=ttft, tokens_per_second=tps)


_VISION = ("text", "image")

CATALOG: tuple[CatalogModel, ...] = (
    CatalogModel(
        id="openai/gpt-4o",
        name="OpenAI: GPT-4o",
        created=1715367049,
        context_length=128000,
        max_completion_tokens=16384,
        prompt_usd_per_token=0.0000025,
        completion_usd_per_token=0.00001,
        input_modalities=_VISION,
        tokenizer="GPT",
        script=_pace(0.02, 0.04, 900.0),
    ),
    CatalogModel(
        id="openai/gpt-4o-mini",
        name="OpenAI: GPT-4o-mini",
        created=1721260800,
        context_length=128000,
        max_completion_tokens=16384,
        prompt_usd_per_token=0.00000015,
        completion_usd_per_token=0.0000006,
        input_modalities=_VISION,
        tokenizer="GPT",
        script=_pace(0.015, 0.03, 1200.0),
    ),
    CatalogModel(
        id="openai/gpt-3.5-turbo",
        name="OpenAI: GPT-3.5 Turbo",
        created=1685232000,
        context_length=16385,
        max_completion_tokens=4096,
        prompt_usd_per_token=0.0000005,
        completion_usd_per_token=0.0000015,
        tokenizer="GPT",
        script=_pace(0.015, 0.025, 1300.0),
    ),
    CatalogModel(
        id="anthropic/claude-3.5-sonnet",
        name="Anthropic: Claude 3.5 Sonnet",
        created=1729555200,
        context_length=200000,
        max_completion_tokens=8192,
        prompt_usd_per_token=0.000003,
        completion_usd_per_token=0.000015,
        input_modalities=_VISION,
        tokenizer="Claude",
        script=_pace(0.025, 0.08, 700.0),
    ),
    CatalogModel(
        id="anthropic/claude-3-haiku",
        name="Anthropic: Claude 3 Haiku",
        created=1710288000,
        context_length=200000,
        max_completion_tokens=4096,
        prompt_usd_per_token=0.00000025,
        completion_usd_per_token=0.00000125,
        input_modalities=_VISION,
        tokenizer="Claude",
        script=_pace(0.015, 0.04, 1400.0),
    ),
    CatalogModel(
        id="qwen/qwen3-235b-a22b",
        name="Qwen: Qwen3 235B A22B",
        created=1745875757,
        context_length=40960,
        max_completion_tokens=40960,
        prompt_usd_per_token=0.00000013,
        completion_usd_per_token=0.0000006,
        tokenizer="Qwen3",
        script=_pace(0.03, 0.1, 500.0),
    ),
    CatalogModel(
        id="meta-llama/llama-3-70b",
        name="Meta: Llama 3 70B Instruct",
        created=1713398400,
        context_length=8192,
        max_completion_tokens=8192,
        prompt_usd_per_token=0.0000003,
        completion_usd_per_token=0.0000004,
        tokenizer="Llama3",
        supported_parameters=_TEXT_PARAMETERS + _JSON_PARAMETERS,
        script=_pace(0.02, 0.05, 1000.0),
    ),
    CatalogModel(
        id="meta-llama/llama-3.1-8b-instruct",
        name="Meta: Llama 3.1 8B Instruct",
        created=1721692800,
        context_length=131072,
        max_completion_tokens=8192,
        prompt_usd_per_token=0.00000002,
        completion_usd_per_token=0.00000005,
        tokenizer="Llama3",
        script=_pace(0.01, 0.02, 2500.0),
    ),
    CatalogModel(
        id="mistralai/mistral-large",
        name="Mistral Large",
        created=1708905600,
        context_length=128000,
        max_completion_tokens=None,
        prompt_usd_per_token=0.000002,
        completion_usd_per_token=0.000006,
        tokenizer="Mistral",
        script=_pace(0.025, 0.06, 600.0),
    ),
    CatalogModel(
        id="mistralai/mistral-small",
        name="Mistral Small",
        created=1704844800,
        context_length=32768,
        max_completion_tokens=None,
        prompt_usd_per_token=0.0000002,
        completion_usd_per_token=0.0000006,
        tokenizer="Mistral",
        script=_pace(0.015, 0.03, 1500.0),
    ),
    CatalogModel(
        id="mistralai/mistral-7b-instruct",
        name="Mistral: Mistral 7B Instruct",
        created=1716768000,
        context_length=32768,
        max_completion_tokens=16384,
        prompt_usd_per_token=0.00000003,
        completion_usd_per_token=0.000000055,
        tokenizer="Mistral",
        supported_parameters=_TEXT_PARAMETERS,
        script=_pace(0.01, 0.02, 2000.0),
    ),
    CatalogModel(
        id="google/gemini-1.5-pro",
        name="Google: Gemini 1.5 Pro",
        created=1712620800,
        context_length=2000000,
        max_completion_tokens=8192,
        prompt_usd_per_token=0.00000125,
        completion_usd_per_token=0.000005,
        input_modalities=_VISION,
        tokenizer="Gemini",
        script=_pace(0.03, 0.09, 800.0),
    ),
    CatalogModel(
        id="google/gemini-2.0-flash-001",
        name="Google: Gemini 2.0 Flash",
        created=1738769413,
        context_length=1048576,
        max_completion_tokens=8192,
        prompt_usd_per_token=0.0000001,
        completion_usd_per_token=0.0000004,
        input_modalities=_VISION,
        tokenizer="Gemini",
        script=_pace(0.01, 0.03, 2000.0),
    ),
    CatalogModel(
        id="deepseek/deepseek-chat",
        name="DeepSeek: DeepSeek V3",
        created=1735241320,
        context_length=64000,
        max_completion_tokens=8192,
        prompt_usd_per_token=0.00000027,
        completion_usd_per_token=0.0000011,
        tokenizer="DeepSeek",
        script=_pace(0.03, 0.12, 400.0),
    ),
    CatalogModel(
        id="deepseek/deepseek-r1",
        name="DeepSeek: R1",
        created=1737381095,
        context_length=64000,
        max_completion_tokens=8192,
        prompt_usd_per_token=0.00000055,
        completion_usd_per_token=0.00000219,
        tokenizer="DeepSeek",
        supported_parameters=_TEXT_PARAMETERS,
        script=_pace(0.04, 0.25, 300.0),
    ),
    CatalogModel(
        id="microsoft/phi-3-mini-128k-instruct",
        name="Microsoft: Phi-3 Mini 128K Instruct",
        created=1716681600,
        context_length=128000,
        max_completion_tokens=None,
        prompt_usd_per_token=0.0000001,
        completion_usd_per_token=0.0000001,
        tokenizer="Other",
        supported_parameters=_TEXT_PARAMETERS,
        script=_pace(0.01, 0.02, 2200.0),
    ),
    CatalogModel(
        id="gryphe/mythomax-l2-13b",
        name="MythoMax 13B",
        created=1688256000,
        context_length=4096,
        max_completion_tokens=4096,
        prompt_usd_per_token=0.000000065,
        completion_usd_per_token=0.000000065,
        tokenizer="Llama2",
        supported_parameters=_TEXT_PARAMETERS,
        script=_pace(0.015, 0.03, 1200.0),
    ),
    CatalogModel(
        id="openai/text-embedding-3-small",
        name="OpenAI: Text Embedding 3 Small",
        created=1706140800,
        context_length=8191,
        max_completion_tokens=None,
        prompt_usd_per_token=0.00000002,
        completion_usd_per_token=0.0,
        output_modalities=("embeddings",),
        tokenizer="GPT",
        supported_parameters=("dimensions", "encoding_format"),
        script=_pace(0.01, 0.0, 5000.0),
    ),
    CatalogModel(
        id="openai/text-embedding-3-large",
        name="OpenAI: Text Embedding 3 Large",
        created=1706140800,
        context_length=8191,
        max_completion_tokens=None,
        prompt_usd_per_token=0.00000013,
        completion_usd_per_token=0.0,
        output_modalities=("embeddings",),
        tokenizer="GPT",
        supported_parameters=("dimensions", "encoding_format"),
        script=_pace(0.015, 0.0, 5000.0),
    ),
)
