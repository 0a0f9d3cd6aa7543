"""Client configuration: resolving the key, base URL and timeouts once, for both clients."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from .._exceptions import InvalidArgumentError, XRouteError

DEFAULT_BASE_URL = "https://api.xroute.ai/openai/v1"
DEFAULT_MAX_RETRIES = 2
DEFAULT_CONNECT_TIMEOUT = 5.0
# An LLM answer can take minutes to start on a busy model; the openai SDK waits 600 s too.
DEFAULT_READ_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class Timeout:
    """How long a call may take.

    `connect`, `read`, `write` and `pool` bound each network step of one attempt (`read` is
    the longest wait for the next bytes). `deadline` bounds the whole call, retries,
    backoff sleeps and fallbacks included; `None` means no overall limit.

    >>> Timeout(30)                      # 30 s for every step, no deadline
    >>> Timeout(read=120, deadline=300)  # at most 5 minutes in all
    """

    default: float | None = None
    connect: float | None = DEFAULT_CONNECT_TIMEOUT
    read: float | None = DEFAULT_READ_TIMEOUT
    write: float | None = DEFAULT_READ_TIMEOUT
    pool: float | None = DEFAULT_READ_TIMEOUT
    deadline: float | None = None

    def __post_init__(self) -> None:
        if self.default is not None:
            # Timeout(30) means 30 s for every step, as in httpx.
            for name in ("connect", "read", "write", "pool"):
                object.__setattr__(self, name, self.default)
        for name in ("connect", "read", "write", "pool", "deadline"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or value <= 0):
                raise InvalidArgumentError(
                    f"Timeout.{name} must be a positive number of seconds or None, got {value!r}"
                )

    def for_attempt(self, remaining: float | None) -> dict[str, float | None]:
        """The httpx timeout extension for one attempt, cut to what is left of the deadline."""
        steps = {"connect": self.connect, "read": self.read, "write": self.write}
        steps["pool"] = self.pool
        if remaining is not None:
            steps = {k: remaining if v is None else min(v, remaining) for k, v in steps.items()}
        return steps


TimeoutLike = float | int | Timeout | httpx.Timeout | None


def to_timeout(value: object, *, argument: str = "timeout") -> Timeout:
    """Accept a number of seconds, an `xroute.Timeout` or an `httpx.Timeout`."""
    if isinstance(value, Timeout):
        return value
    if isinstance(value, bool) or value is None:
        raise InvalidArgumentError(
            f"{argument} must be seconds (a number), xroute.Timeout or httpx.Timeout; got {value!r}"
        )
    if isinstance(value, (int, float)):
        return Timeout(float(value))
    if isinstance(value, httpx.Timeout):
        return Timeout(connect=value.connect, read=value.read, write=value.write, pool=value.pool)
    raise InvalidArgumentError(
        f"{argument} must be seconds (a number), xroute.Timeout or httpx.Timeout; "
        f"got {type(value).__name__}"
    )


class APIKey:
    """The API key, wrapped so that no repr, log line or traceback local can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The key itself, for the Authorization header only."""
        return self._value

    def __repr__(self) -> str:
        return "APIKey('***')"

    __str__ = __repr__


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_base_url(value: str | httpx.URL | None, *, allow_insecure_http: bool) -> httpx.URL:
    """Pick the base URL (argument, `XROUTE_BASE_URL`, default) and refuse clear-text keys."""
    raw = value if value is not None else os.environ.get("XROUTE_BASE_URL") or DEFAULT_BASE_URL
    try:
        url = httpx.URL(str(raw))
    except (httpx.InvalidURL, TypeError) as err:
        raise InvalidArgumentError(f"base_url {raw!r} is not a valid URL: {err}") from err
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidArgumentError(
            f"base_url must be an absolute http(s) URL such as {DEFAULT_BASE_URL!r}, got {raw!r}"
        )
    if url.scheme == "http" and not _is_loopback(url.host) and not allow_insecure_http:
        raise XRouteError(
            f"refusing to send the API key in clear text to {url.host!r} over plain http://; "
            "use https://, or pass allow_insecure_http=True if this network is trusted"
        )
    # Paths are joined onto the base, so it must end in exactly one slash.
    return url.copy_with(raw_path=url.raw_path.rstrip(b"/") + b"/")


def resolve_api_key(value: str | None) -> APIKey:
    """Pick the key (argument, then `XROUTE_API_KEY`) or say how to set one."""
    key = value if value is not None else os.environ.get("XROUTE_API_KEY")
    if key is None or not str(key).strip():
        raise XRouteError(
            "no API key: pass api_key='...' to XRoute()/AsyncXRoute() or set the "
            "XROUTE_API_KEY environment variable (for tests, xroute.testing.MockGateway "
            "accepts a key of your choice and needs no network)"
        )
    if not isinstance(key, str):
        raise InvalidArgumentError(f"api_key must be a str, got {type(key).__name__}")
    return APIKey(key.strip())


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Everything a client decided at construction; both clients hold one and share it."""

    api_key: APIKey
    base_url: httpx.URL
    timeout: Timeout
    max_retries: int
    default_headers: Mapping[str, str] = field(default_factory=dict)
    stream_idle_timeout: float | None = None
    first_token_timeout: float | None = None

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | None,
        base_url: str | httpx.URL | None,
        timeout: object,
        max_retries: object,
        default_headers: Mapping[str, str] | None,
        stream_idle_timeout: object = None,
        first_token_timeout: object = None,
        allow_insecure_http: bool = False,
    ) -> ClientConfig:
        """Validate constructor arguments and fill in environment defaults."""
        return cls(
            api_key=resolve_api_key(api_key),
            base_url=resolve_base_url(base_url, allow_insecure_http=allow_insecure_http),
            timeout=to_timeout(timeout),
            max_retries=check_max_retries(max_retries),
            default_headers=dict(check_headers(default_headers, "default_headers") or {}),
            stream_idle_timeout=check_seconds(stream_idle_timeout, "stream_idle_timeout"),
            first_token_timeout=check_seconds(first_token_timeout, "first_token_timeout"),
        )

    def with_options(self, **changes: Any) -> ClientConfig:
        """A copy with some options changed, validated like the constructor's."""
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "timeout":
                checked[name] = to_timeout(value)
            elif name == "max_retries":
                checked[name] = check_max_retries(value)
            elif name == "default_headers":
                checked[name] = {**self.default_headers, **(check_headers(value, name) or {})}
            elif name in ("stream_idle_timeout", "first_token_timeout"):
                checked[name] = check_seconds(value, name)
            else:
                raise InvalidArgumentError(f"with_options() got an unexpected argument {name!r}")
        return replace(self, **checked)

    def __repr__(self) -> str:
        return f"ClientConfig(base_url={str(self.base_url)!r}, max_retries={self.max_retries})"


def check_max_retries(value: object) -> int:
    """`max_retries` must be a non-negative int."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(f"max_retries must be an int >= 0, got {value!r}")
    return value


def check_seconds(value: object, name: str) -> float | None:
    """An optional positive number of seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise InvalidArgumentError(f"{name} must be a positive number of seconds or None")
    return float(value)


def check_headers(value: object, name: str) -> Mapping[str, str] | None:
    """Header mappings must map str to str."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidArgumentError(f"{name} must be a mapping of str to str")
    return value
