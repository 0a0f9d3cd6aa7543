"""Client configuration: key and URL resolution, clear-text refusal, timeouts."""

from __future__ import annotations

import httpx
import pytest

from xroute import InvalidArgumentError, Timeout, XRouteError
from xroute._core.config import ClientConfig, resolve_api_key, resolve_base_url, to_timeout

KEY = "xr-secret-0123456789abcdef"


def _resolve(**kw: object) -> ClientConfig:
    args: dict[str, object] = {
        "api_key": KEY,
        "base_url": None,
        "timeout": Timeout(),
        "max_retries": 2,
        "default_headers": None,
    }
    args.update(kw)
    return ClientConfig.resolve(**args)  # type: ignore[arg-type]


def test_key_from_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XROUTE_API_KEY", "from-env")
    assert resolve_api_key(None).reveal() == "from-env"
    assert resolve_api_key("given").reveal() == "given"


def test_missing_key_says_how_to_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XROUTE_API_KEY", raising=False)
    with pytest.raises(XRouteError, match="XROUTE_API_KEY"):
        resolve_api_key(None)
    with pytest.raises(XRouteError, match="api_key="):
        resolve_api_key("   ")


def test_base_url_from_argument_environment_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XROUTE_BASE_URL", raising=False)
    assert str(resolve_base_url(None, allow_insecure_http=False)) == (
        "https://api.xroute.ai/openai/v1/"
    )
    monkeypatch.setenv("XROUTE_BASE_URL", "https://gw.example/v2")
    assert str(resolve_base_url(None, allow_insecure_http=False)) == "https://gw.example/v2/"
    assert str(resolve_base_url("http://127.0.0.1:9/v1//", allow_insecure_http=False)) == (
        "http://127.0.0.1:9/v1/"
    )


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "api.localhost"])
def test_plain_http_to_loopback_is_fine(host: str) -> None:
    assert resolve_base_url(f"http://{host}:8080/v1", allow_insecure_http=False).scheme == "http"


def test_plain_http_elsewhere_needs_the_opt_in() -> None:
    with pytest.raises(XRouteError, match="clear text"):
        resolve_base_url("http://gateway.example.com/v1", allow_insecure_http=False)
    url = resolve_base_url("http://gateway.example.com/v1", allow_insecure_http=True)
    assert url.host == "gateway.example.com"


@pytest.mark.parametrize("bad", ["ftp://x/v1", "not a url", "/relative"])
def test_bad_base_url_is_a_typed_error(bad: str) -> None:
    with pytest.raises(InvalidArgumentError, match="base_url"):
        resolve_base_url(bad, allow_insecure_http=False)


def test_timeout_forms() -> None:
    assert to_timeout(30).read == 30.0
    assert to_timeout(30).connect == 30.0
    assert to_timeout(httpx.Timeout(3.0, read=9.0)).read == 9.0
    t = Timeout(read=5, deadline=20)
    assert to_timeout(t) is t
    assert t.for_attempt(None)["read"] == 5
    assert t.for_attempt(2.0) == {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}
    for bad in ("3", True, None, [1]):
        with pytest.raises(InvalidArgumentError, match="timeout"):
            to_timeout(bad)
    with pytest.raises(InvalidArgumentError, match=r"Timeout\.read"):
        Timeout(read=-1)


def test_config_repr_and_key_wrapper_never_show_the_key() -> None:
    config = _resolve()
    assert KEY not in repr(config)
    assert KEY not in repr(config.api_key) and KEY not in str(config.api_key)
    assert config.api_key.reveal() == KEY


def test_with_options_validates_and_merges_headers() -> None:
    config = _resolve(default_headers={"X-A": "1"})
    changed = config.with_options(max_retries=5, default_headers={"X-B": "2"}, timeout=9)
    assert changed.max_retries == 5
    assert dict(changed.default_headers) == {"X-A": "1", "X-B": "2"}
    assert changed.timeout.read == 9
    assert config.max_retries == 2
    with pytest.raises(InvalidArgumentError, match="max_retries"):
        config.with_options(max_retries=-1)
    with pytest.raises(InvalidArgumentError, match="unexpected"):
        config.with_options(colour="red")
    with pytest.raises(InvalidArgumentError, match="first_token_timeout"):
        config.with_options(first_token_timeout=0)


def test_constructor_argument_checks() -> None:
    with pytest.raises(InvalidArgumentError, match="max_retries"):
        _resolve(max_retries=True)
    with pytest.raises(InvalidArgumentError, match="default_headers"):
        _resolve(default_headers={"X": 1})
    with pytest.raises(InvalidArgumentError, match="stream_idle_timeout"):
        _resolve(stream_idle_timeout="5")
