"""Routing state and a budget shared through Redis by every process of one deployment.

Several web workers or hosts behind one account learn the same things: a model is down, a
model is slow, the month's money is nearly gone. `RedisRouteState` and `RedisBudget` share
that through one Redis (the ``xroute[redis]`` extra, redis-py)::

    state = RedisRouteState("redis://cache:6379/0", namespace="prod")
    budget = RedisBudget(500.0, "redis://cache:6379/0", namespace="prod")
    client = AsyncXRoute(route_state=state, budget=budget)

How it stays fast. The attempt plan asks the route state synchronously, from the event
loop of `AsyncXRoute` too, so no `RouteState` method touches the network: each reads and
updates a local copy (an `InMemoryRouteState`) and queues the update. A daemon thread,
started on first use, pushes the queue to Redis with Lua scripts (each update is one atomic
read-modify-write inside Redis: no lost updates between processes) and pulls every model's
shared state back, in one round trip every `refresh_interval`, at once after a failure.

The pull replaces the local copy wholesale (a model Redis does not know reads as unseen) and
the updates still queued, not pushed yet, are applied again on top: so each outcome counts
exactly once locally, whether the pull already holds it or not. Each update carries this
process's sequence number and Redis applies a number once, so a push whose reply was lost
(a timeout, a dropped connection, a redis-py retry) and is sent again counts once there too.
A decision therefore sees this process's own outcomes immediately and another process's
within its push delay (immediate for failures, up to `refresh_interval` for successes) plus
`refresh_interval` plus one round trip.

The half-open probe stays single across processes: when a breaker's cooldown ends, the
thread of a process that routes to the model claims the probe with ``SET NX PX`` and only
that process lets an attempt through; the others keep skipping the model until the probe
closes or re-opens the breaker. The in-flight count is per process.

Times cross process boundaries as wall-clock (Unix) seconds, converted from and to the
monotonic `now` the plan passes, so hosts need roughly synchronised clocks (NTP: the
breaker's seconds-long cooldowns tolerate milliseconds of skew).

If Redis is unreachable, routing goes on with the local copy (one warning per outage, one
info line when it is back, queued updates pushed then). Nothing here raises because the
shared store failed. `close()` (or ``with``) at shutdown pushes the last updates. One sync
redis-py client serves both `XRoute` and `AsyncXRoute`: only the thread talks to Redis (and
`RedisBudget.reserve`, see there), so no event loop ever awaits it.

Keys (all expire `ttl_s` after their last write; ``{namespace}`` is a Redis Cluster hash tag,
so one namespace lives on one shard and the scripts stay single-slot)::

    xroute:{ns}:model:<model id>     hash: breaker, cooldown end, trips, failures, decaying means
    xroute:{ns}:models               set: the model ids above
    xroute:{ns}:probe:<model id>     string: which process holds the half-open probe (PX lease)
    xroute:{ns}:pushed:<process>     string: that process's last update applied (no double push)
    xroute:{ns}:budget:<name>:spent  float: USD spent
    xroute:{ns}:budget:<name>:holds  hash: USD reserved by each live process
    xroute:{ns}:budget:<name>:alive  sorted set: each process's liveness deadline
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._exceptions import BudgetExceededError, InvalidArgumentError
from ._cost import Budget
from ._state import HealthSettings, InMemoryRouteState, ModelHealth, _ModelStats

if TYPE_CHECKING:
    import redis

__all__ = ["RedisBudget", "RedisRouteState"]

logger = logging.getLogger("xroute.redis")

# Updates queued while Redis is away; past this the oldest are dropped (pushed nowhere: the
# local copy keeps them only until the next pull replaces it with the shared state).
_MAX_QUEUED = 10_000
# Updates sent per round trip; a longer queue takes several back-to-back trips.
_BATCH = 500


def _import_redis() -> Any:
    try:
        import redis
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "shared routing state needs the redis package: pip install 'xroute[redis]'"
        ) from err
    if not hasattr(redis, "Redis"):  # pragma: no cover - a folder named redis/ shadowing it
        raise ImportError(
            f"'redis' resolves to {redis.__path__!r}, not redis-py: pip install 'xroute[redis]'"
        )
    return redis


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _where(client: Any) -> str:
    """host:port/db of a redis-py client, never its password."""
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


class _Link:
    """One Redis connection and the daemon thread that runs `cycle` every `interval`.

    Tracks outages: the first failure logs one warning, the first success after it one info
    line. Restarts its thread in a forked child (threads do not survive `fork`; redis-py's
    pool reconnects by itself).
    """

    def __init__(
        self,
        redis_or_url: Any,
        *,
        interval: float,
        cycle: Callable[[Any], None],
        what: str,
        socket_timeout: float,
        forked: Callable[[], None],
    ) -> None:
        redis = _import_redis()
        if isinstance(redis_or_url, str):
            self.client = redis.Redis.from_url(
                redis_or_url,
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_timeout,
                # No retries inside redis-py: the thread's next cycle is the retry, and a
                # caller's blocking call must fail fast while Redis is away.
                retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0),
            )
            self._owns_client = True
        elif isinstance(redis_or_url, redis.Redis):
            self.client = redis_or_url
            self._owns_client = False
        else:
            raise InvalidArgumentError(
                f"expected a redis:// URL or a redis.Redis client, got {type(redis_or_url)!r}"
            )
        self.errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.interval = interval
        self.where = _where(self.client)
        self._cycle = cycle
        self._what = what
        self._lock = threading.Lock()  # one cycle at a time: the thread's or `run_now`'s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False
        self.up: bool | None = None  # None until the first round trip
        self._down_since = 0.0
        self._up_lock = threading.Lock()  # the thread and a blocking caller may both report
        self._forked = forked
        if hasattr(os, "register_at_fork"):  # gunicorn --preload and the like fork after use
            weak = weakref.WeakMethod(self._after_fork)

            def after_fork_in_child() -> None:
                method = weak()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=after_fork_in_child)

    def _after_fork(self) -> None:
        # The child has none of the parent's threads: locks they held would stay held.
        self._lock = threading.Lock()
        self._up_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._forked()

    def start(self) -> None:
        """Start the thread if it is not running (first use, or first use after a fork)."""
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._closed or (self._thread is not None and self._pid == os.getpid()):
                return
            self._pid = os.getpid()
            self._stop.clear()
            self._wake.set()  # the first round trip at once
            self._thread = threading.Thread(
                target=self._loop, name=f"xroute-redis-{self._what}", daemon=True
            )
            self._thread.start()

    def wake(self) -> None:
        """Run the next cycle now instead of at the end of the interval."""
        self._wake.set()

    def run_now(self) -> bool:
        """Run one cycle in the caller's thread; True if Redis answered."""
        with self._lock:
            return self._run_cycle()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            with self._lock:
                self._run_cycle()

    def _run_cycle(self) -> bool:
        try:
            self._cycle(self.client)
        except self.errors as err:
            self.failed(err)
            return False
        self.succeeded()
        return True

    def failed(self, err: BaseException) -> None:
        """Note a failed round trip: one warning per outage."""
        with self._up_lock:
            if self.up is False:
                return
            self.up = False
            self._down_since = time.monotonic()
            logger.warning(
                "xroute: the shared %s in Redis at %s is unreachable (%s: %s); routing goes on "
                "with this process's local state until it is back",
                self._what,
                self.where,
                type(err).__name__,
                err,
            )

    def succeeded(self) -> None:
        """Note a successful round trip: one info line when an outage ends."""
        with self._up_lock:
            if self.up is not False:
                self.up = True
                return
            self.up = True
            logger.info(
                "xroute: the shared %s in Redis at %s is reachable again after %.1f s",
                self._what,
                self.where,
                time.monotonic() - self._down_since,
            )

    def close(self, final: Callable[[Any], None] | None = None) -> None:
        """Stop the thread, run `final` once (best effort), close an owned client."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=max(5.0, 4 * self.interval))
        if final is not None and self.up is not False:
            with self._lock:
                try:
                    final(self.client)
                except self.errors as err:
                    self.failed(err)
        if self._owns_client:
            self.client.close()


# --------------------------------------------------------------------------- route state

# Mirrors `_DecayingMean.add` and `InMemoryRouteState.record_success/record_failure`: the
# shared copy must evolve exactly as the local one would. Change them together.
# KEYS[4] holds the sequence number of the last update of this process applied: an update
# sent again after a lost reply (ARGV[18] not above it) is already counted and is skipped.
_RECORD = """
local seq = tonumber(ARGV[18])
if seq <= (tonumber(redis.call('GET', KEYS[4]) or '0') or 0) then return 0 end
local h = {}
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
local function num(name) return tonumber(h[name] or '0') or 0 end
local now = tonumber(ARGV[3])
local half_life, max_samples = tonumber(ARGV[9]), tonumber(ARGV[10])
local function add(p, sample)
  local w, v, at = num(p .. '_w'), num(p .. '_v'), num(p .. '_t')
  if w > 0 and now > at then w = w * 0.5 ^ ((now - at) / half_life) end
  w = math.min(w, max_samples - 1) + 1
  v = v + (sample - v) / w
  h[p .. '_w'] = w
  h[p .. '_v'] = v
  h[p .. '_t'] = math.max(now, at)
end
local breaker = h['breaker'] or 'closed'
h['samples'] = num('samples') + 1
if ARGV[2] == 's' then
  local latency = tonumber(ARGV[4])
  local ttft = tonumber(ARGV[5])
  local tokens = tonumber(ARGV[6])
  add('lat', latency)
  if ttft then add('ttft', ttft) end
  if tokens and tokens > 0 then
    local decode = latency
    if ttft then decode = latency - ttft end
    if decode > 0 then add('tps', tokens / decode) end
  end
  add('err', 0)
  h['cf'] = 0
  h['trips'] = 0
  h['open_until'] = 0
  breaker = 'closed'
  redis.call('DEL', KEYS[2])
else
  add('err', 1)
  h['cf'] = num('cf') + 1
  local retry_after = tonumber(ARGV[7]) or 0
  local function cooldown(trips)
    local base = math.min(tonumber(ARGV[14]) * tonumber(ARGV[15]) ^ trips, tonumber(ARGV[16]))
    return math.max(base, retry_after)
  end
  local open_until = num('open_until')
  if breaker == 'open' and now >= open_until then
    h['trips'] = num('trips') + 1
    h['open_until'] = now + cooldown(h['trips'])
  elseif breaker == 'open' then
    h['open_until'] = math.max(open_until, now + retry_after)
  elseif h['cf'] >= tonumber(ARGV[11])
      or (num('err_w') >= tonumber(ARGV[13]) and num('err_v') >= tonumber(ARGV[12])) then
    breaker = 'open'
    h['trips'] = 0
    h['open_until'] = now + cooldown(0)
  end
  if ARGV[17] ~= '' and redis.call('GET', KEYS[2]) == ARGV[17] then
    redis.call('DEL', KEYS[2])
  end
end
h['breaker'] = breaker
local out = {}
for k, v in pairs(h) do
  out[#out + 1] = k
  if type(v) == 'number' then out[#out + 1] = string.format('%.17g', v) else out[#out + 1] = v end
end
redis.call('HSET', KEYS[1], unpack(out))
redis.call('PEXPIRE', KEYS[1], ARGV[8])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[8])
redis.call('SET', KEYS[4], ARGV[18], 'PX', ARGV[8])
return 1
"""

# Every model of the namespace, and a probe claim (SET NX PX) on each model this process
# wants whose cooldown is over and whose probe is free: one round trip for both.
_SNAPSHOT = """
local now, lease, token = tonumber(ARGV[2]), ARGV[3], ARGV[4]
local wanted = {}
for i = 5, #ARGV do wanted[ARGV[i]] = true end
local out = {}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. 'model:' .. m
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then
    redis.call('SREM', KEYS[1], m)
  else
    local h = {}
    for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
    local probe_key = ARGV[1] .. 'probe:' .. m
    local holder = redis.call('GET', probe_key)
    local claimed = 0
    if not holder and wanted[m] and h['breaker'] == 'open'
        and now >= (tonumber(h['open_until']) or 0) then
      redis.call('SET', probe_key, token, 'PX', lease)
      holder = token
      claimed = 1
    end
    out[#out + 1] = {m, flat, holder or '', claimed}
  end
end
return out
"""

_PROBE_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

_PROBE_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class _Update:
    """A local outcome waiting to be pushed: success "s", failure "f", or probe "release".

    `seq` numbers a process's outcomes in queue order (Redis applies each number once).
    """

    kind: str
    model: str
    now: float = 0.0
    latency_s: float = 0.0
    ttft_s: float | None = None
    completion_tokens: int | None = None
    retry_after_s: float | None = None
    error_kind: str = ""
    probe: bool = False
    seq: int = 0


class _LocalState(InMemoryRouteState):
    """The in-process copy: `InMemoryRouteState`, except that while Redis is in reach an
    open breaker whose cooldown is over admits an attempt only with the shared probe."""

    def __init__(self, settings: HealthSettings | None) -> None:
        super().__init__(settings)
        # (model, now, claim) -> whether the probe may go; `claim` takes it.
        self.admit_probe: Callable[[str, float, bool], bool] = lambda model, now, claim: True

    def begin(self, model: str, *, now: float) -> bool:
        """Count an attempt in flight; the probe needs `admit_probe` (see the class)."""
        with self._lock:
            stats = self._stats(model)
            stats.in_flight += 1
            if stats.breaker == "closed":
                return True
            if (
                stats.breaker == "open"
                and now >= stats.open_until
                and self.admit_probe(model, now, True)
            ):
                stats.breaker = "half_open"
                return True
            return False

    def allows(self, model: str, *, now: float) -> bool:
        """Whether `begin` would admit an attempt now (claims nothing)."""
        with self._lock:
            stats = self._models.get(model)
            if stats is None or stats.breaker == "closed":
                return True
            return (
                stats.breaker == "open"
                and now >= stats.open_until
                and self.admit_probe(model, now, False)
            )

    def end_attempt(self, model: str) -> bool:
        """`end`; True if that abandoned a half-open probe (no outcome was recorded)."""
        with self._lock:
            stats = self._models.get(model)
            probing = stats is not None and stats.breaker == "half_open"
        self.end(model)
        with self._lock:
            stats = self._models.get(model)
            return probing and stats is not None and stats.breaker == "open"

    def load(self, model: str, row: dict[str, str], offset: float, probing: bool) -> None:
        """Replace the model's shared figures (not its in-flight count) with Redis's; an
        empty `row` (a model Redis does not know) resets them to unseen."""

        def num(name: str) -> float:
            try:
                return float(row.get(name, 0.0))
            except ValueError:
                return 0.0

        with self._lock:
            stats: _ModelStats = self._stats(model)
            for prefix, mean in (
                ("lat", stats.latency),
                ("ttft", stats.ttft),
                ("tps", stats.throughput),
                ("err", stats.errors),
            ):
                mean.value = num(f"{prefix}_v")
                mean.weight = num(f"{prefix}_w")
                mean.at = num(f"{prefix}_t") - offset if mean.weight else 0.0
            stats.samples = int(num("samples"))
            stats.consecutive_failures = int(num("cf"))
            stats.trips = int(num("trips"))
            if row.get("breaker") == "open":
                stats.open_until = num("open_until") - offset
                stats.breaker = "half_open" if probing else "open"
            else:
                stats.breaker = "closed"
                stats.open_until = 0.0


class RedisRouteState:
    """A `RouteState` shared through Redis by every process that uses the same namespace.

    Every method works on a local copy and never waits for the network (safe on an event
    loop); a daemon thread pushes this process's outcomes and pulls everyone's every
    `refresh_interval` seconds (module doc: staleness, probes, outages, keys).

    - `redis`: a ``redis://`` URL or a `redis.Redis` client (sync; used from the thread).
    - `namespace`: processes with the same namespace share state; others are independent.
    - `settings`: the `HealthSettings` (every process of a namespace should use the same).
    - `ttl_s`: keys expire this long after their last write.
    - `probe_lease_s`: how long a claimed but unused half-open probe stays reserved for this
      process (default: 4 × `refresh_interval`, at least 1 s).
    - `clock` / `wall`: the monotonic clock the client passes as `now`, and Unix time.

    >>> state = RedisRouteState("redis://localhost:6379/0", namespace="prod")  # doctest: +SKIP
    >>> client = XRoute(route_state=state)  # doctest: +SKIP
    >>> state.refresh()  # optional: read the shared state once before the first call
    ... # doctest: +SKIP
    True
    """

    def __init__(
        self,
        redis: str | redis.Redis = "redis://localhost:6379/0",
        *,
        namespace: str = "default",
        settings: HealthSettings | None = None,
        refresh_interval: float = 0.5,
        ttl_s: float = 86_400.0,
        probe_lease_s: float | None = None,
        socket_timeout: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not namespace or not isinstance(namespace, str) or "}" in namespace:
            raise InvalidArgumentError(
                f"namespace must be a non-empty str without '}}', got {namespace!r}"
            )
        if not (refresh_interval > 0 and ttl_s > 0):
            raise InvalidArgumentError("refresh_interval and ttl_s must be > 0")
        self.namespace = namespace
        self.settings = settings or HealthSettings()
        self.refresh_interval = float(refresh_interval)
        self._prefix = f"xroute:{{{namespace}}}:"
        self._ttl_ms = str(max(1, int(ttl_s * 1000)))
        lease = probe_lease_s if probe_lease_s is not None else max(1.0, 4 * refresh_interval)
        self._lease_s = lease
        self._clock = clock
        self._wall = wall
        self._local = _LocalState(self.settings)
        self._local.admit_probe = self._admit_probe
        self._lock = threading.Lock()  # the queue, the probes, and local changes vs loads
        self._queue: deque[_Update] = deque(maxlen=_MAX_QUEUED)
        self._wanted: dict[str, float] = {}  # model -> when this process last routed to it
        self._leases: dict[str, float] = {}  # claimed, unused probes -> lease end (monotonic)
        self._probing: set[str] = set()  # probes this process has in flight
        self._seq = 0  # the last sequence number given to an outcome of this process
        self._token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._link = _Link(
            redis,
            interval=self.refresh_interval,
            cycle=self._cycle,
            what="routing state",
            socket_timeout=socket_timeout,
            forked=self._forked,
        )
        register = self._link.client.register_script
        self._record = register(_RECORD)
        self._snapshot = register(_SNAPSHOT)
        self._extend = register(_PROBE_EXTEND)
        self._release = register(_PROBE_RELEASE)
        settings_ = self.settings
        self._settings_args = [
            repr(settings_.half_life_s),
            repr(float(settings_.max_samples)),
            repr(float(settings_.failure_threshold)),
            repr(settings_.error_rate_threshold),
            repr(settings_.min_samples),
            repr(settings_.cooldown_s),
            repr(settings_.cooldown_multiplier),
            repr(settings_.max_cooldown_s),
        ]

    # ----------------------------------------------------------------- the RouteState protocol

    def begin(self, model: str, *, now: float) -> bool:
        """Count an attempt in flight and say whether the breaker admits it (local, instant)."""
        self._link.start()
        with self._lock:
            self._wanted[model] = now
            return self._local.begin(model, now=now)

    def end(self, model: str) -> None:
        """The attempt is over; an abandoned probe is handed back to every process."""
        with self._lock:
            abandoned = self._local.end_attempt(model)
            if abandoned and model in self._probing:
                self._probing.discard(model)
                self._queue.append(_Update("release", model))
        if abandoned:
            self._link.wake()

    def record_success(
        self,
        model: str,
        *,
        now: float,
        latency_s: float,
        ttft_s: float | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        """Feed a served attempt (closes the breaker here at once, everywhere soon)."""
        self._link.start()
        update = _Update(
            "s",
            model,
            now,
            latency_s=latency_s,
            ttft_s=ttft_s,
            completion_tokens=completion_tokens,
            probe=False,
        )
        with self._lock:
            self._probing.discard(model)
            self._apply(update)
            self._enqueue(update)

    def record_failure(
        self, model: str, *, now: float, error_kind: str, retry_after_s: float | None = None
    ) -> None:
        """Feed a failed attempt; pushed at once, so other processes hear of it quickly."""
        if error_kind not in self.settings.health_error_kinds:
            return  # the request's fault, not the model's: nothing to share
        self._link.start()
        with self._lock:
            update = _Update(
                "f",
                model,
                now,
                retry_after_s=retry_after_s,
                error_kind=error_kind,
                probe=model in self._probing,
            )
            self._probing.discard(model)
            self._apply(update)
            self._enqueue(update)
        self._link.wake()

    def allows(self, model: str, *, now: float) -> bool:
        """Whether the breaker would let an attempt through now (local, instant)."""
        self._link.start()
        with self._lock:
            self._wanted[model] = now
            return self._local.allows(model, now=now)

    def snapshot(self, model: str, *, now: float | None = None) -> ModelHealth:
        """The model's health as this process knows it (shared figures, local in-flight)."""
        self._link.start()
        with self._lock:  # never half-way through a pull (replaced, queue not re-applied)
            return self._local.snapshot(model, now=now)

    # ----------------------------------------------------------------------------- the rest

    def models(self) -> list[str]:
        """Every model this process has heard of, from itself or from Redis."""
        with self._lock:
            return self._local.models()

    @property
    def connected(self) -> bool | None:
        """Whether the last round trip reached Redis (None before the first one)."""
        return self._link.up

    def refresh(self) -> bool:
        """Push and pull now, in this thread (blocking); True if Redis answered.

        Useful once at start-up, so that the first call already sees the shared state.
        """
        self._link.start()
        return self._link.run_now()

    def close(self) -> None:
        """Stop the background thread after a last push; close the client if it made it."""
        self._link.close(final=self._cycle)

    def __enter__(self) -> RedisRouteState:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"RedisRouteState(namespace={self.namespace!r}, redis={self._link.where!r}, "
            f"models={len(self._local.models())}, connected={self._link.up})"
        )

    # ------------------------------------------------------------------------------ internals

    def _forked(self) -> None:
        # A forked child is another process: its own identity, no probe, nothing to push
        # twice (the parent pushes what was queued before the fork).
        self._lock = threading.Lock()
        self._local._lock = threading.Lock()
        self._queue.clear()
        self._leases.clear()
        self._probing.clear()
        self._seq = 0
        self._token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"

    def _admit_probe(self, model: str, now: float, claim: bool) -> bool:
        # Called by the local copy, under both locks.
        if not self._link.up:
            return True  # no shared view (yet, or now): the local breaker decides alone
        if model in self._probing:
            return False  # our probe is out
        lease_end = self._leases.get(model)
        if lease_end is None or now >= lease_end:
            return False  # another process probes, or nobody has claimed it yet
        if claim:
            del self._leases[model]
            self._probing.add(model)
        return True

    def _enqueue(self, update: _Update) -> None:
        # Under self._lock, so sequence numbers follow queue order.
        self._seq += 1
        self._queue.append(dataclasses.replace(update, seq=self._seq))

    def _apply(self, update: _Update) -> None:
        local = self._local
        if update.kind == "s":
            local.record_success(
                update.model,
                now=update.now,
                latency_s=update.latency_s,
                ttft_s=update.ttft_s,
                completion_tokens=update.completion_tokens,
            )
        elif update.kind == "f":
            local.record_failure(
                update.model,
                now=update.now,
                error_kind=update.error_kind,
                retry_after_s=update.retry_after_s,
            )

    def _key(self, kind: str, model: str = "") -> str:
        return f"{self._prefix}{kind}{':' if model else ''}{model}"

    def _cycle(self, client: Any) -> None:
        """One round trip: push queued updates, pull every model, claim wanted probes."""
        with self._lock:
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), _BATCH))]
            probing = sorted(self._probing)
            now = self._clock()
            wanted_since = now - max(60.0, 10 * self.refresh_interval)
            wanted = [m for m, at in self._wanted.items() if at >= wanted_since]
            self._wanted = {m: self._wanted[m] for m in wanted}
        offset = self._wall() - self._clock()
        pipe = client.pipeline(transaction=False)
        for update in batch:
            self._push(pipe, update, offset)
        lease_ms = str(int(self._lease_s * 1000))
        for model in probing:  # a probe in flight keeps its claim; a dead process's lapses
            self._extend(
                keys=[self._key("probe", model)], args=[self._token, lease_ms], client=pipe
            )
        index = self._key("models")
        self._snapshot(
            keys=[index],
            args=[self._prefix, repr(now + offset), lease_ms, self._token, *wanted],
            client=pipe,
        )
        try:
            replies = pipe.execute(raise_on_error=False)
        except BaseException:
            with self._lock:
                self._queue.extendleft(reversed(batch))  # sent again next time
            raise
        for reply in replies[:-1]:
            if isinstance(reply, Exception):
                logger.error("xroute: a Redis routing-state update failed: %s", reply)
        rows = replies[-1]
        if isinstance(rows, Exception):
            raise rows
        self._load(rows, offset)
        if len(self._queue) >= _BATCH:
            self._link.wake()

    def _push(self, pipe: Any, update: _Update, offset: float) -> None:
        probe_key = self._key("probe", update.model)
        if update.kind == "release":
            self._release(keys=[probe_key], args=[self._token], client=pipe)
            return
        self._record(
            keys=[
                self._key("model", update.model),
                probe_key,
                self._key("models"),
                self._key("pushed", self._token),
            ],
            args=[
                update.model,
                update.kind,
                repr(update.now + offset),
                repr(update.latency_s),
                "" if update.ttft_s is None else repr(update.ttft_s),
                "" if update.completion_tokens is None else str(update.completion_tokens),
                "" if update.retry_after_s is None else repr(update.retry_after_s),
                self._ttl_ms,
                *self._settings_args,
                self._token if update.probe else "",
                str(update.seq),
            ],
            client=pipe,
        )

    def _load(self, rows: Iterable[Any], offset: float) -> None:
        # The pull is the whole shared state, this process's pushed updates included: it
        # replaces the local copy wholesale, then what is still queued goes back on top. A
        # model left out (not in Redis yet: its first update is still queued, or expired)
        # is reset too, or its queued updates would count twice.
        now = self._clock()
        with self._lock:
            pulled: set[str] = set()
            for model_raw, flat, holder_raw, claimed in rows:
                model = _text(model_raw)
                values = [_text(v) for v in flat]
                row = dict(zip(values[::2], values[1::2], strict=True))
                probing = model in self._probing
                if int(claimed):
                    # Ours from now for the lease, less a margin for the trip back.
                    self._leases[model] = now + self._lease_s * 0.9
                elif _text(holder_raw) != self._token:
                    self._leases.pop(model, None)
                self._local.load(model, row, offset, probing)
                pulled.add(model)
            for model in self._local.models():
                if model not in pulled:
                    self._local.load(model, {}, offset, probing=False)
            # What this process did since the batch was taken is not in Redis yet.
            for update in self._queue:
                self._apply(update)


# --------------------------------------------------------------------------------- budget

_RESERVE = """
local now = tonumber(ARGV[4])
for _, p in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
  redis.call('HDEL', KEYS[2], p)
  redis.call('ZREM', KEYS[3], p)
end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
local held = 0
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do held = held + tonumber(v) end
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local amount, max = tonumber(ARGV[2]), tonumber(ARGV[3])
local remaining = max - spent - held
local ok = 0
if not (amount > remaining or remaining <= 0) then
  redis.call('HSET', KEYS[2], ARGV[1], string.format('%.17g', mine + amount))
  held = held + amount
  ok = 1
end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
return {ok, string.format('%.17g', spent), string.format('%.17g', held)}
"""

# Push: set this process's holds to the local truth, add what was spent, renew liveness.
_PUSH = """
if tonumber(ARGV[3]) ~= 0 then redis.call('INCRBYFLOAT', KEYS[1], ARGV[3]) end
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
else
  redis.call('HDEL', KEYS[2], ARGV[1])
end
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
local held = 0
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do held = held + tonumber(v) end
return {string.format('%.17g', spent), string.format('%.17g', held)}
"""


class RedisBudget(Budget):
    """A `Budget` whose limit holds across every process sharing `namespace` and `name`.

    `reserve` is one blocking Redis round trip (a Lua script checks what every live
    process spent and holds, and adds this reservation, atomically): an exact shared limit
    needs the shared answer before sending. On `AsyncXRoute` that round trip (~0.1 ms on
    loopback, ~1 ms in a data centre) runs on the event loop, once per routed call.
    `settle` and `record` are local and pushed by a daemon thread within `refresh_interval`
    (the shared figures stay conservative meanwhile: a settled hold is still counted).

    Each process's holds carry a liveness deadline renewed by its thread, so a process that
    dies holding money frees it after `alive_s`. While Redis is unreachable, `reserve`
    checks the last shared figures plus this process's changes, without waiting for the
    network, and the changes are pushed when Redis is back (only the reservation that finds
    Redis gone waits, up to `socket_timeout`).

    >>> budget = RedisBudget(100.0, "redis://localhost:6379/0", namespace="prod")
    ... # doctest: +SKIP
    >>> client = AsyncXRoute(budget=budget)  # doctest: +SKIP
    """

    def __init__(
        self,
        max_usd: float,
        redis: str | redis.Redis = "redis://localhost:6379/0",
        *,
        namespace: str = "default",
        name: str = "budget",
        refresh_interval: float = 0.5,
        alive_s: float = 60.0,
        ttl_s: float = 90 * 86_400.0,
        socket_timeout: float = 0.5,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(max_usd)
        if not namespace or not isinstance(namespace, str) or "}" in namespace:
            raise InvalidArgumentError(
                f"namespace must be a non-empty str without '}}', got {namespace!r}"
            )
        self.namespace = namespace
        self.name = name
        prefix = f"xroute:{{{namespace}}}:budget:{name}:"
        self._keys = [prefix + "spent", prefix + "holds", prefix + "alive"]
        self._alive_s = alive_s
        self._ttl_ms = str(max(1, int(ttl_s * 1000)))
        self._wall = wall
        self._id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        # Local truth: what this process holds, and spend not pushed yet. Shared figures
        # (every process, as of the last round trip) are in _spent / _reserved.
        self._held = 0.0
        self._unpushed = 0.0
        self._link = _Link(
            redis,
            interval=refresh_interval,
            cycle=self._push,
            what="budget",
            socket_timeout=socket_timeout,
            forked=self._forked,
        )
        self._reserve_script = self._link.client.register_script(_RESERVE)
        self._push_script = self._link.client.register_script(_PUSH)

    @property
    def spent_usd(self) -> float:
        """USD spent by every process (as of the last round trip, plus this one's since)."""
        with self._lock:
            return self._spent + self._unpushed

    @property
    def reserved_usd(self) -> float:
        """USD held by calls in flight in every process (as of the last round trip)."""
        with self._lock:
            return self._reserved

    @property
    def remaining_usd(self) -> float:
        """What is left for everyone: the limit minus spent and held amounts (never below 0)."""
        with self._lock:
            return max(0.0, self.max_usd - self._spent - self._unpushed - self._reserved)

    def reserve(self, worst_case_usd: float) -> float:
        """Hold `worst_case_usd` in the shared budget (one round trip), or raise
        `BudgetExceededError`; falls back to the local figures while Redis is away."""
        self._link.start()
        amount = float(worst_case_usd)
        with self._lock:
            if self._link.up is not False:
                try:
                    ok, spent, held = self._reserve_script(
                        keys=self._keys,
                        args=self._reserve_args(amount),
                        client=self._link.client,
                    )
                except self._link.errors as err:
                    self._link.failed(err)
                else:
                    self._link.succeeded()
                    self._spent, self._reserved = float(_text(spent)), float(_text(held))
                    if int(ok):
                        self._held += amount
                        return amount
                    self._refuse(
                        amount, self.max_usd - self._spent - self._unpushed - self._reserved
                    )
            # Redis is away: decide on the last shared figures plus this process's changes.
            remaining = self.max_usd - self._spent - self._unpushed - self._reserved
            if amount > remaining or remaining <= 0.0:
                self._refuse(amount, remaining)
            self._held += amount
            self._reserved += amount
            return amount

    def settle(self, reserved_usd: float, cost_usd: float | None) -> None:
        """Release a hold and record the actual cost (pushed by the thread)."""
        with self._lock:
            self._held = max(0.0, self._held - reserved_usd)
            self._reserved = max(0.0, self._reserved - reserved_usd)
            self._unpushed += reserved_usd if cost_usd is None else cost_usd
        self._link.start()

    def record(self, cost_usd: float) -> None:
        """Record spend that had no reservation (pushed by the thread)."""
        with self._lock:
            self._unpushed += cost_usd
        self._link.start()

    def refresh(self) -> bool:
        """Push and pull now, in this thread (blocking); True if Redis answered."""
        self._link.start()
        return self._link.run_now()

    def close(self) -> None:
        """Stop the background thread after a last push; close the client if it made it."""
        self._link.close(final=self._push)

    def __enter__(self) -> RedisBudget:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        with self._lock:
            spent, reserved = self._spent + self._unpushed, self._reserved
        return (
            f"RedisBudget(max_usd={self.max_usd:g}, spent_usd={spent:.6g}, "
            f"reserved_usd={reserved:.6g}, namespace={self.namespace!r}, name={self.name!r})"
        )

    def _forked(self) -> None:
        # The parent's holds are the parent's: a child starts with none, under its own id.
        self._lock = threading.Lock()
        self._held = 0.0
        self._unpushed = 0.0
        self._id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"

    def _refuse(self, amount: float, remaining: float) -> None:
        left = max(remaining, 0.0)
        raise BudgetExceededError(
            f"this call could cost up to ${amount:.6f} but only ${left:.6f} of the shared "
            f"${self.max_usd:.2f} budget {self.name!r} is left; lower max_tokens, pick cheaper "
            "models, or raise the budget",
            worst_case_usd=amount,
            remaining_usd=left,
        )

    def _reserve_args(self, amount: float) -> list[str]:
        now = self._wall()
        return [
            self._id,
            repr(amount),
            repr(self.max_usd),
            repr(now),
            repr(now + self._alive_s),
            self._ttl_ms,
        ]

    def _push(self, client: Any) -> None:
        # Under the budget's lock: a reservation racing this push could otherwise be
        # overwritten by the older hold total this push carries.
        with self._lock:
            unpushed = self._unpushed
            spent, held = self._push_script(
                keys=self._keys,
                args=[
                    self._id,
                    repr(self._held),
                    repr(unpushed),
                    repr(self._wall() + self._alive_s),
                    self._ttl_ms,
                ],
                client=client,
            )
            self._unpushed -= unpushed
            self._spent, self._reserved = float(_text(spent)), float(_text(held))
