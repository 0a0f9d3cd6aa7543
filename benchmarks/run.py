"""The xroute benchmark suite: one entry point.

    python benchmarks/run.py                 # full run, writes benchmarks/results/
    python benchmarks/run.py --quick         # smoke-test sizes, writes to a temp dir
    python benchmarks/run.py --only a,b      # some figures (a-h, outcomes)

Starts the canned server pinned to one CPU, measures its capacity, starts one worker process
per importable client (raw httpx, xroute, openai, LiteLLM) pinned to the other CPU, runs the
figures with the clients interleaved, and writes report.md, report.json and ratios.png.
See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from clients import LABELS, NAMES
from figures import FIGURES, Context, Sizes
from processes import CpuPlan, Worker, WorkerError, canned_server, probe_capacity
from report import markdown, write

RESULTS = Path(__file__).resolve().parent / "results"
_HEADROOM = "fastest client rate"


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes (about a minute)")
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated figures to run: {', '.join(FIGURES)} (default: all)",
    )
    parser.add_argument(
        "--clients",
        default=",".join(NAMES),
        help=f"comma-separated clients to try: {', '.join(NAMES)} (raw is always run)",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="replace only the figures run (--only) in the report already in --out",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the report (default: benchmarks/results, or a temp dir with --quick)",
    )
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in only if name not in FIGURES]
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    args.only = only or list(FIGURES)
    args.clients = [
        "raw",
        *[c.strip() for c in args.clients.split(",") if c.strip() not in ("", "raw")],
    ]
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="xroute-bench-")) if args.quick else RESULTS
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the suite; return the exit status (1 if a figure failed)."""
    args = _parse(argv)
    started = time.perf_counter()
    cpus = CpuPlan.detect()
    sizes = Sizes.for_mode(args.quick)
    log_path = Path(tempfile.gettempdir()) / f"xroute-bench-{os.getpid()}.log"
    failed = False
    with open(log_path, "w", encoding="utf-8") as log, canned_server(cpus.server, log) as url:
        print(f"canned server on {url}; {cpus.describe()}", flush=True)
        capacity = probe_capacity(url, cpus.client, seconds=0.5 if args.quick else 2.0)
        print(
            f"canned server capacity: {capacity['plain_requests_per_s']:,.0f} plain requests/s, "
            f"{capacity['stream_chunks_per_s']:,.0f} stream chunks/s "
            f"(raw keep-alive client, {capacity['connections']} connections)",
            flush=True,
        )
        ctx = Context(quick=args.quick, sizes=sizes, url=url, cpus=cpus, log=log)
        versions: dict[str, str] = {}
        for client in args.clients:
            try:
                worker = Worker(client, url, cpus.client, log)
            except WorkerError as err:
                ctx.note(f"{LABELS[client]} skipped: not importable here ({err})")
                continue
            ctx.workers[client] = worker
            versions[LABELS[client]] = worker.version
        if "raw" not in ctx.workers:
            raise SystemExit("raw httpx could not start: nothing to compare against")
        report = _report(args, ctx, cpus, sizes, versions, capacity, started)
        if args.merge:
            report = _merged(report, args)
            ctx.figures, ctx.targets, ctx.notes = (
                report["figures"],
                report["targets"],
                report["notes"],
            )
        try:
            for name in args.only:
                print(f"figure {name} ...", flush=True)
                begun = time.perf_counter()
                try:
                    result = FIGURES[name](ctx)
                except Exception as err:
                    failed = True
                    traceback.print_exc()
                    ctx.note(f"figure {name} failed: {type(err).__name__}: {err}")
                    continue
                if result is None:
                    ctx.note(f"figure {name} needs xroute, which is not importable: skipped")
                    continue
                ctx.figures[name] = result
                print(f"figure {name} done in {time.perf_counter() - begun:.1f} s", flush=True)
                # Written after every figure, so an interrupted run keeps what it measured.
                if not args.merge:
                    report["meta"]["seconds"] = time.perf_counter() - started
                _in_order(report)
                write(report, args.out)
        finally:
            for worker in ctx.workers.values():
                worker.close()
        _check_server_headroom(ctx, capacity)
    if not args.merge:
        report["meta"]["seconds"] = time.perf_counter() - started
        report["meta"]["load_after"] = _load()
    _in_order(report)
    paths = write(report, args.out)
    print()
    print(markdown(report))
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    if failed or not args.quick:
        print(f"worker logs: {log_path}")
    else:  # a passing smoke run leaves nothing behind in the temp dir but its report
        log_path.unlink(missing_ok=True)
    return 1 if failed else 0


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _report(
    args: argparse.Namespace,
    ctx: Context,
    cpus: CpuPlan,
    sizes: Sizes,
    versions: dict[str, str],
    capacity: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    """The report document; figures, targets and notes fill in as the run goes."""
    only = f" --only {','.join(args.only)}" if args.only != list(FIGURES) else ""
    return {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python benchmarks/run.py" + (" --quick" if args.quick else "") + only,
            "quick": args.quick,
            "machine": _machine(),
            "python": platform.python_version(),
            "cpu_plan": cpus.describe(),
            "versions": versions,
            "capacity": capacity,
            "reps": sizes.reps,
            "sizes": vars(sizes),
            "load_before": _load(),
            "load_after": None,
            "seconds": time.perf_counter() - started,
        },
        "targets": ctx.targets,
        "figures": ctx.figures,
        "notes": ctx.notes,
    }


def _merged(report: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Start from the report in ``args.out``, without the figures about to be re-run."""
    path = args.out / "report.json"
    if not path.exists():
        return report
    old = json.loads(path.read_text(encoding="utf-8"))
    rerun = set(args.only)
    sources = {f"({name})" for name in rerun}
    old["figures"] = {k: v for k, v in old["figures"].items() if k not in rerun}
    old["targets"] = [t for t in old["targets"] if t["source"] not in sources]
    old["meta"].setdefault("merged", []).append(
        {"figures": sorted(rerun), "date": report["meta"]["date"], "load": _load()}
    )
    old["meta"]["versions"] = {**old["meta"]["versions"], **report["meta"]["versions"]}
    # Said again at the end of this run, from the merged figures.
    old["notes"] = [n for n in old["notes"] if not n.startswith(_HEADROOM)]
    return old


def _in_order(report: dict[str, Any]) -> None:
    """Figures and targets in the suite's order (a merge appends re-run ones at the end)."""
    order = {name: i for i, name in enumerate(FIGURES)}
    figures = dict(sorted(report["figures"].items(), key=lambda kv: order.get(kv[0], 99)))
    report["figures"].clear()
    report["figures"].update(figures)
    report["targets"].sort(key=lambda t: order.get(t["source"].strip("()"), 99))


def _check_server_headroom(ctx: Context, capacity: dict[str, Any]) -> None:
    """Say whether any client came near the server's capacity (it must not be the limit)."""
    best = 0.0
    for key in ("a", "c"):
        for row in ctx.figures.get(key, {}).get("rows", []):
            if row["median"] is None:
                continue
            if row["unit"] == "1/s":
                best = max(best, row["median"])
            elif row["metric"] == "wall time per request":
                best = max(best, 1 / row["median"])
    if best:
        share = best / capacity["plain_requests_per_s"]
        verdict = "not the bottleneck" if share < 0.5 else "CLOSE TO THE BOTTLENECK"
        ctx.note(
            f"{_HEADROOM} {best:,.0f} req/s = {share:.0%} of the canned server's "
            f"capacity: the server is {verdict}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
