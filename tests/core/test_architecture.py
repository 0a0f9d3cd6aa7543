"""The architecture, checked: a pure core, mirrored shells, a sorted public surface."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import xroute
from xroute._async import _client as async_client
from xroute._sync import _client as sync_client

CORE = Path(xroute.__file__).parent / "_core"
FORBIDDEN_CALLS = {
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "sleep"),
    ("time", "perf_counter"),
    ("random", "random"),
    ("random", "uniform"),
    ("random", "randint"),
    ("random", "choice"),
}
FORBIDDEN_IMPORTS = {"asyncio", "trio", "anyio", "socket", "threading", "subprocess", "requests"}
HTTP_CLIENT_NAMES = {"Client", "AsyncClient", "send", "get", "post", "stream"}


def _core_files() -> list[Path]:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) >= 6, "the core went missing"
    return files


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: p.name)
def test_core_is_free_of_io_async_clock_and_randomness(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        assert not isinstance(
            node, (ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith)
        ), f"async code in the core at {where}"
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
            assert not names & FORBIDDEN_IMPORTS, f"I/O import in the core at {where}"
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in FORBIDDEN_IMPORTS, f"I/O import at {where}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = node.func.value
            if isinstance(base, ast.Name):
                assert (base.id, node.func.attr) not in FORBIDDEN_CALLS, (
                    f"{base.id}.{node.func.attr}() in the core at {where}: inject it"
                )
                assert not (base.id == "httpx" and node.func.attr in HTTP_CLIENT_NAMES), (
                    f"httpx client call in the core at {where}"
                )


def _public(cls: type) -> dict[str, inspect.Signature]:
    out = {}
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") and name != "__init__":
            continue
        if callable(member):
            sig = inspect.signature(member)
            params = [
                p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()
            ]
            out[name] = sig.replace(parameters=params, return_annotation=inspect.Signature.empty)
    return out


SYNC_ASYNC = [
    (sync_client.XRoute, async_client.AsyncXRoute),
    (sync_client.Completions, async_client.AsyncCompletions),
    (sync_client.Embeddings, async_client.AsyncEmbeddings),
    (sync_client.Models, async_client.AsyncModels),
    (xroute.Stream, xroute.AsyncStream),
]


@pytest.mark.parametrize(("sync", "async_"), SYNC_ASYNC, ids=lambda c: c.__name__)
def test_sync_and_async_expose_the_same_signatures(sync: type, async_: type) -> None:
    mine, theirs = _public(sync), _public(async_)
    # Lifecycle names follow httpx: close()/aclose(), with/async with.
    renames = {"close": "aclose", "get_final_completion": "get_final_completion"}
    theirs = {({v: k for k, v in renames.items()}.get(k, k)): v for k, v in theirs.items()}
    for skip in ("__iter__", "__next__", "__aiter__", "__anext__"):
        mine.pop(skip, None)
        theirs.pop(skip, None)
    assert mine.keys() == theirs.keys()
    for name in mine:
        assert str(mine[name]) == str(theirs[name]), name


def test_resources_mirror() -> None:
    client = xroute.XRoute(api_key="k", base_url="http://127.0.0.1:1/v1")
    aclient = xroute.AsyncXRoute(api_key="k", base_url="http://127.0.0.1:1/v1")
    for attr in ("chat", "embeddings", "models"):
        assert hasattr(client, attr) and hasattr(aclient, attr)
    assert hasattr(client.chat, "completions") and hasattr(aclient.chat, "completions")
    client.close()


def test_public_surface_is_sorted_and_importable() -> None:
    # isort-style, as ruff keeps it: CONSTANTS, then Classes, then the rest.
    def kind(n: str) -> tuple[int, str]:
        return (0 if n.isupper() else 1 if n[:1].isupper() else 2, n)

    assert list(xroute.__all__) == sorted(xroute.__all__, key=kind)
    for name in xroute.__all__:
        assert getattr(xroute, name) is not None, name


def test_every_public_name_has_a_docstring() -> None:
    for name in xroute.__all__:
        obj = getattr(xroute, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert (obj.__doc__ or "").strip(), f"{name} has no docstring"


def test_exception_tree() -> None:
    assert issubclass(xroute.APITimeoutError, xroute.APIConnectionError)
    assert issubclass(xroute.StreamTimeoutError, xroute.StreamError)
    assert issubclass(xroute.StreamTimeoutError, xroute.APITimeoutError)
    assert issubclass(xroute.UnknownModelError, KeyError)
    for cls in (xroute.RateLimitError, xroute.InternalServerError, xroute.AllModelsFailedError):
        assert issubclass(cls, xroute.XRouteError)
