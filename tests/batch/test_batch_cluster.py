"""A class graded on a real (local) Slurm cluster, end to end: plan, sbatch
array, the real `grader check` in every task, status, collect; then a task
cancelled mid-run, resubmitted with --only-missing, and nobody graded twice.

The submissions are practical2's reference and template plus two made from
the reference here: one that does not compile, one whose build_model(4) never
returns. The spec is the shipped one with a 10 s build timeout, so the hanging
builder costs seconds, not the default two minutes.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 10

HANGING_BUILDER = '''

# --- added by the test: model 4's builder never returns ----------------------
_build_model_as_written = build_model


def build_model(model_number):
    if model_number == 4:
        while True:
            time.sleep(0.5)
    return _build_model_as_written(model_number)
'''


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    """practical2's spec with a short build timeout (a course may set its own limits)."""
    data = json.loads((REPO / "grader" / "assignments" / "practical2.json").read_text())
    data.setdefault("defaults", {})["build_timeout_s"] = BUILD_TIMEOUT_S
    path = tmp_path_factory.mktemp("spec") / "practical2-fast.json"
    path.write_text(json.dumps(data))
    return path


# What `grader check --static` decides without training (function tasks' outputs and
# the Grad-CAM visual check included); accuracy is skipped.
STATIC_CHECKS = ("architecture", "params", "lints", "outputs", "visual")


def static_points(spec: Path) -> dict[str, float]:
    """Points per task that `--static` can award."""
    tasks = json.loads(spec.read_text())["tasks"]
    return {t["id"]: float(sum(c["points"] for name, c in t["checks"].items()
                               if name in STATIC_CHECKS)) for t in tasks}


def add_reference(subs: Path, student: str) -> Path:
    folder = subs / student
    shutil.copytree(REPO / "reference" / "practical2", folder)
    return folder


def add_template_zip(subs: Path, student: str) -> None:
    with zipfile.ZipFile(subs / f"{student}.zip", "w") as zf:
        for path in sorted((REPO / "submissions_template" / "practical2").iterdir()):
            zf.write(path, f"{student}/{path.name}")


def add_broken(subs: Path, student: str) -> None:
    folder = add_reference(subs, student)
    with (folder / "cnn.py").open("a") as fh:
        fh.write("\ndef build_model(model_number:\n    return None\n")


def add_hanging(subs: Path, student: str) -> None:
    folder = add_reference(subs, student)
    with (folder / "cnn.py").open("a") as fh:
        fh.write(HANGING_BUILDER)


def plan(cluster, subs: Path, run: Path, spec: Path) -> None:
    # One core and 2 GB per student: on the 2-core test node two students run at once.
    proc = cluster.grader("batch", "plan", str(subs), "--assignment", str(spec), "--out", str(run),
                          "--gpus", "0", "--cpus", "1", "--mem", "2G", "--time", "10",
                          "--static")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def submit(cluster, run: Path, *flags: str) -> str:
    proc = cluster.grader("batch", "submit", str(run), *flags)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with (run / "jobs.tsv").open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))[-1]["job_id"]


def status(cluster, run: Path) -> dict[str, dict]:
    proc = cluster.grader("batch", "status", str(run), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["squeue"] is True, report["squeue_problem"]
    return {s["student"]: s for s in report["students"]}


def read_gradebook(path: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return list(rows[0].keys()), {r["student"]: r for r in rows}


def attempts(run: Path, student: str) -> list[tuple[str, str]]:
    """(event, job) of every attempt logged for the student."""
    path = run / "attempts" / f"{student}.tsv"
    return [(line.split("\t")[1], line.split("\t")[2]) for line in path.read_text().splitlines()]


def results_bytes(run: Path) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in sorted((run / "results").glob("*.json"))}


@pytest.fixture(scope="module")
def graded_class(slurm_cluster, spec, tmp_path_factory):
    """One batch of four students, submitted once and waited for."""
    base = tmp_path_factory.mktemp("class")
    subs, run = base / "subs", base / "run"
    subs.mkdir()
    add_reference(subs, "alice")
    add_template_zip(subs, "bob")
    add_broken(subs, "carol")
    add_hanging(subs, "dave")
    plan(slurm_cluster, subs, run, spec)
    job = submit(slurm_cluster, run)
    slurm_cluster.wait_for_job(job, timeout=240)
    return run, job


def test_every_student_of_the_class_gets_their_row_and_score(slurm_cluster, graded_class, spec):
    run, job = graded_class
    gradebook = run.parent / "gradebook.csv"
    proc = slurm_cluster.grader("collect", str(run), "--csv", str(gradebook))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    points = static_points(spec)
    tasks = list(points)
    header, rows = read_gradebook(gradebook)
    # LMS import: the student id first, then a column per task and the total.
    assert header[: len(tasks) + 2] == ["student", *tasks, "total"]
    assert list(rows) == ["alice", "bob", "carol", "dave"]

    def scores(student: str) -> dict[str, float]:
        return {t: float(rows[student][t]) for t in [*tasks, "total"]}

    # The reference earns every point static checks can give.
    assert scores("alice") == {**points, "total": sum(points.values())}
    # The template builds nothing; the file that does not compile neither.
    assert scores("bob") == dict.fromkeys([*tasks, "total"], 0.0)
    assert scores("carol") == dict.fromkeys([*tasks, "total"], 0.0)
    # The hanging builder fails model 4 only; models 1-3 are graded as usual.
    assert scores("dave") == {**points, "model4": 0.0,
                              "total": sum(points.values()) - points["model4"]}
    dave = json.loads((run / "results" / "dave.json").read_text())
    # Accuracy is skipped under --static (scoreless, whatever its status): the
    # checks that were run on model 4 all failed.
    model4 = [t for t in dave["tests"] if t["tags"][0] == "model4"
              and t["grader"]["state"] not in ("skipped", "manual")]
    assert model4 and all(t["status"] == "failed" for t in model4)
    assert any(f"{BUILD_TIMEOUT_S}" in t["output"] for t in model4), model4[0]["output"]
    carol = json.loads((run / "results" / "carol.json").read_text())
    assert all("SyntaxError" in t["output"] for t in carol["tests"] if t["max_score"])

    assert {r["state"] for r in rows.values()} == {"done"}
    # Graded, and the doubtful ones said: dave's time-out, the template and the
    # file that does not compile (every task failed).
    assert "4 graded, 3 need review (1 time-out, 2 all failed)" in proc.stdout
    assert "pass rate per check" in proc.stdout
    for student in rows:
        # Graded once, by this job, and its Slurm log is in RUN/logs.
        assert attempts(run, student) == [("started", f"{job}_{rows_index(run, student)}"),
                                          ("finished", f"{job}_{rows_index(run, student)}")]
        assert (run / "logs" / f"{job}_{rows_index(run, student)}.out").is_file()
    assert not list((run / "results" / ".partial").iterdir())
    # The Grad-CAM images live in RUN/images/STUDENT/, and the results point there.
    alice = json.loads((run / "results" / "alice.json").read_text())
    gradcam = next(t for t in alice["tests"] if t["name"] == "gradcam: visual")
    images = gradcam["grader"]["details"]["images"]
    assert images and all(Path(p).is_file() and Path(p).is_relative_to(run / "images" / "alice")
                          for p in images), images


def rows_index(run: Path, student: str) -> int:
    with (run / "manifest.tsv").open(newline="") as fh:
        return next(int(r["index"]) for r in csv.DictReader(fh, delimiter="\t")
                    if r["student"] == student)


def test_status_table_shows_every_student_done(slurm_cluster, graded_class):
    run, _ = graded_class
    proc = slurm_cluster.grader("batch", "status", str(run))
    assert proc.returncode == 0, proc.stderr
    assert "4 done" in proc.stdout
    for student in ("alice", "bob", "carol", "dave"):
        assert student in proc.stdout


def test_running_the_same_batch_again_overwrites_no_result(slurm_cluster, graded_class):
    run, first_job = graded_class
    before = results_bytes(run)
    assert set(before) == {"alice", "bob", "carol", "dave"}
    job = submit(slurm_cluster, run)
    slurm_cluster.wait_for_job(job, timeout=120)
    assert results_bytes(run) == before
    for student in before:
        events = [event for event, _ in attempts(run, student)]
        assert events[-1] == "skipped" and events.count("finished") == 1


def test_regrade_replaces_a_finished_result_only_when_asked(slurm_cluster, graded_class):
    # The rendered array script run by hand, with the variable Slurm would set:
    # `submit --regrade` appends --regrade to the sbatch command, as here.
    run, _ = graded_class
    before = json.loads((run / "results" / "bob.json").read_text())
    env = {**slurm_cluster.env, "SLURM_ARRAY_TASK_ID": str(rows_index(run, "bob"))}

    def array_task(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(run / "grade.sbatch"), *args], env=env,
                              capture_output=True, text=True, timeout=300)

    again = array_task()
    assert again.returncode == 0 and "not grading bob again" in again.stdout
    assert json.loads((run / "results" / "bob.json").read_text()) == before

    proc = array_task("--regrade")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = json.loads((run / "results" / "bob.json").read_text())
    assert after["grader"]["batch"]["job"].startswith("local-")
    assert after["grader"]["batch"]["job"] != before["grader"]["batch"]["job"]
    assert after["score"] == before["score"]
    assert [event for event, _ in attempts(run, "bob")][-3:] == ["skipped", "started", "regraded"]


def test_a_task_cancelled_mid_run_is_missing_then_resubmitted_alone(slurm_cluster, spec,
                                                                     tmp_path):
    subs, run = tmp_path / "subs", tmp_path / "run"
    subs.mkdir()
    add_reference(subs, "alice")
    add_template_zip(subs, "bob")
    plan(slurm_cluster, subs, run, spec)
    job = submit(slurm_cluster, run)
    # Both tasks start at once; alice's (the reference) grades for ten seconds or
    # more: cancel it while it runs.
    victim = "alice"
    index = rows_index(run, victim)

    deadline = time.monotonic() + 120
    while not ((run / "attempts" / f"{victim}.tsv").exists()
               and slurm_cluster.active_tasks(job).get(index) == "RUNNING"):
        assert time.monotonic() < deadline, f"{victim}'s task never started"
        time.sleep(0.2)
    assert status(slurm_cluster, run)[victim]["state"] == "running"
    slurm_cluster.run("scancel", f"{job}_{index}")
    slurm_cluster.wait_for_job(job, timeout=180)

    states = status(slurm_cluster, run)
    assert {s: states[s]["state"] for s in states} == {
        "alice": "missing", "bob": "done"}
    assert "terminated by Slurm" in states[victim]["reason"]
    assert not (run / "results" / f"{victim}.json").exists()
    gradebook = run / "gradebook.csv"
    incomplete = slurm_cluster.grader("collect", str(run), "--csv", str(gradebook))
    assert incomplete.returncode == 1
    assert "1 students without a grade" in incomplete.stdout
    assert "terminated by Slurm" in incomplete.stdout
    _, rows = read_gradebook(gradebook)
    assert rows[victim]["state"] == "missing" and rows[victim]["total"] == ""

    graded_before = results_bytes(run)
    dry = slurm_cluster.grader("batch", "submit", str(run), "--only-missing", "--dry-run")
    assert f"--array={index} " in dry.stdout
    second = submit(slurm_cluster, run, "--only-missing")
    assert second != job
    slurm_cluster.wait_for_job(second, timeout=180)

    complete = slurm_cluster.grader("collect", str(run), "--csv", str(gradebook))
    assert complete.returncode == 0, complete.stdout + complete.stderr
    _, rows = read_gradebook(gradebook)
    assert {s: r["state"] for s, r in rows.items()} == {"alice": "done", "bob": "done"}
    assert rows["alice"]["total"] == rows["alice"]["max_score"] != ""
    # Nobody graded twice: the results graded by the first job are untouched, and
    # every student has exactly one finished attempt.
    after = results_bytes(run)
    assert {s: after[s] for s in graded_before} == graded_before
    for student in ("alice", "bob"):
        assert [e for e, _ in attempts(run, student)].count("finished") == 1
    assert attempts(run, victim) == [("started", f"{job}_{index}"),
                                     ("cancelled", f"{job}_{index}"),
                                     ("started", f"{second}_{index}"),
                                     ("finished", f"{second}_{index}")]


def test_a_node_without_apptainer_shows_why_in_status(slurm_cluster, tmp_path):
    # A node without apptainer or singularity: the test machine, a misconfigured node.
    if shutil.which("apptainer") or shutil.which("singularity"):
        pytest.skip("apptainer or singularity is installed here; this test needs a node "
                    "without either")
    subs, run = tmp_path / "subs", tmp_path / "run"
    subs.mkdir()
    add_reference(subs, "alice")
    proc = slurm_cluster.grader("batch", "plan", str(subs), "--assignment", "practical2",
                                "--out", str(run), "--gpus", "0", "--cpus", "1", "--mem", "1G",
                                "--container", str(tmp_path / "grader.sif"))
    assert proc.returncode == 0, proc.stderr
    assert "does not exist here" in proc.stderr
    job = submit(slurm_cluster, run)
    slurm_cluster.wait_for_job(job, timeout=60)
    alice = status(slurm_cluster, run)["alice"]
    assert alice["state"] == "missing"
    assert "ended before grading began" in alice["reason"]
    assert "neither apptainer nor singularity is on the PATH" in alice["reason"]
    assert not (run / "attempts" / "alice.tsv").exists()


def test_the_concurrency_limit_keeps_the_rest_of_the_class_pending(slurm_cluster, tmp_path):
    subs, run = tmp_path / "subs", tmp_path / "run"
    for student in ("ann", "ben", "cid"):
        (subs / student).mkdir(parents=True)
        (subs / student / "cnn.py").write_text("MODEL_NUMBER = 1\n")
    # What the task runs does not matter here, only how many run at once: a
    # stand-in --grader that sleeps keeps each task busy without TensorFlow.
    proc = slurm_cluster.grader("batch", "plan", str(subs), "--assignment", "practical2",
                                "--out", str(run), "--gpus", "0", "--cpus", "1", "--mem", "1G",
                                "--concurrency", "1", "--grader", "bash -c 'sleep 30' --")
    assert proc.returncode == 0, proc.stderr
    job = submit(slurm_cluster, run)
    deadline = time.monotonic() + 30
    while True:
        # The scheduler fills in the pending tasks' reason on its next pass.
        states = status(slurm_cluster, run)
        seen = sorted((s["state"], s["reason"]) for s in states.values())
        if seen == [("pending", "waiting: JobArrayTaskLimit")] * 2 + [("running", "")]:
            break
        assert time.monotonic() < deadline, seen
        time.sleep(0.3)
    slurm_cluster.run("scancel", job)
    slurm_cluster.wait_for_job(job, timeout=30)
