"""Specs validate (or say where they do not), results validate, exit codes hold."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from grader.parent.spec import SpecError, available_assignments, load_spec, validation_problems

REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("assignment", available_assignments())
def test_every_shipped_spec_validates(assignment):
    spec = load_spec(assignment)
    assert spec.id == assignment
    assert spec.data["marker"]


def test_practical2_spec_has_the_measured_parameter_counts():
    tasks = {t["id"]: t for t in load_spec("practical2").tasks}
    assert tasks["model1"]["checks"]["params"]["trainable"] == 101_770
    assert tasks["model2"]["checks"]["params"]["trainable"] == 61_514
    assert tasks["model3"]["checks"]["params"]["trainable"] == 62_350
    assert tasks["model4"]["checks"]["params"]["total"] == 1_549_002
    assert tasks["model4"]["checks"]["params"]["trainable"] == 1_546_954


def test_an_invalid_spec_is_rejected_with_the_json_path_of_each_problem(tmp_path):
    data = json.loads((REPO_ROOT / "grader/assignments/practical2.json").read_text())
    data["tasks"][1]["checks"]["params"]["trainable"] = "many"
    data["tasks"][2]["checks"]["architecture"]["layers"][0]["padding"] = "full"
    del data["tasks"][3]["entry"]["function"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    problems = "\n".join(info.value.problems)
    assert "tasks[1].checks.params.trainable:" in problems
    assert "tasks[2].checks.architecture.layers[0].padding:" in problems
    assert "tasks[3].entry: 'function' is a required property" in problems


def test_duplicate_task_ids_are_rejected(tmp_path):
    data = json.loads((REPO_ROOT / "grader/assignments/practical2.json").read_text())
    data["tasks"][1]["id"] = "model1"
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SpecError, match=r"tasks\[1\]\.id: duplicate task id 'model1'"):
        load_spec(path)


def _check(*args, tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "grader", "check", *args, "--json", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    return proc, json.loads(out.read_text())


def test_a_folder_without_marker_cannot_be_graded_exit_2_and_still_a_results_file(tmp_path):
    (tmp_path / "sub").mkdir()
    proc, results = _check(str(tmp_path / "sub"), tmp_path=tmp_path)
    assert proc.returncode == 2
    assert results["grader"]["complete"] is False
    assert ".grader-assignment" in results["grader"]["errors"][0]
    assert "--assignment" in results["grader"]["errors"][0]
    assert validation_problems(results, "results") == []


def test_an_invalid_spec_given_on_the_command_line_exits_2_naming_the_path(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": "x", "title": "x", "marker": "x",
                               "tasks": [{"id": "t", "title": "t", "checks": {}}]}))
    (tmp_path / "sub").mkdir()
    proc, results = _check(str(tmp_path / "sub"), "--assignment", str(bad), tmp_path=tmp_path)
    assert proc.returncode == 2
    errors = "\n".join(results["grader"]["errors"])
    assert "tasks[0]: 'entry' is a required property" in errors
    assert "tasks[0].checks: {} should be non-empty" in errors


def test_zoo_results_validate_against_the_results_schema(zoo):
    assert validation_problems(zoo.results, "results") == []
    for test in zoo.results["tests"]:
        assert test["tags"][0] == test["name"].split(":")[0]


def test_scores_add_up_and_skipped_checks_score_nothing(practical2_as_text):
    results = practical2_as_text.results
    assert validation_problems(results, "results") == []
    assert results["score"] == sum(t["score"] for t in results["tests"])
    assert results["max_score"] == sum(t["max_score"] for t in results["tests"])
    accuracy = practical2_as_text.test("model1", "accuracy")
    assert accuracy["grader"]["state"] == "skipped" and accuracy["max_score"] == 0
    assert accuracy["grader"]["points"] == 2


def test_a_worker_crash_still_leaves_a_complete_results_file(zoo, zoo_dir):
    on_disk = json.loads((zoo_dir / "results.json").read_text())
    assert on_disk["grader"]["complete"] is True
    assert any(t["name"] == "hard_exit: params" for t in on_disk["tests"])
