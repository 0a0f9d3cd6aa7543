"""The catalog cache state machine, driven by a fake clock."""

from __future__ import annotations

import math

import pytest

from xroute import CatalogError, InvalidArgumentError
from xroute._core.catalog_cache import CatalogCache
from xroute.catalog import CatalogWarning, Model, ModelCatalog

OLD = ModelCatalog([Model("a/old")])
NEW = ModelCatalog([Model("a/new")])


class Down(Exception):
    """The gateway did not answer."""


def test_empty_cache_needs_a_fetch_and_has_no_age() -> None:
    cache = CatalogCache()
    assert cache.fresh(0.0) is None
    assert cache.needs_refresh(0.0)
    assert cache.age(0.0) is None
    assert (cache.ttl, cache.max_age) == (300.0, 3600.0)


def test_stored_catalog_is_fresh_for_ttl_seconds() -> None:
    cache = CatalogCache(ttl=10, max_age=100)
    cache.store(OLD, now=1000.0)
    assert cache.fresh(1000.0) is OLD
    assert cache.fresh(1009.999) is OLD
    assert not cache.needs_refresh(1009.999)
    assert cache.fresh(1010.0) is None
    assert cache.needs_refresh(1010.0)
    assert cache.age(1010.0) == 10.0


def test_store_replaces_and_restarts_the_clock() -> None:
    cache = CatalogCache(ttl=10, max_age=100)
    cache.store(OLD, now=0.0)
    cache.store(NEW, now=15.0)
    assert cache.fresh(24.0) is NEW
    assert cache.fresh(25.0) is None


def test_failed_refresh_on_an_empty_cache_raises_the_error_itself() -> None:
    cache = CatalogCache()
    error = Down("connection refused")
    with pytest.raises(Down) as caught:
        cache.on_refresh_failed(error, now=0.0)
    assert caught.value is error


def test_failed_refresh_serves_the_stale_copy_and_warns_once() -> None:
    cache = CatalogCache(ttl=10, max_age=100, retry_interval=5)
    cache.store(OLD, now=0.0)
    with pytest.warns(CatalogWarning) as record:
        assert cache.on_refresh_failed(Down("refused"), now=12.0) is OLD
    assert len(record) == 1
    assert str(record[0].message) == (
        "could not refresh the model catalog (Down: refused); "
        "using the copy fetched 12 s ago until it is 100 s old"
    )
    assert record[0].filename == __file__
    # The next failure in the same stale period is quiet (filterwarnings=error would fail).
    assert cache.on_refresh_failed(Down("refused"), now=20.0) is OLD


def test_failure_message_is_redacted() -> None:
    cache = CatalogCache(ttl=0, max_age=100)
    cache.store(OLD, now=0.0)
    with pytest.warns(CatalogWarning) as record:
        cache.on_refresh_failed(Down("401 for Bearer sk-secretsecret123"), now=1.0)
    assert "secretsecret123" not in str(record[0].message)


def test_after_a_failure_the_stale_copy_is_served_until_retry_interval() -> None:
    cache = CatalogCache(ttl=10, max_age=100, retry_interval=5)
    cache.store(OLD, now=0.0)
    with pytest.warns(CatalogWarning):
        cache.on_refresh_failed(Down(), now=12.0)
    # No request per call while the gateway is down: one per retry_interval.
    assert cache.fresh(12.0) is OLD
    assert cache.fresh(16.999) is OLD
    assert cache.needs_refresh(17.0)
    assert cache.on_refresh_failed(Down(), now=17.0) is OLD
    assert cache.fresh(21.0) is OLD
    assert cache.needs_refresh(22.0)


def test_stale_copy_is_never_served_past_max_age() -> None:
    cache = CatalogCache(ttl=10, max_age=100, retry_interval=50)
    cache.store(OLD, now=0.0)
    with pytest.warns(CatalogWarning):
        cache.on_refresh_failed(Down(), now=80.0)
    # Inside the retry window, but the copy is now too old.
    assert cache.fresh(99.0) is OLD
    assert cache.fresh(100.0) is None
    error = Down("still down")
    with pytest.raises(Down) as caught:
        cache.on_refresh_failed(error, now=100.0)
    assert caught.value is error


def test_success_after_failures_resets_the_warning() -> None:
    cache = CatalogCache(ttl=10, max_age=100, retry_interval=0)
    cache.store(OLD, now=0.0)
    with pytest.warns(CatalogWarning):
        cache.on_refresh_failed(Down(), now=10.0)
    assert cache.needs_refresh(10.0)  # retry_interval=0: try again on every call
    cache.store(NEW, now=11.0)
    assert cache.fresh(20.0) is NEW
    # A new stale period warns again.
    with pytest.warns(CatalogWarning, match="fetched 10 s ago"):
        assert cache.on_refresh_failed(Down(), now=21.0) is NEW


def test_invalidate_forces_a_fetch_but_keeps_the_fallback() -> None:
    cache = CatalogCache(ttl=10, max_age=100, retry_interval=5)
    cache.store(OLD, now=0.0)
    cache.invalidate()
    assert cache.fresh(1.0) is None and cache.needs_refresh(1.0)
    with pytest.warns(CatalogWarning):
        assert cache.on_refresh_failed(Down(), now=2.0) is OLD
    assert cache.fresh(3.0) is OLD  # inside the retry window
    assert cache.fresh(7.0) is None
    cache.store(NEW, now=8.0)
    assert cache.fresh(9.0) is NEW


def test_invalidate_on_an_empty_cache_is_harmless() -> None:
    cache = CatalogCache()
    cache.invalidate()
    assert cache.needs_refresh(0.0)
    cache.store(OLD, now=0.0)
    assert cache.fresh(0.0) is OLD


def test_clear_drops_the_fallback_too() -> None:
    cache = CatalogCache(ttl=10, max_age=100)
    cache.store(OLD, now=0.0)
    cache.clear()
    assert cache.fresh(1.0) is None and cache.age(1.0) is None
    with pytest.raises(Down):
        cache.on_refresh_failed(Down(), now=1.0)


def test_a_clock_that_steps_back_does_not_expire_or_rejuvenate() -> None:
    cache = CatalogCache(ttl=10, max_age=100, retry_interval=5)
    cache.store(OLD, now=50.0)
    assert cache.age(40.0) == 0.0
    assert cache.fresh(40.0) is OLD
    cache.invalidate()
    with pytest.warns(CatalogWarning, match="fetched 0 s ago"):
        cache.on_refresh_failed(Down(), now=45.0)
    assert cache.fresh(30.0) is OLD  # the failure was "just now"


def test_zero_ttl_always_fetches_and_infinite_ttl_never_does() -> None:
    always = CatalogCache(ttl=0)
    always.store(OLD, now=0.0)
    assert always.needs_refresh(0.0)
    forever = CatalogCache(ttl=math.inf, max_age=math.inf)
    forever.store(OLD, now=0.0)
    assert forever.fresh(1e12) is OLD


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ttl": -1}, "ttl must be a number of seconds >= 0, got -1"),
        ({"ttl": math.nan}, "ttl must be a number"),
        ({"max_age": "1h"}, "max_age must be a number"),
        ({"retry_interval": True}, "retry_interval must be a number"),
        ({"ttl": 600, "max_age": 300}, r"max_age \(300\) must be at least ttl \(600\)"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        CatalogCache(**kwargs)  # type: ignore[arg-type]


def test_the_shell_loop_from_the_module_docs() -> None:
    """Drive the cache the way the clients do, with a fake clock and a flaky gateway."""
    cache = CatalogCache(ttl=60, max_age=600, retry_interval=30)
    replies: list[object] = [
        {"data": [{"id": "a/old"}]},
        Down("refused"),
        {"error": {"message": "upstream timeout"}},
        {"data": [{"id": "a/new"}]},
    ]
    fetches: list[float] = []

    def models(now: float) -> ModelCatalog:
        catalog = cache.fresh(now)
        if catalog is None:
            fetches.append(now)
            catalog = cache.settle(replies.pop(0), now)
        return catalog

    assert models(0.0).ids == ("a/old",)
    assert models(59.0).ids == ("a/old",)
    with pytest.warns(CatalogWarning, match="Down: refused"):
        assert models(60.0).ids == ("a/old",)  # refresh failed: the stale copy
    assert models(89.0).ids == ("a/old",)  # no new request inside the retry interval
    assert models(90.0).ids == ("a/old",)  # an error body is a failed refresh too (quiet now)
    assert models(120.0).ids == ("a/new",)
    assert models(179.0).ids == ("a/new",)
    assert fetches == [0.0, 60.0, 90.0, 120.0]


def test_settle_without_a_fallback_raises_the_failure() -> None:
    cache = CatalogCache()
    error = Down()
    with pytest.raises(Down) as caught:
        cache.settle(error, now=0.0)
    assert caught.value is error
    with pytest.raises(CatalogError, match="a JSON object or list; got a string"):
        cache.settle("<html>", now=0.0)
    assert cache.age(0.0) is None


def test_overrides_are_merged_into_every_stored_catalog() -> None:
    cache = CatalogCache(overrides={"a/x": {"context_length": 1000}, "b/extra": {}})
    first = cache.settle([{"id": "a/x", "context_length": 5}], now=0.0)
    assert first["a/x"].context_length == 1000 and first.ids == ("a/x", "b/extra")
    assert cache.fresh(1.0) is first
    stored = cache.store(ModelCatalog([Model("a/x")]), now=400.0)
    assert stored["a/x"].context_length == 1000
    assert cache.fresh(401.0) is stored


def test_bad_overrides_fail_when_the_cache_is_made() -> None:
    with pytest.raises(CatalogError, match="the value for 'a/x' must be an object"):
        CatalogCache(overrides={"a/x": 1})  # type: ignore[dict-item]


def test_pinned_catalog_is_always_fresh_until_replaced() -> None:
    cache = CatalogCache(ttl=10, max_age=100, overrides={"a/old": {"context_length": 7}})
    pinned = cache.pin(OLD)
    assert pinned["a/old"].context_length == 7
    assert cache.fresh(1e9) is pinned and not cache.needs_refresh(1e9)
    assert cache.peek(1e9) is pinned
    assert cache.age(0.0) == math.inf
    # An explicit refresh that fails keeps it, with one warning.
    with pytest.warns(CatalogWarning, match="using the catalog the client was given"):
        assert cache.settle(Down(), now=5.0) is pinned
    assert cache.on_refresh_failed(Down(), now=6.0) is pinned
    # One that succeeds replaces it, and the TTL applies from then on.
    fetched = cache.settle({"data": [{"id": "a/new"}]}, now=7.0)
    assert cache.fresh(16.0) is fetched and cache.fresh(17.0) is None


def test_peek_serves_stale_copies_but_not_expired_ones() -> None:
    cache = CatalogCache(ttl=10, max_age=100)
    assert cache.peek(0.0) is None
    cache.store(OLD, now=0.0)
    assert cache.peek(50.0) is OLD  # stale, still usable by a caller that can do without
    assert cache.needs_refresh(50.0)
    assert cache.peek(100.0) is None
