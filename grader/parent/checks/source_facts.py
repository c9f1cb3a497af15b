"""What a task's file shows outside its model, added to the model's facts where a check
reads it: a PyTorch model's training loss (torch_loss.py) and augmentation in the data
pipeline (source_augmentation.py). Read, never run, from the submission as handed in,
not from the build worker's copy, which the student's code could rewrite. The same
facts serve matching a captured model to its task and checking it, so a model is
chosen by what it is then scored on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.parent.checks import torch_loss
from grader.parent.checks.source_augmentation import augmentation_in_source


def with_source_facts(facts: dict[str, Any] | None, task: dict[str, Any], submission: Any,
                      entry_file: str | None) -> dict[str, Any] | None:
    if facts is None or not entry_file:
        return facts
    path = Path(submission) / entry_file
    facts = torch_loss.with_loss(facts, [path])
    if "augmentation" not in task["checks"].get("graph", {}).get("require", []):
        return facts
    return {**facts, "source": {"file": entry_file,
                                "augmentation": augmentation_in_source(path)}}
