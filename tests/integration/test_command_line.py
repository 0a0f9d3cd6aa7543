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


def test_chat_one_shot_streams_and_shows_route_and_cost() -> None:
    done = _run(
        "chat", "Hello there", "--mock", "--model", "openai/gpt-4o,anthropic/claude-3-haiku"
    )
    assert done.returncode == 0, done.stderr
    assert 'You said: "Hello there"' in done.stdout
    assert "[openai/gpt-4o · $0.0" in done.stdout


def test_chat_session_keeps_history_and_ends_on_an_empty_line() -> None:
    import io

    from xroute.__main__ import _parser
    from xroute._chat_session import run_chat

    args = _parser().parse_args(["chat", "--mock", "--model", "cheapest", "--no-stream"])
    out = io.StringIO()
    assert (
        run_chat(args, out=out, ask=io.StringIO("first question\nsecond one\n\nnever read\n")) == 0
    )
    text = out.getvalue()
    assert text.count("meta-llama/llama-3.1-8b-instruct") == 2  # cheapest chat model, twice
    assert "never read" not in text


def test_chat_policy_names_and_chains() -> None:
    import xroute
    from xroute._chat_session import model_argument

    assert isinstance(model_argument("Fastest"), xroute.Fastest)
    assert model_argument("a/x, b/y") == ["a/x", "b/y"]
    assert model_argument("openai/gpt-4o") == "openai/gpt-4o"
