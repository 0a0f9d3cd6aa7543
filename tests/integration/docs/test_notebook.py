"""examples/notebook.ipynb, executed top to bottom by a real Jupyter kernel against the mock
gateway (served on loopback; the kernel finds it through XROUTE_BASE_URL / XROUTE_API_KEY).

Besides running without an error, the cells must show what the notebook promises: rich tables
for the catalog, a route report and the usage summary, an answer streamed into its cell, and
`await` at the top level of a cell.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xroute.testing import MockGateway

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient")
pytest.importorskip("ipykernel", reason="the notebook test needs ipykernel (a Python kernel)")

NOTEBOOK = Path(__file__).resolve().parents[3] / "examples" / "notebook.ipynb"


@pytest.fixture(scope="module")
def gateway() -> Iterator[MockGateway]:
    gateway = MockGateway(seed=5)
    with gateway.serve():
        yield gateway


@pytest.fixture(scope="module")
def executed(gateway: MockGateway) -> Any:
    """The notebook after a kernel ran every cell (once for the module: a kernel takes ~1 s)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("XROUTE_BASE_URL", gateway.base_url)
        env.setenv("XROUTE_API_KEY", gateway.api_key)
        env.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core's migration warning
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        client = nbclient.NotebookClient(
            notebook,
            timeout=60,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        )
        client.execute()
    return notebook


def outputs(notebook: Any, tag: str) -> list[Any]:
    cells = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"one cell is tagged {tag!r}"
    return list(cells[0].outputs)


def rich(notebook: Any, tag: str) -> str:
    """The HTML the cell displayed (its last rich output)."""
    shown = [o for o in outputs(notebook, tag) if "text/html" in o.get("data", {})]
    assert shown, f"the {tag!r} cell shows no HTML"
    return str(shown[-1]["data"]["text/html"])


def test_every_cell_ran_against_the_gateway(executed: Any, gateway: MockGateway) -> None:
    for cell in executed.cells:
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "error"]
    # The environment's gateway answered, not the in-kernel fallback.
    assert gateway.stats_for("anthropic/claude-3.5-sonnet").streams == 1
    assert gateway.stats_for("openai/gpt-4o-mini").requests == 3


def test_catalog_model_and_filter_are_tables(executed: Any) -> None:
    catalog = rich(executed, "catalog")
    assert catalog.count("<tr>") >= 19
    assert "openai/gpt-4o-mini" in catalog
    filtered = rich(executed, "filtered")
    assert filtered.index("meta-llama/llama-3.1-8b-instruct") < filtered.index("openai/gpt-4o-mini")
    assert "0.15" in rich(executed, "model")


def test_two_models_are_compared(executed: Any) -> None:
    table = rich(executed, "compare")
    for model in ("openai/gpt-4o-mini", "anthropic/claude-3-haiku"):
        assert f"<code>{model}</code>" in table
    assert table.count("You said: &quot;In one sentence: what is a context window?&quot;") == 2
    assert "served by</b> <code>anthropic/claude-3-haiku</code>" in rich(executed, "route")


def test_the_stream_filled_its_cell_in_place(executed: Any) -> None:
    shown = [o for o in outputs(executed, "stream") if o.output_type == "display_data"]
    assert len(shown) == 1  # one display, redrawn: not one output per token
    final = shown[0]["data"]
    assert "a very short story about a lighthouse" in final["text/plain"]
    assert "anthropic/claude-3.5-sonnet · $0.000" in final["text/plain"]  # the closing line
    assert "anthropic/claude-3.5-sonnet" in final["text/html"]


def test_await_works_at_the_top_level(executed: Any) -> None:
    printed = "".join(o.get("text", "") for o in outputs(executed, "await"))
    assert "RouteReport(model='openai/gpt-4o-mini'" in printed
    final = next(o for o in outputs(executed, "astream") if o.output_type == "display_data")
    assert "Name three lighthouses." in final["data"]["text/plain"]


def test_usage_summaries_are_tables(executed: Any) -> None:
    usage = rich(executed, "usage")
    assert "<tfoot><tr><th>total</th><th>3</th>" in usage  # two compared, one streamed
    assert "anthropic/claude-3.5-sonnet" in usage
    assert "<th>total</th><th>2</th>" in rich(executed, "ausage")
