"""A canned OpenAI-compatible server for the overhead figures: pre-rendered bytes, no logic.

Why not the project's ``MockGateway``: its engine decides every answer (auth, tokenising,
composing, JSON rendering, request log, per-model locks) and manages about 3,700 requests/s.
Raw httpx on the async figure asks for a large share of that, so the server would shape
the result. This server answers from bytes rendered once per shape, on one asyncio loop, with
a hand-rolled HTTP/1.1 parser, which puts its ceiling far above any client measured here (the
run measures and prints it first). The routing-outcome scenarios, which need scripted
prices, latencies and outages, use ``MockGateway`` instead.

Endpoints (under ``/v1``):

- ``GET /models[?n=N]``: an OpenRouter-shaped list of N models (default 200).
- ``POST /chat/completions``: a fixed completion; with ``"stream": true``, an SSE stream of
  ``max_tokens`` content chunks (default 16; each SSE event in its own HTTP chunk, as a server
  that flushes per token sends them), then a finish chunk, a usage chunk if
  ``stream_options.include_usage`` is set, and ``data: [DONE]``.  A ``model`` ending in
  ``-hold`` gets the role chunk and one content chunk, then nothing until the client hangs up
  (the open-streams memory figure).

Run: ``python benchmarks/canned_server.py [--port 0] [--cpu N]``; it prints
``READY http://127.0.0.1:PORT/v1`` and serves until its stdin closes.  ``--probe URL`` instead
measures a running server's capacity with a raw keep-alive client and prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import socket
import sys
import time
from functools import cache
from urllib.parse import parse_qs, urlsplit

_MAX_HEAD = 64 * 1024
_DEFAULT_CHUNKS = 16
_DEFAULT_MODELS = 200
_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
_USAGE_RE = re.compile(rb'"include_usage"\s*:\s*true')
_MAX_TOKENS_RE = re.compile(rb'"max(?:_completion)?_tokens"\s*:\s*(\d+)')
_MODEL_RE = re.compile(rb'"model"\s*:\s*"([^"]*)"')
_CREATED = 1_767_225_600
_WORDS = ("The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".")


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _head(status: str, content_type: str, length: int | None) -> bytes:
    framing = f"content-length: {length}" if length is not None else "transfer-encoding: chunked"
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n{framing}\r\n"
        "x-request-id: req_canned\r\n\r\n"
    ).encode()


@cache
def completion_response() -> bytes:
    """The whole HTTP response to a plain chat completion (a typical small answer)."""
    body = _json(
        {
            "id": "chatcmpl-canned",
            "object": "chat.completion",
            "created": _CREATED,
            "model": "gpt-4o-mini",
            "system_fingerprint": "fp_canned",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "Hello! This is a canned answer from the benchmark server, "
                        "about as long as a short real reply.",
                        "refusal": None,
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 14, "completion_tokens": 22, "total_tokens": 36},
        }
    )
    return _head("200 OK", "application/json", len(body)) + body


def _event(payload: bytes) -> bytes:
    data = b"data: " + payload + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


def _chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    return _json(
        {
            "id": "chatcmpl-canned",
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": "gpt-4o-mini",
            "system_fingerprint": "fp_canned",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
    )


@cache
def stream_opening() -> bytes:
    """Head, role chunk and one content chunk: what a held stream sends before it waits."""
    return (
        _head("200 OK", "text/event-stream", None)
        + _event(_chunk({"role": "assistant", "content": ""}))
        + _event(_chunk({"content": _WORDS[0]}))
    )


@cache
def stream_response(chunks: int, usage: bool) -> bytes:
    """A whole streamed answer of ``chunks`` content chunks, rendered once per shape."""
    parts = [
        _head("200 OK", "text/event-stream", None),
        _event(_chunk({"role": "assistant", "content": ""})),
    ]
    parts.extend(_event(_chunk({"content": _WORDS[i % len(_WORDS)]})) for i in range(chunks))
    parts.append(_event(_chunk({}, finish="stop")))
    if usage:
        usage_chunk = {
            "id": "chatcmpl-canned",
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": "gpt-4o-mini",
            "choices": [],
            "usage": {
                "prompt_tokens": 14,
                "completion_tokens": chunks,
                "total_tokens": 14 + chunks,
            },
        }
        parts.append(_event(_json(usage_chunk)))
    parts.append(_event(b"[DONE]"))
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


def model_entry(i: int) -> dict[str, object]:
    """One OpenRouter-shaped /models entry; prices and windows vary with ``i``."""
    provider = ("openai", "anthropic", "google", "meta-llama", "mistralai", "qwen")[i % 6]
    prompt = 0.05e-6 * (1 + (i * 37) % 300)
    context = (8192, 32768, 128000, 200000, 1000000)[i % 5]
    params = ["max_tokens", "temperature", "top_p", "stop"]
    if i % 3:
        params += ["tools", "tool_choice"]
    if i % 4 == 0:
        params += ["response_format", "structured_outputs"]
    modalities = ["text", "image"] if i % 2 else ["text"]
    return {
        "id": f"{provider}/bench-model-{i}",
        "object": "model",
        "created": _CREATED - i,
        "owned_by": provider,
        "name": f"Bench Model {i}",
        "description": f"Synthetic model {i} of the benchmark catalog.",
        "context_length": context,
        "pricing": {
            "prompt": f"{prompt:.10f}".rstrip("0"),
            "completion": f"{prompt * 4:.10f}".rstrip("0"),
            "request": "0",
            "image": "0",
        },
        "architecture": {
            "modality": "+".join(modalities) + "->text",
            "input_modalities": modalities,
            "output_modalities": ["text"],
            "tokenizer": "Other",
        },
        "top_provider": {
            "context_length": context,
            "max_completion_tokens": 16384,
            "is_moderated": False,
        },
        "supported_parameters": params,
    }


@cache
def models_response(n: int) -> bytes:
    """The whole HTTP response to ``GET /models`` with ``n`` entries."""
    body = _json({"object": "list", "data": [model_entry(i) for i in range(n)]})
    return _head("200 OK", "application/json", len(body)) + body


_NOT_FOUND = _head("404 Not Found", "application/json", 27) + b'{"error":{"message":"nf"}}\n'


def answer(method: bytes, target: bytes, body: bytes) -> tuple[bytes, bool]:
    """The response bytes for one request, and whether the stream is to be held open."""
    path, _, query = target.partition(b"?")
    if path.endswith(b"/chat/completions") and method == b"POST":
        if not _STREAM_RE.search(body):
            return completion_response(), False
        model = _MODEL_RE.search(body)
        if model is not None and model.group(1).endswith(b"-hold"):
            return stream_opening(), True
        found = _MAX_TOKENS_RE.search(body)
        chunks = int(found.group(1)) if found else _DEFAULT_CHUNKS
        return stream_response(chunks, bool(_USAGE_RE.search(body))), False
    if path.endswith(b"/models") and method == b"GET":
        n = parse_qs(query.decode()).get("n", [str(_DEFAULT_MODELS)])[0]
        return models_response(int(n)), False
    return _NOT_FOUND, False


class _Connection(asyncio.Protocol):
    """HTTP/1.1 keep-alive with Content-Length bodies: all the clients measured here send."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._held = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while not self._held:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD:
                    self._close()
                return
            lines = bytes(buffer[:end]).split(b"\r\n")
            method, target, _ = lines[0].split(b" ", 2)
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            total = end + 4 + length
            if len(buffer) < total:
                return
            body = bytes(buffer[end + 4 : total])
            del buffer[:total]
            response, self._held = answer(method, target, body)
            assert self._transport is not None
            self._transport.write(response)
            if close:
                self._close()
                return

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


def raise_fd_limit() -> None:
    """As many open files as allowed: a thousand held streams need a socket each."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


async def _serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Connection, "127.0.0.1", port, backlog=4096)
    # Render the large shapes now, not inside the first measurement.
    completion_response()
    models_response(_DEFAULT_MODELS)
    stream_response(20_000, False)
    bound = server.sockets[0].getsockname()[1]
    print(f"READY http://127.0.0.1:{bound}/v1", flush=True)
    stdin_closed = asyncio.Event()

    def on_stdin() -> None:
        if not os.read(sys.stdin.fileno(), 4096):
            stdin_closed.set()

    # The parent holds our stdin: when it exits, for whatever reason, so do we.
    loop.add_reader(sys.stdin.fileno(), on_stdin)
    async with server:
        await stdin_closed.wait()


# --- capacity probe ---------------------------------------------------------------------------


async def _probe(url: str, seconds: float, connections: int, chunks: int) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    def request(body: dict[str, object]) -> bytes:
        payload = _json(body)
        return (
            f"POST {parts.path}/chat/completions HTTP/1.1\r\nhost: {host}:{port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
        ).encode() + payload

    plain = request({"model": "m", "messages": []})
    streamed = request({"model": "m", "messages": [], "stream": True, "max_tokens": chunks})
    plain_length = len(completion_response())

    async def run(wire: bytes, stream: bool) -> float:
        done = 0
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            reader, writer = await asyncio.open_connection(host, port, limit=2**24)
            try:
                while time.perf_counter() < stop_at:
                    writer.write(wire)
                    if stream:
                        await reader.readuntil(b"\r\n0\r\n\r\n")
                    else:
                        await reader.readexactly(plain_length)
                    done += 1
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return done / (time.perf_counter() - start)

    plain_rate = await run(plain, stream=False)
    stream_rate = await run(streamed, stream=True)
    return {
        "plain_requests_per_s": plain_rate,
        "stream_chunks_per_s": stream_rate * chunks,
        "connections": connections,
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> None:
    """Serve (default) or probe a running server (``--probe URL``)."""
    parser = argparse.ArgumentParser(prog="canned_server.py")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    parser.add_argument("--probe", metavar="URL", default=None)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--chunks", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {args.cpu})
    raise_fd_limit()
    if args.probe:
        result = asyncio.run(_probe(args.probe, args.seconds, args.connections, args.chunks))
        print(json.dumps(result), flush=True)
        return
    asyncio.run(_serve(args.port))


if __name__ == "__main__":
    main()
