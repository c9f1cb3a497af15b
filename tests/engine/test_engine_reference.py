"""The reference solutions score full marks on every static check; the templates score 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.spec import available_assignments

REPO = Path(__file__).resolve().parents[2]
# Only assignments that have a spec, a reference folder and a template are graded.
READY = [a for a in available_assignments()
         if (REPO / "reference" / a).is_dir() and (REPO / "submissions_template" / a).is_dir()]


@pytest.mark.parametrize("assignment", READY)
def test_reference_scores_full_marks_on_every_static_check(assignment, tmp_path, grade):
    run = grade(str(REPO / "reference" / assignment), "--static",
                json_path=tmp_path / "results.json")
    failing = {t["name"]: t["output"][:300] for t in run.results["tests"]
               if t["grader"]["state"] not in ("passed", "skipped")}
    assert failing == {}
    assert run.code == 0, run.stderr[-2000:]
    assert run.results["score"] == run.results["max_score"] > 0


@pytest.mark.parametrize("assignment", READY)
def test_template_scores_zero_with_not_implemented_for_each_task(assignment, tmp_path, grade):
    run = grade(str(REPO / "submissions_template" / assignment), "--static",
                json_path=tmp_path / "results.json")
    assert run.code == 1, run.stderr[-2000:]
    assert run.results["score"] == 0
    states = {t["name"]: t["grader"]["state"] for t in run.results["tests"]}
    graded = {n: s for n, s in states.items() if s != "skipped"}
    assert graded and set(graded.values()) == {"not_implemented"}, states
    assert "not implemented" in run.stdout
