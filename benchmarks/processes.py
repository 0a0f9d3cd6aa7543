"""Child processes: the canned server and the client workers, each pinned to its own CPU."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

HERE = Path(__file__).resolve().parent
_COMMAND_TIMEOUT = 900.0


@dataclass(frozen=True)
class CpuPlan:
    """Which CPU the server gets and which the clients get (None: not pinned)."""

    server: int | None
    client: int | None

    @classmethod
    def detect(cls) -> CpuPlan:
        if not hasattr(os, "sched_getaffinity"):
            return cls(None, None)
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return cls(None, None)
        return cls(server=cpus[-1], client=cpus[0])

    def describe(self) -> str:
        if self.server is None:
            return "not pinned (fewer than 2 CPUs available)"
        return f"server on CPU {self.server}, clients on CPU {self.client}"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # Cold imports are timed with bytecode caches written, as an installed package has them.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # LiteLLM: no fetch of its remote price map or tokenizers (there is no network here, and a
    # benchmark must not depend on one); it uses the copies it ships.
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    env.setdefault("LITELLM_OFFLINE_MODE", "true")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


class _Lines:
    """Line reader over a pipe with a timeout (a stuck child must not hang the run)."""

    def __init__(self, stream: Any) -> None:
        self._fd = stream.fileno()
        self._buffer = b""

    def readline(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer within {timeout:.0f} s")
            ready, _, _ = select.select([self._fd], [], [], left)
            if ready:
                piece = os.read(self._fd, 1 << 16)
                if not piece:
                    raise EOFError("the child process exited")
                self._buffer += piece
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()


class WorkerError(RuntimeError):
    """A worker failed a command or could not start."""


class Worker:
    """One client library in its own process; ``call(op, **args)`` returns its JSON answer."""

    def __init__(self, client: str, url: str, cpu: int | None, log: TextIO) -> None:
        command = [sys.executable, str(HERE / "worker.py"), "--client", client, "--url", url]
        if cpu is not None:
            command += ["--cpu", str(cpu)]
        self.client = client
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=_env()
        )
        self._lines = _Lines(self._process.stdout)
        try:
            hello = json.loads(self._lines.readline(timeout=120))
        except (TimeoutError, EOFError) as err:
            self.close()
            raise WorkerError(f"{client}: worker did not start ({err})") from err
        if not hello.get("ready"):
            self.close()
            raise WorkerError(hello.get("error", "not ready"))
        self.version: str = hello["version"]

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
        self._process.stdin.flush()
        try:
            answer = json.loads(self._lines.readline(timeout=_COMMAND_TIMEOUT))
        except (TimeoutError, EOFError) as err:
            raise WorkerError(f"{self.client}: {op} failed ({err})") from err
        if "error" in answer:
            raise WorkerError(f"{self.client}: {op}: {answer['error']}")
        return answer

    def close(self) -> None:
        if self._process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert self._process.stdin is not None
                self._process.stdin.write(b'{"op": "quit"}\n')
                self._process.stdin.close()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


@contextlib.contextmanager
def canned_server(cpu: int | None, log: TextIO) -> Iterator[str]:
    """Start the canned server; yield its base URL; stop it (by closing its stdin)."""
    command = [sys.executable, str(HERE / "canned_server.py"), "--port", "0"]
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=_env()
    )
    try:
        line = _Lines(process.stdout).readline(timeout=60)
        if not line.startswith("READY "):
            raise RuntimeError(f"canned server did not start: {line!r}")
        yield line.split()[1]
    finally:
        assert process.stdin is not None
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def probe_capacity(url: str, cpu: int | None, seconds: float) -> dict[str, Any]:
    """The canned server's capacity, measured from the client CPU by a raw keep-alive client."""
    command = [sys.executable, str(HERE / "canned_server.py"), "--probe", url]
    command += ["--seconds", str(seconds)]
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=_env())
    if done.returncode != 0:
        raise RuntimeError(f"capacity probe failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_python(code: str, cpu: int | None, timeout: float = 120) -> str:
    """Run ``python -c code`` pinned to ``cpu``; return its stdout (raises on failure)."""
    preexec = None
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        chosen = cpu

        def preexec() -> None:
            os.sched_setaffinity(0, {chosen})

    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
        preexec_fn=preexec,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    return done.stdout
