"""The report: one markdown document (also printed), the same data as JSON, and a plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_OP_WORDS = {"<=": "at most", ">=": "at least"}


def fmt(value: float | None, unit: str) -> str:
    """A number with a unit a person reads at a glance."""
    if value is None:
        return "n/a"
    if unit == "s":
        if abs(value) < 1e-3:
            return f"{value * 1e6:.1f} us"
        if abs(value) < 1:
            return f"{value * 1e3:.2f} ms"
        return f"{value:.2f} s"
    if unit == "B":
        if abs(value) >= 1024 * 1024:
            return f"{value / 1024 / 1024:.1f} MiB"
        return f"{value / 1024:.1f} KiB"
    if unit == "1/s":
        return f"{value:,.0f}/s"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:.4g}"


def _ratio_cell(row: dict[str, Any]) -> str:
    ratio = row.get("ratio") or {}
    if ratio.get("median") is None:
        return ""
    return f"{ratio['median']:.2f}x ({ratio['min']:.2f}-{ratio['max']:.2f})"


def _rows_table(rows: list[dict[str, Any]], with_ratio: bool = True) -> list[str]:
    head = "| metric | client | median | spread (min-max) |"
    rule = "|---|---|---:|---|"
    if with_ratio:
        head += " vs raw httpx (median, min-max) |"
        rule += "---:|"
    lines = [head, rule]
    for r in rows:
        spread = (
            f"{fmt(r['min'], r['unit'])} - {fmt(r['max'], r['unit'])}"
            if r["median"] is not None
            else ""
        )
        cells = [r["metric"], r["client"], f"**{fmt(r['median'], r['unit'])}**", spread]
        if with_ratio:
            cells.append(_ratio_cell(r))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value:.6f}"


def _served(served: dict[str, int]) -> str:
    return ", ".join(
        f"{m.split('/')[-1]} {n}" for m, n in sorted(served.items(), key=lambda kv: -kv[1])
    )


def _outcomes(section: dict[str, Any]) -> list[str]:
    data = section["scenarios"]
    lines = [f"## {section['title']}", "", section["what"], ""]
    lines += [
        "**Cost of `Cheapest` vs the oracle** (cheapest model up at that moment; two cheapest "
        "models have overlapping outage windows, the third fails 5% at random):",
        "",
        "| variant | requests | success | cost | oracle | cost / oracle | failed attempts "
        "| served by | p50 | p99 |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in data["cost"]:
        ratio = "n/a" if r["cost_vs_oracle"] is None else f"{r['cost_vs_oracle']:.2f}x"
        lines.append(
            f"| {r['variant']} | {r['requests']} | {r['success_rate']:.1%} | {_usd(r['cost_usd'])} "
            f"| {_usd(r['oracle_usd_same_requests'])} | {ratio} | {r['failed_attempts']} "
            f"| {_served(r['served_by'])} | {fmt(r['p50_s'], 's')} | {fmt(r['p99_s'], 's')} |"
        )
    lines += [
        "",
        "**Success rate**, models failing 20% at random (no same-model retries):",
        "",
        "| variant | requests | success |",
        "|---|---:|---:|",
    ]
    for r in data["flaky"]:
        lines.append(f"| {r['variant']} | {r['requests']} | {r['success_rate']:.1%} |")
    lines += [
        "",
        "**`Fastest` vs each single model** (lognormal latencies; `drift` slows from 8 ms to "
        "60 ms half way):",
        "",
        "| variant | requests | p50 | p99 | mean | served by |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in data["latency"]:
        lines.append(
            f"| {r['variant']} | {r['requests']} | {fmt(r['p50_s'], 's')} | {fmt(r['p99_s'], 's')} "
            f"| {fmt(r['mean_s'], 's')} | {_served(r['served_by'])} |"
        )
    singles = [r for r in data["latency"] if r["variant"].endswith("alone")]
    fastest = next((r for r in data["latency"] if r["variant"].startswith("Fastest")), None)
    if singles and fastest:
        best50 = min(singles, key=lambda r: r["p50_s"])
        best99 = min(singles, key=lambda r: r["p99_s"])
        lines += [
            "",
            f"Fastest p50 {fmt(fastest['p50_s'], 's')} vs best single model by p50 "
            f"({best50['variant']}) {fmt(best50['p50_s'], 's')}: "
            f"{fastest['p50_s'] / best50['p50_s']:.2f}x; Fastest p99 {fmt(fastest['p99_s'], 's')} "
            f"vs best single model by p99 ({best99['variant']}) {fmt(best99['p99_s'], 's')}: "
            f"{fastest['p99_s'] / best99['p99_s']:.2f}x.",
        ]
    lines += [
        "",
        "**Requests wasted on a broken model** behind `Fallback(primary, backup)`, the primary "
        "breaking after a healthy warm-up (hang: 0.1 s read timeout):",
        "",
        "| variant | requests after the break | success | wasted before the breaker opened "
        "| wasted in all | seconds wasted | breaker open from request |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["breaker"]:
        opened = r["breaker_opened_after_request"]
        lines.append(
            f"| {r['variant']} | {r['requests']} | {r['success_rate']:.1%} "
            f"| {r['wasted_before_open']} | {r['wasted_attempts']} "
            f"| {r['wasted_seconds']:.3f} | {'never' if opened is None else opened + 1} |"
        )
    hedging = data["hedging"]
    if hedging and "note" in hedging[0]:
        lines += ["", "**Hedging**:", "", "| variant | result |", "|---|---|"]
        lines += [f"| {r['variant']} | {r['note']} |" for r in hedging]
        return lines
    lines += [
        "",
        "**Hedging** (plain calls; `tail` has a heavy lognormal tail, sigma 1.0, `steady` about "
        "the same median; cancelled attempts' prompts are counted in the cost):",
        "",
        "| variant | requests | p50 | p99 | mean | cost | extra cost | calls hedged | served by |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in hedging:
        extra = "n/a" if r["extra_cost"] is None else f"{r['extra_cost']:+.1%}"
        lines.append(
            f"| {r['variant']} | {r['requests']} | {fmt(r['p50_s'], 's')} "
            f"| {fmt(r['p99_s'], 's')} | {fmt(r['mean_s'], 's')} | {_usd(r['cost_usd'])} "
            f"| {extra} | {r['hedged_share']:.1%} | {_served(r['served_by'])} |"
        )
    return lines


def markdown(report: dict[str, Any]) -> str:
    """The whole report as markdown."""
    meta = report["meta"]
    lines = [
        f"# xroute benchmark report ({'quick' if meta['quick'] else 'full'} run)",
        "",
        f"- Date: {meta['date']}; command: `{meta['command']}`",
        f"- Machine: {meta['machine']}; Python {meta['python']}; {meta['cpu_plan']}",
        "- Clients: "
        + ", ".join(f"{name} {version}" for name, version in meta["versions"].items()),
        f"- Canned server (its own capacity, measured first by a raw keep-alive client on the "
        f"client CPU): {fmt(meta['capacity']['plain_requests_per_s'], '1/s')} plain requests, "
        f"{fmt(meta['capacity']['stream_chunks_per_s'], '1/s')} stream chunks "
        f"({meta['capacity']['connections']} connections).",
        f"- Repetitions: {meta['reps']} per figure, interleaved; medians, min-max spread, and "
        "ratios to raw httpx computed per repetition. Absolute times on a shared 2-core machine "
        "are noise; read the ratios.",
        f"- Total time: {meta['seconds']:.0f} s; load average (1, 5, 15 min) before "
        f"{meta.get('load_before')}, after {meta.get('load_after')} (other work shares this "
        "machine: a load above 2 means the figures competed for CPU)",
    ]
    for merge in meta.get("merged", []):
        lines.append(
            f"- Re-run later and merged in: figure(s) {', '.join(merge['figures'])} on "
            f"{merge['date']} (load average {merge['load']})"
        )
    lines += [
        "",
        "## Targets",
        "",
        "| target | measured | wanted | result | figure |",
        "|---|---:|---:|---|---|",
    ]
    for t in report["targets"]:
        result = {True: "hit", False: "**MISSED**", None: "not measured"}[t["hit"]]
        lines.append(
            f"| {t['name']} | {fmt(t['value'], t['unit'])} | {_OP_WORDS[t['op']]} "
            f"{fmt(t['target'], t['unit'])} | {result} | {t['source']} |"
        )
    for key, figure in report["figures"].items():
        if key == "outcomes":
            continue
        lines += ["", f"## {figure['title']}", "", figure["what"], ""]
        lines += _rows_table(figure["rows"], with_ratio=key not in ("f",))
        if figure.get("xroute_import_breakdown"):
            lines += [
                "",
                "Where `import xroute` spends its time (`-X importtime`, self time per package):",
                "",
                "| package | self time |",
                "|---|---:|",
            ]
            lines += [
                f"| {b['package']} | {fmt(b['self_s'], 's')} |"
                for b in figure["xroute_import_breakdown"]
            ]
        if figure.get("slopes"):
            lines += ["", "| scaling | exponent k (cost ~ size^k) |", "|---|---:|"]
            for s in figure["slopes"]:
                k = "n/a" if s["exponent"] is None else f"{s['exponent']:.2f}"
                lines.append(f"| {s['what']} | {k} |")
    if "outcomes" in report["figures"]:
        lines += ["", *_outcomes(report["figures"]["outcomes"])]
    if report["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> bool:
    """A bar chart of every ratio to raw httpx (cost ratios: higher is worse); False without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    bars: list[tuple[str, float, str]] = []
    colours = {"xroute": "#2b7bba", "openai": "#7a7a7a", "LiteLLM": "#d9822b"}
    for key, figure in report["figures"].items():
        if key in ("f", "h", "outcomes"):
            continue
        for row in figure["rows"]:
            ratio = (row.get("ratio") or {}).get("median")
            if ratio is None or row["client"] == "raw httpx" or not ratio:
                continue
            cost = 1 / ratio if row["better"] == "higher" else ratio
            client = row["client"]
            family = next((c for c in colours if client.startswith(c)), "xroute")
            bars.append((f"({key}) {row['metric']} - {client}", cost, colours[family]))
    if not bars:
        return False
    fig, ax = plt.subplots(figsize=(14, 0.32 * len(bars) + 1.5))
    labels = [b[0] for b in bars][::-1]
    values = [b[1] for b in bars][::-1]
    ax.barh(labels, values, color=[b[2] for b in bars][::-1])
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xlabel("cost relative to raw httpx (1 = same; lower is better; throughput inverted)")
    ax.set_title("xroute vs openai vs LiteLLM, as ratios to raw httpx on the same server")
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.2f}x", va="center", fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.subplots_adjust(left=0.36)  # room for the longest labels
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write(report: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write report.md, report.json and ratios.png (when matplotlib is installed)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "report.md", "json": out / "report.json"}
    paths["markdown"].write_text(markdown(report), encoding="utf-8")
    paths["json"].write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    png = out / "ratios.png"
    if plot(report, png):
        paths["plot"] = png
    return paths
