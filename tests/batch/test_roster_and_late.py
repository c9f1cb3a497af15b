"""A class downloaded from an LMS, collected into one gradebook: Canvas's loose files
become a folder per student at plan time; `grader collect --roster` maps them to the
roster's ids and names, applies the late policy to the files' times, merges theory
results (`grader theory grade DIR`) and manual scores, and writes the CSV Canvas
imports. Results files are written directly: grading is not the point here."""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from test_batch_collect import result

DUE = datetime(2024, 10, 1, 23, 59, tzinfo=timezone.utc)
CHECKS = ("model1: architecture", "model2: architecture")


def _touch(path: Path, when: datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def _write(path: Path, text: str, when: datetime) -> None:
    path.write_text(text)
    _touch(path, when)


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def _scores(a: float, b: float) -> dict:
    return result(dict(zip(CHECKS, [(a, 4, "passed" if a == 4 else "failed"),
                                    (b, 4, "passed" if b == 4 else "failed")], strict=True)))


def test_canvas_downloads_to_a_canvas_import_with_late_theory_and_manual(grader, tmp_path):
    subs = tmp_path / "canvas"
    subs.mkdir()
    # John on time; Jane 30 h late (2 started days) and Canvas says LATE; Ann within the
    # 15-minute grace, in two files; a student who is not on the roster.
    _write(subs / "smithjohn_101_9001_cnn.py", "MODEL_NUMBER = 1\n", DUE - timedelta(hours=1))
    _write(subs / "doejane_LATE_102_9002_cnn.py", "MODEL_NUMBER = 2\n",
           DUE + timedelta(hours=30))
    _write(subs / "leeann_103_9003_cnn.py", "MODEL_NUMBER = 3\n", DUE + timedelta(minutes=10))
    _write(subs / "leeann_103_9004_gradcam-1.py", "def grad_cam(): pass\n",
           DUE - timedelta(days=1))
    _write(subs / "ghostkid_199_9009_cnn.py", "MODEL_NUMBER = 1\n", DUE)
    run = tmp_path / "run"
    proc = grader("batch", "plan", str(subs), "--assignment", "practical2", "--out", str(run),
                  "--static")
    assert proc.returncode == 0, proc.stderr
    manifest = _rows_tsv(run / "manifest.tsv")
    assert [r[1] for r in manifest[1:]] == ["doejane_102", "ghostkid_199", "leeann_103",
                                            "smithjohn_101"]
    # Canvas's names are gone: each student's files under their own names.
    assert sorted(p.name for p in (run / "handins" / "leeann_103").iterdir()) == [
        "cnn.py", "gradcam.py"]
    lms = json.loads((run / "lms.json").read_text())
    assert lms["doejane_102"]["late"] is True and lms["doejane_102"]["lms_id"] == "102"

    for student, (a, b) in {"smithjohn_101": (4, 4), "doejane_102": (4, 2),
                            "leeann_103": (4, 0), "ghostkid_199": (2, 0)}.items():
        (run / "results" / f"{student}.json").write_text(json.dumps(_scores(a, b)))

    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,canvas_id,section\n"
                      "s1,John Smith,101,A\ns2,Jane Doe,102,A\ns3,Ann Lee,103,B\n"
                      "s4,Max Absent,104,B\n")
    # Theory answers, one file per student named by roster id, graded as a folder.
    answers = tmp_path / "answers"
    answers.mkdir()
    right = {"model1": {"total": 101770, "trainable": 101770, "non_trainable": 0},
             "model2": {"total": "61,514", "trainable": 61514, "non_trainable": 0},
             "model3": {"total": 62350, "trainable": 62350, "non_trainable": 0},
             "model4": {"total": 1549002, "trainable": 1546954, "non_trainable": 2048}}
    (answers / "s1.json").write_text(json.dumps({"answers": right}))
    (answers / "s2.json").write_text(json.dumps({"answers": {"model1": right["model1"],
                                                             "model2": {"total": 1}}}))
    theory = tmp_path / "theory"
    proc = grader("theory", "grade", str(answers), "--assignment", "practical2",
                  "--json", str(theory))
    assert proc.returncode == 1, proc.stderr     # s2 got some wrong
    assert sorted(p.name for p in theory.iterdir()) == ["s1.json", "s2.json"]
    assert json.loads((theory / "s1.json").read_text())["score"] == 4
    # Manual scores: a rubric line with its maximum; an explanatory question whose
    # maximum is the spec's (practical2's "depth" is worth 15).
    manual = tmp_path / "manual.csv"
    manual.write_text("student,item,points,max_points\ns1,gradcam,25,30\ns2,gradcam,30,30\n"
                      "s2,depth,10,\n")

    late = ["--due", DUE.isoformat(), "--late-penalty", "10", "--grace", "15",
            "--late-cap", "50"]
    merged = ["--roster", str(roster), "--theory", str(theory), "--manual", str(manual), *late]
    out = tmp_path / "canvas.csv"
    proc = grader("collect", str(run), *merged, "--format", "canvas", "--csv", str(out),
                  "--canvas-column", "Practical 2 (4242)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _rows(out)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       "Practical 2 (4242)"]
    # 8 programming + 4 theory + 30 gradcam + 15 depth
    assert rows[1] == ["Points Possible", "", "", "", "", "57"]
    by_sis = {r[2]: r for r in rows[2:]}
    assert by_sis["s1"] == ["John Smith", "101", "s1", "", "A", "37"]         # 8 + 4 + 25
    # 6 + 1 + 30 + 10 = 47, two days late at 10% a day: 9.4 off
    assert by_sis["s2"] == ["Jane Doe", "102", "s2", "", "A", "37.6"]
    assert by_sis["s3"] == ["Ann Lee", "103", "s3", "", "B", "4"]             # within grace
    assert by_sis["s4"] == ["Max Absent", "104", "s4", "", "B", ""]           # no zero
    assert len(rows) == 6                                                     # ghostkid: not
    assert "1 submissions not on the roster (not in a Canvas import): ghostkid_199" in \
        proc.stdout
    assert "1 roster students without a submission: Max Absent (s4)" in proc.stdout
    assert "Jane Doe (s2) 2 d -9.4" in proc.stdout

    # The plain gradebook shows raw, penalty and final beside the programming columns.
    book = tmp_path / "gradebook.csv"
    proc = grader("collect", str(run), *merged, "--csv", str(book), "--html",
                  str(tmp_path / "pages"))
    assert proc.returncode == 0, proc.stderr
    rows = _rows(book)
    head = rows[0]
    assert head[:5] == ["student", "id", "name", "model1", "model2"]
    assert head[5:] == ["total", "max_score", "theory", "theory_max", "manual:gradcam",
                        "manual:depth", "raw", "raw_max", "submitted_at", "late_days",
                        "late_percent", "penalty", "final", "state"]
    jane = dict(zip(head, next(r for r in rows if r[0] == "doejane_102"), strict=True))
    assert (jane["total"], jane["theory"], jane["manual:gradcam"], jane["manual:depth"]) == (
        "6", "1", "30", "10")
    assert (jane["raw"], jane["late_days"], jane["penalty"], jane["final"]) == (
        "47", "2", "9.4", "37.6")
    assert jane["submitted_at"].startswith("2024-10-03T")
    # Her page has the theory, the manual items and the penalty, scored as the gradebook.
    page = (tmp_path / "pages" / "doejane_102.html").read_text()
    assert "Jane Doe (s2): practical2: 37.6 / 57" in page
    assert "<td>depth</td><td class=points>10 / 15</td>" in page
    assert "<td>model2: " in page and "total: expected 61514, got 1" in page
    assert "9.4 points off" in page


def test_canvas_gradebook_export_as_roster_and_a_times_csv(grader, tmp_path):
    """A roster straight from Canvas's gradebook export (ID is the Canvas user id, a
    Points Possible row), and submission times from a CSV instead of the files."""
    subs = tmp_path / "canvas"
    subs.mkdir()
    _write(subs / "smithjohn_101_9001_cnn.py", "MODEL_NUMBER = 1\n", DUE - timedelta(days=9))
    run = tmp_path / "run"
    assert grader("batch", "plan", str(subs), "--assignment", "practical2", "--out",
                  str(run), "--static").returncode == 0
    (run / "results" / "smithjohn_101.json").write_text(json.dumps(_scores(4, 4)))
    roster = tmp_path / "export.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Practical 2 (4242)\n"
                      "    Points Possible,,,,,8\n"
                      '"Smith, John",101,s1,jsmith,A,\n')
    times = tmp_path / "times.csv"
    times.write_text(f"id,submitted_at\ns1,{(DUE + timedelta(days=5)).isoformat()}\n")
    out = tmp_path / "canvas.csv"
    proc = grader("collect", str(run), "--roster", str(roster), "--times", str(times),
                  "--due", DUE.isoformat(), "--late-penalty", "20", "--late-cap", "50",
                  "--format", "canvas", "--csv", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Five days at 20% a day, capped at 50%: 4 of 8. The column is the spec's title.
    assert _rows(out)[0][-1].startswith("Practical 2")
    assert _rows(out)[2] == ["Smith, John", "101", "s1", "jsmith", "A", "4"]


def test_moodle_and_gradescope_folders_match_the_roster(grader, tmp_path):
    subs = tmp_path / "subs"
    moodle = subs / "Jane Doe_555_assignsubmission_file_"
    moodle.mkdir(parents=True)
    (moodle / "cnn.py").write_text("MODEL_NUMBER = 1\n")
    gradescope = subs / "submission_777"
    gradescope.mkdir()
    (gradescope / "cnn.py").write_text("MODEL_NUMBER = 1\n")
    (subs / "submission_metadata.yml").write_text(
        "---\nsubmission_777:\n  :submitters:\n  - :name: Ann Lee\n    :sid: s3\n"
        "    :email: ann@example.edu\n  :created_at: 2024-10-02 01:00:00.000000000 +00:00\n"
        "  :score: 0.0\n")
    run = tmp_path / "run"
    proc = grader("batch", "plan", str(subs), "--assignment", "practical2", "--out", str(run),
                  "--static")
    assert proc.returncode == 0, proc.stderr
    assert [r[1] for r in _rows_tsv(run / "manifest.tsv")[1:]] == ["Jane-Doe_555",
                                                                    "submission_777"]
    for student in ("Jane-Doe_555", "submission_777"):
        (run / "results" / f"{student}.json").write_text(json.dumps(_scores(4, 4)))
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name\ns2,\"Doe, Jane\"\ns3,Ann Lee\n")
    book = tmp_path / "book.csv"
    proc = grader("collect", str(run), "--roster", str(roster), "--csv", str(book),
                  "--due", DUE.isoformat(), "--late-penalty", "10")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {r[0]: r for r in _rows(book)}
    head = _rows(book)[0]
    assert rows["Jane-Doe_555"][1:3] == ["s2", "Doe, Jane"]
    ann = dict(zip(head, rows["submission_777"], strict=True))
    # Gradescope's created_at: 1 h 1 min late, one started day.
    assert (ann["id"], ann["late_days"], ann["penalty"], ann["final"]) == ("s3", "1", "0.8",
                                                                           "7.2")


def _rows_tsv(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh, delimiter="\t"))
