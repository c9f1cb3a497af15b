"""`grader assignment validate`: is a spec ready to grade a class?

In order: the spec's JSON and schema (as `grader check` loads it), what the schema
cannot see (grader/parent/spec_lint.py), and, given the folders, the reference and
the template graded statically by the very pipeline that grades students: the
reference must earn every point a static run can give, its models must have the
spec's parameter counts, and the template must earn nothing.

Never raises for a bad spec or folder: every problem becomes a Problem line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.parent import spec_lint
from grader.parent.spec import ASSIGNMENTS_ENV, SpecError, load_spec, spec_file
from grader.parent.spec_lint import Problem

# Results states that score nothing and lose nothing (see grader/parent/report.py).
_SCORELESS = {"skipped", "manual", "not_run"}


@dataclass
class Validation:
    spec: str  # the spec file as named in the output
    problems: list[Problem] = field(default_factory=list)
    tasks: int = 0
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)  # folder -> (got, of)

    @property
    def exit_code(self) -> int:
        return 2 if self.problems else 0

    def lines(self) -> list[str]:
        out = [p.line(self.spec) for p in self.problems]
        if self.problems:
            n = len(self.problems)
            out.append(f"{self.spec}: {n} problem{'s' if n != 1 else ''}")
            return out
        graded = "; ".join(f"{label} scores {got:g} of {of:g} static points"
                           for label, (got, of) in self.scores.items())
        summary = f"{self.spec}: valid, {self.tasks} task{'s' if self.tasks != 1 else ''}"
        out.append(summary + (f"; {graded}" if graded else ""))
        if len(self.scores) < 2:
            out.append("note: pass --reference DIR and --template DIR to check parameter "
                       "counts and points against the reference and the template")
        return out


def _resolve(target: str) -> Path:
    """The spec file of a path or an assignment id, as load_spec finds it."""
    path = Path(target)
    if path.suffix == ".json" or path.is_file():
        return path
    found = spec_file(target)
    if found is None:
        raise SpecError(target, [f"no spec file and no assignment named {target!r}; pass a "
                                 f"path to ID.json, or put it in a folder named by "
                                 f"{ASSIGNMENTS_ENV} or --assignments-dir"])
    return found


def _folder_problem(folder: Path, option: str) -> Problem | None:
    if not folder.exists():
        return Problem("", option, f"{folder}: no such folder")
    if not folder.is_dir():
        return Problem("", option, f"{folder}: not a folder")
    return None


def validate(target: str, reference: Path | None = None,
             template: Path | None = None) -> Validation:
    """Every problem of the spec ``target`` (a path or an assignment id), and of its
    reference and template folders when given."""
    try:
        path = _resolve(target)
    except SpecError as exc:
        return Validation(spec=exc.source, problems=[Problem("", "", p) for p in exc.problems])
    result = Validation(spec=str(path))
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        result.problems.append(Problem("", "", f"cannot read JSON: {exc}"))
        return result
    try:
        load_spec(path)
        valid = True
    except SpecError as exc:
        valid = False
        for line in exc.problems:
            at, _, message = line.partition(": ")
            where, where_field = spec_lint.locate(data, at)
            result.problems.append(Problem(where, where_field, message))
    result.tasks = len(spec_lint.tasks_of(data))
    result.problems += spec_lint.vocabulary_problems(data)
    # The theory package re-checks what the schema does: one line per field is enough.
    seen = {(p.where, p.field) for p in result.problems}
    result.problems += [p for p in spec_lint.theory_problems(data, str(path))
                        if (p.where, p.field) not in seen]

    folders = [(label, folder, option) for label, folder, option in
               (("reference", reference, "--reference"), ("template", template, "--template"))
               if folder is not None]
    gradeable = []
    for label, folder, option in folders:
        bad = _folder_problem(folder, option)
        if bad:
            result.problems.append(bad)
            continue
        entry = spec_lint.entry_file_problems(data, folder, label)
        result.problems += entry + spec_lint.marker_problems(data, folder, label)
        gradeable.append((label, folder, spec_lint.missing_entry_tasks(entry)))
    if not valid:
        return result  # the pipeline would only repeat the schema's complaint
    for label, folder, missing in gradeable:
        tests, errors = _grade(path, folder)
        result.problems += [Problem(f"{label} folder", "",
                                    f"could not be graded: {_first_line(e)}") for e in errors]
        result.scores[label] = (sum(t["score"] for t in tests),
                                sum(t["max_score"] for t in tests))
        judge = _reference_problems if label == "reference" else _template_problems
        result.problems += [p for t in tests if f"task {t['tags'][0]}" not in missing
                            for p in judge(t)]
    return result


def _grade(spec_path: Path, folder: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The results' tests of ``folder`` graded against this spec file, without training."""
    from grader.parent import pipeline, report

    # load_spec takes a path where an id goes, so a spec outside GRADER_ASSIGNMENTS
    # and a folder whose marker is wrong are graded all the same.
    grading = pipeline.grade(folder, assignment=str(spec_path), static=True)
    return report.results(grading)["tests"], list(grading.errors)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _count(want: Any) -> str:
    if isinstance(want, dict):
        return " to ".join(f"{want[k]:,}" if k in want else "any" for k in ("min", "max"))
    return f"{want:,}"


def _outside(want: Any, have: int) -> bool:
    if isinstance(want, dict):
        return not want.get("min", have) <= have <= want.get("max", have)
    return want != have


def _reference_problems(test: dict[str, Any]) -> list[Problem]:
    where, state = f"task {test['tags'][0]}", test["grader"]["state"]
    check = test["grader"]["check"]
    if state in _SCORELESS or (state == "passed" and test["score"] >= test["max_score"]):
        return []
    details = test["grader"].get("details", {})
    if check == "params" and state == "failed" and details:
        # The spec's counts are what is wrong when the reference disagrees with them.
        return [Problem(where, f"checks.params.{key}",
                        f"the spec says {_count(d['expected'])}, the reference's model "
                        f"has {d['got']:,}")
                for key, d in details.items() if _outside(d["expected"], d["got"])]
    return [Problem(where, f"checks.{check}",
                    f"the reference loses {test['max_score'] - test['score']:g} of "
                    f"{test['max_score']:g} points ({state}): {_first_line(test['output'])}")]


def _template_problems(test: dict[str, Any]) -> list[Problem]:
    if test["score"] <= 0:
        return []
    return [Problem(f"task {test['tags'][0]}", f"checks.{test['grader']['check']}",
                    f"the template earns {test['score']:g} of {test['max_score']:g} points, "
                    f"and should earn none: {_first_line(test['output'])}")]
