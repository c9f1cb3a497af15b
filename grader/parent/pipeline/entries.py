"""Step 2 of grading: find each task's entry file in the submission."""

from __future__ import annotations

from pathlib import Path

from grader.parent import submission
from grader.parent.pipeline.outcome import TaskOutcome, fail_all
from grader.parent.spec import Spec


def find_entries(spec: Spec, sub: Path, outcomes: dict[str, TaskOutcome]) -> dict[str, str]:
    """Task id -> the entry file found for it (relative to ``sub``). A task without one
    fails every check here, naming the files that come close."""
    entry_files: dict[str, str] = {}
    for task in spec.tasks:
        out = outcomes[task["id"]]
        found = submission.resolve_entry_file(sub, task["entry"])
        if found is None:
            candidates = submission.entry_candidates(task["entry"])
            names = " or ".join(candidates)
            near = submission.near_misses(sub, candidates)
            if near:
                fix = (f"found {', '.join(near)} instead: keep one, named {names}, at the "
                       "top of the submission folder (beside .grader-assignment)")
            else:
                fix = "keep the file name the template uses"
            out.checks = fail_all(task, "error", f"{names} not found in the submission; {fix}")
            continue
        out.entry_file = found
        entry_files[task["id"]] = found
    return entry_files
