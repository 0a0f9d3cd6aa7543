"""Every byte-level fault, for both clients, plain and streaming, alone and in a chain.

Each fault names what a call to the faulty model alone must end in: the right result, or
the right typed error (raised by `create`, or while reading the stream). The same fault
inside the chain ``["faulty", "good"]`` then follows by rule: a failure before the stream
is handed over falls over to "good" (and the route shows the failed attempt); a failure
after the first token cannot fall over and ends the call the same way; a success is
served by "faulty" itself. Every case must end within its deadline and leave no
connection checked out and no attempt counted in flight.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import fault_kinds as fk
import pytest
from fault_server import GOOD_TEXT, Behaviour, FaultServer, closed_port
from reliability_kit import (
    KEY,
    KINDS,
    Outcome,
    ask,
    busy_connections,
    close,
    in_flight,
    make_client,
)

import xroute

pytestmark = pytest.mark.anyio

READ = 0.4  # the per-read timeout and the stream idle limit of every client here
DEADLINE = 5.0  # the whole call, fallbacks included
SLACK = 2.0  # time to close and clean up after the deadline on a busy 2-core machine
WATCHDOG = DEADLINE + SLACK + 5.0  # async only: a hang fails the test instead of CI


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def anyio_backend(kind: str) -> str:
    # The sync client runs once (on asyncio's loop, which it does not use).
    return "trio" if kind == "trio" else "asyncio"


@dataclass(frozen=True)
class Ok:
    """Success, with exactly `text`."""

    text: str = GOOD_TEXT


@dataclass(frozen=True)
class Fails:
    """A typed error of exactly class `error`, raised in `phase`, whose message contains
    `says` and whose status/code/partial text are as given (None: not checked)."""

    error: type[xroute.XRouteError]
    phase: str = "create"
    says: str | None = None
    status: int | None = None
    code: str | None = None
    partial: str | None = None


Expect = Ok | Fails


@dataclass(frozen=True)
class Fault:
    """A fault and what a call to the faulty model alone ends in, plain and streamed."""

    behaviour: Behaviour
    plain: Expect
    streamed: Expect

    @property
    def name(self) -> str:
        return self.behaviour.__name__


P = fk.PARTIAL
FAULTS = [
    Fault(
        fk.rate_limit_seconds,
        Fails(xroute.RateLimitError, status=429, code="rate_limit_exceeded"),
        Fails(xroute.RateLimitError, status=429, code="rate_limit_exceeded"),
    ),
    Fault(
        fk.rate_limit_ms,
        Fails(xroute.RateLimitError, status=429),
        Fails(xroute.RateLimitError, status=429),
    ),
    Fault(
        fk.server_error_json,
        Fails(xroute.InternalServerError, status=500, says="The server had an error (injected)"),
        Fails(xroute.InternalServerError, status=500, says="The server had an error (injected)"),
    ),
    Fault(
        fk.bad_gateway_html,
        Fails(xroute.InternalServerError, status=502, says="HTML page ('502 Bad Gateway')"),
        Fails(xroute.InternalServerError, status=502, says="HTML page ('502 Bad Gateway')"),
    ),
    Fault(
        fk.unavailable_empty,
        Fails(xroute.InternalServerError, status=503, says="body was empty"),
        Fails(xroute.InternalServerError, status=503, says="body was empty"),
    ),
    Fault(
        fk.reset_before_headers,
        Fails(xroute.APIConnectionError, says="ReadError"),
        Fails(xroute.APIConnectionError, says="ReadError"),
    ),
    Fault(
        fk.reset_mid_body,
        Fails(xroute.APIConnectionError, says="ReadError"),
        Fails(xroute.StreamInterruptedError, "iterate", says="connection broke", partial=P),
    ),
    Fault(
        fk.headers_then_hang,
        Fails(xroute.APITimeoutError, says="read timeout"),
        Fails(xroute.StreamTimeoutError, code="stream_idle_timeout", partial=""),
    ),
    Fault(
        fk.stream_then_stall,
        Fails(xroute.APITimeoutError, says="read timeout"),
        Fails(xroute.StreamTimeoutError, "iterate", code="stream_idle_timeout", partial=P),
    ),
    Fault(
        fk.truncated,
        Fails(xroute.APIResponseValidationError, says="not valid JSON"),
        Fails(xroute.StreamInterruptedError, "iterate", says="middle of an event", partial=P),
    ),
    Fault(
        fk.error_event,
        # A 200 whose body is an error object is not a completion: typed, and falls over.
        Fails(xroute.APIResponseValidationError, says="not a ChatCompletion"),
        Fails(xroute.StreamErrorEvent, "iterate", code="upstream_error", partial=P),
    ),
    Fault(
        fk.error_event_first,
        Fails(xroute.APIResponseValidationError, says="not a ChatCompletion"),
        Fails(xroute.StreamErrorEvent, code="overloaded", says="overloaded", partial=""),
    ),
    Fault(
        fk.error_data,
        Fails(xroute.APIResponseValidationError, says="not a ChatCompletion"),
        Fails(
            xroute.StreamErrorEvent, "iterate", status=503, says="provider overloaded", partial=P
        ),
    ),
    Fault(
        fk.invalid_json,
        Fails(xroute.APIResponseValidationError, says="not valid JSON"),
        Fails(xroute.StreamInterruptedError, says="not JSON", partial=""),
    ),
    Fault(
        fk.wrong_shape,
        Fails(xroute.APIResponseValidationError, says="choices"),
        Fails(xroute.StreamInterruptedError, says="not a chunk", partial=""),
    ),
    Fault(
        fk.html_200,
        Fails(xroute.APIResponseValidationError, says="HTML page"),
        Fails(xroute.StreamInterruptedError, says="before `data: [DONE]`", partial=""),
    ),
    Fault(fk.gzip_body, Ok(), Ok()),
    Fault(
        fk.bad_gzip,
        Fails(xroute.APIConnectionError, says="DecodingError"),
        Fails(xroute.StreamInterruptedError, says="DecodingError", partial=""),
    ),
    Fault(fk.one_byte_at_a_time, Ok("Hello from"), Ok("Hello from")),
    Fault(fk.crlf_lines, Ok(), Ok()),
    Fault(fk.cr_lines, Ok(), Ok()),
    Fault(fk.keep_alive_comments, Ok(), Ok()),
]


def _cases() -> list[object]:
    cases: list[object] = []
    for fault in FAULTS:
        for stream in (False, True):
            for chain in (False, True):
                mode = ("stream" if stream else "plain") + ("-chain" if chain else "-alone")
                label = f"{fault.name}-{mode}"
                cases.append(pytest.param(fault, stream, chain, id=label))
    return cases


def in_chain(alone: Expect) -> tuple[Expect, str]:
    """What the same fault ends in inside ``["faulty", "good"]``, and who serves it."""
    if isinstance(alone, Ok):
        return alone, "faulty"
    if alone.phase == "create":
        return Ok(), "good"  # failed before the stream was handed over: fall over
    return alone, "faulty"  # after the first token there is no going back


def check(outcome: Outcome, expect: Expect, served_by: str) -> None:
    """Assert that `outcome` is what `expect` says."""
    if isinstance(expect, Ok):
        assert outcome.error is None, f"expected success, got {outcome.error!r}"
        assert outcome.text == expect.text
        assert outcome.route.model == served_by
        return
    error = outcome.error
    assert type(error) is expect.error, f"expected {expect.error.__name__}, got {error!r}"
    assert outcome.phase == expect.phase
    if expect.says is not None:
        assert expect.says in str(error)
    if expect.status is not None:
        assert getattr(error, "status_code", None) == expect.status
    if expect.code is not None:
        assert getattr(error, "code", None) == expect.code
    if expect.partial is not None:
        assert isinstance(error, xroute.StreamError)
        assert error.partial_text == expect.partial
    if outcome.stream is not None:  # failed mid-stream: the route names who started it
        assert outcome.stream.route.model == served_by


async def _run_with(
    kind: str,
    base_url: str,
    model: object,
    stream: bool,
    *,
    read: float = READ,
    deadline: float = DEADLINE,
    **kwargs: object,
) -> Outcome:
    """One call to `model` with a fresh client; then the pool, the routing state and the
    time taken are checked, whatever the outcome."""
    client = make_client(
        kind,
        base_url,
        shared_tls=True,
        timeout=xroute.Timeout(connect=2, read=read, deadline=deadline),
        stream_idle_timeout=read,
        **kwargs,
    )
    try:
        with anyio.fail_after(WATCHDOG):
            outcome = await ask(client, model=model, stream=stream)
        assert busy_connections(client) == 0
        assert in_flight(client, "faulty", "good") == {"faulty": 0, "good": 0}
    finally:
        await close(client)
    assert outcome.elapsed < deadline + SLACK
    return outcome


@pytest.mark.parametrize(("fault", "stream", "chain"), _cases())
async def test_fault(
    kind: str, faults: FaultServer, fault: Fault, stream: bool, chain: bool
) -> None:
    faults.on("faulty", fault.behaviour)
    alone = fault.streamed if stream else fault.plain
    expect, served_by = in_chain(alone) if chain else (alone, "faulty")
    outcome = await _run_with(kind, faults.url, ["faulty", "good"] if chain else "faulty", stream)
    check(outcome, expect, served_by)
    if chain and served_by == "good":
        assert isinstance(alone, Fails)
        first = outcome.route.attempts[0]
        assert (first.model, first.outcome, first.error_type) == (
            "faulty",
            "error",
            alone.error.__name__,
        )
        assert [r.model for r in faults.received] == ["faulty", "good"]
    else:
        assert [r.model for r in faults.received] == ["faulty"]


# --------------------------------------------------------------------------- whole-host faults


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("chain", [False, True], ids=["alone", "chain"])
async def test_connection_refused(kind: str, stream: bool, chain: bool) -> None:
    # Refusal strikes before the model is known, so in a chain it strikes every model.
    with closed_port() as url:
        outcome = await _run_with(kind, url, ["faulty", "good"] if chain else "faulty", stream)
    if chain:
        assert type(outcome.error) is xroute.AllModelsFailedError
        attempts = outcome.error.attempts
        assert [(a.model, a.error_type) for a in attempts] == [
            ("faulty", "APIConnectionError"),
            ("good", "APIConnectionError"),
        ]
        assert isinstance(outcome.error.__cause__, xroute.APIConnectionError)
    else:
        assert type(outcome.error) is xroute.APIConnectionError
        assert "ConnectError" in str(outcome.error)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("status", [307, 308])
async def test_redirect_to_another_origin_drops_the_key(
    kind: str, faults: FaultServer, other_origin: FaultServer, stream: bool, status: int
) -> None:
    faults.on("faulty", fk.redirect_to(other_origin.origin, status))
    outcome = await _run_with(kind, faults.url, "faulty", stream)
    check(outcome, Ok(), "faulty")
    (first,) = faults.received
    (moved,) = other_origin.received
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert "authorization" not in moved.headers  # the other origin never sees the key
    assert moved.body == first.body  # 307/308 keep the method and the body


async def test_redirect_within_the_origin_keeps_the_key(kind: str, faults: FaultServer) -> None:
    faults.on("faulty", fk.redirect_to(faults.origin, prefix="/moved"))
    outcome = await _run_with(kind, faults.url, "faulty", False)
    check(outcome, Ok(), "faulty")
    assert [r.path for r in faults.received] == [
        "/v1/chat/completions",
        "/moved/v1/chat/completions",
    ]
    assert (
        faults.received[0].headers["authorization"] == faults.received[1].headers["authorization"]
    )


@pytest.mark.parametrize("chain", [False, True], ids=["alone", "chain"])
async def test_redirect_loop_is_a_typed_error(kind: str, faults: FaultServer, chain: bool) -> None:
    faults.on("faulty", fk.redirect_to(faults.origin))
    outcome = await _run_with(kind, faults.url, ["faulty", "good"] if chain else "faulty", False)
    if chain:
        check(outcome, Ok(), "good")
        assert outcome.route.attempts[0].error_type == "APIConnectionError"
    else:
        check(outcome, Fails(xroute.APIConnectionError, says="TooManyRedirects"), "faulty")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_deeply_nested_json_is_a_typed_error(
    kind: str, faults: FaultServer, stream: bool
) -> None:
    faults.on("faulty", fk.deeply_nested)
    outcome = await _run_with(kind, faults.url, "faulty", stream)
    assert isinstance(outcome.error, xroute.APIError)


# --------------------------------------------------------------------------- big bodies


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_a_big_answer(kind: str, faults: FaultServer, stream: bool) -> None:
    faults.on("faulty", fk.big_body)
    # A read timeout that allows for the server thread copying megabytes under coverage.
    outcome = await _run_with(kind, faults.url, "faulty", stream, read=10.0)
    assert outcome.error is None, repr(outcome.error)
    assert outcome.text is not None
    # A stream carries whole 256 KB pieces: up to one piece less than the plain answer.
    assert fk.BIG_BYTES - 256 * 1024 < len(outcome.text) <= fk.BIG_BYTES
    assert set(outcome.text) == {"y"}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_a_big_error_page(kind: str, faults: FaultServer, stream: bool) -> None:
    faults.on("faulty", fk.big_error)
    outcome = await _run_with(kind, faults.url, ["faulty", "good"], stream, read=10.0)
    check(outcome, Ok(), "good")
    first = outcome.route.attempts[0]
    assert (first.status_code, first.error_type) == (500, "InternalServerError")
    assert len(first.error_message or "") < 200  # the record stays one short line


# --------------------------------------------------------------------------- deadlines


async def test_deadline_bounds_a_trickled_answer(kind: str, faults: FaultServer) -> None:
    # Every byte comes well within the read timeout, so only the deadline can end the call.
    # The server takes about 1.4 s in all; the deadline is 0.3 s.
    faults.on("faulty", fk.trickle_forever)
    outcome = await _run_with(kind, faults.url, "faulty", False, read=5.0, deadline=0.3)
    assert isinstance(outcome.error, xroute.APITimeoutError), repr(outcome.error)
    assert outcome.elapsed < 0.3 + 0.9


@pytest.mark.parametrize("chain", [False, True], ids=["alone", "chain"])
async def test_deadline_bounds_a_stream_of_keep_alives(
    kind: str, faults: FaultServer, chain: bool
) -> None:
    faults.on("faulty", fk.trickle_forever)
    model = ["faulty", "good"] if chain else "faulty"
    outcome = await _run_with(kind, faults.url, model, True, read=5.0, deadline=0.4)
    # Alone: the stream's own deadline check; in a chain, no time is left for "good".
    assert isinstance(outcome.error, xroute.APITimeoutError), repr(outcome.error)
    assert outcome.phase == "create"
    assert outcome.elapsed < 0.4 + SLACK
    if not chain:
        assert type(outcome.error) is xroute.StreamTimeoutError
        assert outcome.error.code == "deadline_exceeded"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_deadline_caps_a_long_read_timeout(
    kind: str, faults: FaultServer, stream: bool
) -> None:
    faults.on("faulty", fk.headers_then_hang)
    outcome = await _run_with(kind, faults.url, "faulty", stream, read=30.0, deadline=0.4)
    assert isinstance(outcome.error, xroute.APITimeoutError), repr(outcome.error)
    assert outcome.elapsed < 0.4 + SLACK


@pytest.mark.parametrize("chain", [False, True], ids=["alone", "chain"])
async def test_first_token_timeout_on_keep_alives(
    kind: str, faults: FaultServer, chain: bool
) -> None:
    faults.on("faulty", fk.trickle_forever)
    model = ["faulty", "good"] if chain else "faulty"
    outcome = await _run_with(
        kind, faults.url, model, True, read=5.0, deadline=DEADLINE, first_token_timeout=0.3
    )
    if chain:
        check(outcome, Ok(), "good")
        assert outcome.route.attempts[0].error_type == "StreamTimeoutError"
    else:
        check(outcome, Fails(xroute.StreamTimeoutError, code="first_token_timeout", partial=""), "")
    assert outcome.elapsed < 0.3 + SLACK


@pytest.mark.parametrize(
    ("behaviour", "wait"), [(fk.rate_limit_ms, 0.03), (fk.rate_limit_seconds, 1.0)], ids=["ms", "s"]
)
async def test_retry_after_is_honoured(
    kind: str, faults: FaultServer, behaviour: Behaviour, wait: float
) -> None:
    faults.on("faulty", fk.once(behaviour))
    outcome = await _run_with(kind, faults.url, "faulty", False, max_retries=1)
    check(outcome, Ok(), "faulty")
    assert len(faults.received) == 2
    assert outcome.elapsed >= wait  # never earlier than the server asked
    assert outcome.elapsed < wait + SLACK


async def test_retry_after_past_the_deadline_fails_at_once(kind: str, faults: FaultServer) -> None:
    faults.on("faulty", fk.rate_limit_seconds)
    outcome = await _run_with(kind, faults.url, "faulty", False, max_retries=2, deadline=0.5)
    check(outcome, Fails(xroute.RateLimitError, status=429), "faulty")
    assert len(faults.received) == 1  # no sleep that would outlive the deadline
    assert outcome.elapsed < 1.0  # the 1 s the server asked for was not slept
