"""What a student may read of a grading: a hidden task shows its score only.

``visible`` tasks show everything. ``after_due_date`` and ``after_published`` keep their
details in the results file, tagged with that visibility, which Gradescope honours
(it shows them to students once the due date passes or the grades are published).
``hidden`` tasks keep their name and score; their messages, hints, details, images,
notes and quoted expectations go, in the results file, the terminal and the HTML page
alike, since all three are made from the same results. The instructor's audience
(``grader check --audience instructor``, the batch runs, the gradebook) keeps all.
"""

from __future__ import annotations

import copy
from typing import Any

AUDIENCES = ("student", "instructor")
HIDDEN_OUTPUT = "hidden: this check shows its score only"


def for_audience(data: dict[str, Any], audience: str) -> dict[str, Any]:
    """``data`` (a results object) as ``audience`` may read it; a copy when redacted."""
    if audience == "instructor":
        return data
    out = copy.deepcopy(data)
    hidden_tasks = set()
    for test in out.get("tests", []):
        if test.get("visibility") != "hidden":
            continue
        hidden_tasks.add(test["tags"][0])
        test["output"] = HIDDEN_OUTPUT
        grader = test.get("grader", {})
        grader["hints"], grader["details"] = [], {}
    info = out.get("grader", {})
    for task_id in hidden_tasks:
        task = info.get("tasks", {}).get(task_id)
        if task is not None:
            info["tasks"][task_id] = {"title": task.get("title", task_id), "text": [],
                                      "entry_file": task.get("entry_file"), "build": {},
                                      "verified": task.get("verified"), "skipped_cells": [],
                                      "notes": [], "build_worker_params": {}}
    if hidden_tasks:
        # The grader's own log can quote any task; a student needs none of it.
        info["verify_output"] = ""
    info["audience"] = audience
    return out
