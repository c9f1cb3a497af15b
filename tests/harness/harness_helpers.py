"""Helpers shared by the harness tests: the corpus folder, model facts, notebooks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import keras
import nbformat
import numpy as np

CORPUS = Path(__file__).parent / "corpus"


def trainable(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def layer_classes(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    """A real .ipynb; ``cells`` are ("code" | "markdown", source) pairs."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(src).strip("\n")) if kind == "code"
                else nbformat.v4.new_markdown_cell(src) for kind, src in cells]
    nbformat.write(nb, str(path))
    return path
