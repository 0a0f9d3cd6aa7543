"""The reliability and security suite: faults, load, leaks, cancellation, fuzzing, secrets.

What runs where:

- ``test_fault_matrix.py``: a byte-level fault server (``fault_server.py``) on loopback TCP;
  every fault against both clients (sync, async on asyncio and on trio), plain and
  streaming, alone and inside a fallback chain; typed error or right result, within the
  deadline, no connection left checked out.
- ``test_load_and_leaks.py``: thousands of calls against ``xroute.testing.MockGateway`` over
  loopback with scripted faults; memory (tracemalloc) and file descriptors.
- ``test_cancellation.py``: cancelling async calls and streams at many points.
- ``test_fuzzing.py``: hypothesis on the SSE decoder, stream session, catalog and parsers.
- ``test_secrets.py``: the API key in reprs, logs, tracebacks; TLS and plain-http checks.

Markers: tests that open sockets are ``integration``; the load and memory runs are also
``slow``; the socket-free fuzzing is ``unit`` (so it also runs on Python 3.10 and 3.13).

CI runs everything at a scaled-down size: 500 async calls at concurrency 50 (on asyncio and
on trio), 200 sync calls from 20 threads, 1,000 sequential calls, 100 streams, 100 clients,
a 10 MB body, 100 examples per hypothesis test. The full sizes (5,000 async calls at
concurrency 200, 500 sync calls from 20 threads, 10,000 sequential calls, 1,000 streams,
1,000 clients, a 50 MB body, 1,500 examples) run with::

    XROUTE_FULL=1 .venv/bin/python -m pytest -p no:cacheprovider tests/reliability -q -s

(``-s`` prints the numbers: calls, faults, memory growth, file descriptors), and
``-m "not slow"`` leaves the load runs out altogether.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_server import FaultServer
from reliability_kit import SIZES, Sizes

_HERE = Path(__file__).parent
# Module name -> markers. A module not listed here gets `integration` (the safe default:
# it may open sockets, so it does not join the socket-free unit runs on other Pythons).
_MARKERS: dict[str, tuple[str, ...]] = {
    "test_load_and_leaks": ("integration", "slow"),
    "test_fuzzing": ("unit",),
}

# The same upstream issue that pyproject.toml already ignores for httpx's own generators
# (encode/httpx#3686), one layer down: when a body is left unfinished (a decoding error, an
# error page cut off at 64 KB, a cancelled read), httpx closes the response, which releases
# the connection, but httpcore's async generators are only finalised by the GC, and trio
# warns about that. Nothing leaks: every test here checks the pool.
_HTTPCORE_ASYNCGENS = (
    r"ignore:Async generator 'httpcore\._async\.[\w.]+' was garbage collected:ResourceWarning"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if path.parent != _HERE:
            continue
        for name in _MARKERS.get(path.stem, ("integration",)):
            item.add_marker(getattr(pytest.mark, name))
        item.add_marker(pytest.mark.filterwarnings(_HTTPCORE_ASYNCGENS))


@pytest.fixture(scope="session")
def sizes() -> Sizes:
    """The load sizes of this run (scaled down unless XROUTE_FULL=1)."""
    return SIZES


@pytest.fixture(scope="session")
def _fault_server() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture(scope="session")
def _other_origin() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
def faults(_fault_server: FaultServer) -> Iterator[FaultServer]:
    """The fault server, with no routes set (everything answers well) and nothing received."""
    _fault_server.reset()
    yield _fault_server
    _fault_server.reset()


@pytest.fixture
def other_origin(_other_origin: FaultServer) -> Iterator[FaultServer]:
    """A second, well-behaved fault server: another origin (another port) to redirect to."""
    _other_origin.reset()
    yield _other_origin
    _other_origin.reset()
