"""`grader check` refusing what it cannot grade: exit 2, a message on stderr that names
the path and the fix, shown even with -q. None of these starts a worker."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_folder_as_json_path_is_refused_before_grading(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    run = subprocess.run([sys.executable, "-m", "grader", "check",
                          str(REPO / "reference" / "practical2"), "--static", "--json",
                          str(folder)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert f"--json {folder} is a folder" in run.stderr
    assert "results.json" in run.stderr
    assert "IsADirectoryError" not in run.stderr
    assert list(folder.iterdir()) == []


def test_a_marker_file_that_is_not_text_is_named(tmp_path, grade):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "cnn.py").write_text("")
    (sub / ".grader-assignment").write_bytes(b"\xff\xfe\x00practical2")
    run = grade(str(sub), "--static", json_path=tmp_path / "r.json")
    assert run.code == 2
    assert "UnicodeDecodeError" not in run.stderr
    assert ".grader-assignment: not a text file" in run.stderr
    assert "--assignment" in run.stderr
    assert run.results["grader"]["errors"]


def test_fatal_errors_go_to_stderr_even_with_quiet(tmp_path, grade):
    run = grade(str(tmp_path / "missing"), "--static", "-q", json_path=tmp_path / "r.json")
    assert run.code == 2
    assert "missing: does not exist" in run.stderr
    assert "does not exist" not in run.stdout


def test_an_empty_folder_is_not_a_submission(tmp_path, grade):
    (tmp_path / "empty").mkdir()
    run = grade(str(tmp_path / "empty"), "-a", "practical2", "--static",
                json_path=tmp_path / "r.json")
    assert run.code == 2
    assert "not a submission: no files" in run.stderr


def test_require_gpu_failure_still_names_the_assignment(tmp_path, grade):
    from grader.device import require_gpu_problem

    if require_gpu_problem() is None:  # this machine has a GPU: nothing to refuse
        return
    sub = tmp_path / "sub"
    shutil.copytree(REPO / "reference" / "practical2", sub,
                    ignore=shutil.ignore_patterns("__pycache__"))
    run = grade(str(sub), "--static", "--require-gpu", json_path=tmp_path / "r.json")
    assert run.code == 2
    assert run.results["grader"]["assignment"] == "practical2"
