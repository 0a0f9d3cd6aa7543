"""Server-sent events: bytes in, events out, following the WHATWG event-stream rules.

https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

The decoder is fed network chunks as they arrive, so every rule must hold however the bytes
are split: a CR at the end of one chunk and an LF at the start of the next are one line end,
and a UTF-8 code point may straddle two chunks. The hot path is a stream of small
``data: {...}\\n\\n`` events, so the work is done per line with ``str`` methods written in C
(one decode per chunk, one ``split`` per chunk), never per byte in Python.

>>> decoder = SSEDecoder()
>>> decoder.feed(b'data: {"a": 1}\\n\\nda')
[ServerSentEvent(event='message', data='{"a": 1}', id=None, retry=None)]
>>> decoder.feed(b"ta: 2\\r\\n\\r\\n")
[ServerSentEvent(event='message', data='2', id=None, retry=None)]
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["RawEvent", "SSEDecoder", "ServerSentEvent"]

RawEvent: TypeAlias = "tuple[str, str, str | None, int | None]"
"""An event as ``(event, data, id, retry)``, the fields of `ServerSentEvent` in order."""

_BOM = codecs.BOM_UTF8
_decode_utf8 = codecs.utf_8_decode


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event.

    `event` is the type (``"message"`` unless an ``event:`` field said otherwise), `data` the
    ``data:`` lines joined with ``\\n``, `id` the last event id seen so far in the stream
    (ids persist across events, as the spec says; None until the first ``id:``), and `retry`
    the reconnection time in milliseconds given in this event's block, if any.
    """

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """An incremental event-stream decoder: `feed` each network chunk, `flush` at end of body.

    Malformed input never raises: bytes that are not UTF-8 become U+FFFD and lines that are not
    fields the spec knows are ignored. After `flush`, `pending` holds the event that the body
    cut off (the spec discards it; a caller may want to know it was there).
    """

    __slots__ = (
        "_bom_checked",
        "_data",
        "_event",
        "_id",
        "_pending",
        "_retry",
        "_skip_lf",
        "_tail",
        "_undecoded",
    )

    def __init__(self) -> None:
        self._bom_checked = False
        self._undecoded = b""  # the first bytes of a code point split across chunks
        self._tail: list[str] = []  # pieces of the line not yet ended (joined once it ends)
        self._skip_lf = False  # the last chunk ended in CR: an LF first in the next is its pair
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self._pending: ServerSentEvent | None = None

    @property
    def pending(self) -> ServerSentEvent | None:
        """After `flush`: the event the body ended in the middle of (not dispatched), or None."""
        return self._pending

    @property
    def truncated(self) -> bool:
        """After `flush`: True if the body ended inside an event (before its blank line)."""
        return self._pending is not None

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Decode one network chunk; return the events it completed (often none or one)."""
        return [ServerSentEvent(*fields) for fields in self.feed_raw(data)]

    def feed_raw(self, data: bytes) -> list[RawEvent]:
        """Like `feed`, with each event as a plain ``(event, data, id, retry)`` tuple.

        The allocation-light form for hot paths: building a frozen dataclass costs several
        times more than a tuple, which matters at thousands of events a second.
        """
        if self._undecoded or not self._bom_checked:
            text = self._decode_slowly(data)
        else:
            # The C codec straight (the stdlib incremental decoder wraps it in Python): with
            # final=False it leaves a code point cut at the end unconsumed, for the next chunk.
            text, used = _decode_utf8(data, "replace", False)
            if used != len(data):
                self._undecoded = data[used:]
        if not text:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if "\r" in text:
            # A trailing CR ends its line now (so the event is not held back), and the LF
            # that may follow in the next chunk is then dropped as the second half of a CRLF.
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            if text:
                self._tail.append(text)  # a long line across many chunks: join once, at its end
            return []
        if self._tail:
            self._tail.append(text)
            text = "".join(self._tail)
            self._tail.clear()
        lines = text.split("\n")
        last = lines.pop()
        if last:
            self._tail.append(last)
        return self._lines(lines)

    def flush(self) -> list[ServerSentEvent]:
        """End of body: settle the state and return the events still to dispatch.

        Under the spec that list is always empty: an event is dispatched only by its blank
        line, and every complete line was already handled by `feed`. What the body cut off is
        discarded and kept in `pending` for callers that want to report the truncation.
        """
        tail = "".join(self._tail)
        if self._undecoded:
            tail += _decode_utf8(self._undecoded, "replace", True)[0]
            self._undecoded = b""
        self._tail.clear()
        self._skip_lf = False
        if tail:
            self._field(tail)
        if self._data:
            self._pending = ServerSentEvent(
                self._event or "message", "\n".join(self._data), self._id, self._retry
            )
        self._data = []
        self._event = ""
        self._retry = None
        return []

    def _decode_slowly(self, data: bytes) -> str:
        data = self._undecoded + data
        if not self._bom_checked:
            if len(data) < len(_BOM) and _BOM.startswith(data):
                self._undecoded = data  # maybe a BOM cut short: wait for its last bytes
                return ""
            self._bom_checked = True
            if data.startswith(_BOM):
                data = data[len(_BOM) :]  # one BOM at the very start is stripped, no other
        text, used = _decode_utf8(data, "replace", False)
        self._undecoded = data[used:]
        return text

    def _lines(self, lines: list[str]) -> list[RawEvent]:
        events: list[RawEvent] = []
        data = self._data
        for line in lines:
            if not line:  # a blank line dispatches
                if data:
                    events.append(
                        (
                            self._event or "message",
                            data[0] if len(data) == 1 else "\n".join(data),
                            self._id,
                            self._retry,
                        )
                    )
                    data = self._data = []
                if self._event:
                    self._event = ""
                if self._retry is not None:
                    self._retry = None
            elif line[:6] == "data: ":  # the hot path: skip the general field parsing
                data.append(line[6:])
            else:
                self._field(line)
        return events

    def _field(self, line: str) -> None:
        if line[0] == ":":
            return  # a comment, e.g. ": keep-alive"
        name, _, value = line.partition(":")  # no colon: the whole line names an empty field
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:  # the spec ignores ids with NUL
                self._id = value
        # ASCII digits only: str.isdigit alone would accept "²" or Arabic-Indic digits.
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        # Any other field name (or a retry that is not a number) is ignored, as the spec says.
