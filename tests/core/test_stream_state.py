"""Chunk accumulation and the stream session: pure, with a fake clock and no event loop."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from xroute._core.stream_state import ChunkAccumulator, StreamSession, first_choice_text
from xroute._exceptions import (
    APITimeoutError,
    StreamErrorEvent,
    StreamInterruptedError,
    StreamTimeoutError,
)
from xroute.types.chat import ChatCompletionChunk


def chunk(*choices: dict[str, Any], **fields: Any) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate({"choices": list(choices), **fields})


def delta(index: int = 0, finish_reason: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"index": index, "delta": fields, "finish_reason": finish_reason}


def sse(payload: object) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def content(text: str, index: int = 0) -> bytes:
    return sse({"id": "c1", "model": "m", "choices": [delta(index, content=text)]})


ROLE = sse({"id": "c1", "model": "m", "choices": [delta(role="assistant", content="")]})
DONE = b"data: [DONE]\n\n"


def accumulate(*chunks: ChatCompletionChunk) -> ChunkAccumulator:
    acc = ChunkAccumulator()
    for item in chunks:
        acc.add(item)
    return acc


# --------------------------------------------------------------------------- accumulator


def test_text_role_and_metadata_add_up() -> None:
    acc = accumulate(
        chunk(delta(role="assistant", content=""), id="", model="", created=0),
        chunk(delta(content="Hel"), id="c1", model="m1", created=7, system_fingerprint="fp"),
        chunk(delta(content="lo"), id="c2", model="m2", created=8),
        chunk(delta(finish_reason="stop"), id="c1", service_tier="default"),
    )
    completion = acc.snapshot()
    assert (completion.id, completion.model, completion.created) == ("c1", "m1", 7)
    assert completion.object == "chat.completion"
    assert completion.system_fingerprint == "fp"
    assert completion.service_tier == "default"
    [choice] = completion.choices
    assert choice.message.role == "assistant"
    assert choice.message.content == "Hello"
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls is None
    assert choice.logprobs is None
    assert acc.chunk_count == 4


def test_no_content_delta_means_content_none_and_role_defaults_to_assistant() -> None:
    message = accumulate(chunk(delta(refusal="no"))).snapshot().choices[0].message
    assert message.content is None
    assert message.refusal == "no"
    assert message.role == "assistant"


def test_several_choices_by_index_in_any_order() -> None:
    completion = accumulate(
        chunk(delta(1, content="B"), delta(0, content="A")),
        chunk(delta(0, content="a")),
        chunk(delta(1, content="b", finish_reason="length")),
        chunk(delta(0, finish_reason="stop")),
    ).snapshot()
    assert [(c.index, c.message.content, c.finish_reason) for c in completion.choices] == [
        (0, "Aa", "stop"),
        (1, "Bb", "length"),
    ]


def test_two_interleaved_tool_calls() -> None:
    def call(index: int, **fields: Any) -> dict[str, Any]:
        return delta(tool_calls=[{"index": index, **fields}])

    acc = accumulate(
        chunk(delta(role="assistant", content=None)),
        chunk(call(0, id="call_a", type="function", function={"name": "weather", "arguments": ""})),
        chunk(call(0, function={"arguments": '{"city": '})),
        chunk(call(1, id="call_b", type="function", function={"name": "time", "arguments": "{"})),
        chunk(call(0, function={"arguments": '"Paris"}'})),
        chunk(call(1, function={"arguments": '"tz": "CET"}'})),
        chunk(delta(finish_reason="tool_calls")),
    )
    message = acc.snapshot().choices[0].message
    assert message.content is None
    assert message.tool_calls is not None
    assert [(t.id, t.type, t.function.name) for t in message.tool_calls] == [
        ("call_a", "function", "weather"),
        ("call_b", "function", "time"),
    ]
    assert [json.loads(t.function.arguments) for t in message.tool_calls] == [
        {"city": "Paris"},
        {"tz": "CET"},
    ]
    assert acc.snapshot().choices[0].finish_reason == "tool_calls"


def test_several_tool_calls_in_one_delta_and_repeated_ids_and_names() -> None:
    completion = accumulate(
        chunk(
            delta(
                tool_calls=[
                    {"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}},
                    {"index": 1, "id": "b", "function": {"name": "g", "arguments": "["}},
                ]
            )
        ),
        # Some servers repeat the id and name on every fragment: they are set once.
        chunk(
            delta(tool_calls=[{"index": 1, "id": "b", "function": {"name": "g", "arguments": "]"}}])
        ),
    ).snapshot()
    calls = completion.choices[0].message.tool_calls
    assert calls is not None
    assert [(t.id, t.function.name, t.function.arguments) for t in calls] == [
        ("a", "f", "{}"),
        ("b", "g", "[]"),
    ]
    assert calls[0].type == "function"  # the default when the server leaves it out


def test_a_new_id_at_a_taken_index_starts_a_new_tool_call() -> None:
    # Gemini-style servers number every call 0 and tell them apart by id only.
    completion = accumulate(
        chunk(
            delta(tool_calls=[{"index": 0, "id": "x", "function": {"name": "f", "arguments": "1"}}])
        ),
        chunk(
            delta(tool_calls=[{"index": 0, "id": "y", "function": {"name": "g", "arguments": "2"}}])
        ),
        chunk(delta(tool_calls=[{"index": 0, "function": {"arguments": "3"}}])),
    ).snapshot()
    calls = completion.choices[0].message.tool_calls
    assert calls is not None
    assert [(t.id, t.function.name, t.function.arguments) for t in calls] == [
        ("x", "f", "1"),
        ("y", "g", "23"),
    ]


def test_tool_call_extras_are_kept() -> None:
    completion = accumulate(
        chunk(
            delta(
                tool_calls=[
                    {
                        "index": 0,
                        "id": "a",
                        "function": {"name": "f", "arguments": "{}", "strict": True},
                        "extra_content": {"google": {"thought_signature": "sig"}},
                    }
                ]
            )
        )
    ).snapshot()
    calls = completion.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].model_extra == {"extra_content": {"google": {"thought_signature": "sig"}}}
    assert calls[0].function.model_extra == {"strict": True}


def test_legacy_function_call_deltas() -> None:
    acc = accumulate(
        chunk(delta(function_call={"name": "lookup", "arguments": ""})),
        chunk(delta(function_call={"arguments": '{"q":'})),
        chunk(delta(function_call={"arguments": ' "x"}'})),
    )
    call = acc.snapshot().choices[0].message.function_call
    assert call is not None
    assert (call.name, json.loads(call.arguments)) == ("lookup", {"q": "x"})
    assert acc.has_content


def test_refusal_fragments_add_up() -> None:
    acc = accumulate(chunk(delta(refusal="I can")), chunk(delta(refusal="not.")))
    assert acc.snapshot().choices[0].message.refusal == "I cannot."
    assert acc.has_content


def test_logprobs_lists_are_concatenated() -> None:
    def lp(token: str) -> dict[str, Any]:
        return {"token": token, "logprob": -0.5, "bytes": None, "top_logprobs": []}

    acc = accumulate(
        chunk({**delta(content="a"), "logprobs": {"content": [lp("a")], "refusal": None}}),
        chunk({**delta(content="b"), "logprobs": {"content": [lp("b"), lp("c")]}}),
        chunk({**delta(refusal="r"), "logprobs": {"content": None, "refusal": [lp("r")]}}),
    )
    logprobs = acc.snapshot().choices[0].logprobs
    assert logprobs is not None
    assert [t.token for t in logprobs.content or []] == ["a", "b", "c"]
    assert [t.token for t in logprobs.refusal or []] == ["r"]


def test_usage_from_a_final_chunk_with_no_choices() -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    acc = accumulate(
        chunk(delta(content="hi", finish_reason="stop")),
        chunk(usage=usage),
    )
    assert acc.usage is not None
    assert acc.usage.total_tokens == 5
    completion = acc.snapshot()
    assert completion.usage == acc.usage
    assert [(c.message.content, c.finish_reason) for c in completion.choices] == [("hi", "stop")]


def test_usage_from_a_final_chunk_with_a_stub_choice() -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "cost": 0.001}
    acc = accumulate(
        chunk(delta(content="hi", finish_reason="stop")),
        chunk({"index": 0, "delta": {}, "finish_reason": None}, usage=usage),
    )
    completion = acc.snapshot()
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 2
    assert completion.usage.model_extra == {"cost": 0.001}
    [choice] = completion.choices
    assert (choice.message.content, choice.finish_reason) == ("hi", "stop")


def test_unknown_fields_are_kept_delta_strings_concatenated_lists_appended() -> None:
    completion = accumulate(
        chunk(
            {**delta(reasoning="Let me ", annotations=[1]), "native_finish_reason": None},
            provider="A",
        ),
        chunk(
            {**delta(reasoning="think.", annotations=[2], audio={"id": "x"}), "native": 1},
            provider="B",
        ),
    ).snapshot()
    assert completion.model_extra == {"provider": "B"}
    [choice] = completion.choices
    assert choice.model_extra == {"native_finish_reason": None, "native": 1}
    assert choice.message.model_extra == {
        "reasoning": "Let me think.",
        "annotations": [1, 2],
        "audio": {"id": "x"},
    }


def test_has_content_ignores_role_only_and_usage_chunks_but_counts_reasoning() -> None:
    acc = accumulate(chunk(delta(role="assistant", content="")), chunk(usage={"total_tokens": 1}))
    assert not acc.has_content
    acc.add(chunk(delta(reasoning_content="")))
    assert not acc.has_content
    acc.add(chunk(delta(reasoning_content="hmm")))
    assert acc.has_content
    acc = accumulate(chunk(delta(tool_calls=[{"index": 0, "id": "a"}])))
    assert acc.has_content


def test_an_empty_stream_snapshots_to_no_choices() -> None:
    completion = ChunkAccumulator().snapshot()
    assert completion.choices == []
    assert completion.usage is None


def test_snapshot_is_cached_until_the_next_add_and_add_never_builds_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    builds = 0
    original = ChunkAccumulator._build

    def counting(self: ChunkAccumulator) -> Any:
        nonlocal builds
        builds += 1
        return original(self)

    monkeypatch.setattr(ChunkAccumulator, "_build", counting)
    acc = ChunkAccumulator()
    for _ in range(2000):
        acc.add(
            chunk(delta(content="x", tool_calls=[{"index": 0, "function": {"arguments": "y"}}]))
        )
    assert builds == 0  # add() only appends: linear in the number of chunks
    first = acc.snapshot()
    assert acc.snapshot() is first
    assert builds == 1
    message = first.choices[0].message
    assert message.content == "x" * 2000
    assert message.tool_calls is not None
    assert message.tool_calls[0].function.arguments == "y" * 2000
    acc.add(chunk(delta(content="z")))
    assert acc.snapshot() is not first
    assert acc.snapshot().choices[0].message.content == "x" * 2000 + "z"
    assert first.choices[0].message.content == "x" * 2000  # an old snapshot does not change
    assert builds == 2


def test_first_choice_text() -> None:
    assert first_choice_text(chunk(delta(1, content="b"), delta(0, content="a"))) == "a"
    assert first_choice_text(chunk(delta(1, content="b"))) == ""
    assert first_choice_text(chunk(delta(0, role="assistant"))) == ""


# --------------------------------------------------------------------------- session: data


def test_session_turns_bytes_into_accumulated_chunks_and_stops_at_done() -> None:
    session = StreamSession(started_at=0.0)
    body = ROLE + content("Hel") + content("lo") + DONE + b"data: not json\n\n"
    chunks = session.feed(body[:50], 1.0) + session.feed(body[50:], 2.0)
    assert [first_choice_text(c) for c in chunks] == ["", "Hel", "lo"]
    assert session.done
    assert session.feed(b"data: garbage after done\n\n", 3.0) == []
    session.finish()  # [DONE] was seen: no error
    assert session.snapshot().choices[0].message.content == "Hello"


def test_first_content_at_is_when_the_first_token_arrived() -> None:
    session = StreamSession(started_at=0.0)
    session.feed(b": keep-alive\n\n", 1.0)
    session.feed(ROLE, 2.0)
    assert session.first_content_at is None
    assert not session.has_content
    session.feed(content("a"), 3.0)
    session.feed(content("b"), 4.0)
    assert session.first_content_at == 3.0
    assert session.has_content


def test_usage_and_named_events_and_empty_data() -> None:
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    session = StreamSession()
    chunks = session.feed(
        content("a")
        + b"event: ping\ndata: {not a chunk}\n\n"
        + b"data:\n\n"
        + sse({"choices": [], "usage": usage})
        + DONE,
        0.0,
    )
    assert len(chunks) == 2
    assert session.usage is not None
    assert session.usage.total_tokens == 2


def test_an_error_event_raises_with_the_partial_text_and_the_servers_details() -> None:
    session = StreamSession(secret="sk-live-secret-123456")
    session.feed(ROLE + content("Hello, wor"), 1.0)
    error = {"error": {"message": "upstream overloaded (key sk-live-secret-123456)", "code": 529}}
    with pytest.raises(StreamErrorEvent) as caught:
        session.feed(b"event: error\n" + sse(error), 2.0)
    err = caught.value
    assert err.partial_text == "Hello, wor"
    assert (err.status_code, err.code) == (529, None)  # a numeric code is the upstream status
    assert "upstream overloaded" in str(err)
    assert "sk-live-secret-123456" not in str(err)
    assert ".partial" in str(err)


@pytest.mark.parametrize(
    ("payload", "message", "code", "status"),
    [
        ({"error": {"message": "boom", "code": 502}}, "boom", None, 502),
        (
            {"error": {"message": "slow down", "code": "rate_limit_exceeded"}},
            "slow down",
            "rate_limit_exceeded",
            None,
        ),
        (
            {"error": {"message": "bad", "type": "server_error", "status": 500}},
            "bad",
            "server_error",
            500,
        ),
        ({"error": "plain string"}, "plain string", None, None),
        ({"error": {"detail": "d", "code": 7}}, "d", "7", None),
    ],
)
def test_error_data_raises_stream_error_event(
    payload: dict[str, Any], message: str, code: str | None, status: int | None
) -> None:
    session = StreamSession(request=httpx.Request("POST", "http://x/v1/chat/completions"))
    session.feed(content("part"), 1.0)
    with pytest.raises(StreamErrorEvent) as caught:
        session.feed(sse({"choices": [], **payload}), 2.0)
    err = caught.value
    assert message in str(err)
    assert (err.code, err.status_code) == (code, status)
    assert err.partial_text == "part"
    assert err.request is session.request


def test_error_event_whose_data_is_the_error_object_itself() -> None:
    session = StreamSession()
    with pytest.raises(StreamErrorEvent) as caught:
        session.feed(b'event: error\ndata: {"message": "overloaded", "code": "busy"}\n\n', 0.0)
    assert "overloaded" in str(caught.value)
    assert caught.value.code == "busy"


def test_error_event_with_plain_text_data_and_a_bearer_token() -> None:
    session = StreamSession()
    with pytest.raises(StreamErrorEvent) as caught:
        session.feed(b"event: error\ndata: denied for Bearer abc.def-123\n\n", 0.0)
    assert "denied for Bearer [redacted]" in str(caught.value)
    assert "abc.def-123" not in str(caught.value)
    assert caught.value.partial_text == ""


def test_data_that_is_not_a_chunk_raises_interrupted_with_the_partial() -> None:
    for bad in (b"data: {oops\n\n", b'data: {"choices": "nope"}\n\n', b'data: "text"\n\n'):
        session = StreamSession()
        session.feed(content("so far"), 0.0)
        with pytest.raises(StreamInterruptedError) as caught:
            session.feed(bad, 1.0)
        assert caught.value.partial_text == "so far"
        # No chained ValidationError: its text quotes the data, which may echo the key.
        assert caught.value.__cause__ is None
        assert ".partial" in str(caught.value)


def test_the_partial_includes_chunks_of_the_same_piece_before_the_error() -> None:
    session = StreamSession()
    with pytest.raises(StreamErrorEvent) as caught:
        session.feed(content("a") + content("b") + sse({"error": "x"}) + content("c"), 0.0)
    assert caught.value.partial_text == "ab"


# --------------------------------------------------------------------------- session: end


def test_finish_without_done_raises_interrupted_with_the_partial() -> None:
    session = StreamSession()
    session.feed(ROLE + content("Hello"), 0.0)
    with pytest.raises(StreamInterruptedError) as caught:
        session.finish()
    err = caught.value
    assert err.partial_text == "Hello"
    assert "[DONE]" in str(err)
    assert ".partial" in str(err)
    assert "middle of an event" not in str(err)


def test_finish_in_the_middle_of_an_event_says_so() -> None:
    session = StreamSession()
    session.feed(content("Hello") + b'data: {"choices": [', 0.0)
    with pytest.raises(StreamInterruptedError, match="middle of an event") as caught:
        session.finish()
    assert caught.value.partial_text == "Hello"


def test_done_without_its_blank_line_still_counts_at_the_end_of_body() -> None:
    session = StreamSession()
    session.feed(content("Hi") + b"data: [DONE]\n", 0.0)
    assert not session.done  # the spec has not dispatched it yet
    session.finish()
    assert session.done


def test_an_empty_body_is_interrupted() -> None:
    with pytest.raises(StreamInterruptedError, match="0 chunk"):
        StreamSession().finish()


def test_closed_early_error() -> None:
    session = StreamSession()
    session.feed(content("x"), 0.0)
    err = session.closed_early()
    assert isinstance(err, StreamInterruptedError)
    assert err.partial_text == "x"


# --------------------------------------------------------------------------- timeouts


def test_read_timeout_is_the_tightest_limit() -> None:
    assert StreamSession(started_at=0.0).read_timeout(5.0) is None
    assert StreamSession(started_at=0.0, idle_timeout=2.0).read_timeout(5.0) == 2.0
    session = StreamSession(started_at=10.0, first_token_timeout=3.0, idle_timeout=2.0)
    assert session.read_timeout(10.0) == 2.0
    assert session.read_timeout(11.5) == pytest.approx(1.5)  # first-token limit at 13
    assert session.read_timeout(20.0) == 0.0  # never negative
    session = StreamSession(started_at=0.0, idle_timeout=5.0, deadline_at=4.0)
    assert session.read_timeout(1.0) == 3.0


def test_the_first_token_limit_stops_mattering_once_a_token_arrived() -> None:
    session = StreamSession(started_at=0.0, first_token_timeout=1.0, idle_timeout=10.0)
    session.feed(content("a"), 0.5)
    assert session.read_timeout(5.0) == 10.0
    session.check(5.0)  # no error: the first token came in time
    assert StreamSession(started_at=0.0, first_token_timeout=1.0).read_timeout(0.0) == 1.0


def test_started_at_defaults_to_the_first_time_the_session_hears_of() -> None:
    session = StreamSession(first_token_timeout=2.0)
    assert session.read_timeout(100.0) == 2.0
    assert session.started_at == 100.0
    session.check(101.9)
    with pytest.raises(StreamTimeoutError):
        session.check(102.0)


def test_check_raises_first_token_timeout_when_only_keepalives_came() -> None:
    session = StreamSession(started_at=0.0, first_token_timeout=2.0, idle_timeout=1.0)
    for now in (0.5, 1.0, 1.5):
        session.feed(b": keep-alive\n\n", now)
        session.check(now)
    session.feed(ROLE, 1.9)
    session.check(1.9)
    with pytest.raises(StreamTimeoutError) as caught:
        session.check(2.0)
    err = caught.value
    assert isinstance(err, APITimeoutError)
    assert err.code == "first_token_timeout"
    assert "first_token_timeout=2 s" in str(err)
    assert ".partial" in str(err)


def test_check_raises_at_the_deadline_and_names_the_earlier_limit() -> None:
    session = StreamSession(started_at=0.0, deadline_at=3.0)
    session.feed(content("a"), 1.0)
    session.check(2.9)
    with pytest.raises(StreamTimeoutError) as caught:
        session.check(3.0)
    assert caught.value.code == "deadline_exceeded"
    assert caught.value.partial_text == "a"
    both = StreamSession(started_at=0.0, first_token_timeout=5.0, deadline_at=3.0)
    with pytest.raises(StreamTimeoutError) as caught:
        both.check(6.0)
    assert caught.value.code == "deadline_exceeded"
    both = StreamSession(started_at=0.0, first_token_timeout=2.0, deadline_at=3.0)
    with pytest.raises(StreamTimeoutError) as caught:
        both.check(6.0)
    assert caught.value.code == "first_token_timeout"


def test_check_does_nothing_once_done() -> None:
    session = StreamSession(started_at=0.0, first_token_timeout=1.0, deadline_at=1.0)
    session.feed(DONE, 0.5)
    session.check(10.0)


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("timed out"), TimeoutError()])
def test_a_read_timeout_is_mapped_to_the_limit_that_was_waited_for(exc: Exception) -> None:
    session = StreamSession(started_at=0.0, first_token_timeout=5.0, idle_timeout=1.0)
    session.feed(content("Hi"), 0.5)
    assert session.read_timeout(0.5) == 1.0
    err = session.fail(exc, 1.5)
    assert isinstance(err, StreamTimeoutError)
    assert err.code == "stream_idle_timeout"
    assert "no data from the server for 1.00 s" in str(err)
    assert err.partial_text == "Hi"

    waiting = StreamSession(started_at=0.0, first_token_timeout=2.0, idle_timeout=10.0)
    assert waiting.read_timeout(0.0) == 2.0
    assert waiting.fail(exc, 2.0).code == "first_token_timeout"
    # A timeout of the HTTP client's own, with no limit of ours in play or before ours.
    assert StreamSession(started_at=0.0).fail(exc, 9.0).code == "read_timeout"
    shorter = StreamSession(started_at=0.0, idle_timeout=30.0)
    shorter.feed(content("a"), 1.0)
    assert shorter.read_timeout(1.0) == 30.0
    err = shorter.fail(exc, 11.0)
    assert err.code == "read_timeout"
    assert "after 10.00 s" in str(err)


def test_a_broken_connection_is_interrupted_with_the_partial() -> None:
    request = httpx.Request("POST", "http://x")
    session = StreamSession(request=request, secret="sk-abcdefghijklmnop")
    session.feed(content("Hel"), 0.0)
    err = session.fail(httpx.RemoteProtocolError("peer closed (sk-abcdefghijklmnop)"), 1.0)
    assert isinstance(err, StreamInterruptedError)
    assert not isinstance(err, StreamTimeoutError)
    assert err.partial_text == "Hel"
    assert err.request is request
    assert "RemoteProtocolError" in str(err)
    assert "sk-abcdefghijklmnop" not in str(err)
