"""What the harness runs: a script, or the code cells of a notebook."""

from __future__ import annotations

import tokenize
import warnings
from dataclasses import dataclass
from pathlib import Path


class NotebookError(ValueError):
    """A notebook file that cannot be read as a notebook; the message names the file."""


@dataclass(frozen=True)
class Cell:
    """A piece of code run as a unit: a whole script (``number`` None), or one code cell
    of a notebook (``number`` 1-based among the notebook's code cells)."""

    number: int | None
    text: str


@dataclass(frozen=True)
class Source:
    """A script or notebook to run. ``shown_as`` is the name the student gave the file
    (``cnn.py``, ``hw4-2.ipynb``): every location in the report is written with it."""

    kind: str  # "script" or "notebook"
    path: Path
    shown_as: str
    cells: tuple[Cell, ...]

    @classmethod
    def script(cls, path: str | Path, shown_as: str | None = None) -> Source:
        """A .py file. Its encoding is read as Python would (a ``# coding:`` line, else
        UTF-8); bytes that do not decode become U+FFFD rather than an error."""
        path = Path(path)
        try:
            with tokenize.open(path) as fh:
                text = fh.read()
        except (SyntaxError, UnicodeDecodeError):
            text = path.read_bytes().decode("utf-8", errors="replace")
        return cls("script", path, shown_as or path.name, (Cell(None, text),))

    @classmethod
    def notebook(cls, path: str | Path, shown_as: str | None = None) -> Source:
        """The code cells of a .ipynb file, in order. Raises NotebookError naming the
        file when it is not a notebook nbformat can read."""
        import nbformat  # deferred: scripts do not need it

        path = Path(path)
        name = shown_as or path.name
        try:
            with warnings.catch_warnings():
                # Colab and old Jupyter files miss fields (cell ids); they still run.
                warnings.simplefilter("ignore")
                nb = nbformat.read(str(path), as_version=4)
            cells = []
            for cell in nb.cells:
                if cell.get("cell_type") == "code":
                    source = cell.get("source", "")
                    if isinstance(source, list):
                        source = "".join(source)
                    cells.append(Cell(len(cells) + 1, str(source)))
        except Exception as exc:  # nbformat raises many kinds (JSON, schema, version)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise NotebookError(f"{name}: not a notebook the grader can read "
                                f"({type(exc).__name__}{': ' + reason[:200] if reason else ''})"
                                ) from exc
        return cls("notebook", path, name, tuple(cells))

    def describe(self) -> str:
        return self.shown_as
