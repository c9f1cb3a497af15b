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
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return []
    units = []
    code_cells = [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]
    for index, cell in enumerate(code_cells, start=1):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        lines = ["" if line.lstrip().startswith(("%", "!")) else line
                 for line in source.splitlines()]
        units.append((f"code cell {index}, ", "\n".join(lines)))
    return units
