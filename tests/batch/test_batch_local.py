"""A class graded on this machine with `grader batch run` (no Slurm): the same files
as the array tasks write, a run stopped part-way and resumed, a status that fits a
screen for 200 students, collect's "needs review" list, and plan refusing a class
whose accuracy checks have no data here."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.parent.batch.task import read_attempts

REPO = Path(__file__).resolve().parents[2]
STATIC = ("--static", "--gpus", "0", "--check-arg=--task=model3")  # ~20 s a student


def make_class(subs: Path, students: dict[str, str]) -> None:
    """STUDENTS: {id: "reference" | "template" | "broken"} as practical2 folders."""
    for student, kind in students.items():
        source = REPO / ("submissions_template" if kind == "template" else "reference") \
            / "practical2"
        shutil.copytree(source, subs / student)
        if kind == "broken":
            with (subs / student / "cnn.py").open("a") as fh:
                fh.write("\ndef build_model(:\n")  # does not compile


def plan(grader, subs: Path, run: Path, *extra: str) -> None:
    proc = grader("batch", "plan", str(subs), "--assignment", "practical2", "--out", str(run),
                  *extra)
    assert proc.returncode == 0, proc.stderr


def events(run: Path, student: str) -> list[str]:
    return [a["event"] for a in read_attempts(run, student)]


@pytest.fixture(scope="module")
def resumed(grader, tmp_path_factory):
    """A class of four run with -j 2, stopped by SIGTERM while the first two grade, then
    run again to the end: (run, the stopped run's process, the second run's process)."""
    tmp = tmp_path_factory.mktemp("local")
    subs, run = tmp / "subs", tmp / "run"
    make_class(subs, {"ann": "reference", "bob": "template", "cat": "broken",
                      "dan": "reference"})
    plan(grader, subs, run, *STATIC)
    first = subprocess.Popen([sys.executable, "-m", "grader", "batch", "run", str(run),
                              "-j", "2"], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while sum(events(run, s)[-1:] == ["started"] for s in ("ann", "bob")) < 2:
        assert time.monotonic() < deadline and first.poll() is None, first.stdout.read()
        time.sleep(0.2)
    time.sleep(3)  # inside `grader check` now (it takes ~20 s)
    first.send_signal(signal.SIGTERM)
    out, _ = first.communicate(timeout=120)
    stopped = subprocess.CompletedProcess(first.args, first.returncode, out, "")
    assert not (run / "results" / "ann.json").exists()  # before the second run
    second = grader("batch", "run", str(run), "-j", "2")
    return run, stopped, second


def test_a_stopped_run_leaves_no_result_for_students_in_flight(resumed):
    run, stopped, _ = resumed
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stdout
    assert "stopped by SIGTERM" in stopped.stdout and "cancelled" in stopped.stdout
    for student in ("ann", "bob"):
        assert events(run, student)[:2] == ["started", "cancelled"]
        assert "grader batch run" in read_attempts(run, student)[1]["detail"]
    assert not list((run / "results" / ".partial").iterdir())


def test_running_again_grades_everyone_exactly_once(resumed, grader):
    run, _, second = resumed
    assert second.returncode == 0, second.stdout + second.stderr
    assert sorted(p.name for p in (run / "results").glob("*.json")) == [
        "ann.json", "bob.json", "cat.json", "dan.json"]
    for student in ("ann", "bob", "cat", "dan"):
        assert events(run, student).count("finished") == 1, events(run, student)
    assert events(run, "ann") == ["started", "cancelled", "started", "finished"]
    # Not a terminal: one timestamped line per student, with the ETA while some remain.
    lines = [ln for ln in second.stdout.splitlines() if re.match(r"\d\d:\d\d:\d\d ", ln)]
    assert len(lines) == 4, second.stdout
    assert re.match(r"\d\d:\d\d:\d\d graded 1/\d \w+ \(\d+\.\d s\): score [\d.]+/[\d.]+, "
                    r"ETA \d\d:\d\d$", lines[0]), lines
    # A third run finds everyone graded: skipped, logged as a Slurm task would.
    third = grader("batch", "run", str(run), "--only-missing")
    assert third.returncode == 0 and "nothing to grade" in third.stdout
    assert events(run, "ann")[-1] == "finished"
    fourth = grader("batch", "run", str(run))
    assert "4 students already graded: skipped" in fourth.stdout
    assert events(run, "ann")[-1] == "skipped"


def test_results_are_those_an_array_task_writes(resumed, grader, tmp_path):
    run, _, _ = resumed
    subs, alone = tmp_path / "subs", tmp_path / "run"
    make_class(subs, {"ann": "reference"})
    plan(grader, subs, alone, *STATIC)
    assert grader("batch", "run-task", str(alone), "1").returncode == 0

    def essence(path: Path) -> dict:
        data = json.loads(path.read_text())
        return {"score": data["score"], "max_score": data["max_score"],
                "tests": [(t["name"], t["score"], t["status"], t["grader"]["state"])
                          for t in data["tests"]],
                "batch": sorted(data["grader"]["batch"]), "student": data["grader"]["batch"]
                ["student"]}

    assert essence(run / "results" / "ann.json") == essence(alone / "results" / "ann.json")
    # The same results whether the workers were forked warm (batch run) or started afresh.
    from grader.data.hiding import namespaces_available

    started = [json.loads((folder / "results" / "ann.json").read_text())["grader"]
               ["workers_started"] for folder in (run, alone)]
    assert started[1]["warm"] == 0
    assert started[0]["warm"] == (2 if namespaces_available() else 1), started
    batch = json.loads((run / "results" / "ann.json").read_text())["grader"]["batch"]
    assert re.fullmatch(r"local-\d+_1", batch["job"])
    assert (run / "logs" / f"{batch['job']}.out").is_file()
    cat = json.loads((run / "results" / "cat.json").read_text())
    assert cat["score"] == 0  # the broken one is graded, with nothing passed


def test_status_of_200_students_fits_a_screen(grader, tmp_path):
    subs, run = tmp_path / "subs", tmp_path / "run"
    for i in range(200):
        (subs / f"s{i:03d}").mkdir(parents=True)
        (subs / f"s{i:03d}" / "cnn.py").write_text("MODEL_NUMBER = 1\n")
    plan(grader, subs, run, "--static")
    done = {"score": 1, "max_score": 2, "tests": [], "grader": {"batch": {"job": "7_1"}}}
    for i in range(150):
        (run / "results" / f"s{i:03d}.json").write_text(json.dumps(done))
    for i in range(150, 170):
        (run / "failed" / f"s{i:03d}.json").write_text(json.dumps(
            {"reason": "grader check exited 2: cnn.py not found " + "x" * 200, "job": "7_2"}))
    env = {"COLUMNS": "100", "LINES": "40"}
    proc = grader("batch", "status", str(run), env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "200 students: 150 done, 20 failed, 30 missing"
    assert len(lines) <= 40 and max(len(ln) for ln in lines) <= 100
    assert re.search(r"^\.\.\. and \d+ more", proc.stdout, re.M)
    assert lines[1] == "50 not done:"
    rows = lines[2:-1]
    assert len(rows) >= 10 and all(re.match(r"\d+ +s1[5-9]\d  (failed|missing) ", r)
                                   for r in rows), rows
    assert rows[0].endswith("…") and "s000" not in proc.stdout
    every = grader("batch", "status", str(run), "--all", env=env).stdout
    assert all(f"s{i:03d}" in every for i in range(200))


def result(tests: list[tuple[str, str]], notes: dict[str, list[str]] | None = None,
           output: str = "") -> dict:
    """A results file: (check name "task: check", state) per test."""
    made = [{"name": name, "score": 1 if state == "passed" else 0, "max_score": 1,
             "status": "passed" if state == "passed" else "failed", "output": output,
             "tags": [name.split(": ")[0]], "grader": {"state": state}}
            for name, state in tests]
    return {"score": sum(t["score"] for t in made), "max_score": len(made), "tests": made,
            "grader": {"tasks": {task: {"notes": n, "build": {"state": "built"}}
                                 for task, n in (notes or {}).items()}}}


def test_collect_ends_with_the_students_to_review(grader, tmp_path):
    subs, run = tmp_path / "subs", tmp_path / "run"
    students = ("ann", "ben", "cat", "dan", "eve", "fay", "gus")
    for student in students:
        (subs / student).mkdir(parents=True)
        (subs / student / "cnn.py").write_text("MODEL_NUMBER = 1\n")
    plan(grader, subs, run, "--static")
    ok = [("model1: architecture", "passed"), ("model2: architecture", "passed")]
    results = {
        "ann": result(ok),
        "ben": result([*ok, ("model2: params", "unverified")]),
        "cat": result([*ok, ("model1: accuracy", "not_run")]),
        "dan": result(ok, notes={"model2": [
            "graded model: `m` built at cnn.py line 9; a weak match: a person should check "
            "it is the model meant"]}),
        "eve": result([("model1: architecture", "failed"), ("model2: architecture", "error")]),
        "fay": result([*ok, ("model3: params", "error")],
                      output="importing the file did not finish within 120 s"),
    }
    for student, data in results.items():
        (run / "results" / f"{student}.json").write_text(json.dumps(data))
    (run / "failed" / "gus.json").write_text(json.dumps(
        {"reason": "grader check exited 2: ModuleNotFoundError: No module named 'cv2'"}))

    proc = grader("collect", str(run), env={"COLUMNS": "200"})
    assert proc.returncode == 1  # gus has no grade
    assert "needs review: 6 students" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == (
        "6 graded, 6 need review (1 unverified, 1 not run, 1 time-out, 1 import error, "
        "1 all failed, 1 weak match), 1 without a grade")
    assert "all 6 students graded" not in proc.stdout
    # The check not run is counted apart: neither passed nor failed.
    assert re.search(r"│ model1 +│ model1: accuracy +│ +0/0 │ +- │ +1 │", proc.stdout)
    rows = (run / "needs_review.csv").read_text().splitlines()
    assert rows[0] == "student,state,kinds,reasons"
    by_student = {r.split(",")[0]: r for r in rows[1:]}
    assert sorted(by_student) == ["ben", "cat", "dan", "eve", "fay", "gus"]
    assert "unverified: model2: params" in by_student["ben"]
    assert "not run: model1: accuracy" in by_student["cat"]
    assert "weak match: model2" in by_student["dan"]
    assert "all failed" in by_student["eve"]
    assert "time-out: model3" in by_student["fay"]
    assert by_student["gus"].startswith("gus,failed,import error,")

    status = grader("batch", "status", str(run)).stdout
    assert status.splitlines()[0].startswith("7 students: 6 done, 1 failed; 6 need review")


def test_extra_flags_of_other_tools_join_the_review(tmp_path, grader):
    from grader.parent.batch.review import needs_review
    from grader.parent.batch.state import run_state

    subs, run = tmp_path / "subs", tmp_path / "run"
    (subs / "ann").mkdir(parents=True)
    (subs / "ann" / "cnn.py").write_text("MODEL_NUMBER = 1\n")
    plan(grader, subs, run, "--static")
    (run / "results" / "ann.json").write_text(json.dumps(
        result([("model1: architecture", "passed")])))
    state = run_state(run, use_squeue=False)
    assert needs_review(state) == []
    [flagged] = needs_review(state, {"ann": ["similar to ben (0.97)"]})
    assert flagged.reasons() == "similar: ben (0.97)"


@pytest.fixture
def no_mnist(tmp_path):
    if any(Path(root, "mnist").exists() or Path(root, "mnist.npz").exists()
           for root in ("/usr/share/datasets", "/usr/local/share/datasets")):
        pytest.skip("MNIST is installed system-wide here")
    return {"KERAS_HOME": str(tmp_path / "keras"), "GRADER_DATA": str(tmp_path / "data")}


def test_plan_refuses_a_class_whose_accuracy_data_is_missing(grader, tmp_path, no_mnist):
    subs, run = tmp_path / "subs", tmp_path / "run"
    (subs / "ann").mkdir(parents=True)
    (subs / "ann" / "mnist.py").write_text("x = 1\n")
    args = ("batch", "plan", str(subs), "--assignment", "hw2-mnist", "--out", str(run))
    proc = grader(*args, env=no_mnist)
    assert proc.returncode == 2
    assert "dataset 'mnist'" in proc.stderr and no_mnist["GRADER_DATA"] in proc.stderr
    assert "--allow-missing-data" in proc.stderr and "--data-dir" in proc.stderr
    assert not run.exists()
    for extra in ("--allow-missing-data", "--static"):
        ok = grader(*args, extra, env=no_mnist)
        assert ok.returncode == 0, ok.stderr


def test_submit_without_a_cluster_points_to_batch_run(grader, tmp_path):
    subs, run = tmp_path / "subs", tmp_path / "run"
    (subs / "ann").mkdir(parents=True)
    (subs / "ann" / "cnn.py").write_text("MODEL_NUMBER = 1\n")
    plan(grader, subs, run, "--static")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sbatch = bin_dir / "sbatch"  # installed, but no slurm.conf: what Debian's client says
    sbatch.write_text("#!/bin/sh\necho 'sbatch: error: Could not establish a configuration "
                      "source' >&2\nexit 1\n")
    sbatch.chmod(0o755)
    proc = grader("batch", "submit", str(run),
                  env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert proc.returncode == 2
    assert f"grader batch run {run} -j N" in proc.stderr, proc.stderr
