"""Per-student model mappings for a batch run: which file and name grades which task,
for the students whose submissions do not follow the template's names and for whom
the automatic match needs a person's word (`grader check --map`, one row a pin).

The instructor writes a CSV with the columns ``student,task,map`` (``map`` is
``FILE:NAME`` or ``FILE``); `grader batch plan --maps FILE.csv` checks it and keeps it
as RUN/maps.json, which each task reads when it starts, so a mapping added after a
first grading takes effect at the next `--regrade` of that student.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from grader.files import write_json_atomic

MAPS = "maps.json"
COLUMNS = ("student", "task", "map")


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    """student -> task -> "FILE:NAME", from the instructor's CSV; ValueError naming the
    file, the line and the fix for anything it cannot use."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--maps {path}: cannot read it ({exc})") from None
    rows = list(csv.DictReader(text.splitlines()))
    if not rows and text.strip():
        raise ValueError(f"--maps {path}: no rows under the header")
    header = list(rows[0]) if rows else []
    if rows and [h.strip() for h in header] != list(COLUMNS):
        raise ValueError(f"--maps {path}: the header must be {','.join(COLUMNS)} (found "
                         f"{','.join(header)})")
    maps: dict[str, dict[str, str]] = {}
    for line, row in enumerate(rows, start=2):
        student, task, target = (str(row.get(c) or "").strip() for c in COLUMNS)
        if not (student and task and target):
            raise ValueError(f"--maps {path} line {line}: every row needs a student, a task "
                             "and a map such as hw.ipynb:cnn")
        if task in maps.setdefault(student, {}):
            raise ValueError(f"--maps {path} line {line}: {student}'s task {task!r} is "
                             "mapped twice")
        maps[student][task] = target
    return maps


def save(run: Path, maps: dict[str, dict[str, str]]) -> None:
    write_json_atomic(run / MAPS, maps)


def args_for(run: Path, student: str) -> list[str]:
    """The `grader check --map` options of one student, from RUN/maps.json."""
    path = run / MAPS
    if not path.is_file():
        return []
    try:
        maps = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return []  # a damaged file grades without pins, as if none were made
    pins = maps.get(student, {}) if isinstance(maps, dict) else {}
    return [arg for task, target in sorted(pins.items())
            for arg in ("--map", f"{task}={target}")]
