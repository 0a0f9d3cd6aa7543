"""A scripted, OpenAI-compatible fake LLM gateway for tests, demos and benchmarks.

No key, no network: ``MockGateway`` answers ``/models``, ``/chat/completions`` (plain and
streamed) and ``/embeddings`` deterministically, in process through an httpx transport or over
loopback HTTP, and each model can be scripted to be slow, flaky, rate-limited or down.  Testing
your own code against it:

>>> import httpx
>>> from xroute.testing import MockGateway
>>> gateway = MockGateway(time_scale=0)  # no delays
>>> gateway.fail_next("openai/gpt-4o-mini", "rate_limit")  # the first call gets a 429
>>> def ask(http: httpx.Client, question: str) -> str:  # the code under test: retries a 429
...     body = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": question}]}
...     response = http.post("/chat/completions", json=body)
...     if response.status_code == 429:
...         response = http.post("/chat/completions", json=body)
...     return response.json()["choices"][0]["message"]["content"]
>>> http = httpx.Client(
...     transport=gateway.transport(),  # in process: no socket, no server
...     base_url=gateway.base_url,
...     headers={"Authorization": f"Bearer {gateway.api_key}"},
... )
>>> answer = ask(http, "Is it sunny?")
>>> "Is it sunny?" in answer
True
>>> gateway.stats_for("openai/gpt-4o-mini").failures
1
>>> http.close()

Over real HTTP, ``with gateway.serve() as base_url:`` runs it on a free loopback port; in pytest
the ``xroute_gateway`` (served) and ``xroute_gateway_inprocess`` fixtures hand you one; and
``gateway.client()`` returns an ``xroute.XRoute`` pointed at it.  From a shell:
``python -m xroute mock --port 8080``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._gateway import MockGateway
    from ._records import ModelStats, ReceivedRequest
    from ._scripts import FailureKind, ModelScript, Outage

__all__ = ["FailureKind", "MockGateway", "ModelScript", "ModelStats", "Outage", "ReceivedRequest"]

# Imported on first use: pytest imports this package (for the plugin) in every run, before
# pytest-cov starts measuring, so eager imports would cost every suite and hide coverage.
_HOMES = {
    "FailureKind": "._scripts",
    "MockGateway": "._gateway",
    "ModelScript": "._scripts",
    "ModelStats": "._records",
    "Outage": "._scripts",
    "ReceivedRequest": "._records",
}

if not TYPE_CHECKING:  # mypy sees the imports above, so a typo is still an error

    def __getattr__(name: str) -> Any:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home, __name__), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
