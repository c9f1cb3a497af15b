"""Assignment specs: find them, load them, validate them against the schema.

A spec that does not validate is rejected with messages that name the path inside
the JSON (``tasks[1].checks.params.trainable``), so whoever edits it can find the line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

MARKER_FILE = ".grader-assignment"
"""The file every template and reference folder ships; its text is the assignment id."""

DEFAULT_LIMITS: dict[str, Any] = {
    # Wall clock for one builder call. Building a model takes well under a second
    # here; two minutes leaves room for slow laptops and a loaded cluster node.
    "build_timeout_s": 120,
    # Loading one saved model and computing its facts (training has its own limit).
    "verify_timeout_s": 120,
    # RLIMIT_AS of the build worker. Measured with TF 2.21 on CPU (see sandbox.py):
    # 2 GiB lets TensorFlow import and build and save Practical 2's four models
    # (1.5 GiB does not), but training a small conv net, as student-trained tasks
    # do in this worker, aborts with SIGABRT at 2 GiB and needs about 3 GiB.
    "memory_mb": 3072,
    # Student output kept per worker for the report; more is cut, never an error.
    "output_limit_bytes": 65536,
    # A task whose code prints more than this fails: an endless print loop, not a log,
    # stopped before it fills the scratch disk.
    "output_flood_bytes": 256 << 20,
    # Checks of a model that cannot be loaded with safe_mode: a person reviews them.
    "unverified": "review",
}


class SpecError(Exception):
    """A spec that cannot be used; ``problems`` are one line each, path first."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class Spec:
    data: dict[str, Any]
    path: Path

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def tasks(self) -> list[dict[str, Any]]:
        return self.data["tasks"]

    def limits(self, task: dict[str, Any]) -> dict[str, Any]:
        """The limits for one task: built-in defaults, then the spec's, then the task's."""
        return {**DEFAULT_LIMITS, **self.data.get("defaults", {}), **task.get("limits", {})}


ASSIGNMENTS_ENV = "GRADER_ASSIGNMENTS"
"""Folders (os.pathsep-separated) of an instructor's own ``<id>.json`` specs; `grader
--assignments-dir DIR` puts DIR first in it, so workers and batch tasks see it too."""


def shipped_assignments_dir() -> Path:
    return Path(str(resources.files("grader") / "assignments"))


def assignment_dirs() -> list[Path]:
    """Where specs are looked for: the instructor's folders first, so a course can
    replace a shipped assignment by giving its own spec the same id; then the shipped."""
    extra = [Path(p).expanduser() for p in os.environ.get(ASSIGNMENTS_ENV, "").split(os.pathsep)
             if p.strip()]
    return [*extra, shipped_assignments_dir()]


def spec_file(assignment_id: str) -> Path | None:
    """The spec file of an assignment id, or None."""
    for folder in assignment_dirs():
        path = folder / f"{assignment_id}.json"
        if path.is_file():
            return path
    return None


def _spec_files() -> list[Path]:
    return [p for folder in assignment_dirs() if folder.is_dir()
            for p in sorted(folder.glob("*.json"))]


def schema(name: str) -> dict[str, Any]:
    """A schema of grader/schemas/ by short name: 'assignment', 'results'."""
    text = (resources.files("grader") / "schemas" / f"{name}.schema.json").read_text()
    return json.loads(text)


def json_path(parts: Any) -> str:
    """Renders a jsonschema error path as ``tasks[1].checks.params``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validation_problems(data: Any, schema_name: str) -> list[str]:
    """Every schema violation in ``data``, one line each, path first, sorted by path."""
    import jsonschema  # deferred: keeps `grader --help` quick

    validator = jsonschema.Draft202012Validator(schema(schema_name))
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path))):
        # For oneOf/anyOf the top message is vague; the deepest sub-error says what is wrong.
        best = jsonschema.exceptions.best_match([error])
        problems.append(f"{json_path(error.absolute_path)}: {best.message}")
    return problems


def _semantic_problems(data: dict[str, Any]) -> list[str]:
    """What the schema cannot say: unique task ids, ranges with min <= max."""
    problems = []
    seen: set[str] = set()
    for i, task in enumerate(data.get("tasks", [])):
        if task.get("id") in seen:
            problems.append(f"tasks[{i}].id: duplicate task id {task['id']!r}")
        seen.add(task.get("id"))
        params = task.get("checks", {}).get("params", {})
        for key in ("trainable", "non_trainable", "total"):
            value = params.get(key)
            if isinstance(value, dict) and value.get("min", 0) > value.get("max", float("inf")):
                problems.append(f"tasks[{i}].checks.params.{key}: min is greater than max")
    return problems


def load_spec(id_or_path: str | Path) -> Spec:
    """Loads and validates a spec by assignment id or by path to a JSON file."""
    candidate = Path(id_or_path)
    if candidate.suffix == ".json" or candidate.is_file():
        path = candidate
    else:
        found = spec_file(str(id_or_path))
        if found is None:
            known = ", ".join(available_assignments()) or "none"
            raise SpecError(str(id_or_path),
                            [f"no assignment named {id_or_path!r} (known: {known}); an "
                             f"assignment of your own goes in a folder named by "
                             f"{ASSIGNMENTS_ENV} or --assignments-dir"])
        path = found
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SpecError(str(path), [f"cannot read JSON: {exc}"]) from exc
    problems = validation_problems(data, "assignment")
    if not problems:
        problems = _semantic_problems(data)
    if problems:
        raise SpecError(str(path), problems)
    return Spec(data=data, path=path)


def available_assignments() -> list[str]:
    return sorted({p.stem for p in _spec_files()})


def find_assignment(submission: Path, override: str | None = None) -> str:
    """The assignment id: ``--assignment`` if given, else the submission's marker file."""
    if override:
        return override
    marker = submission / MARKER_FILE
    known = ", ".join(available_assignments())
    if marker.is_file():
        try:
            text = marker.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError:
            raise SpecError(str(marker), [
                "not a text file (it holds non-UTF-8 bytes); write just the assignment id "
                f"in it (one of: {known}) or pass --assignment ID"]) from None
        if not text:
            raise SpecError(str(marker), [
                f"is empty; write the assignment id in it (one of: {known}) or pass "
                "--assignment ID"])
        # The marker names the spec's `marker`, which is its id in every shipped spec;
        # fall back to a scan so a renamed spec file still matches.
        if spec_file(text) is not None:
            return text
        for path in _spec_files():
            try:
                if json.loads(path.read_text()).get("marker") == text:
                    return path.stem
            except (OSError, json.JSONDecodeError):
                continue
        return text
    raise SpecError(
        str(submission),
        [f"no {MARKER_FILE} file says which assignment this is; "
         f"pass --assignment ID (one of: {known})"],
    )
