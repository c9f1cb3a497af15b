"""What a spec's schema cannot see: Keras names that no saved model can have, entry
files the reference or template lacks, marker files that point elsewhere, theory
questions that do not solve.

Pure functions over the spec's JSON, so they also run on a spec that fails its
schema (an instructor sees every problem at once); each tolerates any shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.parent.keras_vocabulary import activation_problem, layer_type_problem
from grader.parent.spec import MARKER_FILE


@dataclass(frozen=True)
class Problem:
    """One line of `grader assignment validate`: where (``task model2``, ``question q1``,
    ``reference folder``; empty for the whole spec), the field, and what is wrong."""

    where: str
    field: str
    message: str

    def line(self, spec: str) -> str:
        return ": ".join(part for part in (spec, self.where, self.field, self.message) if part)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def tasks_of(data: Any) -> list[tuple[str, dict[str, Any]]]:
    """(label, task) for each task object; a task without an id is named by index."""
    out = []
    for i, task in enumerate(_list(_dict(data).get("tasks"))):
        if isinstance(task, dict):
            name = task.get("id") if isinstance(task.get("id"), str) else f"tasks[{i}]"
            out.append((f"task {name}", task))
    return out


def locate(data: Any, path: str) -> tuple[str, str]:
    """A schema problem's JSON path (``tasks[1].checks.params``) as (where, field), the
    task or question named by its id, so the instructor finds it by the name they wrote."""
    match = re.fullmatch(r"(tasks|theory\.questions)\[(\d+)\]\.?(.*)", path)
    if not match:
        return "", path
    section, index, rest = match.group(1), int(match.group(2)), match.group(3)
    items = _list(_dict(data).get("tasks")) if section == "tasks" else \
        _list(_dict(_dict(data).get("theory")).get("questions"))
    name = _dict(items[index]).get("id") if index < len(items) else None
    if not isinstance(name, str):
        return "", path
    return f"{'task' if section == 'tasks' else 'question'} {name}", rest


def vocabulary_problems(data: Any) -> list[Problem]:
    """Layer types (also in ``ignore``) and activations of the architecture checks that
    no saved Keras model can have: such a check fails every student."""
    problems = []
    for where, task in tasks_of(data):
        # A torch model's layers are read in Keras terms too (torch_facts.py).
        arch = _dict(_dict(task.get("checks")).get("architecture"))
        base = "checks.architecture"
        for k, name in enumerate(_list(arch.get("ignore"))):
            why = layer_type_problem(name) if isinstance(name, str) else None
            if why:
                problems.append(Problem(where, f"{base}.ignore[{k}]", why))
        for j, layer in enumerate(_list(arch.get("layers"))):
            layer = _dict(layer)
            types = layer.get("type")
            for k, name in enumerate(types if isinstance(types, list) else [types]):
                field = f"{base}.layers[{j}].type" + (f"[{k}]" if isinstance(types, list)
                                                       else "")
                why = layer_type_problem(name) if isinstance(name, str) else None
                if why:
                    problems.append(Problem(where, field, why))
            activation = layer.get("activation")
            why = activation_problem(activation) if isinstance(activation, str) else None
            if why:
                problems.append(Problem(where, f"{base}.layers[{j}].activation", why))
        for j, prop in enumerate(_list(arch.get("properties"))):
            prop = _dict(prop)
            for key in ("count", "order"):
                groups = prop.get(key)
                groups = groups if key == "order" and isinstance(groups, list) else [groups]
                for g, types in enumerate(groups):
                    for k, name in enumerate(types if isinstance(types, list) else [types]):
                        why = layer_type_problem(name) if isinstance(name, str) else None
                        if why:
                            field = f"{base}.properties[{j}].{key}" + (
                                f"[{g}]" if key == "order" else "") + (
                                f"[{k}]" if isinstance(types, list) else "")
                            problems.append(Problem(where, field, why))
    return problems


def _files(value: Any) -> list[str]:
    return [f for f in (value if isinstance(value, list) else [value]) if isinstance(f, str)]


def entry_file_problems(data: Any, folder: Path, label: str) -> list[Problem]:
    """Tasks whose entry file (any of its candidates), or visual check file, is not in
    ``folder``: a student given that template, or that reference, could not be graded."""
    problems = []
    for where, task in tasks_of(data):
        wanted = [("entry.file", _files(_dict(task.get("entry")).get("file")))]
        visual = _dict(_dict(task.get("checks")).get("visual"))
        if "file" in visual:
            wanted.append(("checks.visual.file", _files(visual["file"])))
        for field, names in wanted:
            if names and not any((folder / name).is_file() for name in names):
                problems.append(Problem(where, field, f"{' or '.join(names)} is not in the "
                                                      f"{label} folder {folder}"))
    return problems


def missing_entry_tasks(problems: list[Problem]) -> set[str]:
    """The tasks ``entry_file_problems`` reported, whose grading says nothing more."""
    return {p.where for p in problems if p.field in ("entry.file", "checks.visual.file")}


def marker_problems(data: Any, folder: Path, label: str) -> list[Problem]:
    """The folder's ``.grader-assignment`` must name the spec's marker, or `grader check
    FOLDER` picks another assignment, or none."""
    marker = _dict(data).get("marker")
    path = folder / MARKER_FILE
    if not path.is_file():
        return [Problem(f"{label} folder", MARKER_FILE,
                        f"{path} is missing; write {marker!r} in it so `grader check` "
                        "knows the assignment")]
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(f"{label} folder", MARKER_FILE, f"{path} cannot be read: {exc}")]
    if isinstance(marker, str) and text != marker:
        return [Problem(f"{label} folder", MARKER_FILE,
                        f"{path} says {text!r} but the spec's marker is {marker!r}")]
    return []


def theory_problems(data: Any, source: str, variants: int = 3) -> list[Problem]:
    """The `theory` section as the theory package reads it, then every numeric question
    solved with its given numbers and with a few seeded variants (what `grader theory
    variant` hands students), so that no question fails in front of a class."""
    if not isinstance(data, dict) or "theory" not in data:
        return []
    from theory.questions import TheoryError, parse_theory, solve, variant_params

    try:
        assignment = parse_theory(data, source)
    except TheoryError as exc:  # it stops at the first problem, naming file, question, field
        return [_theory_problem(str(exc).removeprefix(f"{source}: "))]
    except Exception as exc:  # a section it did not foresee: still a line, not a traceback
        return [Problem("", "theory", f"cannot be read: {type(exc).__name__}: {exc}")]
    problems = []
    for qid, question in assignment.questions.items():
        if question.kind != "numeric":
            continue
        runs = [("given", None)] + [(f"vary (seed {seed})", seed) for seed in range(variants)
                                    if question.vary is not None]
        for field, seed in runs:
            # Any exception is the answer here: the question does not solve.
            try:
                solve(question, None if seed is None else variant_params(question, seed))
            except Exception as exc:
                problems.append(Problem(f"question {qid}", field, f"does not solve: "
                                                                   f"{type(exc).__name__}: {exc}"))
                break
    return problems


def _theory_problem(text: str) -> Problem:
    """A TheoryError's text (``theory question q1, field given.n: ...``) as a Problem."""
    # The question is the last word after "theory question" (the assignment may come first).
    match = re.fullmatch(r"theory(?: question (?:[^,:]+ )?(?P<qid>[^ ,:]+))?"
                         r"(?:, field (?P<field>[^:]+))?: (?P<message>.*)", text, flags=re.DOTALL)
    if match is None:
        return Problem("", "theory", text)
    qid = match.group("qid")
    return Problem(f"question {qid}" if qid else "", match.group("field") or
                   ("" if qid else "theory"), match.group("message"))
