"""The benchmark suite's quick mode runs end to end and writes a well-formed report.

A smoke test only: nothing here is about speed.  The comparison clients (openai, LiteLLM) and
matplotlib are optional and usually absent from the project's venv; the suite must then skip
them with a note and still cover every figure with raw httpx and xroute.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {"a", "b", "c", "d", "e", "f", "g", "h", "outcomes"}


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def test_quick_run_writes_a_complete_report(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")

    assert set(report["figures"]) == FIGURES
    assert report["meta"]["quick"] is True
    assert _number(report["meta"]["capacity"]["plain_requests_per_s"])
    assert {"raw httpx", "xroute"} <= set(report["meta"]["versions"])
    for key, figure in report["figures"].items():
        assert figure["title"] in markdown
        if key == "outcomes":
            continue
        assert figure["rows"], key
        for row in figure["rows"]:
            assert _number(row["median"]), (key, row)
            assert row["min"] <= row["median"] <= row["max"], (key, row)
    # Every transport figure has the baseline and xroute, and a ratio for xroute.
    for key in ("a", "b", "c", "d", "g"):
        clients = {row["client"] for row in report["figures"][key]["rows"]}
        assert {"raw httpx", "xroute"} <= clients, key
        xroute_rows = [r for r in report["figures"][key]["rows"] if r["client"] == "xroute"]
        assert all(_number(r["ratio"]["median"]) for r in xroute_rows), key

    # The targets that need only xroute are all measured, and say hit or missed.
    targets = {t["name"]: t for t in report["targets"]}
    assert len(targets) >= 8
    for target in targets.values():
        assert target["hit"] in (True, False, None)
        if "openai" not in target["name"]:
            assert target["hit"] is not None, target
    assert "## Targets" in markdown

    outcomes = report["figures"]["outcomes"]["scenarios"]
    for scenario in ("cost", "flaky", "latency", "breaker"):
        assert outcomes[scenario], scenario
    for row in outcomes["cost"] + outcomes["flaky"]:
        assert 0.0 <= row["success_rate"] <= 1.0
    breaker = {row["variant"]: row for row in outcomes["breaker"]}
    assert breaker["unavailable, breaker on (defaults)"]["wasted_before_open"] >= 1
    # Hedging (issue 7): real rows where `xroute.Hedge` exists, else a placeholder without
    # any number (never a made-up one).
    hedging = outcomes["hedging"]
    if "note" in hedging[0]:
        assert "not implemented" in hedging[0]["note"]
        assert not any(_number(v) for v in hedging[0].values())
    else:
        assert len(hedging) == 3
        for row in hedging:
            assert 0.0 <= row["hedged_share"] <= 1.0
            assert row["p50_s"] <= row["p99_s"]
        assert hedging[0]["hedged_share"] == 0.0  # the un-hedged chain
