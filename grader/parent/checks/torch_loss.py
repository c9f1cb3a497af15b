"""The loss a PyTorch submission trains with, read statically from its source files.

A torch.export program holds the model, not its training loop, so the loss is not in the
verify worker's facts. It is read here, in the parent, from the submission's files with
``ast`` (nothing is run or imported): a reading the student's code cannot change, where a
record made by the build worker would come from the process that runs that code.
The result has the shape of a Keras model's compile facts, so the lints read one shape.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from grader.parent.source_reading import code_units

# Loss names (class or function) -> (loss, whether it expects logits).
LOSSES = {
    "CrossEntropyLoss": ("cross_entropy", True),
    "cross_entropy": ("cross_entropy", True),
    "BCEWithLogitsLoss": ("binary_cross_entropy_with_logits", True),
    "binary_cross_entropy_with_logits": ("binary_cross_entropy_with_logits", True),
    "NLLLoss": ("nll_loss", False),
    "nll_loss": ("nll_loss", False),
    "BCELoss": ("binary_cross_entropy", False),
    "binary_cross_entropy": ("binary_cross_entropy", False),
}


def losses_in(text: str) -> list[str]:
    """Loss names the code uses (calls or references such as ``criterion = F.cross_entropy``),
    in order of appearance; an import alone is not a use."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        name = node.id if isinstance(node, ast.Name) else (
            node.attr if isinstance(node, ast.Attribute) else None)
        if name in LOSSES and isinstance(getattr(node, "ctx", None), ast.Load):
            found.append((node.lineno, node.col_offset, name))
    return [name for *_, name in sorted(found)]


def loss_facts(paths: list[Path | str]) -> dict[str, Any]:
    """``{"compiled": False, "loss": ..., "from_logits": ...}`` for the files given."""
    names = [n for p in paths for _, text in code_units(Path(p)) for n in losses_in(text)]
    losses = list(dict.fromkeys(LOSSES[n] for n in names))
    # A logits loss anywhere decides: a softmax output fed to it is the mistake to flag,
    # whatever other loss the file also mentions.
    chosen = next((x for x in losses if x[1]), losses[0] if losses else (None, False))
    return {"compiled": False, "loss": chosen[0], "from_logits": chosen[1],
            "losses": [name for name, _ in losses]}


def with_loss(facts: dict[str, Any], paths: list[Path | str]) -> dict[str, Any]:
    """A torch model's facts with the loss read from the submission's files; other facts
    unchanged (a Keras model's compile facts come from its saved file)."""
    if facts.get("framework") != "torch":
        return facts
    return {**facts, "compile": {**facts.get("compile", {}), **loss_facts(paths)}}
