"""The mock gateway's decisions: one HTTP request in, a plan of steps out (no I/O at all).

The engine owns the mutable part (scripts, counters, queued failures, the request log) and
decides each answer: auth, routing, which fault strikes, and the delays.  Composing and
rendering the answer is ``_answers``; playing it back is an adapter's job.  The clock is passed
in, and every random draw comes from a RNG seeded by (gateway seed, model, request number), so a
run is reproducible whatever the wall clock or the order other models are called in.
"""

from __future__ import annotations

import json
import math
import random
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from difflib import get_close_matches
from typing import Any

from ._answers import (
    ServedModel,
    Timing,
    check_fits,
    compose,
    read_chat,
    read_embeddings,
    render_embeddings,
    render_plain,
    render_stream,
)
from ._catalog_data import CATALOG, CatalogModel
from ._generate import digest
from ._records import ModelStats, ReceivedRequest
from ._scripts import FAILURE_KINDS, FailureKind, ModelScript
from ._wire import Drop, Hang, Head, Incoming, Pause, Rejection, Step, dumps, json_reply, mask_key

_CREATED_BASE = 1_750_000_000  # synthetic timestamps keep the bytes reproducible
_ADDED_MODEL_CREATED = 1_735_689_600
_ADDED_MODEL_CONTEXT = 8192
_ADDED_MODEL_PRICES = (0.000001, 0.000002)  # USD per prompt / completion token
# Faults that cut an answer rather than replace it, so the answer is composed first.
_CUT_STREAM = frozenset({"reset", "hang", "error_event", "truncate"})
_CUT_BODY = frozenset({"truncate"})


@dataclass
class _Counters:
    requests: int = 0
    streams: int = 0
    failures: int = 0
    rejected: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def served(self, model: ServedModel, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cost_usd += model.cost(prompt_tokens, completion_tokens)


@dataclass
class _Note:
    """What the request log records about the exchange being decided."""

    model: str | None = None
    stream: bool = False
    failure: FailureKind | None = None


@dataclass
class _Call:
    """A counted request to a known model, with its RNG and the fault drawn for it."""

    model_id: str
    model: ServedModel
    counters: _Counters
    number: int
    rng: random.Random
    failure: FailureKind | None


class Engine:
    """Scripts, counters and the request log, and the decision for each request.

    Thread-safe: every public method takes one lock, because the sync transport may be used
    from several threads while the ASGI app runs in the server's thread.
    """

    def __init__(
        self,
        *,
        seed: int,
        api_key: str | None,
        time_scale: float,
        scripts: Mapping[str, ModelScript],
        now: float,
        max_logged_requests: int,
    ) -> None:
        self._lock = threading.Lock()
        self.seed = seed
        self.api_key = api_key
        self.time_scale = time_scale
        self._initial_time_scale = time_scale
        self._initial_scripts = dict(scripts)
        self._max_logged = max_logged_requests
        self._models: dict[str, ServedModel] = {}
        self._counters: dict[str, _Counters] = {}
        self._queued: dict[str, deque[FailureKind]] = {}
        self._log: deque[ReceivedRequest] = deque(maxlen=max_logged_requests)
        self._models_json: bytes | None = None
        self._request_count = 0
        self._started = now
        self.reset(now)

    # --- configuration ------------------------------------------------------------------------

    def reset(self, now: float) -> None:
        with self._lock:
            self._models = {entry.id: ServedModel(entry, entry.script) for entry in CATALOG}
            for model_id, script in self._initial_scripts.items():
                self._put_script(model_id, script)
            self.time_scale = self._initial_time_scale
            self._counters = {}
            self._queued = {}
            self._log = deque(maxlen=self._max_logged)
            self._request_count = 0
            self._started = now

    def model_ids(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def script_of(self, model_id: str) -> ModelScript:
        with self._lock:
            return self._known(model_id).script

    def set_script(self, model_id: str, script: ModelScript, *, add: bool) -> None:
        with self._lock:
            if not add:
                self._known(model_id)
            self._put_script(model_id, script)

    def update_script(self, model_id: str, changes: Mapping[str, Any]) -> ModelScript:
        with self._lock:
            script = replace(self._known(model_id).script, **changes)
            self._put_script(model_id, script)
            return script

    def queue_failures(self, model_id: str, failure: FailureKind, count: int) -> None:
        if failure not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {failure!r}; expected one of {FAILURE_KINDS}")
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        with self._lock:
            self._known(model_id)
            self._queued.setdefault(model_id, deque()).extend([failure] * count)

    def stats(self) -> dict[str, ModelStats]:
        with self._lock:
            return {
                model: ModelStats(model=model, **vars(counters))
                for model, counters in self._counters.items()
            }

    def received(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._log)

    def _known(self, model_id: str) -> ServedModel:
        model = self._models.get(model_id)
        if model is None:
            hint = get_close_matches(model_id, list(self._models), n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else "."
            raise KeyError(
                f"model {model_id!r} is not in the mock catalog{suggestion} "
                "MockGateway.add_model() or MockGateway(scripts=...) adds a model."
            )
        return model

    def _put_script(self, model_id: str, script: ModelScript) -> None:
        model = self._models.get(model_id)
        if model is None:
            self._models[model_id] = ServedModel(_added_entry(model_id, script), script)
        else:
            model.script = script
        self._models_json = None  # prices and context lengths show in /models

    # --- decisions ----------------------------------------------------------------------------

    def handle(self, incoming: Incoming, now: float) -> list[Step]:
        """Decide the whole answer to ``incoming``; ``now`` is monotonic seconds."""
        with self._lock:
            self._request_count += 1
            request_id = f"req_{digest(self.seed, 'request', self._request_count):016x}"
            parsed: Any = None
            malformed = False
            if incoming.body:
                try:
                    parsed = json.loads(incoming.body)
                except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
                    malformed = True
            note = _Note()
            try:
                steps = self._route(incoming, parsed, malformed, request_id, now, note)
            except Rejection as rejection:
                if note.model is not None and rejection.status == 400:
                    self._counters[note.model].rejected += 1
                steps = rejection.reply(request_id)
            status = next((step.status for step in steps if isinstance(step, Head)), None)
            self._log.append(
                ReceivedRequest(
                    method=incoming.method,
                    path=incoming.path,
                    headers=_redacted(incoming.headers),
                    json=parsed,
                    model=note.model,
                    stream=note.stream,
                    status=status,
                    failure=note.failure,
                )
            )
            return steps

    def _route(
        self,
        incoming: Incoming,
        parsed: Any,
        malformed: bool,
        request_id: str,
        now: float,
        note: _Note,
    ) -> list[Step]:
        path = _endpoint(incoming.path)
        method = incoming.method.upper()
        self._authenticate(incoming.headers)
        if path == "/models" or path.startswith("/models/"):
            _expect_method(method, "GET", incoming.path)
            return self._models_answer(path, request_id)
        if path == "/chat/completions":
            _expect_method(method, "POST", incoming.path)
            return self._chat(_object_body(parsed, malformed), request_id, now, note)
        if path == "/embeddings":
            _expect_method(method, "POST", incoming.path)
            return self._embeddings(_object_body(parsed, malformed), request_id, now, note)
        raise Rejection(404, f"Invalid URL ({method} {incoming.path})")

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        scheme, _, key = headers.get("authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise Rejection(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                code="invalid_api_key",
            )
        if self.api_key is not None and key != self.api_key:
            raise Rejection(
                401,
                f"Incorrect API key provided: {mask_key(key)}. The mock gateway accepts only "
                "the key it was created with (MockGateway(api_key=...)).",
                code="invalid_api_key",
            )

    def _begin(self, body: Mapping[str, Any], note: _Note, now: float) -> _Call:
        """Look the model up, count the request, and draw its fault."""
        model_id = body.get("model")
        if not isinstance(model_id, str) or not model_id:
            raise Rejection(400, "you must provide a model parameter", param="model")
        model = self._models.get(model_id)
        if model is None:
            raise Rejection(
                404,
                f"The model `{model_id}` does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
            )
        note.model = model_id
        counters = self._counters.setdefault(model_id, _Counters())
        counters.requests += 1
        counters.streams += int(note.stream)
        number = counters.requests
        rng = random.Random(digest(self.seed, model_id, "request", number))
        failure = self._draw_failure(model_id, model.script, number, now, rng)
        return _Call(model_id, model, counters, number, rng, failure)

    def _draw_failure(
        self, model_id: str, script: ModelScript, number: int, now: float, rng: random.Random
    ) -> FailureKind | None:
        queued = self._queued.get(model_id)
        if queued:
            return queued.popleft()
        elapsed = now - self._started
        for outage in script.outages:
            if outage.covers(number, elapsed):
                return outage.failure
        if script.failure is not None and (
            script.failure_rate >= 1.0 or rng.random() < script.failure_rate
        ):
            return script.failure
        return None

    def _timing(self, call: _Call) -> Timing:
        script, scale = call.model.script, self.time_scale

        def jittered(seconds: float) -> float:
            if not script.jitter:
                return seconds * scale
            # Lognormal: always positive, with the long right tail real latencies have.
            return seconds * math.exp(call.rng.gauss(0.0, script.jitter)) * scale

        latency = jittered(script.latency)
        return Timing(
            latency, jittered(script.time_to_first_token), scale / script.tokens_per_second
        )

    def _fail(self, call: _Call, note: _Note) -> None:
        call.counters.failures += 1
        note.failure = call.failure

    def _fault(self, call: _Call, wait: float, request_id: str) -> list[Step]:
        """The answer to a fault that strikes before any response byte."""
        lead: list[Step] = [Pause(wait)] if wait > 0 else []
        script, model_id = call.model.script, call.model_id
        if call.failure == "reset":
            return [*lead, Drop()]
        if call.failure == "hang":
            gave_up = Rejection(
                504,
                f"The mock gateway hung for {script.hang_seconds:g}s (scripted 'hang').",
                type_="server_error",
                code="timeout",
            )
            return [Hang(script.hang_seconds), *gave_up.reply(request_id)]
        if call.failure == "rate_limit":
            retry = script.retry_after * self.time_scale
            error = Rejection(
                429,
                f"Rate limit reached for {model_id} (scripted by the mock gateway). "
                f"Please try again in {retry:g}s.",
                type_="requests",
                code="rate_limit_exceeded",
                headers=(
                    ("retry-after", str(math.ceil(retry))),
                    ("retry-after-ms", str(round(retry * 1000))),
                    ("x-ratelimit-remaining-requests", "0"),
                ),
            )
        elif call.failure == "server_error":
            error = Rejection(
                500,
                "The server had an error while processing your request. Sorry about that! "
                f"(scripted 'server_error' for {model_id})",
                type_="server_error",
            )
        elif call.failure == "unavailable":
            error = Rejection(
                503,
                f"The model {model_id} is temporarily unavailable (scripted outage). "
                "Please try again later.",
                type_="server_error",
                code="service_unavailable",
            )
        else:  # error_event on a plain request: the upstream failed and the gateway says so
            error = Rejection(
                502,
                f"The upstream provider for {model_id} returned an error (scripted "
                f"'{call.failure}').",
                type_="server_error",
                code="upstream_error",
            )
        return [*lead, *error.reply(request_id)]

    def _models_answer(self, path: str, request_id: str) -> list[Step]:
        if path == "/models":
            if self._models_json is None:
                data = [model.to_json() for model in self._models.values()]
                self._models_json = dumps({"object": "list", "data": data})
            return json_reply(200, self._models_json, request_id)
        model_id = path[len("/models/") :]
        model = self._models.get(model_id)
        if model is None:
            raise Rejection(
                404,
                f"The model `{model_id}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        return json_reply(200, dumps(model.to_json()), request_id)

    def _chat(
        self, body: Mapping[str, Any], request_id: str, now: float, note: _Note
    ) -> list[Step]:
        request = read_chat(body)
        note.stream = request.stream
        call = self._begin(body, note, now)
        timing = self._timing(call)
        if call.failure is not None and call.failure not in (
            _CUT_STREAM if request.stream else _CUT_BODY
        ):
            self._fail(call, note)
            return self._fault(call, timing.latency, request_id)
        check_fits(request, call.model_id, call.model)
        completion = compose(
            request,
            call.model_id,
            call.model,
            seed=self.seed,
            number=call.number,
            created=_CREATED_BASE + self._request_count,
        )
        if call.failure is not None:
            self._fail(call, note)
        if request.stream:
            steps, sent = render_stream(completion, request, timing, call.failure, request_id)
            call.counters.served(call.model, request.prompt_tokens, sent)
            return steps
        payload = render_plain(completion)
        tokens = completion.completion_tokens
        call.counters.served(call.model, request.prompt_tokens, tokens)
        if call.failure == "truncate":
            payload = payload[: len(payload) // 2]
        wait = timing.latency + timing.first_token + tokens * timing.per_token
        return [*([Pause(wait)] if wait > 0 else []), *json_reply(200, payload, request_id)]

    def _embeddings(
        self, body: Mapping[str, Any], request_id: str, now: float, note: _Note
    ) -> list[Step]:
        request = read_embeddings(body)
        call = self._begin(body, note, now)
        wait = self._timing(call).latency
        if call.failure is not None and call.failure not in _CUT_BODY:
            self._fail(call, note)
            return self._fault(call, wait, request_id)
        payload = render_embeddings(request, call.model_id, call.model, seed=self.seed)
        call.counters.served(call.model, sum(request.token_counts), 0)
        if call.failure is not None:
            self._fail(call, note)
            payload = payload[: len(payload) // 2]
        return [*([Pause(wait)] if wait > 0 else []), *json_reply(200, payload, request_id)]


def _added_entry(model_id: str, script: ModelScript) -> CatalogModel:
    return CatalogModel(
        id=model_id,
        name=model_id,
        created=_ADDED_MODEL_CREATED,
        context_length=script.context_length or _ADDED_MODEL_CONTEXT,
        max_completion_tokens=None,
        prompt_usd_per_token=_ADDED_MODEL_PRICES[0],
        completion_usd_per_token=_ADDED_MODEL_PRICES[1],
        script=script,
    )


def _endpoint(path: str) -> str:
    """The endpoint a path names, without the ``/v1`` (or OpenRouter's ``/api/v1``) prefix."""
    if path.startswith("/api/"):
        path = path[4:]
    if path == "/v1" or path.startswith("/v1/"):
        path = path[3:]
    return path.rstrip("/") or "/"


def _expect_method(method: str, allowed: str, path: str) -> None:
    if method != allowed:
        raise Rejection(405, f"Invalid method for URL ({method} {path}); use {allowed}.")


def _object_body(parsed: Any, malformed: bool) -> Mapping[str, Any]:
    if malformed:
        raise Rejection(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The API expects a JSON payload.)",
        )
    if not isinstance(parsed, dict):
        raise Rejection(400, "The request body must be a JSON object.")
    return parsed


def _redacted(headers: Mapping[str, str]) -> dict[str, str]:
    shown = dict(headers)
    if "authorization" in shown:
        scheme, _, key = shown["authorization"].partition(" ")
        shown["authorization"] = f"{scheme} {mask_key(key.strip())}" if key else "***"
    return shown
