"""LMS download names, and the course roster they map to.

What an LMS bulk download looks like (one folder holding the whole class):

    Canvas      loose files `smithjohn_12345_67890_cnn.py` and
                `smithjohn_LATE_12345_67890_cnn.ipynb`: the student's name (last then
                first, lower case, letters only), LATE when Canvas marked it late, the
                Canvas user id, the submission id, then the file's own name (a
                resubmitted file may carry `-1`, `-2` before its suffix).
    Moodle      one folder per student, `Firstname Lastname_12345_assignsubmission_file_`
                (12345 is Moodle's participant id; an `..._onlinetext_` folder beside it
                holds no code and is not graded).
    Gradescope  one folder per submission, `submission_12345`, and beside them
                `submission_metadata.yml` naming each one's submitters (name, sid,
                email) and `:created_at:`.

`grader batch plan` turns Canvas's loose files into one folder per student (their
own file names restored) and records what each name said in RUN/lms.json; `grader
collect --roster` matches every student of the run to the roster's id and name.

The roster is a CSV with a header row; columns, case and spacing ignored:

    id            the student's course id (SIS id); also read from `SIS User ID`,
                  `student_id`, `sid`. Required.
    name          full name, "First Last" or "Last, First"; also `Student`, `full_name`
    canvas_id     Canvas user id; also `lms_id`, `user_id`, and `ID` in a Canvas
                  gradebook export (which has `SIS User ID` for the course id)
    email         matched against Gradescope's submitters
    section       copied to the Canvas CSV's Section column
    login         copied to the Canvas CSV's SIS Login ID column (`SIS Login ID`)
    submitted_at  when the student handed in (ISO 8601), for the late policy

Matching, first hit wins: the run's student id equals a roster id; Canvas by user
id; Moodle by participant id (`canvas_id`/`lms_id` column) or full name; Gradescope
by sid, then email, then name; last, a Canvas-style name (`smithjohn`) against
every roster name in both orders.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from grader.files import write_json_atomic

LMS_FILE = "lms.json"
HANDINS = "handins"  # RUN/handins/<student>/: Canvas's loose files, one folder per student

_CANVAS = re.compile(r"^(?P<name>[^\W_]+)(?P<late>_LATE)?_(?P<user>\d+)_(?P<sub>\d+)_"
                     r"(?P<original>.+)$")
_CANVAS_RESUBMIT = re.compile(r"-\d+(?=\.[^.]+$)")
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<user>\d+)_assignsubmission_(?P<kind>[a-z]+)_?$")
_GRADESCOPE = re.compile(r"^submission_(?P<sub>\d+)$")


@dataclass
class LmsInfo:
    """What an LMS said about one student of the run."""

    lms: str                    # canvas, moodle, gradescope
    name: str = ""              # as the LMS wrote it (smithjohn, John Smith)
    lms_id: str = ""            # Canvas user id, Moodle participant id
    submission_id: str = ""
    late: bool = False          # Canvas's LATE marker (it gives no time)
    submitted_at: str = ""      # ISO time, when the LMS gives one (Gradescope)
    file_time: str = ""         # newest modification time of the files handed in
    sid: str = ""               # Gradescope's student id
    email: str = ""
    files: list[str] = field(default_factory=list)


def _id_safe(text: str) -> str:
    """A display name as a student id: spaces to '-', other punctuation dropped."""
    text = unicodedata.normalize("NFC", text.strip()).replace(" ", "-")
    return "".join(c for c in text if c in "._@+-" or unicodedata.category(c)[0] in "LNM")


def canvas_name(name: str) -> re.Match | None:
    return _CANVAS.match(name)


def moodle_folder(name: str) -> tuple[str, LmsInfo] | None:
    """(student id, info) for a Moodle submission folder's name, else None."""
    m = _MOODLE.match(name)
    if not m:
        return None
    return (f"{_id_safe(m['name'])}_{m['user']}",
            LmsInfo("moodle", name=m["name"], lms_id=m["user"]))


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def stage_canvas(submissions: Path, run: Path) -> tuple[set[str], dict[str, Path],
                                                          dict[str, LmsInfo]]:
    """Groups Canvas's loose files into RUN/handins/<name>_<user id>/ under their own names.

    Returns the file names consumed (discover skips them), {student: folder} and
    {student: info}. Copies keep modification times (the late policy may read them);
    of two versions of one file (`cnn.py`, `cnn-1.py`) the newer is kept as `cnn.py`.
    """
    groups: dict[str, list[tuple[Path, re.Match]]] = {}
    for path in sorted(submissions.iterdir()):
        m = _CANVAS.match(path.name)
        if path.is_file() and m and not path.name.startswith("."):
            groups.setdefault(f"{m['name']}_{m['user']}", []).append((path, m))
    folders: dict[str, Path] = {}
    infos: dict[str, LmsInfo] = {}
    for student, files in groups.items():
        folder = run / HANDINS / student
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        chosen: dict[str, Path] = {}
        for path, m in files:
            own = _CANVAS_RESUBMIT.sub("", m["original"])
            if own not in chosen or path.stat().st_mtime > chosen[own].stat().st_mtime:
                chosen[own] = path
        for own, path in chosen.items():
            shutil.copy2(path, folder / own)
        first = files[0][1]
        infos[student] = LmsInfo(
            "canvas", name=first["name"], lms_id=first["user"], submission_id=first["sub"],
            late=any(m["late"] for _, m in files),
            file_time=_iso(max(p.stat().st_mtime for p in chosen.values())),
            files=[p.name for p, _ in files])
        folders[student] = folder.resolve()
    return {p.name for fs in groups.values() for p, _ in fs}, folders, infos


def save_lms(run: Path, infos: dict[str, LmsInfo]) -> None:
    """Adds INFOS to RUN/lms.json (students planned earlier keep theirs)."""
    known = load_lms(run)
    known.update(infos)
    write_json_atomic(run / LMS_FILE, {s: asdict(i) for s, i in sorted(known.items())})


def load_lms(run: Path) -> dict[str, LmsInfo]:
    path = run / LMS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {s: LmsInfo(**i) for s, i in data.items()}
    except (ValueError, TypeError, AttributeError):
        return {}  # a damaged record costs the LMS details, never the collect


def gradescope_metadata(folder: Path) -> dict[str, dict]:
    """{submission folder: {name, sid, email, created_at}} from submission_metadata.yml.

    Reads only the fields used here, from the file's own layout (Ruby symbols as keys,
    submitters as a list), so no YAML library is needed; the first submitter of a
    group submission is the one recorded."""
    path = folder / "submission_metadata.yml"
    if not path.is_file():
        return {}
    found: dict[str, dict] = {}
    current: dict | None = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if m := re.match(r"^(submission_\d+):\s*$", line):
            current = found.setdefault(m[1], {})
            continue
        m = re.match(r"^\s*(?:-\s*)?:(name|sid|email|created_at):\s*(.*?)\s*$", line)
        if current is not None and m and m[1] not in current:
            current[m[1]] = m[2].strip("'\"")
    return found


def gradescope_info(path: Path, metadata: dict[str, dict]) -> LmsInfo | None:
    m = _GRADESCOPE.match(path.name)
    if not m:
        return None
    meta = metadata.get(path.name, {})
    return LmsInfo("gradescope", name=meta.get("name", ""), submission_id=m["sub"],
                   sid=meta.get("sid", ""), email=meta.get("email", ""),
                   submitted_at=_gradescope_time(meta.get("created_at", "")))


def _gradescope_time(text: str) -> str:
    """`2024-10-01 12:34:56.789000000 -07:00` as ISO 8601 ('' when unreadable)."""
    m = re.match(r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.\d+)?\s*([+-]\d\d:?\d\d|Z|UTC)?",
                 text)
    if not m:
        return ""
    zone = m[3] or ""
    zone = "+00:00" if zone in ("Z", "UTC") else zone
    return f"{m[1]}T{m[2]}{zone}"


# --- the roster ------------------------------------------------------------------------

_ALIASES = {
    "id": ("id", "sis_user_id", "student_id", "sid"),
    "name": ("name", "student", "full_name"),
    "canvas_id": ("canvas_id", "canvas_user_id", "lms_id", "user_id"),
    "email": ("email", "e-mail"),
    "section": ("section",),
    "login": ("login", "sis_login_id"),
    "submitted_at": ("submitted_at",),
}


@dataclass(frozen=True)
class Student:
    id: str
    name: str = ""
    canvas_id: str = ""
    email: str = ""
    section: str = ""
    login: str = ""
    submitted_at: str = ""


def _key(header: str) -> str:
    return re.sub(r"[\s_]+", "_", header.strip().lower())


def read_roster(path: Path) -> list[Student]:
    """The roster CSV's students; ValueError naming the file and the fix."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"--roster {path}: cannot read it ({exc})") from None
    if not rows:
        raise ValueError(f"--roster {path}: empty; it needs a header row with at least 'id'")
    header = [_key(h) for h in rows[0]]
    canvas_export = "sis_user_id" in header and "id" in header
    where: dict[str, int] = {}
    for i, h in enumerate(header):
        for column, names in _ALIASES.items():
            # A Canvas gradebook export: its ID is the Canvas user id, SIS User ID the id.
            if canvas_export and h == "id":
                where.setdefault("canvas_id", i)
            elif h in names and not (canvas_export and column == "id" and h == "id"):
                where.setdefault(column, i)
    if "id" not in where:
        raise ValueError(f"--roster {path}: no id column (found {', '.join(rows[0])}); name "
                         "the students' course ids 'id' (or 'SIS User ID')")
    students = []
    for row in rows[1:]:
        values = {c: row[i].strip() if i < len(row) else "" for c, i in where.items()}
        # Canvas exports a "Points Possible" row and the test student: no id, no student.
        if not values["id"] or values.get("name", "").strip().lower() == "points possible":
            continue
        students.append(Student(**values))
    return students


def _letters(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text.lower() if c.isalnum() and not unicodedata.combining(c))


def _name_keys(name: str) -> set[str]:
    """A roster name as Canvas and Moodle may write it: last+first and first+last."""
    if "," in name:
        last, _, first = name.partition(",")
        parts = [*first.split(), *last.split()]
    else:
        parts = name.split()
    if not parts:
        return set()
    return {_letters("".join(parts)), _letters("".join(parts[-1:] + parts[:-1])),
            _letters(name)}


@dataclass
class Matching:
    matched: dict[str, Student]           # run student -> roster student
    unmatched: list[str]                  # run students not on the roster
    absent: list[Student]                 # roster students with no submission


def match(students: list[str], roster: list[Student], lms: dict[str, LmsInfo]) -> Matching:
    by_id = {s.id: s for s in roster}
    by_canvas = {s.canvas_id: s for s in roster if s.canvas_id}
    by_email = {s.email.lower(): s for s in roster if s.email}
    by_name: dict[str, Student | None] = {}
    for s in roster:
        for key in _name_keys(s.name):
            # Two students of one name: neither is matched by name.
            by_name[key] = None if key in by_name and by_name[key] != s else s
    matched: dict[str, Student] = {}
    unmatched: list[str] = []
    for student in students:
        info = lms.get(student)
        hit = by_id.get(student)
        if hit is None and info is not None:
            if info.lms in ("canvas", "moodle") and info.lms_id:
                hit = by_canvas.get(info.lms_id)
            if hit is None and info.sid:
                hit = by_id.get(info.sid)
            if hit is None and info.email:
                hit = by_email.get(info.email.lower())
            if hit is None and info.name:
                hit = by_name.get(_letters(info.name))
        if hit is None or hit in matched.values():
            unmatched.append(student)
        else:
            matched[student] = hit
    taken = set(map(id, matched.values()))
    return Matching(matched, unmatched, [s for s in roster if id(s) not in taken])
