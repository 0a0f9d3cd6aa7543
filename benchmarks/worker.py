"""A client process: one library, pinned to one CPU, measuring what the orchestrator asks.

``python benchmarks/worker.py --client NAME --url URL [--cpu N]`` answers one JSON line per
JSON line read on stdin.  The first line it writes says whether the client could be imported.
Library output cannot corrupt the protocol: the protocol has its own copy of stdout, and fd 1
is pointed at stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from canned_server import raise_fd_limit
from clients import ADAPTERS, Unsupported


def rss_bytes() -> int:
    """This process's resident set size now (not the peak)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _timed(n: int, op: Callable[[], object]) -> dict[str, float]:
    gc.collect()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        op()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"wall_s": wall / n, "cpu_s": cpu / n, "n": n}


class Worker:
    """Runs the operations on one adapter."""

    def __init__(self, client: str, url: str) -> None:
        self.name = client
        self.url = url
        self.adapter = ADAPTERS[client](url)
        self.loop = asyncio.new_event_loop()

    # --- sync figures

    def op_nonstream(self, n: int) -> dict[str, Any]:
        text = self.adapter.nonstream()
        assert "canned answer" in text, text
        return _timed(n, self.adapter.nonstream)

    def op_stream(self, n: int, chunks: int) -> dict[str, Any]:
        got = self.adapter.stream(chunks)
        assert got == chunks, f"{self.name} read {got} content chunks of {chunks}"
        result = _timed(n, lambda: self.adapter.stream(chunks))
        result["cpu_per_chunk_s"] = result["cpu_s"] / chunks
        result["chunks"] = chunks
        return result

    def op_catalog(self, n: int, normalise: bool) -> dict[str, Any]:
        try:
            got = self.adapter.catalog(normalise)
        except Unsupported as why:
            return {"unsupported": str(why)}
        assert got == 200, got
        return _timed(n, lambda: self.adapter.catalog(normalise))

    # --- async figures

    def op_async_throughput(self, total: int, concurrency: int) -> dict[str, Any]:
        async def run(count: int) -> None:
            left = count

            async def worker() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    await self.adapter.anonstream()

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        self.loop.run_until_complete(run(concurrency))  # open the pool's connections first
        gc.collect()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        self.loop.run_until_complete(run(total))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        return {"req_per_s": total / wall, "cpu_s": cpu / total, "wall_s": wall, "n": total}

    def op_hold_streams(self, count: int, deadline: float) -> dict[str, Any]:
        adapter = self.adapter

        async def run() -> dict[str, Any]:
            # One stream first: lazily imported modules and the client's first allocations
            # are not per-stream costs.
            await adapter.close_held(await adapter.open_held())
            gc.collect()
            before = rss_bytes()
            gate = asyncio.Semaphore(100)  # no connect storm against the listen backlog
            handles: list[Any] = []

            async def one() -> None:
                async with gate:
                    handles.append(await adapter.open_held())

            # A client whose pool caps connections per host never opens the rest: give up
            # waiting after `deadline` and report how many it held.
            tasks = [asyncio.ensure_future(one()) for _ in range(count)]
            _, pending = await asyncio.wait(tasks, timeout=deadline)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            errors = [t.exception() for t in tasks if t.done() and not t.cancelled()]
            errors = [e for e in errors if e is not None]
            gc.collect()
            after = rss_bytes()
            for handle in handles:
                with contextlib.suppress(Exception):
                    await adapter.close_held(handle)
            opened = len(handles)
            return {
                "rss_before": before,
                "rss_open": after,
                "bytes_per_stream": (after - before) / opened if opened else None,
                "count": count,
                "opened": opened,
                "gave_up_waiting": len(pending),
                "errors": len(errors),
                "first_error": repr(errors[0]) if errors else None,
            }

        return self.loop.run_until_complete(run())

    def close(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    # --- xroute-only figures

    def op_routed_nonstream(self, n: int, catalog_size: int, inline: bool) -> dict[str, Any]:
        from routing_bench import synthetic_catalog

        import xroute

        catalog = synthetic_catalog(catalog_size)
        client = xroute.XRoute(
            api_key="sk-bench-not-a-secret", base_url=self.url, catalog=catalog, timeout=120
        )
        policy = xroute.Cheapest()  # reused: its pools are built on the first call only

        def call() -> None:
            chosen = xroute.Cheapest() if inline else policy
            reply = client.chat.completions.create(
                model=chosen, messages=[{"role": "user", "content": "hi"}], max_tokens=16
            )
            assert reply.route is not None

        call()
        result = _timed(n, call)
        result["catalog_size"] = catalog_size
        client.close()
        return result

    def op_routing_decision(self, **kwargs: Any) -> dict[str, Any]:
        from routing_bench import decision_figures

        return decision_figures(**kwargs)

    def op_parse_scaling(self, **kwargs: Any) -> dict[str, Any]:
        from routing_bench import parse_scaling

        return {"rows": parse_scaling(**kwargs)}

    def op_outcomes(self, **kwargs: Any) -> dict[str, Any]:
        from outcomes import run_scenarios

        return run_scenarios(**kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(prog="worker.py")
    parser.add_argument("--client", required=True, choices=sorted(ADAPTERS))
    parser.add_argument("--url", required=True)
    parser.add_argument("--cpu", type=int, default=None)
    args = parser.parse_args()
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever a library prints goes to stderr
    sys.stdout = sys.stderr
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {args.cpu})
    raise_fd_limit()

    def reply(message: dict[str, Any]) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    try:
        worker = Worker(args.client, args.url)
    except Exception as err:
        reply({"ready": False, "error": f"{type(err).__name__}: {err}"})
        return
    reply({"ready": True, "version": worker.adapter.version(), "pid": os.getpid()})
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop("op")
        if op == "quit":
            break
        try:
            result = getattr(worker, f"op_{op}")(**command)
        except Exception as err:
            traceback.print_exc()
            reply({"error": f"{type(err).__name__}: {err}"})
        else:
            reply(result)
    with contextlib.suppress(Exception):
        worker.close()


if __name__ == "__main__":
    main()
