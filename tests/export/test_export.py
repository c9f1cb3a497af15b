"""`grader export`: the Gradescope zip run the way Gradescope runs it, and student zips
that hold nothing a student must not have.

Gradescope unpacks the autograder zip into ROOT/source, runs setup.sh there once,
copies run_autograder to ROOT/run_autograder and the submission to ROOT/submission,
then reads ROOT/results/results.json. setup.sh is not run here (it installs from PyPI);
GRADER_PYTHON points run_autograder at this project's virtual environment instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
from check_runs import REPO

from grader.parent.export import assignment_text
from grader.parent.spec import load_spec

RESULTS_SCHEMA = json.loads((REPO / "grader/schemas/results.schema.json").read_text())
ASSIGNMENTS = ("cs577-a4", "ds-ag-021", "hw2-mnist", "practical2")
MARKER = ".grader-assignment"


def run_grader(*args: str, cwd: Path | None = None, env: dict | None = None,
               timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m grader ARGS`, as a user runs it. (Not conftest's twin: under a run of
    several test folders, `conftest` may name tests/engine/conftest.py.)"""
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd or REPO,
                          env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


def unpack(zip_path: Path, dest: Path) -> Path:
    """Extracts as `unzip` does, Unix modes included (zipfile alone drops them)."""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            target = archive.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(target, mode)
    return dest


def export(kind: str, assignment: str, out: Path, *args: str, env: dict | None = None) -> Path:
    proc = run_grader("export", kind, assignment, "--out", str(out), *args, env=env,
                      timeout=120)
    assert proc.returncode == 0, proc.stderr
    return out


# --- Gradescope ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """practical2's --static autograder zip, unpacked as Gradescope's source folder."""
    base = tmp_path_factory.mktemp("gradescope")
    zip_path = export("gradescope", "practical2", base / "autograder.zip", "--static")
    return unpack(zip_path, base / "source")


def autograde(source: Path, submission: Path | None, root: Path, **env: str) -> dict:
    """run_autograder on ``submission`` in a fresh ROOT; the results file it left,
    checked against the results schema."""
    root.mkdir()
    (root / "source").symlink_to(source)
    shutil.copy(source / "run_autograder", root / "run_autograder")
    if submission is not None:
        shutil.copytree(submission, root / "submission")
    proc = subprocess.run([str(root / "run_autograder")], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "AUTOGRADER_ROOT": str(root),
                                            "GRADER_PYTHON": sys.executable, **env})
    assert proc.returncode == 0, proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, RESULTS_SCHEMA)
    return results


def test_the_zip_has_an_executable_setup_script_that_parses(source):
    for script in ("setup.sh", "run_autograder"):
        assert os.access(source / script, os.X_OK), script
        assert subprocess.run(["bash", "-n", str(source / script)]).returncode == 0, script
    assert (source / "grader-src" / "pyproject.toml").is_file()
    assert (source / "specs" / "practical2.json").is_file()
    config = json.loads((source / "autograder.json").read_text())
    assert config["assignment"] == "practical2" and config["static"] is True
    assert not (source / "data").exists()  # --static bundles no data


def test_gradescope_zip_bundles_the_data_its_accuracy_checks_need(tmp_path):
    # A data folder of stand-in files where the loaders look (fashion-mnist/...gz).
    data = tmp_path / "data"
    names = [f"{s}-{k}-ubyte.gz" for s in ("train", "t10k")
             for k in ("images-idx3", "labels-idx1")]
    (data / "fashion-mnist").mkdir(parents=True)
    for name in names:
        (data / "fashion-mnist" / name).write_bytes(b"stand-in " + name.encode())
    zip_path = export("gradescope", "practical2", tmp_path / "ag.zip", "--data-dir", str(data))
    with zipfile.ZipFile(zip_path) as archive:
        bundled = {n for n in archive.namelist() if n.startswith("data/")}
        config = json.loads(archive.read("autograder.json"))
    assert bundled == {f"data/fashion-mnist/{n}" for n in names}
    assert config["data"] == "data" and config["static"] is False


def test_the_reference_gets_full_marks(source, tmp_path):
    results = autograde(source, REPO / "reference" / "practical2", tmp_path / "ag")
    assert results["max_score"] > 0
    assert results["score"] == results["max_score"]


def test_the_template_gets_zero(source, tmp_path):
    results = autograde(source, REPO / "submissions_template" / "practical2", tmp_path / "ag")
    assert results["max_score"] > 0
    assert results["score"] == 0


def test_a_submission_that_hangs_is_stopped_and_still_gets_results(source, tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "cnn.py").write_text("while True:\n    pass\n")
    results = autograde(source, submission, tmp_path / "ag", GRADER_TIME_LIMIT_S="10",
                        GRADER_KILL_GRACE_S="30")
    assert results["score"] == 0
    assert "time limit of 10 s" in results["output"]


# A stand-in for the grader's Python: it runs run_grader.py as Python would, and
# misbehaves when asked to run the grader (`python -m grader ...`).
FAKE_PYTHON = """#!/usr/bin/env bash
if [ "$1" = "-m" ] && [ "$2" = "grader" ]; then
    {behaviour}
fi
exec {python} "$@"
"""


@pytest.mark.parametrize("behaviour, expected", [
    # Killed from outside, as the kernel's OOM killer does.
    ("kill -9 $$", "killed by signal 9"),
    # A crash before any results are written: the output's tail is kept.
    ("echo 'Traceback: the grader broke' >&2; exit 1", "the grader broke"),
    # A hang that ignores SIGTERM: killed after the grace period.
    ("trap '' TERM; sleep 120", "time limit of 2 s"),
])
def test_a_grader_that_crashes_hangs_or_is_killed_leaves_a_zero_score(
        source, tmp_path, behaviour, expected):
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON.format(behaviour=behaviour, python=sys.executable))
    fake.chmod(0o755)
    results = autograde(source, REPO / "reference" / "practical2", tmp_path / "ag",
                        GRADER_PYTHON=str(fake), GRADER_TIME_LIMIT_S="2",
                        GRADER_KILL_GRACE_S="2")
    assert results["score"] == 0 and results["tests"] == []
    assert expected in results["output"]


def test_without_a_working_python_run_autograder_still_writes_results(source, tmp_path):
    results = autograde(source, REPO / "reference" / "practical2", tmp_path / "ag",
                        GRADER_PYTHON="/bin/false")
    assert results["score"] == 0 and "setup.sh" in results["output"]


# --- student bundles ----------------------------------------------------------------

@pytest.fixture(scope="module")
def student_zips(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("student")
    return {a: export("student", a, base / f"{a}.zip") for a in ASSIGNMENTS}


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines()}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_student_zip_holds_no_reference_code(student_zips, assignment):
    template = REPO / "submissions_template" / assignment
    reference = REPO / "reference" / assignment
    with zipfile.ZipFile(student_zips[assignment]) as archive:
        members = {n: archive.read(n).decode() for n in archive.namelist()}
    given = set()  # lines students have anyway: the template's and the text's
    for path in [*template.rglob("*"), *(REPO.parent / "shared" / "assignments").glob(
            f"{assignment}.md")]:
        if path.is_file():
            given |= _lines(path.read_text())
    template_names = {p.name for p in template.rglob("*")}
    for ref in reference.rglob("*"):
        if not ref.is_file() or ref.name == MARKER:  # the marker is the assignment id
            continue
        code = ref.read_text()
        solution = {line for line in _lines(code) - given
                    if len(line) >= 25 and not line.startswith("#")}
        assert solution, f"{ref}: no solution lines to look for"
        for name, text in members.items():
            assert code.strip() not in text, f"{name} holds {ref}"
            assert not solution & _lines(text), f"{name} holds lines of {ref}"
            if Path(name).name == ref.name:
                assert ref.name in template_names, f"{name}: a reference-only file"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_student_spec_keeps_the_visible_tasks_and_no_answers(student_zips, assignment):
    with zipfile.ZipFile(student_zips[assignment]) as archive:
        spec = json.loads(archive.read(f"spec/{assignment}.json"))
        names = archive.namelist()
    shipped = json.loads((REPO / "grader" / "assignments" / f"{assignment}.json").read_text())
    assert [t["id"] for t in spec["tasks"]] == \
        [t["id"] for t in shipped["tasks"] if t.get("visibility") != "hidden"]
    assert "theory" not in spec  # manual questions carry the model answers
    assert '"derived_from"' not in json.dumps(spec)
    assert f"template/{MARKER}" in names and "README.md" in names
    # The text goes in where the spec's source names one that is there: the shipped
    # specs name ../shared/assignments/, which a clone of the repository may lack.
    text = assignment_text(load_spec(REPO / "grader" / "assignments" / f"{assignment}.json"))
    assert (f"{assignment}.md" in names) == (text is not None)


def test_hidden_tasks_of_an_instructor_spec_are_left_out(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    spec = json.loads((REPO / "grader" / "assignments" / "practical2.json").read_text())
    spec.pop("$schema")
    spec.pop("source")  # a text that is not there is skipped
    for task in spec["tasks"]:
        if task["id"] == "model4":
            task["visibility"] = "hidden"
    (course / "practical2.json").write_text(json.dumps(spec))
    # The course's own template, found beside its spec (as `grader assignment new` lays it out).
    shutil.copytree(REPO / "submissions_template" / "practical2",
                    course / "submissions_template" / "practical2")
    (course / "submissions_template" / "practical2" / "NOTES.txt").write_text("course copy\n")
    zip_path = export("student", "practical2", tmp_path / "student.zip",
                      env={"GRADER_ASSIGNMENTS": str(course)})
    with zipfile.ZipFile(zip_path) as archive:
        student = json.loads(archive.read("spec/practical2.json"))
        names = archive.namelist()
    assert "model4" not in [t["id"] for t in student["tasks"]]
    assert "1546954" not in json.dumps(student)  # model 4's trainable parameter count
    assert "template/NOTES.txt" in names
    assert not [n for n in names if n.endswith(".md") and n != "README.md"]


def test_the_template_checks_with_the_student_spec_and_scores_zero(student_zips, tmp_path):
    folder = unpack(student_zips["practical2"], tmp_path / "bundle")
    out = tmp_path / "results.json"
    proc = run_grader("--assignments-dir", str(folder / "spec"), "check",
                      str(folder / "template"), "--assignment", "practical2", "--static",
                      "-q", "--json", str(out), timeout=300)
    assert proc.returncode == 1, proc.stderr  # graded; checks failed
    results = json.loads(out.read_text())
    jsonschema.validate(results, RESULTS_SCHEMA)
    assert results["max_score"] > 0 and results["score"] == 0
    assert results["grader"]["complete"] is True
