"""What one array task does with its manifest line, run by hand as
`grader batch run-task RUN INDEX` (exactly what grade.sbatch runs), and how it
unpacks zips and notebooks before `grader check` sees them."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from grader.parent.batch.manifest import Entry
from grader.parent.batch.task import prepare, read_attempts
from grader.parent.submission import spec_notebook_name

REPO = Path(__file__).resolve().parents[2]


def test_a_submission_that_vanished_after_planning_fails_and_stays_resubmittable(grader,
                                                                                tmp_path):
    subs, run = tmp_path / "subs", tmp_path / "run"
    shutil.copytree(REPO / "reference" / "practical2", subs / "alice")
    assert grader("batch", "plan", str(subs), "--assignment", "practical2",
                  "--out", str(run), "--gpus", "0").returncode == 0
    shutil.rmtree(subs / "alice")  # withdrawn from the LMS between plan and grading

    proc = grader("batch", "run-task", str(run), "1")
    assert proc.returncode == 2
    record = json.loads((run / "failed" / "alice.json").read_text())
    assert record["exit_code"] == 2
    assert record["reason"].startswith("grader check exited 2: ")
    assert "does not exist" in record["reason"], record["reason"]
    assert not (run / "results" / "alice.json").exists()
    assert [a["event"] for a in read_attempts(run, "alice")] == ["started", "failed"]

    status = json.loads(grader("batch", "status", str(run), "--json").stdout)
    assert status["students"][0]["state"] == "failed"
    dry = grader("batch", "submit", str(run), "--only-missing", "--dry-run")
    assert "--array=1 " in dry.stdout


def test_a_zipped_folder_is_graded_inside_that_folder(tmp_path):
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("practical2/cnn.py", "MODEL_NUMBER = 2\n")
        zf.writestr("__MACOSX/practical2/._cnn.py", "resource fork litter")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    folder = prepare(Entry(1, "alice", archive, "zip"), scratch)
    assert folder == scratch / "alice" / "practical2"
    assert (folder / "cnn.py").read_text() == "MODEL_NUMBER = 2\n"


def test_a_zip_whose_members_climb_out_is_refused(tmp_path):
    archive = tmp_path / "mallory.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../cnn.py", "print('outside the scratch folder')\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(ValueError, match=r"mallory.zip: member '../../cnn.py' points outside"):
        prepare(Entry(1, "mallory", archive, "zip"), scratch)
    assert not (tmp_path / "cnn.py").exists()


def test_a_lone_notebook_takes_the_name_the_spec_expects(tmp_path):
    assert spec_notebook_name("practical2") == "cnn.ipynb"  # cnn.py or cnn.ipynb
    spec = json.loads((REPO / "grader" / "assignments" / "practical2.json").read_text())
    for task in spec["tasks"]:
        if "cnn.ipynb" in task["entry"]["file"]:
            task["entry"]["file"] = "cnn.py"
    spec_path = tmp_path / "practical2-scripts-only.json"
    spec_path.write_text(json.dumps(spec))
    assert spec_notebook_name(str(spec_path)) is None  # it names no notebook

    notebook = tmp_path / "bob.ipynb"
    notebook.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                    "nbformat_minor": 5}))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    folder = prepare(Entry(2, "bob", notebook, "notebook"), scratch, "cnn.ipynb")
    assert sorted(p.name for p in folder.iterdir()) == ["cnn.ipynb"]


def test_a_gpu_task_on_a_node_without_a_gpu_fails_fast_and_stays_resubmittable(grader,
                                                                              tmp_path):
    subs, run = tmp_path / "subs", tmp_path / "run"
    shutil.copytree(REPO / "reference" / "practical2", subs / "alice")
    # Planned for GPU nodes (the default --gpus 1) and with training: this machine has none.
    assert grader("batch", "plan", str(subs), "--assignment", "practical2",
                  "--out", str(run)).returncode == 0

    proc = grader("batch", "run-task", str(run), "1")
    assert proc.returncode == 2
    record = json.loads((run / "failed" / "alice.json").read_text())
    assert "GPU" in record["reason"], record["reason"]
    assert not (run / "results" / "alice.json").exists()
    dry = grader("batch", "submit", str(run), "--only-missing", "--dry-run")
    assert "--array=1 " in dry.stdout


def test_a_check_that_cannot_start_puts_its_own_error_in_the_reason(grader, tmp_path):
    subs, run = tmp_path / "subs", tmp_path / "run"
    shutil.copytree(REPO / "reference" / "practical2", subs / "alice")
    assert grader("batch", "plan", str(subs), "--assignment", "practical2",
                  "--out", str(run), "--static").returncode == 0
    # A plan.json written by hand (or before plan checked --check-arg) with an
    # option grader check does not have: the task must say so, not only "exited 2".
    saved = json.loads((run / "plan.json").read_text())
    saved["check_args"] = ["--build-timeout=30"]
    (run / "plan.json").write_text(json.dumps(saved))

    proc = grader("batch", "run-task", str(run), "1")
    assert proc.returncode == 2
    assert "No such option: --build-timeout" in proc.stdout  # the log keeps the full output
    record = json.loads((run / "failed" / "alice.json").read_text())
    assert record["reason"].startswith("grader check exited 2 without writing its results file: ")
    assert "No such option: --build-timeout" in record["reason"]
    status = json.loads(grader("batch", "status", str(run), "--json").stdout)
    assert "No such option: --build-timeout" in status["students"][0]["reason"]


@pytest.fixture(scope="module")
def hector(grader, tmp_path_factory):
    """One array task run by hand, for the two tests below: héctor's run was planned
    with a course's own spec file (gone by grading time: inside the container the
    course's spec folder is not bound, only RUN's copy is there), and his results file
    was cut short before the task ran. (run folder, the task's completed process)"""
    tmp_path = tmp_path_factory.mktemp("hector")
    subs, run, course = tmp_path / "subs", tmp_path / "run", tmp_path / "course" / "spec.json"
    shutil.copytree(REPO / "reference" / "practical2", subs / "héctor")
    course.parent.mkdir()
    shutil.copy(REPO / "grader" / "assignments" / "practical2.json", course)
    assert grader("batch", "plan", str(subs), "--assignment", str(course), "--out", str(run),
                  "--static", "--check-arg=--task=model3").returncode == 0
    shutil.rmtree(course.parent)
    (run / "results" / "héctor.json").write_text('{"score": 3, "max_sc')  # cut short
    return run, grader("batch", "run-task", str(run), "1")


def test_a_corrupt_result_is_set_aside_and_graded_again(grader, hector):
    run, proc = hector
    final = run / "results" / "héctor.json"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(final.read_text())
    assert data["grader"]["batch"]["student"] == "héctor" and data["max_score"] > 0
    kept = list((run / "results" / ".corrupt").iterdir())
    assert [p.read_text() for p in kept] == ['{"score": 3, "max_sc']
    assert [a["event"] for a in read_attempts(run, "héctor")] == ["corrupt", "started",
                                                                 "finished"]
    # Now a good result: the next task skips it as before.
    assert grader("batch", "run-task", str(run), "1").returncode == 0
    assert read_attempts(run, "héctor")[-1]["event"] == "skipped"


def test_a_task_grades_with_the_runs_copy_of_a_course_spec(hector):
    run, proc = hector
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"--assignment {run.resolve() / 'assignment.json'}" in proc.stdout
    assert json.loads((run / "results" / "héctor.json").read_text())["max_score"] > 0
