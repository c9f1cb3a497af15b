"""Reading a student's results file back, and telling a usable one from a corrupt one.

A results file is only ever moved into `results/` whole, but a full disk, a
hand edit or a copy cut short can still leave one that is not JSON or not the
shape `grader check --json` writes. Such a file must not stop a class from
being collected: it is reported as a "corrupt result" for that one student,
and the task treats it as no result, so `submit --only-missing` grades the
student again (the bad file is kept aside in `results/.corrupt/`).
"""

from __future__ import annotations

import json
from pathlib import Path


class CorruptResult(ValueError):
    """A results file that cannot be read as grader check's results; the message says why."""


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _problem(data: object) -> str | None:
    """What is wrong with the fields that status and collect read, or None."""
    if not isinstance(data, dict):
        return f"the top level is a {type(data).__name__}, not an object"
    for key in ("score", "max_score"):
        if key in data and not _is_number(data[key]):
            return f"{key!r} is {data[key]!r}, not a number"
    tests = data.get("tests", [])
    if not isinstance(tests, list):
        return f"'tests' is {tests!r}, not a list"
    for i, test in enumerate(tests):
        if not isinstance(test, dict):
            return f"tests[{i}] is {test!r}, not an object"
        for key in ("score", "max_score"):
            if key in test and not _is_number(test[key]):
                return f"tests[{i}].{key} is {test[key]!r}, not a number"
        tags = test.get("tags")
        if tags is not None and not (isinstance(tags, list)
                                     and all(isinstance(t, str) for t in tags)):
            return f"tests[{i}].tags is {tags!r}, not a list of strings"
        if not isinstance(test.get("grader") or {}, dict):
            return f"tests[{i}].grader is not an object"
    grader = data.get("grader") or {}
    if not isinstance(grader, dict) or not isinstance(grader.get("batch") or {}, dict):
        return "'grader' (or 'grader.parent.batch') is not an object"
    return None


def load_result(path: Path) -> dict:
    """The results file at PATH as a dict; CorruptResult naming the file, the fault and the fix."""
    # PATH is RUN/results/<student>.json: name the run in the command to type.
    fix = (f"; `grader batch submit {path.parent.parent} --only-missing` grades this student "
           "again (the bad file is kept in results/.corrupt/)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise CorruptResult(f"corrupt result: {path} is not UTF-8 text ({exc}){fix}") from None
    except OSError as exc:
        raise CorruptResult(f"corrupt result: {path} cannot be read ({exc}){fix}") from None
    except ValueError as exc:
        raise CorruptResult(f"corrupt result: {path} is not valid JSON, perhaps cut short "
                            f"({exc}){fix}") from None
    problem = _problem(data)
    if problem:
        raise CorruptResult(f"corrupt result: {path} is not a grader check results file "
                            f"({problem}){fix}")
    return data
