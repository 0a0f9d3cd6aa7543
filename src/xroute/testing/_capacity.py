"""Measure the mock gateway's capacity over loopback: ``python -m xroute.testing._capacity``.

Sends a bounded number of chat completions (plain, then streamed) with ``time_scale=0`` from
many concurrent connections and prints requests/s and chunks/s.  ``--where process`` runs the
gateway in a child process (``python -m xroute.testing``), which is how to see the server's own
ceiling on a small machine: in-thread, the gateway and the load generator share one GIL.
``--client raw`` replaces httpx, whose per-request cost is higher than the server's (and whose
connection pool slows down as it grows past a few dozen connections), with a minimal keep-alive
HTTP/1.1 client, so the figures are the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from ._gateway import MockGateway

_KEY = "test-key"
_BODY = {
    "model": "openai/gpt-4o-mini",
    "messages": [{"role": "user", "content": "Summarise the benefits of a mock gateway."}],
}


@contextlib.contextmanager
def _gateway(where: str, http: str) -> Iterator[str]:
    if where == "thread":
        from ._server import serve_in_thread

        with serve_in_thread(
            MockGateway(time_scale=0).asgi_app(), "127.0.0.1", 0, http=http
        ) as url:
            yield url
        return
    command = [sys.executable, "-m", "xroute.testing", "--port", "0", "--time-scale", "0"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        first = child.stdout.readline()  # "xroute mock gateway on http://...:PORT/v1 (...)"
        yield first.split(" on ", 1)[1].split(" ", 1)[0]
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck child
            child.kill()
            child.wait()


async def _plain_httpx(url: str, total: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {_KEY}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:
        left = total

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                response = await client.post("/chat/completions", json=_BODY)
                assert response.status_code == 200, response.text

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total / (time.perf_counter() - start)


def _raw_request(url: str, body: dict[str, object]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    payload = json.dumps(body).encode()
    head = (
        f"POST {parts.path}/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return host, port, head.encode() + payload


async def _raw(url: str, total: int, concurrency: int, *, stream: bool) -> tuple[float, float]:
    """Keep-alive HTTP/1.1 by hand: requests/s, and SSE events/s."""
    host, port, request = _raw_request(url, {**_BODY, "stream": stream})
    left = total
    events = 0

    async def worker() -> None:
        nonlocal left, events
        reader, writer = await asyncio.open_connection(host, port, limit=2**22)
        try:
            while left > 0:
                left -= 1
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200"), head
                if stream:  # chunked: read up to the last, empty chunk
                    events += (await reader.readuntil(b"\r\n0\r\n\r\n")).count(b"data: {")
                    continue
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return total / elapsed, events / elapsed


async def _streams_httpx(url: str, total: int, concurrency: int) -> tuple[float, float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {_KEY}"}
    events = 0
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:
        left = total

        async def worker() -> None:
            nonlocal left, events
            while left > 0:
                left -= 1
                body = {**_BODY, "stream": True}
                async with client.stream("POST", "/chat/completions", json=body) as response:
                    async for line in response.aiter_lines():
                        events += line.startswith("data: {")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        return total / elapsed, events / elapsed


def main(argv: list[str] | None = None) -> None:
    """Run the measurement and print one line per figure."""
    parser = argparse.ArgumentParser(prog="python -m xroute.testing._capacity")
    parser.add_argument("--requests", type=int, default=5000, help="plain requests to send")
    parser.add_argument("--streams", type=int, default=1000, help="streamed requests to send")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--where", choices=("thread", "process"), default="process")
    parser.add_argument("--client", choices=("httpx", "raw"), default="httpx")
    parser.add_argument("--http", default="auto", help="uvicorn HTTP implementation (thread only)")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, gateway in a {args.where}")
    with _gateway(args.where, args.http) as url:
        if args.client == "raw":
            rate, _ = asyncio.run(_raw(url, args.requests, args.concurrency, stream=False))
        else:
            rate = asyncio.run(_plain_httpx(url, args.requests, args.concurrency))
        print(
            f"plain: {args.requests} requests, {args.concurrency} concurrent ({args.client}): "
            f"{rate:,.0f} req/s"
        )
        if args.streams:
            if args.client == "raw":
                run = _raw(url, args.streams, args.concurrency, stream=True)
            else:
                run = _streams_httpx(url, args.streams, args.concurrency)
            streams, chunks = asyncio.run(run)
            print(
                f"streamed: {args.streams} streams, {args.concurrency} concurrent "
                f"({args.client}): {streams:,.0f} streams/s, {chunks:,.0f} chunks/s"
            )


if __name__ == "__main__":
    main()
