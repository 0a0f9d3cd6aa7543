"""xroute: the Python SDK for the XRoute unified LLM endpoint.

>>> from xroute import XRoute
>>> client = XRoute()  # XROUTE_API_KEY from the environment
>>> reply = client.chat.completions.create(
...     model=["openai/gpt-4o", "anthropic/claude-3.5-sonnet"],  # a fallback chain
...     messages=[{"role": "user", "content": "Hello"}],
... )
"""

from ._async._client import AsyncXRoute
from ._async._stream import AsyncStream
from ._core.config import DEFAULT_BASE_URL, Timeout
from ._exceptions import (
    AllModelsFailedError,
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    CatalogError,
    ConflictError,
    ContextLengthExceededError,
    InternalServerError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
    StreamErrorEvent,
    StreamInterruptedError,
    StreamTimeoutError,
    UnknownModelError,
    UnprocessableEntityError,
    XRouteError,
)
from ._jupyter import adisplay_stream, display_stream
from ._sync._client import XRoute
from ._sync._stream import Stream
from ._version import __version__
from .catalog import CatalogWarning, Model, ModelCatalog, Pricing
from .routing import (
    AttemptRecord,
    Balanced,
    Budget,
    CallEnd,
    Cheapest,
    FailoverRules,
    Fallback,
    FallbackEvent,
    Fastest,
    HealthSettings,
    Hedge,
    InMemoryRouteState,
    ModelHealth,
    Policy,
    RouteReport,
    RouteState,
    UsageSummary,
)
from .types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessageParam,
    CreateEmbeddingResponse,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AllModelsFailedError",
    "AsyncStream",
    "AsyncXRoute",
    "AttemptRecord",
    "AuthenticationError",
    "BadRequestError",
    "Balanced",
    "Budget",
    "BudgetExceededError",
    "CallEnd",
    "CatalogError",
    "CatalogWarning",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionMessageParam",
    "Cheapest",
    "ConflictError",
    "ContextLengthExceededError",
    "CreateEmbeddingResponse",
    "FailoverRules",
    "Fallback",
    "FallbackEvent",
    "Fastest",
    "HealthSettings",
    "Hedge",
    "InMemoryRouteState",
    "InternalServerError",
    "InvalidArgumentError",
    "Model",
    "ModelCatalog",
    "ModelHealth",
    "NotFoundError",
    "PermissionDeniedError",
    "Policy",
    "Pricing",
    "RateLimitError",
    "RouteReport",
    "RouteState",
    "Stream",
    "StreamError",
    "StreamErrorEvent",
    "StreamInterruptedError",
    "StreamTimeoutError",
    "Timeout",
    "UnknownModelError",
    "UnprocessableEntityError",
    "UsageSummary",
    "XRoute",
    "XRouteError",
    "__version__",
    "adisplay_stream",
    "display_stream",
]
