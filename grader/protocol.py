"""What crosses the trust boundary: the one vocabulary the parent and both workers share.

The parent writes jobs to a worker's job pipe, one JSON object a line; a worker
answers on its event pipe with ``ready``, then per job ``start``, ``progress`` and
``done`` (whose ``result`` carries the job's outcome). Every check, wherever it runs,
returns a CheckResult whose ``state`` is a State. Nothing here imports TensorFlow or
student code, so all three sides can import it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from enum import Enum
from typing import Any


class State(str, Enum):
    """A check's outcome. A str, so a State compares equal to its value and is written
    to JSON as it."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # could not run here (--static, no dataset): 0 of 0 points
    ERROR = "error"  # the submission could not be graded for this check
    UNVERIFIED = "unverified"  # a model only the student's process could load
    NOT_IMPLEMENTED = "not_implemented"  # the template's stub is still there

    def __str__(self) -> str:
        return self.value


FAILED_STATES = frozenset({State.FAILED, State.ERROR, State.UNVERIFIED, State.NOT_IMPLEMENTED})

CheckResult = dict[str, Any]
"""{"state": State, "message": str, "hints": [str], "details": {...}, "fraction":
optional partial credit 0..1, "unverified": optional True (scored from the student
process's own facts)}. A dict because it is what the results file holds; build one
with the functions below."""


def result(state: State, message: str, hints: list[str] | None = None,
           details: dict[str, Any] | None = None, **extra: Any) -> CheckResult:
    return {"state": State(state), "message": message, "hints": list(hints or []),
            "details": dict(details or {}), **extra}


def passed(message: str, details: dict | None = None, **extra: Any) -> CheckResult:
    return result(State.PASSED, message, details=details, **extra)


def failed(message: str, hints: list[str] | None = None, details: dict | None = None,
           **extra: Any) -> CheckResult:
    return result(State.FAILED, message, hints, details, **extra)


def skipped(message: str) -> CheckResult:
    return result(State.SKIPPED, message)


def error(message: str, **extra: Any) -> CheckResult:
    return result(State.ERROR, message, **extra)


def normalised(raw: dict[str, Any]) -> CheckResult:
    """A result read back from a pipe (plain JSON) with every field present and its
    state a State; an unknown state is the grader's error, never a pass."""
    try:
        state = State(raw.get("state"))
    except ValueError:
        return error(f"internal error: a check reported the unknown state {raw.get('state')!r}")
    return {**raw, "state": state, "message": raw.get("message", ""),
            "hints": list(raw.get("hints") or []), "details": dict(raw.get("details") or {})}


# How the parent names a notebook's code for the build worker, which names it back to
# the student in messages ("nb.ipynb code cell 3").
FILTERED_SUFFIX = "__grader_defs.py"
CELL_MARKER = "# --- notebook code cell "


def read_jobs(fd: int) -> Iterator[dict[str, Any]]:
    """Worker side: yields job dicts from the parent until it closes the pipe."""
    with os.fdopen(fd, "r") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


class EventWriter:
    """Worker side: one JSON object per line to the parent's event pipe."""

    def __init__(self, fd: int):
        self._fh = os.fdopen(fd, "w", buffering=1)

    def send(self, event: str, **data: Any) -> None:
        # Student output goes to the same terminal-less pipes; flush it first so the
        # parent counts it against the job that printed it.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a student may have replaced sys.stdout
                pass
        try:
            out = os.fstat(1).st_size  # output so far, so the parent can charge each job
        except OSError:
            out = 0
        self._fh.write(json.dumps({"event": event, "out": out, **data}, default=str) + "\n")
        self._fh.flush()
