"""A hidden task shows its score only, wherever a student reads: the results file, the
terminal and the page; the instructor's audience keeps everything."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import REPO, run_check

from grader.parent.visibility import HIDDEN_OUTPUT

EXPECTATION = "expected Dense(74, relu), got Dense(100, relu)"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("visibility")
    spec = json.loads((REPO / "grader" / "assignments" / "practical2.json").read_text())
    spec["tasks"] = [t for t in spec["tasks"] if t["id"] in ("model2", "model3")]
    next(t for t in spec["tasks"] if t["id"] == "model3")["visibility"] = "hidden"
    spec_path = root / "practical2.json"
    spec_path.write_text(json.dumps(spec))
    sub = root / "sub"
    shutil.copytree(REPO / "reference" / "practical2", sub)
    cnn = sub / "cnn.py"
    cnn.write_text(cnn.read_text().replace("layers.Dense(74,", "layers.Dense(100,"))
    runs = {}
    for audience in ("student", "instructor"):
        out = root / audience
        out.mkdir()
        runs[audience] = run_check(str(sub), "--assignment", str(spec_path), "--static",
                                   "--audience", audience, "--html", str(out / "page.html"),
                                   json_path=out / "results.json")
        runs[audience].html = (out / "page.html").read_text()
    return runs


def test_a_student_sees_the_hidden_task_score_only(graded):
    run = graded["student"]
    arch = run.test("model3", "architecture")
    assert arch["output"] == HIDDEN_OUTPUT and arch["grader"]["details"] == {}
    assert arch["max_score"] == 3 and 0 < arch["score"] < 3  # the score stays, partial
    for where in (json.dumps(run.results), run.stdout, run.html):
        assert EXPECTATION not in where and "Dense(74" not in where
    # A visible task keeps its details.
    assert "layers match the spec" in run.test("model2", "architecture")["output"]


def test_the_instructor_sees_everything(graded):
    run = graded["instructor"]
    assert EXPECTATION in run.test("model3", "architecture")["output"]
    assert EXPECTATION in run.stdout.replace("\n", " ") or "Dense(100" in run.stdout
    assert EXPECTATION in run.html


def test_an_unknown_audience_is_refused(tmp_path):
    run = run_check(str(REPO / "reference" / "practical2"), "--assignment", "practical2",
                    "--audience", "teacher", json_path=tmp_path / "r.json")
    assert run.code == 2 and "choose student or instructor" in run.stderr
