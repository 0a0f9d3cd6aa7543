"""Fuzzing what reads server bytes: SSE decoding, the stream session and its accumulator,
response and error parsing, the model catalog.

Whatever a server sends, these either give a result or raise one of the typed errors the
SDK documents, never anything else; no example may take long (hypothesis `deadline`); and
memory grows linearly with the input, checked with tracemalloc on pathological inputs at
two sizes. The tests are pure (no sockets), so they run with the unit suite.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_kit import FULL, KEY, MSGS

import xroute
from xroute._core.errors import status_error, transport_error
from xroute._core.responses import parse_json, parse_model
from xroute._core.sse import SSEDecoder
from xroute._core.stream_state import StreamSession, first_choice_text
from xroute.catalog import CatalogWarning, ModelCatalog
from xroute.types.chat import ChatCompletion, ChatCompletionChunk
from xroute.types.embeddings import CreateEmbeddingResponse

# No example may hang: a generous per-example deadline for a busy 2-core machine.
FUZZ = settings(
    max_examples=1500 if FULL else 100,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(["", " ", "[DONE]", "null", "\u0000", "\ufeff", KEY])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the well-typed value, sometimes any JSON in its place."""
    return st.one_of(strategy, strategy, JSON)


_FUNCTION = st.fixed_dictionaries(
    {},
    optional={
        "name": _maybe(st.text(max_size=6) | st.none()),
        "arguments": _maybe(st.text(max_size=8) | st.none()),
        "x_extra": JSON,
    },
)
_TOOL_CALL = st.fixed_dictionaries(
    {},
    optional={
        "index": _maybe(st.integers(-2, 3)),
        "id": _maybe(st.sampled_from(["", "call_1", "call_2"]) | st.none()),
        "type": _maybe(st.sampled_from(["function", ""]) | st.none()),
        "function": _maybe(_FUNCTION | st.none()),
        "x_extra": JSON,
    },
)
_LOGPROB = st.fixed_dictionaries(
    {"token": st.text(max_size=3), "logprob": st.floats(-5, 0)},
    optional={"bytes": st.lists(st.integers(0, 255), max_size=3), "top_logprobs": st.just([])},
)
_DELTA = st.fixed_dictionaries(
    {},
    optional={
        "role": _maybe(st.sampled_from(["assistant", "tool"]) | st.none()),
        "content": _maybe(st.text(max_size=8) | st.none()),
        "refusal": _maybe(st.text(max_size=5) | st.none()),
        "tool_calls": _maybe(st.lists(_TOOL_CALL, max_size=3) | st.none()),
        "function_call": _maybe(_FUNCTION | st.none()),
        "reasoning": _maybe(st.text(max_size=5)),
        "reasoning_details": _maybe(st.lists(JSON, max_size=2)),
        "annotations": JSON,
        "audio": JSON,
    },
)
_CHOICE = st.fixed_dictionaries(
    {},
    optional={
        "index": _maybe(st.integers(0, 2)),
        "delta": _maybe(_DELTA | st.none()),
        "finish_reason": _maybe(st.sampled_from(["stop", "length", "tool_calls"]) | st.none()),
        "logprobs": _maybe(
            st.fixed_dictionaries({}, optional={"content": st.lists(_LOGPROB, max_size=2)})
            | st.none()
        ),
        "message": JSON,
        "native_finish_reason": JSON,
    },
)
_USAGE = st.fixed_dictionaries(
    {},
    optional={
        "prompt_tokens": _maybe(st.integers(0, 10**6)),
        "completion_tokens": _maybe(st.integers(0, 10**6)),
        "total_tokens": _maybe(st.integers(0, 10**6)),
        "cost": JSON,
        "prompt_tokens_details": JSON,
    },
)
CHUNK = st.fixed_dictionaries(
    {},
    optional={
        "id": _maybe(st.text(max_size=5)),
        "object": _maybe(st.just("chat.completion.chunk")),
        "created": _maybe(st.integers(0, 2**40)),
        "model": _maybe(st.text(max_size=5)),
        "choices": _maybe(st.lists(_CHOICE, max_size=3)),
        "usage": _maybe(_USAGE | st.none()),
        "system_fingerprint": JSON,
        "service_tier": JSON,
        "provider": JSON,
        "error": JSON,
    },
)


def _data_lines(text: str) -> str:
    return "".join(f"data: {line}\n" for line in text.split("\n"))


EVENTS = st.one_of(
    CHUNK.map(lambda c: _data_lines(json.dumps(c)) + "\n"),
    CHUNK.map(lambda c: _data_lines(json.dumps(c)) + "\n"),
    st.just("data: [DONE]\n\n"),
    st.just(": keep-alive\n\n"),
    st.just("data:\n\n"),
    JSON.map(lambda v: f"event: error\n{_data_lines(json.dumps(v))}\n"),
    JSON.map(lambda v: "event: ping\n" + _data_lines(json.dumps(v)) + "\n"),
    JSON.map(lambda v: _data_lines(json.dumps({"error": v})) + "\n"),
    st.text(max_size=20).map(lambda t: f"data: {t}\n\n"),
    st.text(max_size=20),
)
NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    """A stream body (SSE events, one line-end style, maybe some raw bytes) and cut points."""
    newline = draw(NEWLINES)
    text = "".join(draw(st.lists(EVENTS, max_size=8))).replace("\n", newline)
    body = text.encode("utf-8", "surrogatepass") + draw(st.binary(max_size=8))
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=6)))
    return body, cuts


def _pieces(body: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *cuts, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges) if b > a]


# --------------------------------------------------------------------------- SSE decoder


@FUZZ
@given(bodies())
def test_sse_decoder_takes_any_bytes_split_anywhere(case: tuple[bytes, list[int]]) -> None:
    body, cuts = case
    whole = SSEDecoder()
    expected = whole.feed(body) + whole.flush()
    split = SSEDecoder()
    got = [event for piece in _pieces(body, cuts) for event in split.feed(piece)] + split.flush()
    assert got == expected
    assert split.pending == whole.pending


# --------------------------------------------------------------------------- stream session


def _session() -> StreamSession:
    request = httpx.Request("POST", "https://gw.test/v1/chat/completions")
    return StreamSession(
        request=request, started_at=0.0, first_token_timeout=5.0, idle_timeout=2.0, secret=KEY
    )


def _unique_indices(chunk: ChatCompletionChunk) -> bool:
    indices = [c.index for c in chunk.choices]
    return len(indices) == len(set(indices))


@FUZZ
@given(bodies())
def test_stream_session_ends_in_chunks_or_typed_stream_errors(
    case: tuple[bytes, list[int]],
) -> None:
    body, cuts = case
    session = _session()
    chunks: list[ChatCompletionChunk] = []
    now = 0.0
    failure: xroute.StreamError | None = None
    try:
        for piece in _pieces(body, cuts):
            now += 0.01
            session.check(now)
            wait = session.read_timeout(now)
            assert wait is None or wait >= 0
            chunks += session.feed(piece, now)
        session.finish()
    except (xroute.StreamErrorEvent, xroute.StreamInterruptedError) as err:
        failure = err
    snapshot = session.snapshot()  # never raises, whatever came before
    assert isinstance(snapshot, ChatCompletion)
    if failure is not None:
        assert failure.partial is not None
        assert KEY not in str(failure)
    else:
        assert session.done
    if all(_unique_indices(c) for c in chunks):
        # The text a caller saw streaming by is the text of the final completion.
        text = "".join(first_choice_text(c) for c in chunks)
        first = next((c for c in snapshot.choices if c.index == 0), None)
        assert text == ((first.message.content or "") if first else "")
    # Telling the shell's observer how it ended never raises either.
    session.close(now + 1, failure)


@FUZZ
@given(
    error=st.sampled_from(
        [
            httpx.ReadError("reset"),
            httpx.RemoteProtocolError("peer closed connection"),
            httpx.ReadTimeout("timed out"),
            httpx.DecodingError("bad gzip"),
            httpx.StreamClosed(),
            TimeoutError(),
        ]
    ),
    now=st.floats(0, 100),
    idle=st.none() | st.floats(0.001, 10),
    first_token=st.none() | st.floats(0.001, 10),
    deadline=st.none() | st.floats(0.001, 10),
)
def test_stream_session_maps_every_read_failure(
    error: BaseException,
    now: float,
    idle: float | None,
    first_token: float | None,
    deadline: float | None,
) -> None:
    session = StreamSession(
        started_at=0.0, idle_timeout=idle, first_token_timeout=first_token, deadline_at=deadline
    )
    wait = session.read_timeout(now)
    assert wait is None or wait >= 0
    expired: xroute.StreamTimeoutError | None = None
    try:
        session.check(now)
    except xroute.StreamTimeoutError as err:
        expired = err
    assert expired is None or expired.code in ("first_token_timeout", "deadline_exceeded")
    mapped = session.fail(error, now)
    timeout = isinstance(error, (httpx.TimeoutException, TimeoutError))
    assert isinstance(
        mapped, xroute.StreamTimeoutError if timeout else xroute.StreamInterruptedError
    )


# --------------------------------------------------------------------------- response parsing


def _response(status: int, content_type: str = "application/json") -> httpx.Response:
    request = httpx.Request("POST", "https://gw.test/v1/chat/completions")
    return httpx.Response(status, headers={"content-type": content_type}, request=request)


RAW = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda v: json.dumps(v).encode()),
    CHUNK.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"choices": st.lists(JSON, max_size=2)}, optional={"usage": JSON}).map(
        lambda v: json.dumps(v).encode()
    ),
    st.sampled_from([b"", b"<html><title>x</title></html>", b"\xef\xbb\xbf{}", b"[DONE]"]),
)


@FUZZ
@given(RAW, st.sampled_from([ChatCompletion, CreateEmbeddingResponse]))
def test_parse_model_gives_the_model_or_a_validation_error(content: bytes, cls: type[Any]) -> None:
    try:
        result = parse_model(cls, _response(200), content)
    except xroute.APIResponseValidationError as err:
        result = err
    if isinstance(result, xroute.APIResponseValidationError):
        assert result.request is not None
        assert KEY not in str(result)
    else:
        assert isinstance(result, cls)


@FUZZ
@given(RAW)
def test_parse_json_gives_a_value_or_a_validation_error(content: bytes) -> None:
    error: Exception | None = None
    try:
        parse_json(_response(200), content)
    except xroute.APIResponseValidationError as err:
        error = err
    assert error is None or KEY not in str(error)


STATUS_CLASSES = {
    400: xroute.BadRequestError,
    401: xroute.AuthenticationError,
    403: xroute.PermissionDeniedError,
    404: xroute.NotFoundError,
    409: xroute.ConflictError,
    422: xroute.UnprocessableEntityError,
    429: xroute.RateLimitError,
}


@FUZZ
@given(
    status=st.sampled_from(
        [400, 401, 402, 403, 404, 408, 409, 413, 422, 429, 451, 500, 502, 503, 599]
    ),
    content=RAW | JSON.map(lambda v: json.dumps({"error": v}).encode()),
    content_type=st.sampled_from(["application/json", "text/html", "text/plain", ""]),
)
def test_status_error_is_always_the_typed_error(
    status: int, content: bytes, content_type: str
) -> None:
    error = status_error(_response(status, content_type), content, secret=KEY)
    expected = STATUS_CLASSES.get(status) or (
        xroute.InternalServerError if status >= 500 else xroute.APIStatusError
    )
    assert isinstance(error, expected)
    assert error.status_code == status
    assert KEY not in str(error)
    assert str(error).startswith(str(status))


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("slow"),
        httpx.ReadTimeout(""),
        httpx.ReadError(""),
        httpx.RemoteProtocolError(f"Bearer {KEY}"),
        httpx.TooManyRedirects("loop"),
        httpx.DecodingError("gzip"),
        httpx.UnsupportedProtocol("ftp"),
        httpx.LocalProtocolError("bad header"),
    ],
)
def test_transport_errors_are_typed_and_redacted(error: Exception) -> None:
    request = httpx.Request("POST", "https://gw.test/v1/chat/completions")
    mapped = transport_error(error, request)
    kind = (
        xroute.APITimeoutError
        if isinstance(error, httpx.TimeoutException)
        else xroute.APIConnectionError
    )
    assert type(mapped) is kind
    assert KEY not in str(mapped)


# A few hundred levels of nesting is a 1 KB body; json.loads raises RecursionError on it.
DEEP = b"[" * 50_000 + b"]" * 50_000
DEEP_OBJECT = b'{"error": ' * 50_000 + b"1" + b"}" * 50_000


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
def test_deeply_nested_error_body_is_still_a_status_error(body: bytes) -> None:
    error = status_error(_response(500), body, secret=KEY)
    assert isinstance(error, xroute.InternalServerError)


def test_deeply_nested_models_payload_is_a_validation_error() -> None:
    with pytest.raises(xroute.APIResponseValidationError):
        parse_json(_response(200), DEEP)


def test_deeply_nested_completion_is_a_validation_error() -> None:
    with pytest.raises(xroute.APIResponseValidationError):
        parse_model(ChatCompletion, _response(200), DEEP)


def test_deeply_nested_error_event_is_a_stream_error() -> None:
    session = _session()
    with pytest.raises(xroute.StreamErrorEvent):
        session.feed(b"event: error\ndata: " + DEEP + b"\n\n", 0.1)


def test_deeply_nested_chunk_is_a_stream_error() -> None:
    session = _session()
    with pytest.raises(xroute.StreamInterruptedError):
        session.feed(b"data: " + DEEP_OBJECT + b"\n\n", 0.1)


# --------------------------------------------------------------------------- whole client


@st.composite
def answers(draw: st.DrawFn) -> httpx.Response:
    """Any answer a server might give: status, headers and a body of any kind."""
    status = draw(st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 404, 429, 500, 503]))
    headers = draw(
        st.dictionaries(
            st.sampled_from(["content-type", "retry-after", "retry-after-ms", "x-should-retry"]),
            st.sampled_from(["text/event-stream", "application/json", "text/html", "0", "-1",
                             "1e9", "nan", "true", "false", "Wed, 21 Oct 2015 07:28:00 GMT"]),
        )
    )  # fmt: skip
    body = draw(bodies().map(lambda case: case[0]) | RAW)
    return httpx.Response(status, headers=headers, content=body)


@FUZZ
@given(answers(), st.booleans(), st.booleans())
def test_the_client_turns_any_answer_into_a_result_or_a_typed_error(
    answer: httpx.Response, stream: bool, chain: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            answer.status_code, headers=answer.headers, content=answer.content, request=request
        )

    client = xroute.XRoute(
        api_key=KEY,
        base_url="https://gw.test/v1",
        max_retries=0,  # no backoff sleeps; Retry-After is still read for the route state
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    error: xroute.XRouteError | None = None
    try:
        result = client.chat.completions.create(
            model=["a", "b"] if chain else "a", messages=MSGS, stream=stream
        )
        if stream:
            with result:
                "".join(result.text_stream)
                result.get_final_completion()
    except xroute.XRouteError as err:  # anything else fails the test
        error = err
    finally:
        client.close()
    assert error is None or KEY not in str(error)


# --------------------------------------------------------------------------- model catalog


ENTRY = st.fixed_dictionaries(
    {"id": _maybe(st.sampled_from(["a/x", "a/y", "b/z", "plain"]))},
    optional={
        "name": JSON,
        "context_length": _maybe(st.integers(-1, 10**7)),
        "pricing": _maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "prompt": _maybe(st.sampled_from(["0.000001", "0", "-1", "1e999", "x"])),
                    "completion": _maybe(st.sampled_from(["0.000002", "nan", ""])),
                },
            )
        ),
        "architecture": JSON,
        "supported_parameters": _maybe(st.lists(st.text(max_size=6), max_size=3)),
        "top_provider": JSON,
    },
)
CATALOG_BYTES = st.one_of(
    st.binary(max_size=200),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.lists(ENTRY, max_size=5).map(lambda v: json.dumps({"data": v}).encode()),
    st.lists(ENTRY, max_size=5).map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.text(max_size=5), ENTRY, max_size=3).map(lambda v: json.dumps(v).encode()),
)


@FUZZ
@given(CATALOG_BYTES)
def test_models_bytes_make_a_catalog_or_a_typed_error(content: bytes) -> None:
    # The client's own path: the body of GET /models, parsed, then normalised and queried.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CatalogWarning)  # skipped entries are reported so
        try:
            payload = parse_json(_response(200), content)
            catalog = ModelCatalog.from_response(payload)
        except (xroute.APIResponseValidationError, xroute.CatalogError):
            return
        models = list(catalog)
        assert len(models) == len(catalog.ids)
        catalog.to_json()
        catalog.as_rows()
        for key in ("price", "context", "id", "provider"):
            assert len(catalog.sort_by(key)) == len(catalog)  # type: ignore[arg-type]
        if models:
            assert catalog.get(models[0].id) is models[0]
            with contextlib.suppress(xroute.CatalogError):  # e.g. no model has a price
                catalog.cheapest()


# --------------------------------------------------------------------------- memory is linear


def _peak(make: Callable[[int], object], size: int) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        make(size)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _linear(make: Callable[[int], object], size: int) -> None:
    """Peak memory at 4x the input is at most ~4x (plus slack), never ~16x."""
    make(size // 10)  # warm caches and lazy imports
    small, large = _peak(make, size), _peak(make, 4 * size)
    assert large < 6 * small + 64 * 1024, (small, large)


def _feed_bytewise(body: bytes) -> Callable[[int], object]:
    def run(size: int) -> object:
        decoder = SSEDecoder()
        data = body * size
        events = []
        for index in range(len(data)):
            events += decoder.feed(data[index : index + 1])
        return events + decoder.flush()

    return run


@pytest.mark.parametrize(
    "unit",
    [
        b"x",  # one endless line, a byte at a time
        b"\r",  # nothing but line ends
        b"data: ab\n",  # one event of ever more data lines
        b"data: {}\n\n",  # many small events
        b"\xe2\x82",  # code points cut short, over and over
        b": keep-alive\r\n\r\n",
    ],
    ids=["long-line", "carriage-returns", "many-data-lines", "many-events", "bad-utf8", "comments"],
)
def test_sse_decoder_memory_is_linear(unit: bytes) -> None:
    _linear(_feed_bytewise(unit), 2000 // len(unit) + 100)


def test_stream_session_memory_is_linear() -> None:
    delta = {"content": "ab", "tool_calls": [{"function": {"arguments": "{}"}}], "reasoning": "r"}
    event = f"data: {json.dumps({'choices': [{'delta': delta}]})}\n\n".encode()

    def run(size: int) -> object:
        session = _session()
        for _ in range(size):
            session.feed(event, 0.1)
        return session.snapshot()

    _linear(run, 300)


def test_catalog_memory_is_linear() -> None:
    def run(size: int) -> object:
        entries = [
            {"id": f"p{i % 7}/m{i}", "context_length": 1000 + i, "pricing": {"prompt": "0.000001"}}
            for i in range(size)
        ]
        catalog = ModelCatalog.from_response({"data": entries})
        return [m.pricing for m in catalog], catalog.sort_by("price"), catalog.to_json()

    _linear(run, 300)


def test_a_long_stream_costs_linear_memory() -> None:
    # Thousands of chunks in one stream: the accumulator keeps fragments, joins once.
    def run(size: int) -> object:
        session = _session()
        for index in range(size):
            session.feed(
                f'data: {{"choices": [{{"delta": {{"content": "{index}"}}}}]}}\n\n'.encode(), 0.1
            )
        session.feed(b"data: [DONE]\n\n", 0.2)
        return session.snapshot().choices[0].message.content

    _linear(run, 1000)
