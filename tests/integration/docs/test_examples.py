"""Every script in examples/ runs against the mock gateway, served on loopback.

The scripts read XROUTE_BASE_URL / XROUTE_API_KEY like any application; each test points them
at the `xroute_gateway` fixture, runs the script as ``__main__`` and checks what it printed.
One test also runs a script in a separate interpreter, exactly as a reader would.
"""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from xroute.testing import MockGateway

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def run_example(
    xroute_gateway: MockGateway,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., str]:
    """Run ``examples/<name>.py`` as a script (with `args`) and return what it printed."""
    monkeypatch.setenv("XROUTE_BASE_URL", xroute_gateway.base_url)
    monkeypatch.setenv("XROUTE_API_KEY", xroute_gateway.api_key)

    def run(name: str, *args: str) -> str:
        path = EXAMPLES / f"{name}.py"
        monkeypatch.setattr(sys, "argv", [str(path), *args])
        runpy.run_path(str(path), run_name="__main__")
        return capsys.readouterr().out

    return run


def test_every_example_is_tested() -> None:
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    scripts = {path.stem for path in EXAMPLES.glob("*.py")}
    # The web backend and the notebook have test modules of their own.
    assert scripts - {"web_backend"} <= tested


def test_quickstart(run_example: Callable[..., str], xroute_gateway: MockGateway) -> None:
    out = run_example("quickstart")
    assert len(xroute_gateway.requests_for("openai/gpt-4o-mini")) == 1
    assert 'You said: "Say hello in one sentence."' in out
    assert re.search(r"served by openai/gpt-4o-mini in \d+\.\d\d s, cost \$0\.0000\d\d", out)
    assert "UsageSummary(requests=1," in out


def test_async_quickstart(run_example: Callable[..., str], xroute_gateway: MockGateway) -> None:
    out = run_example("async_quickstart")
    assert out.count("  -> ") == 3
    assert out.count("[openai/gpt-4o-mini]") == 3
    assert "UsageSummary(requests=3," in out
    assert xroute_gateway.stats_for("openai/gpt-4o-mini").requests == 3


def test_streaming(run_example: Callable[..., str], xroute_gateway: MockGateway) -> None:
    out = run_example("streaming", "Why", "is", "the", "sea", "salty?")
    assert 'You said: "Why is the sea salty?"' in out
    assert "[RouteReport(model='anthropic/claude-3.5-sonnet', attempts=1, cost_usd=0.000" in out
    assert re.search(r"^total\s+1\s", out, re.MULTILINE)
    assert xroute_gateway.stats_for("anthropic/claude-3.5-sonnet").streams == 1


def test_streaming_failure_exits_with_the_partial_text(
    run_example: Callable[..., str],
    xroute_gateway: MockGateway,
    capsys: pytest.CaptureFixture[str],
) -> None:
    xroute_gateway.fail_next("anthropic/claude-3.5-sonnet", "error_event")  # after the first token
    with pytest.raises(SystemExit) as exited:
        run_example("streaming")
    assert exited.value.code == 1
    out = capsys.readouterr().out
    shown = re.search(r"\[stream failed after (\d+) characters: ", out)
    assert shown is not None
    assert out.startswith("This is Anthropic")  # the text before the failure was printed
    assert int(shown.group(1)) == len(out[: shown.start()].rstrip("\n"))


def test_fallback_chain(run_example: Callable[..., str], xroute_gateway: MockGateway) -> None:
    # The first model of the chain is down for the plain call and the stream.
    xroute_gateway.fail_next("openai/gpt-4o", "unavailable", count=2)
    out = run_example("fallback_chain")
    assert "fallback: openai/gpt-4o failed (InternalServerError), trying anthropic" in out
    assert "attempt: openai/gpt-4o: 503 InternalServerError" in out
    assert "attempt: anthropic/claude-3.5-sonnet: ok" in out
    assert "served by anthropic/claude-3.5-sonnet: " in out
    assert "streamed by anthropic/claude-3.5-sonnet: " in out
    assert "as expected, 2 attempts failed:" in out
    assert "acme/nor-this-one: 404 NotFoundError" in out


def test_routing_policies(run_example: Callable[..., str]) -> None:
    out = run_example("routing_policies")
    assert "the cheapest three:\n  <Model 'meta-llama/llama-3.1-8b-instruct'" in out
    assert "Cheapest(min_context=32000, requires='tools'): served by meta-llama/" in out
    served = re.findall(r"^Fastest call \d: served by (\S+),", out, re.MULTILINE)
    assert len(served) == 6
    # Untried models get a call before measured ones are ranked: all three were measured.
    assert set(served) == {
        "openai/gpt-4o-mini",
        "anthropic/claude-3-haiku",
        "google/gemini-2.0-flash-001",
    }
    assert "latency         -" not in out


def test_structured_output(run_example: Callable[..., str], xroute_gateway: MockGateway) -> None:
    out = run_example("structured_output")
    assert re.search(r"^City\(name='.+', country='.+', population=\d+\)$", out, re.MULTILINE)
    sent = xroute_gateway.requests[-1].json
    assert sent["response_format"]["json_schema"]["schema"]["required"] == [
        "name",
        "country",
        "population",
    ]


def test_tool_calling(run_example: Callable[..., str], xroute_gateway: MockGateway) -> None:
    out = run_example("tool_calling")
    assert re.search(r"^tool call: get_weather\(\{'city': '.+'\}\) -> ", out, re.MULTILINE)
    assert "answer: " in out
    assert "The tool returned:" in out  # the model saw the function's result
    second = xroute_gateway.requests_for("openai/gpt-4o-mini")[-1].json["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "tool"]
    assert second[2]["tool_call_id"] == second[1]["tool_calls"][0]["id"]


def test_embeddings(run_example: Callable[..., str]) -> None:
    out = run_example("embeddings", "refund", "please")
    assert "4 vectors of 16 dimensions" in out
    scores = [float(s) for s in re.findall(r"^([+-]\d\.\d{3})  ", out, re.MULTILINE)]
    assert len(scores) == 3
    assert scores == sorted(scores, reverse=True)
    assert "model='openai/text-embedding-3-small'" in out


def test_an_example_runs_as_a_plain_script(xroute_gateway: MockGateway) -> None:
    env = {
        **os.environ,
        "XROUTE_BASE_URL": xroute_gateway.base_url,
        "XROUTE_API_KEY": xroute_gateway.api_key,
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "served by openai/gpt-4o-mini" in done.stdout
