"""`grader collect` on a run directory whose tasks have finished, failed or
never run: the gradebook, its summary and the CSV an LMS imports. The results
files are written in the format `grader check --json` produces and are
validated against grader/schemas/results.schema.json first."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[2]


def result(scores: dict[str, tuple[float, float, str]]) -> dict:
    """A results file: {check name: (score, max_score, state)}; the task is the prefix."""
    tests = []
    for name, (score, max_score, state) in scores.items():
        task, check = name.split(": ")
        tests.append({"name": name, "score": score, "max_score": max_score,
                      "status": "passed" if state in ("passed", "skipped") else "failed",
                      "output": "", "visibility": "visible", "tags": [task, check],
                      "grader": {"state": state, "check": check}})
    return {"score": sum(t["score"] for t in tests),
            "max_score": sum(t["max_score"] for t in tests),
            "execution_time": 9.5, "output": "", "tests": tests,
            "grader": {"assignment": "practical2", "exit_code": 0, "complete": True}}


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the rich tables in TEXT, as lists of stripped cells."""
    return [[cell.strip() for cell in line.strip().strip("│").split("│")]
            for line in text.splitlines() if line.startswith("│")]


def table_header(text: str) -> list[str]:
    """The header cells of the first rich table in TEXT."""
    line = next(ln for ln in text.splitlines() if ln.startswith("┃"))
    return [cell.strip() for cell in line.strip().strip("┃").split("┃")]


@pytest.fixture
def run(grader, tmp_path) -> Path:
    subs = tmp_path / "subs"
    for student in ("ann", "ben", "cat", "dan", "eve"):
        (subs / student).mkdir(parents=True)
        (subs / student / "cnn.py").write_text("MODEL_NUMBER = 1\n")
    run = tmp_path / "run"
    proc = grader("batch", "plan", str(subs), "--assignment", "practical2", "--out", str(run))
    assert proc.returncode == 0, proc.stderr
    schema = json.loads((REPO / "grader" / "schemas" / "results.schema.json").read_text())
    checks = ("model1: architecture", "model1: accuracy", "model2: architecture",
              "model2: params")
    skipped = (0, 0, "skipped")  # accuracy under --static
    graded = {
        "ann": result(dict(zip(checks, [(2, 2, "passed"), skipped, (4, 4, "passed"),
                                        (2, 2, "passed")], strict=True))),
        "ben": result(dict(zip(checks, [(0, 2, "failed"), skipped, (4, 4, "passed"),
                                        (0, 2, "failed")], strict=True))),
        # cat's accuracy could not run where cat was graded (no data there).
        "cat": result(dict(zip(checks, [(2, 2, "passed"), (0, 0, "not_run"), (0, 4, "error"),
                                        (0, 2, "error")], strict=True))),
    }
    for student, data in graded.items():
        jsonschema.validate(data, schema)
        (run / "results" / f"{student}.json").write_text(json.dumps(data))
    # dan's task ran and could not grade; eve's was never run.
    (run / "failed" / "dan.json").write_text(json.dumps(
        {"student": "dan", "reason": "grader check exited 2: cnn.py not found", "exit_code": 2}))
    return run


def test_gradebook_has_a_row_per_student_and_a_column_per_task(grader, run, tmp_path):
    out = tmp_path / "gradebook.csv"
    proc = grader("collect", str(run), "--csv", str(out))
    # Exit 1: the gradebook is written, but not everyone has a grade.
    assert proc.returncode == 1, proc.stderr
    with out.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [
        ["student", "model1", "model2", "total", "max_score", "state", "not_run"],
        ["ann", "2", "6", "8", "8", "done", ""],
        ["ben", "0", "4", "4", "8", "done", ""],
        ["cat", "2", "0", "2", "8", "done", "model1.accuracy"],
        ["dan", "", "", "", "", "failed", ""],
        ["eve", "", "", "", "", "missing", ""],
    ]


def test_summary_gives_mean_median_and_pass_rate_per_check(grader, run):
    proc = grader("collect", str(run))
    rows = table_rows(proc.stdout)

    # task, out of, graded, mean, median, min, max
    assert ["model1", "2", "3", "1.33", "2.00", "0.00", "2.00"] in rows
    assert ["model2", "6", "3", "3.33", "4.00", "0.00", "6.00"] in rows
    assert ["total", "8", "3", "4.67", "4.00", "2.00", "8.00"] in rows
    # Pass rates count graded students; the skipped accuracy checks are left out, and
    # the one not run (cat's) is counted apart, never as failed.
    assert ["model1", "model1: architecture", "2/3", "67%", "0"] in rows
    assert ["model1", "model1: accuracy", "0/0", "-", "1"] in rows
    assert ["cat", "done", "not run: model1: accuracy"] in rows  # and in needs review
    assert ["model2", "model2: params", "1/3", "33%", "0"] in rows


def test_students_without_a_grade_are_listed_with_the_reason(grader, run):
    proc = grader("collect", str(run))
    assert "2 students without a grade" in proc.stdout
    assert "grader check exited 2: cnn.py not found" in proc.stdout
    assert "never ran" in proc.stdout


def test_status_counts_each_state(grader, run):
    proc = grader("batch", "status", str(run), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["counts"] == {"done": 3, "failed": 1, "corrupt": 0, "running": 0, "pending": 0,
                                "missing": 1}
    by_student = {s["student"]: s for s in report["students"]}
    assert (by_student["ann"]["score"], by_student["ann"]["max_score"]) == (8, 8)
    assert by_student["dan"]["reason"] == "grader check exited 2: cnn.py not found"


def test_corrupt_results_are_flagged_and_the_rest_of_the_class_is_collected(grader, run,
                                                                            tmp_path):
    text = (run / "results" / "ann.json").read_text()
    (run / "results" / "ann.json").write_text(text[:40])  # cut short: a full disk, a bad copy
    (run / "results" / "ben.json").write_text(json.dumps({"score": "x", "tests": 5}))
    out = tmp_path / "gradebook.csv"

    proc = grader("collect", str(run), "--csv", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    with out.open(newline="") as fh:
        rows = {r[0]: r[1:] for r in csv.reader(fh)}
    assert rows["ann"] == ["", "", "", "", "corrupt", ""]
    assert rows["ben"] == ["", "", "", "", "corrupt", ""]
    assert rows["cat"] == ["2", "0", "2", "8", "done", "model1.accuracy"]
    assert "4 students without a grade" in proc.stdout

    status = json.loads(grader("batch", "status", str(run), "--json").stdout)
    assert status["counts"]["corrupt"] == 2 and status["counts"]["done"] == 1
    by_student = {s["student"]: s["reason"] for s in status["students"]}
    assert by_student["ann"].startswith(f"corrupt result: {run.resolve()}/results/ann.json "
                                        "is not valid JSON")
    assert "'score' is 'x', not a number" in by_student["ben"]
    assert "--only-missing" in by_student["ben"]
    # --only-missing resubmits the corrupt ones with the failed and the missing.
    dry = grader("batch", "submit", str(run), "--only-missing", "--dry-run")
    assert "--array=1-2,4-5 " in dry.stdout, dry.stdout + dry.stderr


def test_an_unreadable_failure_record_still_shows_the_student_as_failed(grader, run):
    (run / "failed" / "dan.json").write_text('{"student": "dan", "rea')
    report = json.loads(grader("batch", "status", str(run), "--json").stdout)
    dan = next(s for s in report["students"] if s["student"] == "dan")
    assert dan["state"] == "failed" and "dan.json is unreadable" in dan["reason"]


def test_tables_never_cut_student_ids_or_states_in_80_columns(grader, tmp_path):
    subs = tmp_path / "subs"
    students = ("maximilian.vanderberg", "héctor.castañeda-ruiz", "student42")
    for student in students:
        (subs / student).mkdir(parents=True)
        (subs / student / "cnn.py").write_text("MODEL_NUMBER = 1\n")
    run = tmp_path / "run"
    assert grader("batch", "plan", str(subs), "--assignment", "practical2",
                  "--out", str(run)).returncode == 0
    checks = {f"model{i}: architecture": (1, 2, "failed") for i in range(1, 5)}
    (run / "results" / "student42.json").write_text(json.dumps(result(checks)))

    env = {"COLUMNS": "80"}
    for args in (("collect", str(run)), ("batch", "status", str(run))):
        proc = grader(*args, env=env)
        assert "…" not in proc.stdout, proc.stdout
        cells = {cell for row in table_rows(proc.stdout) for cell in row}
        assert set(students) <= cells, proc.stdout
        assert "missing" in cells and "done" in cells
        assert max(len(line) for line in proc.stdout.splitlines() if line[:1] in "┏┃┡│└") <= 80
    # Four tasks still fit beside those ids, with the total as score/out of.
    header = table_header(grader("collect", str(run), env=env).stdout)
    assert header == ["student", "model1", "model2", "model3", "model4", "total", "state"]
    assert ["student42", "1", "1", "1", "1", "4/8", "done"] in table_rows(
        grader("collect", str(run), env=env).stdout)
    # Narrower still: the ids stay whole and the task columns go to the CSV.
    narrow = grader("collect", str(run), env={"COLUMNS": "60"}).stdout
    assert table_header(narrow) == ["student", "total", "state"]
    assert "see --csv" in narrow and "…" not in narrow
    assert ["héctor.castañeda-ruiz", "", "missing"] in table_rows(narrow)


def test_csv_into_a_folder_is_refused_with_the_fix_and_leaves_no_temp_file(grader, run,
                                                                           tmp_path):
    folder = tmp_path / "grades"
    folder.mkdir()
    proc = grader("collect", str(run), "--csv", str(folder))
    assert proc.returncode == 2
    assert f"--csv {folder}: is a folder" in proc.stderr
    assert f"--csv {folder / 'gradebook.csv'}" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades", "run", "subs"]
    assert not any(folder.iterdir())


def test_a_failed_csv_write_leaves_no_temp_file(run, tmp_path):
    from grader.parent.batch import gradebook

    book = gradebook.build(run)
    target = tmp_path / "taken"
    target.mkdir()  # the final move fails: a folder is in the way
    with pytest.raises(OSError):
        book.to_csv(target)
    assert not (tmp_path / ".taken.tmp").exists()


def test_collect_writes_a_page_per_graded_student(grader, run, tmp_path):
    pages = tmp_path / "pages"
    proc = grader("collect", str(run), "--html", str(pages))
    assert proc.returncode == 1  # dan and eve have no grade
    # A page per graded student, and the class index (tests/pages/test_class_index.py).
    assert sorted(p.name for p in pages.iterdir()) == ["ann.html", "ben.html", "cat.html",
                                                       "index.html"]
    ben = (pages / "ben.html").read_text()
    assert "<title>ben: practical2: 4 / 8</title>" in ben and "<h2>model1</h2>" in ben
    assert "3 student report(s) and the class index" in proc.stdout
    in_the_way = tmp_path / "file"
    in_the_way.write_text("")
    refused = grader("collect", str(run), "--html", str(in_the_way))
    assert refused.returncode == 2 and "is a file; name a folder" in refused.stderr
