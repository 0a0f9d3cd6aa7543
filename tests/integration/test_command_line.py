"""The command line, run as users run it: a subprocess over real loopback HTTP."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xroute", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_demo_runs_end_to_end() -> None:
    done = _run("demo")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for step in ("1. Discover", "2. Route", "3. Stream", "4. Survive", "5. What it cost"):
        assert step in out
    assert "openai/gpt-4o: 503" in out  # the scripted outage, then the fallback served
    assert "served by anthropic/claude-3-haiku" in out
    assert "total" in out
    assert "$0.0" in out


def test_models_json_filters_and_sorts() -> None:
    done = _run("models", "--mock", "--provider", "anthropic", "--sort", "price", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    models = rows["data"] if isinstance(rows, dict) else rows
    ids = [m["id"] for m in models]
    assert ids
    assert all(i.startswith("anthropic/") for i in ids)


def test_help_is_self_explaining() -> None:
    done = _run("--help")
    assert done.returncode == 0
    for word in ("demo", "mock", "models", "XROUTE_API_KEY"):
        assert word in done.stdout


def test_demo_real_without_key_says_what_to_set() -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "XROUTE_API_KEY"}
    done = _run("demo", "--real", env=env)
    assert done.returncode == 2
    assert "XROUTE_API_KEY" in done.stdout


def test_demo_in_process_tells_the_whole_story() -> None:
    import io

    from xroute._demo import run_demo

    out = io.StringIO()
    assert run_demo(out=out) == 0
    text = out.getvalue()
    assert "Cheapest(" in text
    assert "chose meta-llama/llama-3.1-8b-instruct" in text  # the cheapest with tools + 32k
    assert "anthropic/claude-3.5-sonnet" in text
