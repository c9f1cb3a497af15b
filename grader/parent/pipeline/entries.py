"""Step 2 of grading: find each task's entry file in the submission.

Students name files as they like (`cnn (1).py`, `Practical2_JohnDoe.ipynb`): when the
spec's file is absent, a file that is plainly it stands in, and the report says which;
when nothing fits, the message lists the files that are there."""

from __future__ import annotations

from pathlib import Path

from grader.parent import submission
from grader.parent.pipeline.outcome import RunOptions, TaskOutcome, fail_all
from grader.parent.spec import Spec


def find_entries(spec: Spec, sub: Path, outcomes: dict[str, TaskOutcome],
                 run: RunOptions | None = None) -> dict[str, str]:
    """Task id -> the entry file found for it (relative to ``sub``). A task without one
    fails every check here, naming the files that come close. A file pinned with
    `--map` is used as it is, or the task fails naming it."""
    entry_files: dict[str, str] = {}
    maps = run.maps if run else {}
    # A submission that names some of the spec's files as the template does has made
    # its choices: its other files are not stand-ins for every missing one.
    named = any(submission.resolve_entry_file(sub, t["entry"]) for t in spec.tasks)
    for task in spec.tasks:
        out = outcomes[task["id"]]
        if task["id"] in maps:
            pinned, name = maps[task["id"]]
            if not (sub / pinned).is_file():
                present = ", ".join(submission.code_files(sub)[:10]) or "no code file"
                out.checks = fail_all(task, "error", f"--map {task['id']}={pinned}: no such "
                                      f"file in the submission (it holds {present})")
                continue
            out.notes.append(f"graded {pinned}" + (f": {name}" if name else "")
                             + " (pinned with --map)")
            out.entry_file = entry_files[task["id"]] = pinned
            continue
        found = submission.resolve_entry_file(sub, task["entry"])
        if found is None:
            candidates = submission.entry_candidates(task["entry"])
            names = " or ".join(candidates)
            found, others = submission.stand_in_entry(sub, candidates, lone=not named)
            if found is None:
                present = submission.code_files(sub)
                fix = (f"the submission holds {', '.join(present[:10])}; name the file "
                       f"{candidates[0]} as the template does" if present else
                       "the submission holds no .py or .ipynb file")
                out.checks = fail_all(task, "error", f"{names} not found in the submission; "
                                      f"{fix}")
                continue
            also = f" (also there: {', '.join(others)})" if others else ""
            out.notes.append(f"{names} is not in the submission; graded {found} in its "
                             f"place{also}")
        out.entry_file = found
        entry_files[task["id"]] = found
    return entry_files
