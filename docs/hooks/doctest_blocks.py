"""A griffe extension: the docstrings' ``>>>`` examples and ``::`` blocks, as Markdown code.

The docstrings are written for `help()` and doctest: ``>>>`` sessions and reST-style ``::``
literal blocks. Markdown reads ``>>>`` as three nested quotes, so before mkdocstrings renders
a docstring, each run of ``>>>`` / ``...`` lines becomes a fenced ``pycon`` block, and a
paragraph's closing ``::`` becomes ``:`` (the indented block after it is already code).
"""

from __future__ import annotations

from typing import Any

import griffe

_PROMPTS = (">>>", "...")


def _is_prompt(line: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith(_PROMPTS) and (len(stripped) == 3 or stripped[3] == " ")


def to_markdown(text: str) -> str:
    """Fence every doctest run (with the output lines after it) and tidy ``::`` endings."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    fenced = False
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if fenced or not _is_prompt(line):
            if not fenced and line.rstrip().endswith("::") and line.strip() != "::":
                line = line.rstrip()[:-1]
            elif not fenced and line.strip() == "::":
                line = ""
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        block: list[str] = []
        # The session and its output run until a blank line.
        while i < len(lines) and lines[i].strip():
            block.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        if out and out[-1].strip():
            out.append("")
        # The blank line (or the end) that closed the session closes the fence's paragraph.
        out.extend([f"{indent}```pycon", *(f"{indent}{b}" for b in block), f"{indent}```"])
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    """Rewrites each docstring once, when griffe loads its object."""

    def on_instance(self, *, node: Any, obj: griffe.Object, agent: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
