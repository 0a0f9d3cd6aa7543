"""The documentation site: it builds with `mkdocs build --strict`, and every code block marked
runnable runs against the mock gateway.

A block is runnable when the line before its fence is ``<!-- run -->``: the blocks of a page
run in order in one namespace, with XROUTE_BASE_URL / XROUTE_API_KEY pointing at a served
`MockGateway`, as a reader's terminal would after `python -m xroute mock`. A block marked
``<!-- run: pytest -->`` is a test module: it runs under pytest, with xroute's fixtures.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import inspect
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

import xroute
from xroute import XRoute
from xroute.testing import MockGateway

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
MARKER = re.compile(r"^<!--\s*run(?::\s*(?P<kind>[\w-]+))?\s*-->\s*$")
FENCE_OPEN = re.compile(r"^```python\s*$")


@dataclass(frozen=True)
class Block:
    """A runnable code block: where it is, how it runs, and its code."""

    page: str
    line: int  # 1-based line of the first line of code
    kind: str  # "python" or "pytest"
    code: str


def runnable_blocks(path: Path) -> list[Block]:
    """The marked blocks of one page, in order; a marker not followed by a fence is an error."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(ROOT).as_posix()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        marker = MARKER.match(lines[i].strip())
        i += 1
        if marker is None:
            continue
        if i >= len(lines) or not FENCE_OPEN.match(lines[i]):
            raise AssertionError(f"{page}:{i}: a run marker must be followed by a ```python fence")
        start = i + 1
        end = start
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise AssertionError(f"{page}:{start}: the fence is never closed")
        kind = marker.group("kind") or "python"
        if kind not in ("python", "pytest"):
            raise AssertionError(f"{page}:{i}: unknown run kind {kind!r}")
        blocks.append(Block(page, start + 1, kind, "\n".join(lines[start:end]) + "\n"))
        i = end + 1
    return blocks


PAGES = sorted(p for p in DOCS.rglob("*.md") if runnable_blocks(p))


def _run_python(block: Block, namespace: dict[str, object]) -> None:
    # Top-level `await` is allowed, as in a notebook; such a block runs in a fresh loop.
    code = compile(
        block.code, f"{block.page}:{block.line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))
    else:
        exec(code, namespace)


def _run_pytest(block: Block, tmp_path: Path) -> None:
    test_file = tmp_path / f"test_docs_block_{block.line}.py"
    test_file.write_text(block.code, encoding="utf-8")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"]
    done = subprocess.run(
        [*command, str(test_file)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{block.page}:{block.line}\n{done.stdout}\n{done.stderr}"


def test_every_page_is_checked_and_markers_are_well_formed() -> None:
    every = [b for p in DOCS.rglob("*.md") for b in runnable_blocks(p)]
    pages = {b.page for b in every}
    # The pages whose code people copy first must have running code, not just text.
    for page in ("index", "quickstart", "migrating", "streaming", "routing", "costs"):
        assert f"docs/{page}.md" in pages
    assert any(b.kind == "pytest" for b in every)
    assert len(every) >= 30


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_runnable_blocks_run(
    page: Path,
    xroute_gateway: MockGateway,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("XROUTE_BASE_URL", xroute_gateway.base_url)
    monkeypatch.setenv("XROUTE_API_KEY", xroute_gateway.api_key)
    xroute_logger = logging.getLogger("xroute")
    monkeypatch.setattr(xroute_logger, "level", xroute_logger.level)  # a page may turn DEBUG on
    namespace: dict[str, object] = {"__name__": "__docs__"}
    blocks = runnable_blocks(page)
    try:
        for block in blocks:
            if block.kind == "pytest":
                _run_pytest(block, tmp_path)
            else:
                _run_python(block, namespace)
    finally:
        for value in namespace.values():
            if isinstance(value, XRoute):
                value.close()
    # Pages print what they show; a page that printed nothing ran nothing worth reading.
    if any(block.kind == "python" for block in blocks):
        assert capsys.readouterr().out.strip()


# --------------------------------------------------------------------------- the site


def _load_doctest_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "doctest_blocks", DOCS / "hooks" / "doctest_blocks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_doctest_sessions_become_fenced_code() -> None:
    pytest.importorskip("griffe", reason="griffe comes with mkdocstrings[python]")
    to_markdown = _load_doctest_hook().to_markdown
    text = (
        "Summary.\n"
        "Text::\n"
        "\n"
        "    literal\n"
        "\n"
        ">>> client = XRoute()\n"
        ">>> client.models.list(\n"
        "...     refresh=True)\n"
        "<ModelCatalog 3 models>\n"
        "\n"
        "```python\n"
        ">>> untouched\n"
        "```\n"
    )
    assert to_markdown(text).splitlines() == [
        "Summary.",
        "Text:",
        "",
        "    literal",
        "",
        "```pycon",
        ">>> client = XRoute()",
        ">>> client.models.list(",
        "...     refresh=True)",
        "<ModelCatalog 3 models>",
        "```",
        "",
        "```python",
        ">>> untouched",
        "```",
    ]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package of a dotted name is missing
        return False


def test_site_builds_strict(tmp_path: Path) -> None:
    needed = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
    missing = [module for module in needed if not _installed(module)]
    if missing:
        pytest.skip(
            f"cannot build the docs: {', '.join(missing)} not installed "
            "(pip install mkdocs mkdocs-material 'mkdocstrings[python]')"
        )
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    reference = (site / "reference" / "clients" / "index.html").read_text(encoding="utf-8")
    assert "XRoute" in reference
    assert "with_options" in reference
    # Docstring examples are code, not three nested quotes (docs/hooks/doctest_blocks.py).
    assert "<blockquote>" not in reference
    assert '<span class="gp">&gt;&gt;&gt; </span>' in reference  # a highlighted prompt
    # The examples page includes the scripts themselves, so docs and examples cannot drift.
    examples = (site / "examples" / "index.html").read_text(encoding="utf-8")
    assert "get_weather" in examples


def test_the_error_tree_on_the_errors_page_is_the_real_one() -> None:
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    tree = text.split("```text\n", 1)[1].split("```", 1)[0]
    parents: list[str] = []
    drawn: set[str] = set()
    for line in tree.splitlines():
        name_at = re.search(r"[A-Za-z]", line)
        assert name_at is not None
        depth = name_at.start() // 4
        name = line[name_at.start() :].split()[0]
        cls = getattr(xroute, name)
        del parents[depth:]
        if parents:
            assert issubclass(cls, getattr(xroute, parents[-1])), f"{name} < {parents[-1]}"
        parents.append(name)
        drawn.add(name)
    exported = {
        name
        for name in xroute.__all__
        if isinstance(getattr(xroute, name), type)
        and issubclass(getattr(xroute, name), xroute.XRouteError)
    }
    assert exported == drawn
