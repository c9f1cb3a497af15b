"""`grader batch plan` and `grader batch submit` without a cluster: finding the
submissions, the manifest, the rendered sbatch script, which indices a
submission covers, and what happens where Slurm is not installed."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import pytest

from grader.parent.batch.slurm import array_spec, parse_job_id

REPO = Path(__file__).resolve().parents[2]


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def sbatch_directives(script: Path) -> dict[str, str]:
    """The #SBATCH options Slurm reads: those before the first command line."""
    found = {}
    for line in script.read_text().splitlines():
        if line.startswith("#SBATCH "):
            key, _, value = line[len("#SBATCH "):].partition("=")
            found[key] = value
        elif line.strip() and not line.startswith("#"):
            break
    return found


@pytest.fixture
def class_folder(tmp_path: Path) -> Path:
    """A submissions folder as an LMS export looks: folders, a notebook, zips, litter."""
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice").mkdir()
    (subs / "alice" / "cnn.py").write_text("MODEL_NUMBER = 1\n")
    (subs / "bob").mkdir()
    (subs / "bob" / "cnn.py").write_text("MODEL_NUMBER = 2\n")
    notebook = {"cells": [{"cell_type": "code", "source": "MODEL_NUMBER = 1", "metadata": {},
                           "outputs": [], "execution_count": None}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (subs / "carol.ipynb").write_text(json.dumps(notebook))
    with zipfile.ZipFile(subs / "dave.zip", "w") as zf:
        zf.writestr("dave/cnn.py", "MODEL_NUMBER = 3\n")
    (subs / "empty").mkdir()
    (subs / "broken.zip").write_bytes(b"PK\x03\x04 this was cut off by the upload")
    (subs / "notes.txt").write_text("not a submission")
    (subs / "pdf_only").mkdir()
    (subs / "pdf_only" / "report.pdf").write_bytes(b"%PDF-1.4")
    (subs / ".DS_Store").write_bytes(b"\0")
    return subs


def plan(grader, subs: Path, run: Path, *extra: str) -> subprocess.CompletedProcess:
    return grader("batch", "plan", str(subs), "--assignment", "practical2", "--out", str(run),
                  *extra)


def test_plan_numbers_gradable_submissions_and_lists_bad_ones_without_failing(
        grader, class_folder, tmp_path):
    run = tmp_path / "run"
    proc = plan(grader, class_folder, run)
    assert proc.returncode == 0, proc.stderr
    rows = read_tsv(run / "manifest.tsv")
    assert [(r["index"], r["student"], r["kind"]) for r in rows] == [
        ("1", "alice", "folder"), ("2", "bob", "folder"), ("3", "carol", "notebook"),
        ("4", "dave", "zip")]
    assert Path(rows[3]["path"]) == (class_folder / "dave.zip").resolve()
    rejected = {Path(r["path"]).name: r["reason"] for r in read_tsv(run / "rejected.tsv")}
    assert sorted(rejected) == ["broken.zip", "empty", "notes.txt", "pdf_only"]
    assert rejected["broken.zip"].startswith("unreadable zip")
    assert rejected["empty"] == "empty folder"
    assert rejected["notes.txt"] == "not a folder, notebook (.ipynb) or zip"
    assert rejected["pdf_only"] == "no .py or .ipynb file inside"
    for name in rejected:
        assert name in proc.stdout
    assert ".DS_Store" not in proc.stdout


def test_replanning_keeps_indices_and_appends_late_submissions(grader, class_folder, tmp_path):
    run = tmp_path / "run"
    assert plan(grader, class_folder, run).returncode == 0
    (class_folder / "aaron").mkdir()
    (class_folder / "aaron" / "cnn.py").write_text("MODEL_NUMBER = 4\n")
    proc = plan(grader, class_folder, run)
    assert proc.returncode == 0, proc.stderr
    assert "(1 new)" in proc.stdout
    rows = {r["student"]: int(r["index"]) for r in read_tsv(run / "manifest.tsv")}
    # aaron sorts first but arrives last: earlier indices keep meaning the same students.
    assert rows == {"alice": 1, "bob": 2, "carol": 3, "dave": 4, "aaron": 5}


def test_rendered_script_asks_slurm_for_the_planned_resources(grader, class_folder, tmp_path):
    run = tmp_path / "run"
    proc = plan(grader, class_folder, run, "--partition", "gpu", "--time", "01:00:00",
                "--mem", "16G", "--cpus", "8", "--gpus", "1", "--concurrency", "10",
                "--sbatch-option=--account=cs577")
    assert proc.returncode == 0, proc.stderr
    script = run / "grade.sbatch"
    directives = sbatch_directives(script)
    assert directives == {
        "--job-name": "grade-practical2", "--partition": "gpu", "--time": "01:00:00",
        "--mem": "16G", "--cpus-per-task": "8", "--gres": "gpu:1", "--ntasks": "1",
        "--output": f"{run.resolve()}/logs/%A_%a.out", "--account": "cs577"}
    # The script is valid bash and starts this installation's grader explicitly:
    # array tasks run with whatever PATH the node gives them.
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert f"exec {sys.executable} -m grader batch run-task" in script.read_text()
    assert "{{" not in script.read_text()
    saved = json.loads((run / "plan.json").read_text())
    assert saved["concurrency"] == 10 and saved["assignment"] == "practical2"


def test_cpu_only_plan_asks_for_no_gpu(grader, class_folder, tmp_path):
    run = tmp_path / "run"
    assert plan(grader, class_folder, run, "--gpus", "0").returncode == 0
    assert "--gres" not in sbatch_directives(run / "grade.sbatch")


def test_container_plan_runs_the_image_grader_under_apptainer_or_singularity(
        grader, class_folder, tmp_path):
    run = tmp_path / "run"
    image = tmp_path / "grader.sif"
    image.write_bytes(b"stand-in: the script is only read, never run, in this test")
    proc = plan(grader, class_folder, run, "--container", str(image),
                "--bind", "/shared/datasets:/data")
    assert proc.returncode == 0, proc.stderr
    text = (run / "grade.sbatch").read_text()
    assert f"CONTAINER={image}" in text
    assert "command -v apptainer" in text and "runtime=singularity" in text
    assert ('exec "$runtime" exec --nv --bind '
            f"{run.resolve()},{class_folder.resolve()},/shared/datasets:/data "
            '"$CONTAINER" \\\n        grader batch run-task') in text


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--time", "half an hour", "Slurm's format"),
    ("--mem", "lots", "Slurm's format"),
    ("--concurrency", "0", "at least 1"),
])
def test_plan_rejects_values_sbatch_would_refuse(grader, class_folder, tmp_path, option, value,
                                                message):
    proc = plan(grader, class_folder, tmp_path / "run", option, value)
    assert proc.returncode == 2
    assert option in proc.stderr and message in proc.stderr


def test_plan_rejects_an_unknown_assignment(grader, class_folder, tmp_path):
    proc = grader("batch", "plan", str(class_folder), "--assignment", "practical9",
                  "--out", str(tmp_path / "run"))
    assert proc.returncode == 2
    assert "practical9" in proc.stderr and "practical2" in proc.stderr


def test_dry_run_prints_the_array_with_its_concurrency_limit(grader, class_folder, tmp_path):
    run = tmp_path / "run"
    assert plan(grader, class_folder, run, "--concurrency", "2").returncode == 0
    proc = grader("batch", "submit", str(run), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert f"sbatch --parsable --array=1-4%2 {run.resolve()}/grade.sbatch" in proc.stdout
    assert not (run / "jobs.tsv").exists()


def test_only_missing_leaves_out_students_with_a_result(grader, class_folder, tmp_path):
    run = tmp_path / "run"
    assert plan(grader, class_folder, run).returncode == 0
    # bob's result exists (as a finished task leaves it); carol's last attempt failed.
    (run / "results" / "bob.json").write_text(json.dumps(
        {"score": 3, "max_score": 5, "execution_time": 1.0, "output": "", "tests": []}))
    (run / "failed" / "carol.json").write_text(json.dumps({"reason": "grader check exited 2"}))
    proc = grader("batch", "submit", str(run), "--only-missing", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "--array=1,3-4 " in proc.stdout
    regrade = grader("batch", "submit", str(run), "--regrade", "--dry-run")
    assert "--array=1-4 " in regrade.stdout and regrade.stdout.rstrip().endswith("--regrade")


def test_submit_without_sbatch_on_the_path_says_where_to_run_it(grader, class_folder, tmp_path):
    run = tmp_path / "run"
    assert plan(grader, class_folder, run).returncode == 0
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    proc = grader("batch", "submit", str(run), env={"PATH": str(empty_bin)})
    assert proc.returncode == 2
    assert "`sbatch` is not on the PATH" in proc.stderr
    assert "login node" in proc.stderr and "--dry-run" in proc.stderr
    assert not (run / "jobs.tsv").exists()


def test_submit_before_plan_names_the_command_to_run_first(grader, tmp_path):
    proc = grader("batch", "submit", str(tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert "grader batch plan" in proc.stderr


def test_array_spec_folds_runs_of_indices():
    assert array_spec([5, 1, 2, 3, 9, 8]) == "1-3,5,8-9"
    assert array_spec([4]) == "4"
    with pytest.raises(ValueError):
        array_spec([])


def test_job_id_is_read_from_parsable_sbatch_output():
    assert parse_job_id("1234\n") == "1234"
    assert parse_job_id("1234;cluster-a\n") == "1234"
    with pytest.raises(RuntimeError, match="no job id"):
        parse_job_id("sbatch: error: Batch job submission failed\n")


def test_check_args_are_parsed_by_grader_check_at_plan_time(grader, class_folder, tmp_path):
    # A typo used to pass planning and then fail every task of the class.
    run = tmp_path / "run"
    proc = plan(grader, class_folder, run, "--check-arg=--build-timeout=30")
    assert proc.returncode == 2
    assert "No such option: --build-timeout" in proc.stderr
    assert "--task" in proc.stderr and "--data-dir" in proc.stderr  # what it does accept
    assert "Traceback" not in proc.stderr
    assert not (run / "plan.json").exists()

    proc = plan(grader, class_folder, run, "--check-arg=--json=/tmp/elsewhere.json")
    assert proc.returncode == 2 and "sets --json itself" in proc.stderr

    proc = plan(grader, class_folder, run, "--check-arg=--task=model3", "--check-arg=--quiet")
    assert proc.returncode == 0, proc.stderr
    saved = json.loads((run / "plan.json").read_text())
    assert saved["check_args"] == ["--task=model3", "--quiet"]


def test_every_check_arg_example_in_the_help_is_accepted(grader, class_folder, tmp_path):
    help_text = grader("batch", "plan", "--help", env={"COLUMNS": "400"}).stdout
    examples = [m.rstrip(".,") for m in re.findall(r"--check-arg=(\S+)", help_text)]
    assert examples, help_text
    for i, example in enumerate(examples):
        proc = plan(grader, class_folder, tmp_path / f"run{i}", f"--check-arg={example}")
        assert proc.returncode == 0, (example, proc.stderr)


def test_unicode_student_ids_are_graded_and_os_litter_is_ignored(grader, tmp_path):
    subs, run = tmp_path / "subs", tmp_path / "run"
    for name in ("héctor", "王芳", "zoë"):
        (subs / name).mkdir(parents=True)
        (subs / name / "cnn.py").write_text("MODEL_NUMBER = 1\n")
    # macOS writes names decomposed (e + combining accent): the same student as NFC.
    (subs / unicodedata.normalize("NFD", "josé")).mkdir()
    (subs / unicodedata.normalize("NFD", "josé") / "cnn.py").write_text("MODEL_NUMBER = 2\n")
    (subs / "__MACOSX" / "héctor").mkdir(parents=True)
    (subs / "__MACOSX" / "héctor" / "._cnn.py").write_bytes(b"\0resource fork")
    (subs / "Thumbs.db").write_bytes(b"\0")
    (subs / "desktop.ini").write_text("[.ShellClassInfo]\n")
    (subs / ".DS_Store").write_bytes(b"\0")
    (subs / "ann lee").mkdir()
    (subs / "ann lee" / "cnn.py").write_text("MODEL_NUMBER = 1\n")
    (subs / "_draft").mkdir()
    (subs / "_draft" / "cnn.py").write_text("MODEL_NUMBER = 1\n")

    proc = plan(grader, subs, run)
    assert proc.returncode == 0, proc.stderr
    assert [r["student"] for r in read_tsv(run / "manifest.tsv")] == [
        "héctor", "josé", "zoë", "王芳"]
    rejected = {Path(r["path"]).name: r["reason"] for r in read_tsv(run / "rejected.tsv")}
    assert sorted(rejected) == ["_draft", "ann lee"]
    assert "' '" in rejected["ann lee"] and "any alphabet" in rejected["ann lee"]
    assert "must begin with a letter or a digit" in rejected["_draft"]
    for litter in ("__MACOSX", "Thumbs.db", "desktop.ini", ".DS_Store"):
        assert litter not in proc.stdout


@pytest.mark.parametrize("litter", [[], ["__MACOSX", ".DS_Store"], ["notes.txt"]])
def test_plan_of_a_folder_with_nothing_to_grade_fails_and_writes_nothing(grader, tmp_path,
                                                                          litter):
    subs, run = tmp_path / "subs", tmp_path / "run"
    subs.mkdir()
    for name in litter:
        (subs / name).write_text("x")
    proc = plan(grader, subs, run)
    assert proc.returncode == 2
    assert "nothing to grade" in proc.stderr and str(subs) in proc.stderr
    assert not run.exists()
    if "notes.txt" in litter:
        assert "notes.txt" in proc.stdout  # the rejected entry, with its reason


def test_a_truncated_plan_json_is_named_with_the_fix(grader, class_folder, tmp_path):
    run = tmp_path / "run"
    assert plan(grader, class_folder, run).returncode == 0
    text = (run / "plan.json").read_text()
    (run / "plan.json").write_text(text[: len(text) // 2])
    proc = grader("batch", "submit", str(run), "--dry-run")
    assert proc.returncode == 2
    assert f"{run.resolve()}/plan.json: not valid JSON" in proc.stderr
    assert "grader batch plan" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("verb", [("batch", "status"), ("collect",), ("batch", "submit")])
def test_a_manifest_line_missing_columns_is_named_with_the_fix(grader, class_folder, tmp_path,
                                                               verb):
    run = tmp_path / "run"
    assert plan(grader, class_folder, run).returncode == 0
    lines = (run / "manifest.tsv").read_text().splitlines()
    lines[2] = "\t".join(lines[2].split("\t")[:2])  # bob's line lost its path and kind
    (run / "manifest.tsv").write_text("\n".join(lines) + "\n")
    proc = grader(*verb, str(run), *(["--dry-run"] if verb[-1] == "submit" else []))
    assert proc.returncode == 2
    assert f"{run.resolve()}/manifest.tsv, line 3: 2 columns instead of 4" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_course_spec_file_is_frozen_in_the_run_and_graded_from_there(grader, class_folder,
                                                                       tmp_path):
    # In a container only RUN and the submissions are bound: the course's folder is not.
    course = tmp_path / "course" / "my-spec.json"
    course.parent.mkdir()
    course.write_bytes((REPO / "grader" / "assignments" / "practical2.json").read_bytes())
    run = tmp_path / "run"
    proc = grader("batch", "plan", str(class_folder), "--assignment", str(course),
                  "--out", str(run), "--container", str(tmp_path / "grader.sif"))
    assert proc.returncode == 0, proc.stderr
    frozen = run.resolve() / "assignment.json"
    assert frozen.read_bytes() == course.read_bytes()
    assert json.loads((run / "plan.json").read_text())["assignment"] == str(frozen)
    assert "--job-name=grade-my-spec" in (run / "grade.sbatch").read_text()

    # An edit after planning changes nothing in this run; replanning with it is refused.
    edited = json.loads(course.read_text())
    edited["defaults"] = {**edited.get("defaults", {}), "build_timeout_s": 5}
    course.write_text(json.dumps(edited))
    proc = grader("batch", "plan", str(class_folder), "--assignment", str(course),
                  "--out", str(run))
    assert proc.returncode == 2
    assert f"differs from {frozen}" in proc.stderr and "--regrade" in proc.stderr
    assert frozen.read_bytes() != course.read_bytes()
    assert json.loads((run / "plan.json").read_text())["assignment"] == str(frozen)


def test_plan_into_an_existing_file_says_out_must_be_a_folder(grader, class_folder, tmp_path):
    for out in (tmp_path / "run.txt", tmp_path / "run.txt" / "run"):
        (tmp_path / "run.txt").write_text("notes")
        proc = plan(grader, class_folder, out)
        assert proc.returncode == 2
        assert "--out must be a folder (new, or an earlier run)" in proc.stderr
        assert str(tmp_path / "run.txt") in proc.stderr and "Errno" not in proc.stderr
        assert (tmp_path / "run.txt").read_text() == "notes"


def test_a_plain_resubmit_hints_that_only_missing_leaves_finished_students_out(
        grader, class_folder, tmp_path):
    run = tmp_path / "run"
    assert plan(grader, class_folder, run).returncode == 0
    (run / "results" / "bob.json").write_text(json.dumps(
        {"score": 3, "max_score": 5, "execution_time": 1.0, "output": "", "tests": []}))
    proc = grader("batch", "submit", str(run), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    hints = [line for line in proc.stdout.splitlines() if line.startswith("hint:")]
    assert hints == [f"hint: 1 of the 4 students queued already have a result and will be "
                     f"skipped; `grader batch submit {run.resolve()} --only-missing` avoids "
                     "queueing them (--regrade grades them again)"]
    assert "--array=1-4 " in proc.stdout  # the plain submit still queues everyone
    for flags in (["--only-missing"], ["--regrade"]):
        assert "hint:" not in grader("batch", "submit", str(run), *flags, "--dry-run").stdout
