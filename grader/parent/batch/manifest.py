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
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.files import write_atomic

MANIFEST = "manifest.tsv"
REJECTED = "rejected.tsv"

# Student ids become file names (results/<id>.json) and CSV cells: letters and
# digits of any script (héctor, 王芳), combining marks (macOS writes é as e +
# accent) and . _ @ + -. No separators, spaces, control or invisible format
# characters, and no leading dot (hidden files, `..`).
_ID_PUNCTUATION = frozenset("._@+-")
_MAX_ID_BYTES = 200  # results/.<id>.json.<pid>.tmp must stay under 255 bytes
_CODE_SUFFIXES = (".py", ".ipynb")
# What operating systems and archivers leave in a folder: never a student.
_OS_LITTER = frozenset({"__macosx", "thumbs.db", "desktop.ini", "ehthumbs.db",
                        "$recycle.bin", "icon\r"})
COLUMNS = ["index", "student", "path", "kind"]
KINDS = ("folder", "notebook", "zip")


class RunFileError(ValueError):
    """A file of the run directory (plan.json, manifest.tsv) cannot be read; says how to fix it."""


def is_os_litter(name: str) -> bool:
    """Hidden files and what macOS, Windows and zip tools leave behind (__MACOSX, Thumbs.db)."""
    return name.startswith(".") or name.lower() in _OS_LITTER


def id_problem(student: str) -> str | None:
    """Why STUDENT cannot be used as an id (a file name and a CSV cell), or None."""
    if not student:
        return "the student id is empty"
    if not unicodedata.category(student[0]).startswith(("L", "N")):
        return f"student id {student!r} must begin with a letter or a digit"
    bad = sorted({c for c in student if c not in _ID_PUNCTUATION
                  and not unicodedata.category(c).startswith(("L", "N", "M"))})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return (f"student id {student!r} has characters unsafe in a file name ({shown}); "
                "rename the entry to letters and digits (any alphabet) and . _ @ + -")
    if len(student.encode()) > _MAX_ID_BYTES:
        return f"student id {student[:20]!r}... is longer than {_MAX_ID_BYTES} bytes; shorten it"
    return None


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


def discover(submissions: Path, skip: frozenset[str] | set[str] = frozenset(),
             renamed: dict[str, str] | None = None,
             ) -> tuple[list[tuple[str, Path, str]], list[Rejected]]:
    """Lists (student, path, kind) for gradable entries, sorted by student, and the rejects.

    Hidden entries and OS litter (`.DS_Store`, `__MACOSX`, `Thumbs.db`) are
    ignored, not rejected. Ids are NFC-normalised, so a name written by macOS
    (decomposed accents) and the same name from an LMS export are one student.
    Names in SKIP (Canvas's loose files, staged as folders elsewhere) are passed
    over; RENAMED gives an entry's student id where its name is not one (Moodle's
    `First Last_12345_assignsubmission_file_`).
    """
    found: dict[str, tuple[Path, str]] = {}
    rejected: list[Rejected] = []
    renamed = renamed or {}
    for path in sorted(submissions.iterdir()):
        if is_os_litter(path.name) or path.name in skip or path.name == "submission_metadata.yml":
            continue
        kind = _kind_of(path)
        if kind is None:
            rejected.append(Rejected(path, "not a folder, notebook (.ipynb) or zip"))
            continue
        student = renamed.get(path.name) or unicodedata.normalize(
            "NFC", path.name if kind == "folder" else path.stem)
        problem = id_problem(student)
        if problem:
            rejected.append(Rejected(path, problem))
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
    fix = ("fix that line by hand (index, student, path, kind, separated by tabs), or, when "
           "no task of this run is queued, delete the file and run `grader batch plan` again "
           "(results are kept per student; indices may change)")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh, delimiter="\t"))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise RunFileError(f"{path}: unreadable ({exc}); {fix}") from None
    if not rows or rows[0] != COLUMNS:
        found = " | ".join(rows[0]) if rows else "an empty file"
        raise RunFileError(f"{path}: line 1 should be the tab-separated header "
                           f"{', '.join(COLUMNS)}; found {found!r}; {fix}")
    entries: list[Entry] = []
    seen_index: set[int] = set()
    seen_student: set[str] = set()
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}, line {number}"
        if len(row) != len(COLUMNS):
            raise RunFileError(f"{where}: {len(row)} columns instead of {len(COLUMNS)} "
                               f"({', '.join(COLUMNS)}); {fix}")
        index, student, sub_path, kind = row
        if not index.isdigit() or int(index) < 1:
            raise RunFileError(f"{where}: index {index!r} is not a positive integer; {fix}")
        if id_problem(student) or student in seen_student or int(index) in seen_index:
            raise RunFileError(f"{where}: student {student!r} (index {index}) is invalid or "
                               f"listed twice; {fix}")
        if kind not in KINDS or not sub_path:
            raise RunFileError(f"{where}: kind {kind!r} should be one of {', '.join(KINDS)}, "
                               f"with a path; {fix}")
        seen_index.add(int(index))
        seen_student.add(student)
        entries.append(Entry(int(index), student, Path(sub_path), kind))
    return entries


def write_manifest(run: Path, entries: list[Entry]) -> Path:
    path = run / MANIFEST

    def rows(fh: Any) -> None:
        out = csv.writer(fh, delimiter="\t", lineterminator="\n")
        out.writerow(COLUMNS)
        for e in entries:
            out.writerow([e.index, e.student, str(e.path), e.kind])

    write_atomic(path, rows)
    return path


def write_rejected(run: Path, rejected: list[Rejected]) -> Path:
    path = run / REJECTED
    with path.open("w", newline="", encoding="utf-8") as fh:
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
