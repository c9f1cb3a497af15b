"""Finding the submissions of a class and the manifest that numbers them.

A submissions folder holds one entry per student: a folder, a notebook
(`.ipynb`) or a zip. The student id is the entry's name without its suffix
(`alice/`, `alice.ipynb` and `alice.zip` all belong to `alice`). Entries that
cannot be graded are rejected with a reason and listed, never fatal: one empty
folder must not stop a class of two hundred.

The manifest (`RUN/manifest.tsv`) gives every student an index, which is also
the Slurm array task id that grades them. Indices are stable: planning again
into the same run keeps every known student's index and appends newcomers, so
results, logs and running jobs keep meaning what they meant.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "manifest.tsv"
REJECTED = "rejected.tsv"

# Student ids become file names (results/<id>.json) and CSV cells: keep them
# to characters that are safe on every file system and in every LMS import.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
_CODE_SUFFIXES = (".py", ".ipynb")


@dataclass(frozen=True)
class Entry:
    """One manifest line: array index, student id, path of the submission."""

    index: int
    student: str
    path: Path
    kind: str  # "folder", "notebook" or "zip"


@dataclass(frozen=True)
class Rejected:
    """An entry of the submissions folder that will not be graded, and why."""

    path: Path
    reason: str


def _kind_of(path: Path) -> str | None:
    if path.is_dir():
        return "folder"
    if path.suffix.lower() == ".ipynb":
        return "notebook"
    if path.suffix.lower() == ".zip":
        return "zip"
    return None


def _problem_with(path: Path, kind: str) -> str | None:
    """Why this entry cannot be graded, or None when it looks gradable."""
    if kind == "folder":
        files = [p for p in path.rglob("*") if p.is_file()]
        if not files:
            return "empty folder"
        if not any(p.suffix.lower() in _CODE_SUFFIXES for p in files):
            return "no .py or .ipynb file inside"
        return None
    if kind == "notebook":
        # A notebook is JSON with a list of cells; anything else (an empty file,
        # a PDF renamed .ipynb) cannot be graded, and is cheap to tell here.
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells")
        except (OSError, ValueError, AttributeError) as exc:
            return f"unreadable notebook: {exc}"
        return None if isinstance(cells, list) else "not a Jupyter notebook (no list of cells)"
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            names = [n for n in zf.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return f"unreadable zip: {exc}"
    if bad is not None:
        return f"unreadable zip: member {bad} is corrupt"
    if not names:
        return "empty zip"
    if not any(n.lower().endswith(_CODE_SUFFIXES) for n in names):
        return "no .py or .ipynb file inside the zip"
    return None


def discover(submissions: Path) -> tuple[list[tuple[str, Path, str]], list[Rejected]]:
    """Lists (student, path, kind) for gradable entries, sorted by student, and the rejects.

    Hidden entries (a leading dot, e.g. `.DS_Store`) are ignored, not rejected.
    """
    found: dict[str, tuple[Path, str]] = {}
    rejected: list[Rejected] = []
    for path in sorted(submissions.iterdir()):
        if path.name.startswith("."):
            continue
        kind = _kind_of(path)
        if kind is None:
            rejected.append(Rejected(path, "not a folder, notebook (.ipynb) or zip"))
            continue
        student = path.name if kind == "folder" else path.stem
        if not _SAFE_ID.match(student):
            rejected.append(Rejected(
                path, f"student id {student!r} has characters unsafe in a file name; "
                      "rename it to letters, digits and . _ @ + -"))
            continue
        if student in found:
            rejected.append(Rejected(
                path, f"a second submission for {student} (already have {found[student][0].name})"))
            continue
        problem = _problem_with(path, kind)
        if problem:
            rejected.append(Rejected(path, problem))
            continue
        found[student] = (path.resolve(), kind)
    return [(s, p, k) for s, (p, k) in sorted(found.items())], rejected


def read_manifest(run: Path) -> list[Entry]:
    """Reads RUN/manifest.tsv; raises FileNotFoundError naming the fix when it is absent."""
    path = run / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no manifest; run `grader batch plan SUBMISSIONS_DIR --assignment ID "
            f"--out {run}` first")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [Entry(int(r["index"]), r["student"], Path(r["path"]), r["kind"]) for r in rows]


def write_manifest(run: Path, entries: list[Entry]) -> Path:
    path = run / MANIFEST
    tmp = path.with_suffix(".tsv.tmp")
    with tmp.open("w", newline="") as fh:
        out = csv.writer(fh, delimiter="\t", lineterminator="\n")
        out.writerow(["index", "student", "path", "kind"])
        for e in entries:
            out.writerow([e.index, e.student, str(e.path), e.kind])
    tmp.replace(path)
    return path


def write_rejected(run: Path, rejected: list[Rejected]) -> Path:
    path = run / REJECTED
    with path.open("w", newline="") as fh:
        out = csv.writer(fh, delimiter="\t", lineterminator="\n")
        out.writerow(["path", "reason"])
        for r in rejected:
            out.writerow([str(r.path), r.reason])
    return path


def merge(existing: list[Entry], found: list[tuple[str, Path, str]],
          first_index: int = 1) -> list[Entry]:
    """Keeps the index of every student already in the manifest; appends newcomers.

    A student who vanished from the submissions folder keeps their line, so a
    result graded earlier is never orphaned by a re-plan.
    """
    by_student = {e.student: e for e in existing}
    next_index = max((e.index for e in existing), default=first_index - 1) + 1
    merged = dict(by_student)
    for student, path, kind in found:
        if student in by_student:
            merged[student] = Entry(by_student[student].index, student, path, kind)
        else:
            merged[student] = Entry(next_index, student, path, kind)
            next_index += 1
    return sorted(merged.values(), key=lambda e: e.index)
