"""An instructor's own assignment is data: a spec in a folder named by GRADER_ASSIGNMENTS
grades like a shipped one, with no Python file changed."""

from __future__ import annotations

import json
import shutil

from conftest import REPO, run_grader


def test_a_copy_of_cs577_under_another_id_grades_like_cs577(tmp_path):
    spec = json.loads((REPO / "grader" / "assignments" / "cs577-a4.json").read_text())
    spec["id"] = "mine"
    if "marker" in spec:
        spec["marker"] = "mine"
    own = tmp_path / "specs"
    own.mkdir()
    (own / "mine.json").write_text(json.dumps(spec))
    submission = tmp_path / "alice"
    shutil.copytree(REPO / "reference" / "cs577-a4", submission)
    (submission / ".grader-assignment").write_text("mine\n")
    env = {"GRADER_ASSIGNMENTS": str(own)}
    theirs = run_grader("theory", "q1", "--assignment", "mine", "--json", env=env)
    ours = run_grader("theory", "q1", "--assignment", "cs577-a4", "--json")
    assert theirs.returncode == 0 and json.loads(theirs.stdout)["answer"] == \
        json.loads(ours.stdout)["answer"]
    graded = run_grader("check", str(submission), "--static", "--task", "cats-cnn",
                        "--task", "cifar-residual", "--json", str(tmp_path / "r.json"),
                        env=env)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["grader"]["assignment"] == "mine"
    assert results["score"] == results["max_score"] > 0
