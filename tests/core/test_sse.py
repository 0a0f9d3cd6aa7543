"""The SSE decoder against the WHATWG event-stream rules, however the bytes are split."""

from __future__ import annotations

import codecs
import dataclasses
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xroute._core.sse import ServerSentEvent, SSEDecoder


def decode(*pieces: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    return events + decoder.flush()


def datas(*pieces: bytes) -> list[str]:
    return [event.data for event in decode(*pieces)]


# --------------------------------------------------------------------------- fields


def test_a_data_event_is_dispatched_by_its_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a": 1}\n') == []
    assert decoder.feed(b"\n") == [ServerSentEvent("message", '{"a": 1}', None, None)]


def test_data_lines_are_joined_with_a_newline() -> None:
    assert datas(b"data: one\ndata: two\ndata:\ndata: three\n\n") == ["one\ntwo\n\nthree"]


def test_only_one_space_after_the_colon_is_removed() -> None:
    assert datas(b"data:x\n\ndata:  two spaces\n\ndata:\tx\n\n") == ["x", " two spaces", "\tx"]


def test_a_field_line_without_colon_is_that_field_with_an_empty_value() -> None:
    # "data" alone appends an empty line to the buffer: the event is dispatched with data "".
    assert decode(b"data\n\n") == [ServerSentEvent("message", "", None, None)]
    assert decode(b"event\ndata: x\n\n") == [ServerSentEvent("message", "x", None, None)]


def test_a_colon_inside_the_value_is_kept() -> None:
    assert datas(b'data: {"url": "http://x"}\n\n') == ['{"url": "http://x"}']


def test_event_type_applies_to_one_event_and_defaults_to_message() -> None:
    events = decode(b"event: error\ndata: a\n\ndata: b\n\nevent:\ndata: c\n\n")
    assert [(e.event, e.data) for e in events] == [
        ("error", "a"),
        ("message", "b"),
        ("message", "c"),
    ]


def test_an_event_without_data_is_not_dispatched_and_its_type_is_reset() -> None:
    events = decode(b"event: ping\n\ndata: x\n\n")
    assert [(e.event, e.data) for e in events] == [("message", "x")]


def test_comments_are_ignored() -> None:
    assert datas(b": keep-alive\n\n:\ndata: x\n: in between\ndata: y\n\n") == ["x\ny"]


def test_unknown_fields_are_ignored() -> None:
    assert datas(b"foo: bar\ndata: x\nDATA: y\n\n") == ["x"]


def test_ids_persist_across_events_and_ids_with_nul_are_ignored() -> None:
    events = decode(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\x00x\ndata: c\n\nid\ndata: d\n\n")
    assert [(e.data, e.id) for e in events] == [("a", "1"), ("b", "1"), ("c", "1"), ("d", "")]


def test_retry_takes_ascii_digits_only_and_belongs_to_its_event() -> None:
    events = decode(
        b"retry: 3000\ndata: a\n\ndata: b\n\nretry: 1.5\ndata: c\n\n"
        + "retry: ²\ndata: d\n\nretry:\ndata: e\n\nretry: 7\n\ndata: f\n\n".encode()
    )
    assert [(e.data, e.retry) for e in events] == [
        ("a", 3000),
        ("b", None),
        ("c", None),
        ("d", None),
        ("e", None),
        ("f", None),  # a retry in a block without data goes with that (undispatched) block
    ]


def test_blank_lines_in_a_row_dispatch_nothing_more() -> None:
    assert datas(b"\n\n\ndata: x\n\n\n\n") == ["x"]


def test_events_are_frozen_values() -> None:
    event = ServerSentEvent(data="x")
    assert (event.event, event.id, event.retry) == ("message", None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]


def test_feed_raw_gives_the_same_fields_as_tuples() -> None:
    body = b"id: 7\nevent: e\nretry: 5\ndata: a\ndata: b\n\n"
    assert SSEDecoder().feed_raw(body) == [("e", "a\nb", "7", 5)]
    assert SSEDecoder().feed(body) == [ServerSentEvent("e", "a\nb", "7", 5)]


# --------------------------------------------------------------------------- line ends


@pytest.mark.parametrize("end", [b"\n", b"\r", b"\r\n"], ids=["LF", "CR", "CRLF"])
def test_every_line_end_works(end: bytes) -> None:
    body = b"data: a" + end + b"data: b" + end + end + b": c" + end + b"data: d" + end + end
    assert datas(body) == ["a\nb", "d"]


def test_mixed_line_ends() -> None:
    assert datas(b"data: a\rdata: b\r\ndata: c\n\r\n") == ["a\nb\nc"]


def test_cr_at_the_end_of_a_chunk_and_lf_at_the_start_of_the_next_are_one_line_end() -> None:
    # Counted as two line ends, the LF would be a blank line dispatching "a" on its own.
    assert datas(b"data: a\r", b"\ndata: b\r\n\r\n") == ["a\nb"]


def test_a_cr_that_ends_a_chunk_ends_its_line_at_once() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\r") == [ServerSentEvent("message", "a", None, None)]
    assert decoder.feed(b"\ndata: b\n\n") == [ServerSentEvent("message", "b", None, None)]


def test_the_lf_after_a_split_crlf_is_dropped_even_after_an_empty_decode() -> None:
    # The chunk after the CR holds only half a code point: the LF pairing must wait for text.
    assert datas(b"data: a\r", b"", b"\ndata: \xc3", b"\xa9\r\n\r\n") == ["a\né"]


def test_a_long_line_across_many_chunks() -> None:
    payload = b"x" * 10_000
    pieces = [b"data: "] + [payload[i : i + 7] for i in range(0, len(payload), 7)] + [b"\n\n"]
    assert datas(*pieces) == ["x" * 10_000]


# --------------------------------------------------------------------------- encoding


def test_a_code_point_split_across_chunks() -> None:
    body = "data: héllo 😀\n\n".encode()
    for cut in range(len(body)):
        assert datas(body[:cut], body[cut:]) == ["héllo 😀"], cut


def test_one_leading_bom_is_stripped_even_when_split() -> None:
    assert datas(b"\xef\xbb\xbfdata: x\n\n") == ["x"]
    assert datas(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == ["x"]


def test_only_the_first_bom_is_stripped() -> None:
    # The second BOM becomes part of the field name "\ufeffdata", which is not a field.
    assert datas(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\ndata: y\n\n") == ["y"]
    assert datas(b"data: x\n\n\xef\xbb\xbfdata: y\n\n") == ["x"]
    assert datas(b"data: \xef\xbb\xbfz\n\n") == ["\ufeffz"]


def test_invalid_utf8_is_replaced_never_raised() -> None:
    assert datas(b"data: a\xffb\n\n", b"data: \xc3\n\n") == ["a\ufffdb", "\ufffd"]


# --------------------------------------------------------------------------- end of body


def test_flush_discards_a_cut_off_event_and_reports_it() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: whole\n\nevent: e\ndata: cut") == [
        ServerSentEvent("message", "whole", None, None)
    ]
    assert decoder.flush() == []
    assert decoder.truncated
    assert decoder.pending == ServerSentEvent("e", "cut", None, None)


def test_flush_after_a_complete_event_reports_nothing_pending() -> None:
    for tail in (b"", b": keep-alive", b": keep-alive\n", b"\n", b"event: x\n"):
        decoder = SSEDecoder()
        decoder.feed(b"data: x\n\n" + tail)
        assert decoder.flush() == []
        assert not decoder.truncated, tail
        assert decoder.pending is None


def test_flush_sees_a_final_line_without_line_end() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: [DONE]")
    decoder.flush()
    assert decoder.pending is not None
    assert decoder.pending.data == "[DONE]"


def test_flush_reports_a_cut_off_code_point_as_replaced() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: \xe2\x82")
    decoder.flush()
    assert decoder.pending is not None
    assert decoder.pending.data == "\ufffd"


# --------------------------------------------------------------------------- any split


_LINE_ENDS = re.compile(r"\r\n|\r|\n")


def reference(body: bytes) -> list[ServerSentEvent]:
    """The spec, written the obvious way over the whole body: the oracle."""
    text = codecs.decode(body, "utf-8-sig", errors="replace")
    lines = _LINE_ENDS.split(text)[:-1]  # the part after the last line end is cut off
    events: list[ServerSentEvent] = []
    data: list[str] = []
    kind = ""
    last_id: str | None = None
    retry: int | None = None
    for line in lines:
        if line == "":
            if data:
                events.append(ServerSentEvent(kind or "message", "\n".join(data), last_id, retry))
            data, kind, retry = [], "", None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            kind = value
        elif name == "id" and "\0" not in value:
            last_id = value
        elif name == "retry" and value and all("0" <= c <= "9" for c in value):
            retry = int(value)
    return events


_TEXT = st.lists(
    st.sampled_from([*'ab :{}"é€😀\x00\ufeff\r\n', "data", "event", "id", "retry"]), max_size=8
).map("".join)
_LINE = st.one_of(
    st.builds(lambda v: f"data: {v}", _TEXT),
    st.builds(lambda v: f"data:{v}", _TEXT),
    st.builds(lambda v: f"event: {v}", _TEXT),
    st.builds(lambda v: f"id: {v}", _TEXT),
    st.builds(lambda v: f"retry: {v}", st.sampled_from(["10", "1x", "", "²"])),
    st.builds(lambda v: f": {v}", _TEXT),
    st.just(""),
    _TEXT,
)
_BODY = st.builds(
    lambda bom, lines, junk: (
        (b"\xef\xbb\xbf" if bom else b"") + "".join(a + b for a, b in lines).encode() + junk
    ),
    st.booleans(),
    st.lists(st.tuples(_LINE, st.sampled_from(["\n", "\r", "\r\n", "\n\n", "\r\n\r\n"]))),
    st.sampled_from([b"", b"\xff", b"\xc3", b"\xf0\x9f\x98", b"\r", b"data: x"]),
)


@settings(max_examples=400, deadline=None)
@given(body=_BODY, data=st.data())
def test_any_split_yields_the_events_of_the_whole_body(body: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=12)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    whole = decode(body)
    assert decode(*pieces) == whole
    assert whole == reference(body)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200), data=st.data())
def test_arbitrary_bytes_never_raise_and_split_the_same(body: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=8)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    assert decode(*pieces) == decode(body) == reference(body)


def test_every_single_split_of_crlf_heavy_multibyte_body() -> None:
    body = "\ufeffdata: é\r\n\r\ndata: 😀\r\rid: €\r\ndata: x\r\n\r\n".encode()
    expected = reference(body)
    assert [e.data for e in expected] == ["é", "😀", "x"]
    for cut in range(len(body) + 1):
        assert decode(body[:cut], body[cut:]) == expected, cut
    assert decode(*[body[i : i + 1] for i in range(len(body))]) == expected
