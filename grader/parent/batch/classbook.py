"""One gradebook for a class: the run's programming scores with the roster's ids and
names, theory results, manual scores and the late penalty merged in.

The programming gradebook (gradebook.py) keeps its columns; what is merged adds
columns after `max_score`:

    id, name            the roster's (after `student`), with --roster
    theory, theory_max  the theory results (`grader theory grade DIR --json OUT`, or
                        answers files graded here), with --theory
    manual:ITEM         each item of the manual-scores CSV, with --manual
    raw, raw_max        programming + theory + manual
    submitted_at, late_days, late_percent, penalty   with a late policy
    final               raw less the penalty: the grade to release

A student without a programming result keeps empty cells (never a zero), as in
the programming gradebook.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from grader.files import write_atomic
from grader.parent.batch import late, roster

if TYPE_CHECKING:
    from grader.parent.batch.gradebook import Gradebook
    from grader.parent.batch.state import RunState


@dataclass
class Row:
    """One student of the class, everything the gradebook, the pages and the index show."""

    student: str                       # the run's id ('' for a roster student without one)
    state: str                         # done, failed, ..., or "no submission"
    person: roster.Student | None = None
    program: float | None = None
    program_max: float | None = None
    theory: float | None = None
    theory_max: float | None = None
    manual: dict[str, float] = field(default_factory=dict)
    lateness: late.Lateness | None = None
    counts: dict[str, int] = field(default_factory=dict)   # checks passed, failed, not run
    reasons: str = ""                                     # needs review
    canvas_late: bool = False

    @property
    def label(self) -> str:
        if self.person:
            return f"{self.person.name} ({self.person.id})" if self.person.name else self.person.id
        return self.student

    @property
    def raw(self) -> float | None:
        parts = [v for v in (self.program, self.theory, *self.manual.values()) if v is not None]
        return round(sum(parts), 2) if parts else None

    @property
    def penalty(self) -> float:
        return self.lateness.penalty if self.lateness else 0.0

    @property
    def final(self) -> float | None:
        return None if self.raw is None else round(self.raw - self.penalty, 2)


def manual_scores(path: Path) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """({student: {item: points}}, {item: max points}) from a CSV with columns student
    (or id), item, points, and optionally max_points (or out_of) and comment."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"--manual {path}: cannot read it ({exc})") from None
    scores: dict[str, dict[str, float]] = {}
    maxima: dict[str, float] = {}
    for number, row in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        who, item, points = row.get("student") or row.get("id"), row.get("item"), row.get("points")
        if not who and not item and not points:
            continue
        if not who or not item or points in (None, ""):
            raise ValueError(f"--manual {path}, line {number}: needs student (or id), item "
                             "and points")
        try:
            scores.setdefault(who, {})[item] = float(points)
            top = row.get("max_points") or row.get("out_of")
            if top:
                maxima[item] = max(maxima.get(item, 0.0), float(top))
        except ValueError:
            raise ValueError(f"--manual {path}, line {number}: points {points!r} is not a "
                             "number") from None
    return scores, maxima


def theory_results(folder: Path, assignment: str) -> dict[str, dict]:
    """{file stem: results} from FOLDER: results files as `grader theory grade` writes them,
    or answers files, graded here against ASSIGNMENT's questions."""
    from grader.commands.theory import grade_answers_file

    if not folder.is_dir():
        raise ValueError(f"--theory {folder}: not a folder (one results or answers JSON file "
                         "per student, named by student id)")
    found = {}
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and isinstance(data.get("tests"), list):
            found[path.stem] = data
        else:
            found[path.stem] = grade_answers_file(path, assignment)[0]
    return found


def _counts(result: dict) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "not run": 0}
    for test in result.get("tests", []):
        state = (test.get("grader") or {}).get("state")
        if state in ("skipped", "manual"):
            continue
        if state == "not_run":
            counts["not run"] += 1
        else:
            counts["passed" if test.get("status") == "passed" else "failed"] += 1
    return counts


def build_rows(state: RunState, matching: roster.Matching | None, lms: dict[str, roster.LmsInfo],
               theory: dict[str, dict], manual: dict[str, dict[str, float]],
               chosen: late.Policy | None, times: dict[str, str],
               reviews: dict[str, str]) -> list[Row]:
    """A Row per student of the run, then one per roster student with no submission.

    Theory, manual scores and times are looked up by the run's id, then the roster id."""
    rows = []
    for st in state.students:
        student = st.entry.student
        person = matching.matched.get(student) if matching else None
        keys = [student, *([person.id] if person else [])]
        row = Row(student, st.state, person, reasons=reviews.get(student, ""),
                  canvas_late=bool(lms.get(student) and lms[student].late))
        if st.state == "done" and st.result is not None:
            row.program = float(st.result.get("score", 0))
            row.program_max = float(st.result.get("max_score", 0))
            row.counts = _counts(st.result)
        for key in keys:
            if key in theory:
                row.theory = float(theory[key].get("score", 0))
                row.theory_max = float(theory[key].get("max_score", 0))
                break
        for key in keys:
            if key in manual:
                row.manual = dict(manual[key])
                break
        if chosen is not None:
            row.lateness = late.assess(chosen, *_submitted(keys, person, lms.get(student),
                                                           st.entry.path, times),
                                       row.raw or 0.0)
        rows.append(row)
    for person in (matching.absent if matching else []):
        row = Row("", "no submission", person)
        row.theory = float(theory[person.id]["score"]) if person.id in theory else None
        row.manual = dict(manual.get(person.id, {}))
        rows.append(row)
    return rows


def _submitted(keys: list[str], person: roster.Student | None, info: roster.LmsInfo | None,
               path: Path, times: dict[str, str]) -> tuple[datetime | None, str]:
    for key in keys:
        if key in times:
            return late.parse_time(times[key], f"--times ({key})"), "--times"
    if person and person.submitted_at:
        return late.parse_time(person.submitted_at, f"--roster ({person.id})"), "roster"
    if info and info.submitted_at:
        return late.parse_time(info.submitted_at, info.lms), info.lms
    if info and info.file_time:
        return late.parse_time(info.file_time, "lms.json"), "file times"
    when = late.file_time(path)
    return when, "file times" if when else "unknown"


def columns(rows: list[Row], book: Gradebook, with_roster: bool, maxima: dict[str, float],
            with_theory: bool, with_late: bool) -> tuple[list[str], list[dict]]:
    """The merged gradebook's header and rows (the programming columns first)."""
    grades = {rec["student"]: rec for rec in book.grades.to_dict("records")}
    manual_items = list(dict.fromkeys(i for r in rows for i in r.manual))
    possible = raw_max(rows, maxima)
    head = ["student", *(["id", "name"] if with_roster else []), *book.tasks, "total",
            "max_score"]
    extra = (with_theory or manual_items or with_late)
    if with_theory:
        head += ["theory", "theory_max"]
    head += [f"manual:{item}" for item in manual_items]
    if extra:
        head += ["raw", "raw_max"]
    if with_late:
        head += ["submitted_at", "late_days", "late_percent", "penalty"]
    if extra:
        head.append("final")
    head.append("state")
    out = []
    for row in rows:
        rec = {k: v for k, v in grades.get(row.student, {}).items() if k in head}
        rec.update(student=row.student, state=row.state)
        if with_roster:
            rec.update(id=row.person.id if row.person else "",
                       name=row.person.name if row.person else "")
        if with_theory:
            rec.update(theory=row.theory, theory_max=row.theory_max)
        for item in manual_items:
            rec[f"manual:{item}"] = row.manual.get(item)
        if extra:
            rec.update(raw=row.raw, raw_max=possible, final=row.final)
        if with_late and row.lateness:
            lt = row.lateness
            rec.update(submitted_at=lt.submitted.isoformat(timespec="minutes")
                       if lt.submitted else "", late_days=lt.days, late_percent=lt.percent,
                       penalty=lt.penalty)
        out.append(rec)
    return head, out


def raw_max(rows: list[Row], maxima: dict[str, float]) -> float:
    """Points possible: the class's largest programming and theory maxima plus each manual
    item's maximum (its max_points, a theory question's points, else the best score given)."""
    program = max((r.program_max or 0.0 for r in rows), default=0.0)
    theory = max((r.theory_max or 0.0 for r in rows), default=0.0)
    items = {i for r in rows for i in r.manual}
    best = {i: max(r.manual.get(i, 0.0) for r in rows) for i in items}
    return round(program + theory + sum(maxima.get(i, best[i]) for i in items), 2)


def write_csv(path: Path, head: list[str], records: list[dict]) -> Path:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(head)
    for rec in records:
        out.writerow([_cell(rec.get(col)) for col in head])
    return write_atomic(path, buf.getvalue())


def write_canvas(path: Path, rows: list[Row], column: str, points: float) -> Path:
    """The Canvas gradebook import: Student, ID (Canvas user id), SIS User ID, SIS Login ID,
    Section and the assignment's column (the final score), under a "Points Possible" row.
    Only students on the roster are in it; an empty cell leaves Canvas's grade as it is."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
    out.writerow(["Points Possible", "", "", "", "", _cell(points)])
    for row in rows:
        if row.person is None:
            continue
        p = row.person
        out.writerow([p.name, p.canvas_id, p.id, p.login, p.section, _cell(row.final)])
    return write_atomic(path, buf.getvalue())


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def merged_result(result: dict, row: Row, theory: dict | None, maxima: dict[str, float]) -> dict:
    """The student's page data: the programming results with the theory questions, the
    manual items and the late penalty added as tasks, scored as the gradebook scores."""
    data = json.loads(json.dumps(result))
    info = data.setdefault("grader", {})
    tasks = info.setdefault("tasks", {})
    if not tasks:
        for test in data.get("tests", []):
            tasks.setdefault((test.get("tags") or ["?"])[0], {})
    if theory is not None:
        tasks["theory"] = {"title": "theory questions"}
        for test in theory.get("tests", []):
            # Tagged under one "theory" task; the page names each check by its question.
            test = dict(test, tags=["theory", *(test.get("tags") or [])],
                        grader={**(test.get("grader") or {}), "check": test.get("name", "?")})
            data["tests"].append(test)
    if row.manual:
        tasks["manual"] = {"title": "graded by a person"}
        for item, points in row.manual.items():
            top = maxima.get(item, points)
            data["tests"].append({
                "name": f"manual: {item}", "score": points, "max_score": top,
                "status": "passed", "output": "scored by a person", "visibility": "visible",
                "tags": ["manual", item], "grader": {"state": "manual", "check": item}})
    data["max_score"] = round(float(data.get("max_score", 0)) + (row.theory_max or 0.0)
                              + sum(maxima.get(i, v) for i, v in row.manual.items()), 2)
    if row.lateness and row.lateness.penalty:
        lt = row.lateness
        tasks["late"] = {"title": "late penalty", "notes": [
            f"handed in {lt.days} day(s) late ({lt.source}): {lt.percent:g}% of "
            f"{row.raw:g} = {lt.penalty:g} points off"]}
    data["score"] = row.final if row.final is not None else data.get("score", 0)
    return data
