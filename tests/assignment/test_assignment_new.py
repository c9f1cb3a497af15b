"""`grader assignment new ID`: a spec, reference and template that validate at once and
grade with full marks; and validate catching the reference and template disagreeing
with the spec. Real CLI subprocesses, real workers (about 10 s per graded folder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

GRADER = Path(sys.executable).parent / "grader"


def _grader(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(GRADER), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **(env or {})})


def _folders(root: Path, assignment: str) -> list[str]:
    return [str(root / f"{assignment}.json"),
            "--reference", str(root / "reference" / assignment),
            "--template", str(root / "submissions_template" / assignment)]


def test_a_new_assignment_validates_and_its_reference_gets_full_marks(tmp_path):
    made = _grader("assignment", "new", "my-cnn", "--dir", str(tmp_path / "course"),
                   cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    root = tmp_path / "course"
    for folder in ("reference", "submissions_template"):
        assert (root / folder / "my-cnn" / ".grader-assignment").read_text().strip() == "my-cnn"
        assert (root / folder / "my-cnn" / "cnn.py").is_file()
    assert "raise NotImplementedError" in \
        (root / "submissions_template/my-cnn/cnn.py").read_text()

    run = _grader("assignment", "validate", *_folders(root, "my-cnn"), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1].endswith(
        "valid, 1 task; reference scores 5 of 5 static points; template scores 0 of 5 "
        "static points")

    check = _grader("check", str(root / "reference" / "my-cnn"), "--static", "-q",
                    "--json", str(tmp_path / "r.json"),
                    cwd=tmp_path, env={"GRADER_ASSIGNMENTS": str(root)})
    assert check.returncode == 0, check.stdout + check.stderr
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["score"] == results["max_score"] == 5


def test_new_writes_into_the_first_assignments_folder_and_never_overwrites(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    env = {"GRADER_ASSIGNMENTS": os.pathsep.join([str(first), str(second)])}
    assert _grader("assignment", "new", "a1", cwd=tmp_path, env=env).returncode == 0
    assert (first / "a1.json").is_file() and not second.exists()
    (first / "a1.json").write_text("{}  # the instructor's edits")
    shutil.rmtree(first / "reference")
    again = _grader("assignment", "new", "a1", cwd=tmp_path, env=env)
    assert again.returncode == 2
    assert f"not overwriting {first / 'a1.json'}, " in again.stderr
    assert str(first / "submissions_template" / "a1" / "cnn.py") in again.stderr
    assert (first / "a1.json").read_text() == "{}  # the instructor's edits"
    assert not (first / "reference").exists()  # refused before writing anything
    bad = _grader("assignment", "new", "Bad Id", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "not a valid id" in bad.stderr


def test_new_without_assignments_folders_writes_into_the_current_folder(tmp_path):
    env = {"GRADER_ASSIGNMENTS": ""}
    assert _grader("assignment", "new", "here", cwd=tmp_path, env=env).returncode == 0
    assert (tmp_path / "here.json").is_file()
    assert (tmp_path / "reference" / "here" / "cnn.py").is_file()


def test_validate_reports_wrong_parameter_counts_and_a_template_that_earns_points(tmp_path):
    assert _grader("assignment", "new", "off", "--dir", str(tmp_path),
                   cwd=tmp_path).returncode == 0
    spec_path = tmp_path / "off.json"
    spec = json.loads(spec_path.read_text())
    spec["tasks"][0]["checks"]["params"]["trainable"] = 5259
    spec_path.write_text(json.dumps(spec))
    # A template that already holds the solution gives students the points.
    shutil.copy(tmp_path / "reference/off/cnn.py", tmp_path / "submissions_template/off/cnn.py")
    run = _grader("assignment", "validate", *_folders(tmp_path, "off"), cwd=tmp_path)
    assert run.returncode == 2
    lines = run.stdout.splitlines()
    assert lines[0] == (f"{spec_path}: task cnn: checks.params.trainable: the spec says 5,259, "
                        "the reference's model has 5,258")
    # Not params: the template's model misses the wrong count as the reference's does.
    assert [line.split(": ")[1:3] for line in lines[1:-1]] == [
        ["task cnn", "checks.architecture"], ["task cnn", "checks.lints"]]
    assert "the template earns 3 of 3 points, and should earn none" in lines[1]
    assert lines[-1] == f"{spec_path}: 3 problems"


def test_new_follows_the_assignments_dir_option(tmp_path):
    (tmp_path / "course").mkdir()
    made = _grader("--assignments-dir", "course", "assignment", "new", "opt", cwd=tmp_path,
                   env={"GRADER_ASSIGNMENTS": ""})
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "course" / "opt.json").is_file()
