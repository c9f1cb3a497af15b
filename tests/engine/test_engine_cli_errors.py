"""`grader check` refusing what it cannot grade: exit 2, a message on stderr that names
the path and the fix, shown even with -q. None of these starts a worker."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("where", ["/proc/nope/r.json", "file/r.json"])
def test_a_json_path_that_cannot_be_written_is_refused_before_grading(tmp_path, where):
    (tmp_path / "file").write_text("")
    path = where if where.startswith("/") else str(tmp_path / where)
    run = subprocess.run([sys.executable, "-m", "grader", "check",
                          str(REPO / "reference" / "practical2"), "--static", "--json", path],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert run.stderr.startswith(f"error: --json {path}: cannot write in ")
    assert len(run.stderr.strip().splitlines()) == 1 and "choose another path" in run.stderr
    assert run.stdout == ""  # refused before grading: no report


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


def _practical2_copy(tmp_path: Path) -> Path:
    sub = tmp_path / "carol"
    shutil.copytree(REPO / "reference" / "practical2", sub,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return sub


def test_a_zip_is_graded_as_the_folder_inside_it(practical2_zip_model3):
    run = practical2_zip_model3  # carol.zip holding carol/, the practical2 reference
    assert run.code == 0, run.stderr[-2000:]
    assert run.results["grader"]["assignment"] == "practical2"
    assert run.results["score"] == run.results["max_score"] > 0


def test_a_lone_notebook_needs_the_assignment(tmp_path, grade):
    import nbformat

    nbformat.write(nbformat.v4.new_notebook(), str(tmp_path / "erin.ipynb"))
    run = grade(str(tmp_path / "erin.ipynb"), "--static", json_path=tmp_path / "r.json")
    assert run.code == 2
    assert "erin.ipynb: a lone notebook" in run.stderr and "--assignment" in run.stderr


def test_an_entry_file_renamed_or_one_folder_down_is_graded_and_the_report_says_so(
        tmp_path, grade):
    sub = _practical2_copy(tmp_path)
    (sub / "practical2").mkdir()
    (sub / "cnn.py").rename(sub / "practical2" / "cnn.py")
    shutil.copy(sub / "practical2" / "cnn.py", sub / "cnn (1).py")
    run = grade(str(sub), "--static", "--task", "model1", json_path=tmp_path / "r.json")
    assert run.test("model1", "params")["grader"]["state"] == "passed"
    task = run.results["grader"]["tasks"]["model1"]
    assert task["entry_file"] == "cnn (1).py"
    assert task["notes"][0] == ("cnn.py or cnn.ipynb is not in the submission; graded "
                                "cnn (1).py in its place (also there: practical2/cnn.py)")
    assert "note: cnn.py or cnn.ipynb is not in the submission" in run.stdout


def test_when_no_file_is_plainly_the_entry_the_message_lists_what_is_there(tmp_path, grade):
    sub = _practical2_copy(tmp_path)
    (sub / "cnn.py").rename(sub / "model_a.py")
    shutil.copy(sub / "model_a.py", sub / "model_b.py")
    run = grade(str(sub), "--static", "--task", "model1", json_path=tmp_path / "r.json")
    out = run.test("model1", "params")["output"]
    assert "cnn.py or cnn.ipynb not found in the submission" in out
    assert "model_a.py" in out and "model_b.py" in out and "name the file cnn.py" in out
