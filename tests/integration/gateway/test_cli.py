"""`python -m xroute.testing` (what `xroute mock` runs): serves until SIGINT, exits 0."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx


def test_cli_serves_and_stops_cleanly() -> None:
    command = [
        sys.executable,
        "-m",
        "xroute.testing",
        "--port",
        "0",
        "--seed",
        "3",
        "--api-key",
        "sk-cli-000000000000",
        "--time-scale",
        "0",
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        # Read the whole banner here: communicate() cannot see what readline() buffered.
        lines = [child.stdout.readline()]
        while "Ctrl-C" not in lines[-1] and lines[-1]:
            lines.append(child.stdout.readline())
        banner, out = lines[0], "".join(lines)
        assert banner.startswith("xroute mock gateway on http://127.0.0.1:")
        assert "seed 3" in banner
        base_url = banner.split(" on ", 1)[1].split(" ", 1)[0]
        headers = {"Authorization": "Bearer sk-cli-000000000000"}
        response = httpx.post(
            f"{base_url}/chat/completions",
            json={"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            headers=headers,
        )
        assert response.status_code == 200
        assert httpx.get(f"{base_url}/models").status_code == 401
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:  # pragma: no cover - only when an assertion failed
            child.kill()
            child.communicate()
    assert child.returncode == 0, err
    assert "curl " in out and "Ctrl-C" in out
    assert "Traceback" not in err
