"""Theory questions by assignment: found in the specs (``grader.parent.spec``: the
folders of GRADER_ASSIGNMENTS, then the shipped), read with ``json`` and checked by
``theory.section``; solved by the calculator, varied per student, and written as the
``--json`` object. No question lives in code.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from theory.answer import Reading, Solution, to_json
from theory.calculator import COMPUTATIONS
from theory.section import Assignment, Question, TheoryError, draw, fill, parse_theory

__all__ = ["Question", "Assignment", "TheoryError", "UnknownQuestion", "parse_theory",
           "load_assignment", "assignment_ids", "default_assignment", "load_bank", "get_question",
           "question_ids", "variant_params", "solve", "solution_json", "reading_json"]


class UnknownQuestion(KeyError):
    """An assignment or question id that no spec holds; the message lists valid ids."""

    def __str__(self) -> str:
        return str(self.args[0])


# --- finding assignments ------------------------------------------------------------------------

_LOADED: dict[tuple[str, int], Assignment] = {}


def _read(path: Path) -> Assignment:
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise UnknownQuestion(f"{path}: no such spec file") from None
    key = (str(path), stamp)
    if key not in _LOADED:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise TheoryError(f"{path}: cannot read the spec: {exc}") from None
        except json.JSONDecodeError as exc:
            raise TheoryError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column "
                              f"{exc.colno}") from None
        _LOADED[key] = parse_theory(data, str(path))
    return _LOADED[key]


def assignment_ids() -> list[str]:
    """Every assignment id found: the folders of GRADER_ASSIGNMENTS, then the shipped ones."""
    from grader.parent.spec import available_assignments

    return available_assignments()


def load_assignment(assignment: str | Assignment) -> Assignment:
    """An assignment's questions, by id (searched as ``grader.parent.spec`` does) or by the
    path of a spec ``.json``."""
    if isinstance(assignment, Assignment):
        return assignment
    from grader.parent.spec import spec_file

    candidate = Path(assignment)
    if candidate.suffix == ".json" or candidate.is_file():
        return _read(candidate)
    path = spec_file(assignment)
    if path is None:
        raise UnknownQuestion(f"unknown assignment {assignment!r}; the assignments are "
                              f"{', '.join(assignment_ids())}")
    return _read(path)


def default_assignment() -> str:
    """The assignment `grader theory` answers for without --assignment: the first spec, in
    search order (the instructor's folders first), whose theory section says
    ``"default": true``; else the first id with theory questions."""
    from grader.parent.spec import assignment_dirs, spec_file

    ids = assignment_ids()
    for folder in assignment_dirs():
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            if spec_file(path.stem) != path:    # shadowed by a folder searched earlier
                continue
            try:
                section = json.loads(path.read_text(encoding="utf-8")).get("theory")
            except (OSError, UnicodeDecodeError, ValueError, AttributeError):
                continue    # a broken spec is reported when it is named, not here
            if isinstance(section, dict) and section.get("default") is True:
                return path.stem
    for assignment in ids:
        try:
            if load_assignment(assignment).questions:
                return assignment
        except (TheoryError, UnknownQuestion):
            continue
    return ids[0] if ids else ""


def load_bank() -> dict[str, dict[str, Question]]:
    """Every assignment found, id -> its questions in order."""
    return {a: load_assignment(a).questions for a in assignment_ids()}


def question_ids(assignment: str | Assignment) -> list[str]:
    return list(load_assignment(assignment).questions)


def get_question(qid: str, assignment: str | Assignment | None = None) -> Question:
    """The question ``qid`` (``q1``, ``Q1`` and ``1`` name the same one) of ``assignment``
    (default: ``default_assignment()``)."""
    theory = load_assignment(default_assignment() if assignment is None else assignment)
    key = qid.strip().lower()
    if key.isdigit():
        key = f"q{key}"
    if key not in theory.questions:
        valid = ", ".join(theory.questions) or "(none: this assignment has no theory questions)"
        hint = ""
        for other in assignment_ids():
            if other == theory.id:
                continue
            try:
                if key in load_assignment(other).questions:
                    hint = f" (it is in {other}: add --assignment {other})"
                    break
            except (TheoryError, UnknownQuestion):
                continue    # another spec's problem is not this lookup's
        raise UnknownQuestion(f"{theory.id} has no question {qid!r}{hint}; valid ids: {valid}")
    return theory.questions[key]


def variant_params(question: Question, seed: int) -> dict:
    """The numbers of the seeded variant; the same seed always gives the same numbers."""
    if question.vary is None:
        what = ("is graded by a person and has no numeric variants" if question.kind == "manual"
                else "has no variants (its spec gives no 'vary')")
        raise UnknownQuestion(f"{question.assignment} {question.qid} {what}")
    # The seed is mixed with the question's id so that one student's seed gives
    # unrelated numbers across questions. A draw of the assignment's own numbers is drawn
    # again from the same generator: a variant whose key is the published one is no variant.
    rng = random.Random(f"{question.assignment}/{question.qid}/{seed}")
    for _ in range(100):
        params: dict[str, Any] = {}
        for name, spec in question.vary.items():
            params[name] = draw(spec, rng, params)
        if params != question.params:
            return params
    raise RuntimeError(f"{question.assignment} {question.qid}: its variants keep drawing the "
                       "assignment's own numbers")


def _out(reading: Reading) -> str:
    answer = reading.answer
    if reading.answer_type == "tensor":
        return f"{len(answer)}x{len(answer[0])}"
    if reading.answer_type == "shape":
        return f"{answer[0]}x{answer[1]}"
    return "0x0"


def solve(question: Question, params: dict | None = None) -> Solution:
    """Works out ``question`` with ``params`` (the assignment's own numbers by default)."""
    if question.kind == "manual":
        return Solution(Reading("model answer (graded by a person)", question.model_answer,
                                "text", [{"kind": "text", "text": f"Rubric: {question.rubric}"}]))
    values = question.params if params is None else params
    readings = []
    for spec, (name, fields) in zip(question.readings, question.computations(values),
                                    strict=True):
        function = COMPUTATIONS[name][0]
        if name == "params":
            reading = function(fields, label="")
        else:
            reading = function(**fields, label="")
        if reading.answer_type == "none" and "empty_label" in spec:
            reading.label = fill(spec["empty_label"], values)
        else:
            reading.label = fill(spec["label"], {**values, "out": _out(reading)})
        before = [{"kind": "text", "text": fill(t, values)} for t in spec.get("before", [])]
        after = [{"kind": "text", "text": fill(t, values)} for t in spec.get("after", [])]
        reading.steps = before + reading.steps + after
        readings.append(reading)
    return Solution(readings[0], readings[1:])


def reading_json(reading: Reading) -> dict:
    """A reading as JSON: label, answer (nested lists, channels-last), type, steps, note."""
    out = {"label": reading.label, "answer": to_json(reading.answer),
           "answer_type": reading.answer_type, "steps": to_json(reading.steps)}
    if reading.note:
        out["note"] = reading.note
    return out


def solution_json(question: Question, solution: Solution, params: dict | None = None,
                  seed: int | None = None) -> dict:
    """The object ``grader theory QID --json`` prints (``theory_answer.schema.json``)."""
    params = question.params if params is None else params
    primary = reading_json(solution.primary)
    out: dict = {
        "assignment": question.assignment,
        "id": question.qid,
        "kind": question.kind,
        "graded_by": "solver" if question.kind == "numeric" else "person",
        "title": question.title,
        "question": question.text(params),
        "reading": primary["label"],
        "answer": primary["answer"],
        "answer_type": primary["answer_type"],
        "steps": primary["steps"],
        "alternatives": [reading_json(alt) for alt in solution.alternatives],
    }
    if "note" in primary:
        out["note"] = primary["note"]
    if question.kind == "manual":
        out["rubric"] = question.rubric
    if seed is not None:
        out["variant"] = {"seed": seed, "params": params}
    return out
