#!/usr/bin/env python3
"""Set up and run the project with nothing but Python and pip.

    python3 dev.py demo      # make .venv, install xroute, run the end-to-end demo
    python3 dev.py check     # make .venv, install dev tools, run every check

`check` runs, and fails on the first failure: ruff format --check, ruff check,
mypy --strict src, the full pytest suite (asyncio and trio, branch coverage floor),
then the unit suite again on the oldest and newest supported Pythons (3.10, 3.13)
when they are on the machine (pyenv or PATH). Set XROUTE_FULL=1 for full-size load runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
COVERAGE_FLOOR = "85"
EXTRA_PYTHONS = ("3.10", "3.13")
# The unit suite (no sockets): what the oldest and newest Pythons run, with only `[unit]` deps.
UNIT_DIRS = (
    "tests/core",
    "tests/client",
    "tests/catalog",
    "tests/routing",
    "tests/testing_unit",
    "tests/reliability/test_fuzzing.py",
)


def _run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    done = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if done.returncode != 0:
        # pytest's exit code 5 (no tests collected) lands here too: an empty suite is a failure.
        sys.exit(f"dev.py: command failed with exit code {done.returncode}")


def _venv(python: str, name: str, extras: str) -> Path:
    """Create (or reuse) a venv and install xroute with `extras`; return its python."""
    venv = ROOT / name
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    py = bin_dir / "python"
    stamp = venv / ".xroute-installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == want and py.exists():
        return py
    if not py.exists():
        _run(python, "-m", "venv", venv)
    _run(py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", f".[{extras}]")
    stamp.write_text(want)
    return py


def _find_python(version: str) -> str | None:
    found = shutil.which(f"python{version}")
    if found:
        try:
            subprocess.run([found, "--version"], check=True, capture_output=True)
            return found
        except (OSError, subprocess.CalledProcessError):
            pass
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for candidate in sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}")):
        return str(candidate)
    return None


def demo(args: list[str]) -> None:
    py = _venv(sys.executable, ".venv", "dev")
    _run(py, "-m", "xroute", "demo", *args)


def check(args: list[str]) -> None:
    py = _venv(sys.executable, ".venv", "dev")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    _run(py, "-m", "ruff", "format", "--check", ".", env=env)
    _run(py, "-m", "ruff", "check", ".", env=env)
    _run(py, "-m", "mypy", "--strict", "src", env=env)
    # coverage starts before pytest: the package's own pytest plugin (the mock-gateway
    # fixtures) imports xroute while pytest loads plugins, before pytest-cov could start.
    _run(py, "-m", "coverage", "erase", env=env)
    _run(py, "-m", "coverage", "run", "-m", "pytest", "-q", *args, env=env)
    _run(py, "-m", "coverage", "report", f"--fail-under={COVERAGE_FLOOR}", env=env)
    for version in EXTRA_PYTHONS:
        other = _find_python(version)
        if other is None:
            print(f"dev.py: Python {version} not found; skipping its unit run", flush=True)
            continue
        vpy = _venv(other, f".venv{version.replace('.', '')}", "unit")
        _run(vpy, "-m", "pytest", "-q", "-m", "unit", "-x", *UNIT_DIRS, env=env)


COMMANDS = {"demo": demo, "check": check}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](sys.argv[2:])
