"""Figures (a)-(h) and the routing outcomes: what to run, how often, and the rows they give.

Each figure runs every available client interleaved (repetition *i* of each client back to
back, the order rotating), reports the median and spread over repetitions, and the ratio to
raw httpx computed per repetition (see `stats.paired_ratio`).  Targets from the issues are
checked where the figure produces the number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from clients import ASYNC_ONLY, LABELS
from processes import CpuPlan, Worker, WorkerError, run_python
from stats import loglog_slope, paired_ratio, summary

MIB = 1024 * 1024


@dataclass(frozen=True)
class Sizes:
    """How much each figure does, per mode."""

    reps: int
    plain_requests: int
    long_stream_chunks: int
    short_streams: int
    async_total: int
    async_concurrency: int
    held_streams: int
    held_reps: int
    catalog_fetches: int
    import_reps: int
    decision_sizes: tuple[int, ...]
    decision_calls: int
    scaling_catalogs: tuple[int, ...]
    scaling_streams: tuple[int, ...]
    parse_sizes: tuple[int, ...]

    @classmethod
    def for_mode(cls, quick: bool) -> Sizes:
        if quick:
            return cls(
                reps=2,
                plain_requests=60,
                long_stream_chunks=2_000,
                short_streams=30,
                async_total=200,
                async_concurrency=50,
                held_streams=100,
                held_reps=1,
                catalog_fetches=5,
                import_reps=3,
                decision_sizes=(1_000,),
                decision_calls=200,
                scaling_catalogs=(10, 1_000),
                scaling_streams=(10, 1_000),
                parse_sizes=(200, 2_000),
            )
        return cls(
            reps=5,
            plain_requests=1_000,
            long_stream_chunks=20_000,
            short_streams=300,
            async_total=1_500,
            async_concurrency=200,
            held_streams=1_000,
            held_reps=3,
            catalog_fetches=100,
            import_reps=9,
            decision_sizes=(1_000, 10_000),
            decision_calls=2_000,
            scaling_catalogs=(10, 100, 1_000, 10_000),
            scaling_streams=(10, 100, 1_000, 10_000),
            parse_sizes=(200, 2_000, 20_000),
        )


@dataclass
class Context:
    """What every figure shares: the server, the workers, and where results go."""

    quick: bool
    sizes: Sizes
    url: str
    cpus: CpuPlan
    log: TextIO
    workers: dict[str, Worker] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def clients(self) -> list[str]:
        """Every client with a worker, the async-only ones included."""
        return list(self.workers)

    @property
    def sync_clients(self) -> list[str]:
        """The clients measured on the sync figures."""
        return [c for c in self.workers if c not in ASYNC_ONLY]

    def note(self, text: str) -> None:
        print(f"  note: {text}", flush=True)
        if text not in self.notes:  # once, however many repetitions say it
            self.notes.append(text)

    def target(
        self, name: str, value: float | None, op: str, limit: float, unit: str, source: str
    ) -> None:
        hit = None
        if value is not None:
            hit = value <= limit if op == "<=" else value >= limit
        self.targets.append(
            {
                "name": name,
                "value": value,
                "op": op,
                "target": limit,
                "unit": unit,
                "hit": hit,
                "source": source,
            }
        )


Entry = tuple[str, str, str, dict[str, Any]]  # label, client, op, args


def interleave(ctx: Context, entries: list[Entry], reps: int) -> dict[str, list[dict[str, Any]]]:
    """Run every entry ``reps`` times, interleaved, rotating the order each repetition."""
    out: dict[str, list[dict[str, Any]]] = {label: [] for label, *_ in entries}
    failed: set[str] = set()
    for rep in range(reps):
        k = rep % len(entries)
        for label, client, op, args in entries[k:] + entries[:k]:
            if label in failed:
                continue
            try:
                out[label].append(ctx.workers[client].call(op, **args))
            except WorkerError as err:
                failed.add(label)
                ctx.note(f"{label}: {op} failed, left out: {err}")
    return {label: runs for label, runs in out.items() if label not in failed and runs}


def rows(
    results: dict[str, list[dict[str, Any]]],
    key: str,
    metric: str,
    unit: str,
    baseline: str = "raw httpx",
    better: str = "lower",
) -> list[dict[str, Any]]:
    """One row per label: summary of ``key`` over repetitions and its paired ratio to raw."""
    base = [r[key] for r in results.get(baseline, [])]
    out = []
    for label, runs in results.items():
        values = [r[key] for r in runs]
        row = {"metric": metric, "unit": unit, "client": label, "better": better}
        row.update(summary(values))
        row["ratio"] = paired_ratio(values, base) if base else summary([])
        out.append(row)
    return out


def _labelled(
    ctx: Context, op: str, args: dict[str, Any], *, async_op: bool = False
) -> list[Entry]:
    clients = ctx.clients if async_op else ctx.sync_clients
    return [(LABELS[c], c, op, args) for c in clients]


def _find(rows_: list[dict[str, Any]], metric: str, client: str) -> dict[str, Any] | None:
    return next((r for r in rows_ if r["metric"] == metric and r["client"] == client), None)


def _ratio(row: dict[str, Any] | None) -> float | None:
    return None if row is None else row["ratio"]["median"]


# --- (a) non-stream --------------------------------------------------------------------------


def figure_a(ctx: Context) -> dict[str, Any]:
    n = ctx.sizes.plain_requests
    entries = _labelled(ctx, "nonstream", {"n": n})
    if "xroute" in ctx.workers:
        entries.append(
            (
                "xroute, Cheapest() over 200 models",
                "xroute",
                "routed_nonstream",
                {"n": n, "catalog_size": 200, "inline": False},
            )
        )
    results = interleave(ctx, entries, ctx.sizes.reps)
    out = rows(results, "cpu_s", "client CPU per request", "s")
    out += rows(results, "wall_s", "wall time per request", "s")
    ctx.target(
        "non-stream client CPU vs raw httpx",
        _ratio(_find(out, "client CPU per request", "xroute")),
        "<=",
        1.3,
        "x",
        "(a)",
    )
    return {
        "title": "(a) Non-stream chat completion, one at a time",
        "what": f"{n} sequential requests per repetition; CPU is the client process's "
        "`time.process_time()`, wall is end to end.",
        "rows": out,
    }


# --- (b) streams -----------------------------------------------------------------------------


def figure_b(ctx: Context) -> dict[str, Any]:
    chunks = ctx.sizes.long_stream_chunks
    long = interleave(ctx, _labelled(ctx, "stream", {"n": 1, "chunks": chunks}), ctx.sizes.reps)
    out = rows(long, "cpu_per_chunk_s", f"client CPU per chunk ({chunks:,}-chunk stream)", "s")
    short = interleave(
        ctx, _labelled(ctx, "stream", {"n": ctx.sizes.short_streams, "chunks": 10}), ctx.sizes.reps
    )
    out += rows(short, "wall_s", "10-chunk stream end to end, wall", "s")
    out += rows(short, "cpu_s", "10-chunk stream end to end, client CPU", "s")
    per_chunk = f"client CPU per chunk ({chunks:,}-chunk stream)"
    ctx.target(
        "per-chunk client CPU vs raw httpx",
        _ratio(_find(out, per_chunk, "xroute")),
        "<=",
        2.0,
        "x",
        "(b)",
    )
    x, o = _find(out, per_chunk, "xroute"), _find(out, per_chunk, "openai")
    if x and o and x["median"]:
        ctx.target(
            "per-chunk CPU: openai / xroute (issue 3)",
            o["median"] / x["median"],
            ">=",
            4.0,
            "x",
            "(b)",
        )
    return {
        "title": "(b) Streaming",
        "what": f"One {chunks:,}-chunk stream per repetition (each SSE event its own HTTP chunk, "
        "as a server flushing per token sends them), client CPU divided by the chunk count; "
        f"and {ctx.sizes.short_streams} sequential 10-chunk streams. Every client reads the text "
        "of each chunk.",
        "rows": out,
    }


# --- (c) async throughput --------------------------------------------------------------------


def figure_c(ctx: Context) -> dict[str, Any]:
    total, conc = ctx.sizes.async_total, ctx.sizes.async_concurrency
    results = interleave(
        ctx,
        _labelled(ctx, "async_throughput", {"total": total, "concurrency": conc}, async_op=True),
        ctx.sizes.reps,
    )
    out = rows(results, "req_per_s", f"requests/s at {conc} concurrent", "1/s", better="higher")
    out += rows(results, "cpu_s", "client CPU per request", "s")
    ctx.target(
        f"async throughput at {conc} concurrent vs raw httpx",
        _ratio(_find(out, f"requests/s at {conc} concurrent", "xroute")),
        ">=",
        1.0,
        "x",
        "(c)",
    )
    fast = _find(out, f"requests/s at {conc} concurrent", LABELS["xroute_aiohttp"])
    if fast is not None:
        ctx.target(
            f"async throughput at {conc} concurrent vs raw httpx (xroute, aiohttp transport)",
            _ratio(fast),
            ">=",
            1.0,
            "x",
            "(c)",
        )
    return {
        "title": f"(c) Async throughput, {conc} concurrent requests (asyncio)",
        "what": f"{total} non-stream requests from {conc} concurrent tasks on one client, after "
        "a warm-up round that opens the connections. Raw httpx keeps up to 1,000 connections "
        "alive; each library uses its own defaults.",
        "rows": out,
    }


# --- (d) import time and memory --------------------------------------------------------------

_IMPORT_CODE = """
import json, time
def rss():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
r0 = rss(); t0 = time.perf_counter(); c0 = time.process_time()
{imp}
t1 = time.perf_counter(); c1 = time.process_time(); r1 = rss()
{make}
t2 = time.perf_counter(); r2 = rss()
print(json.dumps({{"import_s": t1 - t0, "import_cpu_s": c1 - c0, "client_s": t2 - t1,
                  "rss_import": r1 - r0, "rss_total": r2 - r0}}))
"""
_IMPORTS = {
    "raw": ("import httpx", "c = httpx.Client()"),
    "xroute": ("import xroute", "c = xroute.XRoute(api_key='k', base_url='http://127.0.0.1:9/v1')"),
    "openai": ("import openai", "c = openai.OpenAI(api_key='k', base_url='http://127.0.0.1:9/v1')"),
    "litellm": ("import litellm", "c = None  # module-level functions: no client object"),
}


def _import_breakdown(ctx: Context, module: str, top: int = 10) -> list[dict[str, Any]]:
    """Self time per top-level package while importing ``module`` (``-X importtime``)."""
    code = (
        "import subprocess, sys\n"
        f"r = subprocess.run([sys.executable, '-X', 'importtime', '-c', 'import {module}'],"
        " capture_output=True, text=True)\nprint(r.stderr)"
    )
    text = run_python(code, ctx.cpus.client)
    totals: dict[str, int] = {}
    for line in text.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            package = match.group(4).split(".")[0]
            totals[package] = totals.get(package, 0) + int(match.group(1))
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [{"package": name, "self_s": us / 1e6} for name, us in ranked]


def figure_d(ctx: Context) -> dict[str, Any]:
    clients = [c for c in _IMPORTS if c in ctx.workers]
    for client in clients:  # writes bytecode caches, like an installed package has
        run_python(_IMPORT_CODE.format(imp=_IMPORTS[client][0], make=_IMPORTS[client][1]), None)
    results: dict[str, list[dict[str, Any]]] = {LABELS[c]: [] for c in clients}
    for rep in range(ctx.sizes.import_reps):
        k = rep % len(clients)
        for client in clients[k:] + clients[:k]:
            imp, make = _IMPORTS[client]
            text = run_python(_IMPORT_CODE.format(imp=imp, make=make), ctx.cpus.client)
            results[LABELS[client]].append(json.loads(text.strip().splitlines()[-1]))
    out = rows(results, "import_cpu_s", "import time, CPU (fresh process)", "s")
    out += rows(results, "import_s", "import time, wall (fresh process)", "s")
    out += rows(results, "rss_total", "RSS added by import + client", "B")
    out += rows(results, "rss_import", "RSS added by import alone", "B")
    # CPU time: on a shared machine, wall time also counts the time other work held the CPU.
    x = _find(out, "import time, CPU (fresh process)", "xroute")
    ctx.target("cold import time (CPU)", x and x["median"], "<=", 0.150, "s", "(d)")
    o = _find(out, "import time, CPU (fresh process)", "openai")
    if x and o and o["median"]:
        ctx.target("import time vs openai", x["median"] / o["median"], "<=", 0.25, "x", "(d)")
    rss = _find(out, "RSS added by import + client", "xroute")
    ctx.target("RSS added by import + client", rss and rss["median"], "<=", 20 * MIB, "B", "(d)")
    # httpx's own import + client is most of that figure: what xroute adds on top of it.
    raw = _find(out, "RSS added by import + client", "raw httpx")
    if rss and raw and rss["median"] is not None and raw["median"] is not None:
        ctx.target(
            "RSS added above raw httpx's import + client (same reading)",
            rss["median"] - raw["median"],
            "<=",
            20 * MIB,
            "B",
            "(d)",
        )
    breakdown = _import_breakdown(ctx, "xroute") if "xroute" in ctx.workers else []
    return {
        "title": "(d) Cold import and memory",
        "what": f"{ctx.sizes.import_reps} fresh `python -c` processes per library (bytecode "
        "cached): CPU and wall time of the `import` statement (targets are checked on CPU "
        "time, which other load on the machine does not inflate), and VmRSS added by the "
        "import and by creating one client, against the same interpreter before the import.",
        "rows": out,
        "xroute_import_breakdown": breakdown,
    }


# --- (e) catalog -----------------------------------------------------------------------------


def figure_e(ctx: Context) -> dict[str, Any]:
    n = ctx.sizes.catalog_fetches
    entries: list[Entry] = []
    for client in ctx.sync_clients:
        if client == "litellm":
            ctx.note(
                "(e) LiteLLM has no call that lists an OpenAI-compatible /models: not measured"
            )
            continue
        if client == "xroute":
            entries.append(
                ("xroute, models.list()", "xroute", "catalog", {"n": n, "normalise": False})
            )
            entries.append(
                ("xroute, all entries normalised", "xroute", "catalog", {"n": n, "normalise": True})
            )
        else:
            entries.append((LABELS[client], client, "catalog", {"n": n, "normalise": False}))
    results = interleave(ctx, entries, ctx.sizes.reps)
    out = rows(results, "cpu_s", "client CPU per fetch + parse", "s")
    out += rows(results, "wall_s", "wall time per fetch + parse", "s")
    ctx.target(
        "catalog fetch + parse (200 models, all normalised) vs raw",
        _ratio(_find(out, "client CPU per fetch + parse", "xroute, all entries normalised")),
        "<=",
        1.5,
        "x",
        "(e)",
    )
    return {
        "title": "(e) Model catalog: fetch + parse of 200 models",
        "what": f"{n} sequential `GET /models` (OpenRouter-shaped, 200 entries, ~150 KB). raw = "
        "`json.loads`; xroute's `models.list()` checks entries and normalises each on first use, "
        "so the second xroute row touches every model too (the fair comparison, and the one the "
        "target is checked on); openai builds a pydantic `Model` per entry.",
        "rows": out,
    }


# --- (f) routing decisions -------------------------------------------------------------------


def figure_f(ctx: Context) -> dict[str, Any] | None:
    if "xroute" not in ctx.workers:
        return None
    s = ctx.sizes
    data = ctx.workers["xroute"].call(
        "routing_decision", sizes=list(s.decision_sizes), calls=s.decision_calls, reps=s.reps
    )
    out = []
    worst_warm = None
    for d in data["decisions"]:
        for kind in ("warm", "rerank", "cold"):
            if kind in d:
                row = {
                    "metric": f"{kind} decision, {d['models']:,} models",
                    "unit": "s",
                    "client": d["policy"],
                    "better": "lower",
                }
                row.update(summary(d[kind]))
                out.append(row)
                if kind == "warm" and d["models"] == 1_000 and row["median"] is not None:
                    worst_warm = max(worst_warm or 0.0, row["median"])
    ctx.target(
        "routing decision at 1,000 models (warm, slowest policy)",
        worst_warm,
        "<=",
        50e-6,
        "s",
        "(f)",
    )
    worst_query: dict[str, float | None] = {"warm": None, "cold": None}
    for q in data["queries"]:
        for kind in ("warm", "cold"):
            row = {
                "metric": f"catalog query, {kind}, {q['models']:,} models",
                "unit": "s",
                "client": q["query"],
                "better": "lower",
            }
            row.update(summary(q[kind]))
            out.append(row)
            if row["median"] is not None:
                worst_query[kind] = max(worst_query[kind] or 0.0, row["median"])
    for kind, when in (("cold", "first query on a fresh"), ("warm", "repeated query on a")):
        ctx.target(
            f"filter/sort/cheapest: {when} 5,000-model catalog (issue 5, slowest)",
            worst_query[kind],
            "<=",
            1e-3,
            "s",
            "(f)",
        )
    return {
        "title": "(f) Routing decision time (policy.candidates) over synthetic catalogs",
        "what": "warm = steady state (pools, price order and, for Fastest/Balanced, the health "
        "ranking cached; what nearly every call pays); rerank = a learning policy whose 1 s "
        "ranking expired (one call per second pays it); cold = the first call of a new policy "
        "object (paid by every call that writes `model=xroute.Cheapest()` inline). The route "
        "state has health samples for 5% of the models. Catalog queries are issue 5's.",
        "rows": out,
    }


# --- (g) memory per open stream --------------------------------------------------------------


def figure_g(ctx: Context) -> dict[str, Any]:
    count = ctx.sizes.held_streams
    deadline = 20.0 if ctx.quick else 60.0
    results: dict[str, list[dict[str, Any]]] = {LABELS[c]: [] for c in ctx.clients}
    clients = ctx.clients
    for rep in range(ctx.sizes.held_reps):
        k = rep % len(clients)
        for client in clients[k:] + clients[:k]:
            try:
                # A fresh process per measurement: freed memory is not handed back to the OS,
                # so a second run in the same process would look cheaper than it is.
                worker = Worker(client, ctx.url, ctx.cpus.client, ctx.log)
                try:
                    held = worker.call("hold_streams", count=count, deadline=deadline)
                    if held["opened"] < count:
                        ctx.note(
                            f"(g) {LABELS[client]} held only {held['opened']:,} of {count:,} "
                            f"streams open ({held['gave_up_waiting']} still waiting for a "
                            f"connection after {deadline:g} s, {held['errors']} failed: "
                            f"{held['first_error']}); its figure is per stream it held"
                        )
                    results[LABELS[client]].append(held)
                finally:
                    worker.close()
            except WorkerError as err:
                ctx.note(f"(g) {client} failed: {err}")
    results = {k: v for k, v in results.items() if v}
    out = rows(results, "bytes_per_stream", f"RSS per open stream ({count:,} open)", "B")
    return {
        "title": f"(g) Memory per open async stream, {count:,} streams open at once",
        "what": "A fresh process per client and repetition opens one stream (warm-up), then "
        f"{count:,} concurrent streams that each received their first content chunk and stay "
        "open; (VmRSS with all open - VmRSS before) / count.",
        "rows": out,
    }


# --- (h) scaling -----------------------------------------------------------------------------


def figure_h(ctx: Context) -> dict[str, Any] | None:
    if "xroute" not in ctx.workers:
        return None
    s = ctx.sizes
    out: list[dict[str, Any]] = []
    slopes: list[dict[str, Any]] = []
    n = max(20, s.plain_requests // 4)
    # 1. Cost per routed request as the catalog grows (policy reused, and built per call).
    entries: list[Entry] = [("raw httpx", "raw", "nonstream", {"n": n})]
    for size in s.scaling_catalogs:
        for inline in (False, True):
            tag = "new policy per call" if inline else "policy reused"
            label = f"xroute Cheapest, {size:,} models, {tag}"
            entries.append(
                (
                    label,
                    "xroute",
                    "routed_nonstream",
                    {"n": n, "catalog_size": size, "inline": inline},
                )
            )
    results = interleave(ctx, entries, s.reps)
    out += rows(results, "cpu_s", "client CPU per routed request", "s")
    for inline in (False, True):
        tag = "new policy per call" if inline else "policy reused"
        xs, ys = [], []
        for size in s.scaling_catalogs:
            row = _find(
                out, "client CPU per routed request", f"xroute Cheapest, {size:,} models, {tag}"
            )
            if row and row["median"]:
                xs.append(size)
                ys.append(row["median"])
        slopes.append(
            {
                "what": f"CPU per routed request vs catalog size ({tag})",
                "exponent": loglog_slope(xs, ys),
                "x": xs,
                "y": ys,
            }
        )
    # 2. Cost per stream as the stream grows.
    stream_clients = [c for c in ctx.sync_clients if c != "litellm" or not ctx.quick]
    entries = []
    for length in s.scaling_streams:
        for client in stream_clients:
            n_streams = max(1, min(50, 20_000 // length))
            entries.append(
                (
                    f"{LABELS[client]}, {length:,} chunks",
                    client,
                    "stream",
                    {"n": n_streams, "chunks": length},
                )
            )
    results = interleave(ctx, entries, s.reps)
    stream_rows = rows(results, "cpu_s", "client CPU per stream", "s", baseline="")
    for row in stream_rows:
        label = row["client"]
        base = label.replace(label.split(",")[0], "raw httpx", 1)
        if base in results and label in results:
            row["ratio"] = paired_ratio(
                [r["cpu_s"] for r in results[label]], [r["cpu_s"] for r in results[base]]
            )
    out += stream_rows
    for client in stream_clients:
        xs, ys = [], []
        for length in s.scaling_streams:
            row = _find(out, "client CPU per stream", f"{LABELS[client]}, {length:,} chunks")
            if row and row["median"]:
                xs.append(length)
                ys.append(row["median"])
        slopes.append(
            {
                "what": f"CPU per stream vs chunks ({LABELS[client]})",
                "exponent": loglog_slope(xs, ys),
                "x": xs,
                "y": ys,
            }
        )
    # 3. Catalog parse + normalise as the catalog grows.
    parse = ctx.workers["xroute"].call("parse_scaling", sizes=list(s.parse_sizes), reps=s.reps)
    for r in parse["rows"]:
        row = {
            "metric": "ModelCatalog.from_response + normalise all",
            "unit": "s",
            "client": f"{r['models']:,} models",
            "better": "lower",
        }
        row.update(summary(r["seconds"]))
        out.append(row)
    slopes.append(
        {
            "what": "catalog parse + normalise vs catalog size",
            "exponent": loglog_slope(
                [r["models"] for r in parse["rows"]], [r["median"] for r in parse["rows"]]
            ),
            "x": [r["models"] for r in parse["rows"]],
            "y": [r["median"] for r in parse["rows"]],
        }
    )
    return {
        "title": "(h) Scaling: cost per request as the catalog and the stream grow",
        "what": "Exponent k of cost ~ size^k (least squares on log-log): 0 = flat, 1 = linear. "
        "Routed requests use a catalog pinned on the client (`catalog=`), so no fetch is timed.",
        "rows": out,
        "slopes": slopes,
    }


# --- routing outcomes ------------------------------------------------------------------------


def figure_outcomes(ctx: Context) -> dict[str, Any] | None:
    if "xroute" not in ctx.workers:
        return None
    data = ctx.workers["xroute"].call("outcomes", quick=ctx.quick)
    return {
        "title": "Routing outcomes on the scripted mock gateway",
        "what": "MockGateway over loopback (uvicorn in a thread of the client process), "
        "sequential requests, scripted prices, lognormal latencies, outage windows and faults. "
        "Time is compressed: the cost run lasts "
        f"{1.0 if ctx.quick else 8.0:g} s.",
        "scenarios": data,
    }


FIGURES: dict[str, Callable[[Context], dict[str, Any] | None]] = {
    "a": figure_a,
    "b": figure_b,
    "c": figure_c,
    "d": figure_d,
    "e": figure_e,
    "f": figure_f,
    "g": figure_g,
    "h": figure_h,
    "outcomes": figure_outcomes,
}
