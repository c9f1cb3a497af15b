"""A submission file's Python, read as text for the checks that look at the source
(augmentation in a data pipeline, a PyTorch training loss). Nothing is run or
imported: the parent never runs student code."""

from __future__ import annotations

import json
from pathlib import Path


def code_units(path: Path) -> list[tuple[str, str]]:
    """(where, code) for a .py file (where is ""), or for each code cell of a notebook
    (where is "code cell N, "), shell and magic lines blanked so that line numbers
    hold; [] for a file that cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    if path.suffix != ".ipynb":
        return [("", text)]
    return [(f"code cell {index}, ", code)
            for index, code in enumerate(notebook_cells(text), start=1)]


def notebook_cells(text: str) -> list[str]:
    """The code of each code cell of a notebook's JSON text, shell and magic lines
    blanked (they are not Python; blank, line numbers still match the cell); [] for
    text that is not a notebook."""
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return []
    out = []
    for cell in cells:
        if not (isinstance(cell, dict) and cell.get("cell_type") == "code"):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        out.append("\n".join("" if line.lstrip().startswith(("%", "!")) else line
                             for line in source.splitlines()))
    return out
