"""What the schema cannot see, as pure functions over a spec's JSON."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from grader.parent.spec import shipped_assignments_dir
from grader.parent.spec_lint import (
    Problem,
    entry_file_problems,
    locate,
    marker_problems,
    theory_problems,
    vocabulary_problems,
)

SHIPPED = sorted(shipped_assignments_dir().glob("*.json"))


def _practical2() -> dict:
    return json.loads((shipped_assignments_dir() / "practical2.json").read_text())


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_spec_uses_only_keras_names(path):
    assert vocabulary_problems(json.loads(path.read_text())) == []


def test_a_misspelt_layer_type_names_its_task_field_and_the_fix():
    data = _practical2()
    data["tasks"][1]["checks"]["architecture"]["layers"][0]["type"] = "Conv2d"
    [problem] = vocabulary_problems(data)
    assert problem.where == "task model2"
    assert problem.field == "checks.architecture.layers[0].type"
    assert "'Conv2d'" in problem.message and "did you mean 'Conv2D'?" in problem.message


def test_types_in_a_list_in_ignore_and_activations_are_all_checked():
    data = _practical2()
    arch = data["tasks"][1]["checks"]["architecture"]
    arch["layers"][1]["type"] = ["MaxPooling2D", "MaxPoolling2D"]
    arch["layers"][0]["activation"] = "rellu"
    arch["ignore"] = ["InputLayer", "Dropuot"]
    fields = {p.field: p.message for p in vocabulary_problems(data)}
    assert set(fields) == {"checks.architecture.layers[1].type[1]",
                           "checks.architecture.layers[0].activation",
                           "checks.architecture.ignore[1]"}
    assert "did you mean 'relu'?" in fields["checks.architecture.layers[0].activation"]
    assert "did you mean 'Dropout'?" in fields["checks.architecture.ignore[1]"]


def test_a_torch_task_is_held_to_the_keras_names_its_layers_are_read_in():
    """A torch model's facts name nn.Linear as Dense (torch_facts.py): a spec saying
    Linear would fail every student, so it is a problem, for properties too."""
    data = _practical2()
    task = data["tasks"][0]
    task["framework"] = "torch"
    task["checks"]["architecture"]["layers"] = [{"type": "Linear"}]
    task["checks"]["architecture"]["properties"] = [{"count": "Conv2d", "at_least": 1}]
    fields = {p.field: p.message for p in vocabulary_problems(data)}
    assert set(fields) == {"checks.architecture.layers[0].type",
                           "checks.architecture.properties[0].count"}
    assert "did you mean 'Conv2D'?" in fields["checks.architecture.properties[0].count"]


def test_a_spec_of_any_shape_is_linted_without_an_exception():
    for data in (None, [], {"tasks": 3}, {"tasks": [1, {"checks": []}]},
                 {"tasks": [{"checks": {"architecture": {"layers": [7, {"type": 5}]}}}]}):
        assert vocabulary_problems(data) == []
        assert entry_file_problems(data, Path("/nonexistent"), "reference") == []


def test_an_entry_file_missing_from_a_folder_is_named(tmp_path):
    data = _practical2()
    (tmp_path / "cnn.ipynb").write_text("{}")  # the second candidate is enough
    problems = entry_file_problems(data, tmp_path, "template")
    # Only Grad-CAM's gradcam.py is missing: its visual check imports it.
    assert [(p.where, p.field) for p in problems] == [("task gradcam", "checks.visual.file")]
    assert f"gradcam.py is not in the template folder {tmp_path}" in problems[0].message
    (tmp_path / "cnn.ipynb").unlink()
    assert len(entry_file_problems(data, tmp_path, "template")) == len(data["tasks"]) + 1


def test_the_marker_file_must_name_the_spec(tmp_path):
    data = _practical2()
    assert "is missing" in marker_problems(data, tmp_path, "reference")[0].message
    (tmp_path / ".grader-assignment").write_text("hw2-mnist\n")
    [problem] = marker_problems(data, tmp_path, "reference")
    assert problem.where == "reference folder"
    assert "says 'hw2-mnist' but the spec's marker is 'practical2'" in problem.message
    (tmp_path / ".grader-assignment").write_text("practical2\n")
    assert marker_problems(data, tmp_path, "reference") == []


def _cs577() -> tuple[dict, str]:
    path = shipped_assignments_dir() / "cs577-a4.json"
    return json.loads(path.read_text()), str(path)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_theory_question_solves_with_its_numbers_and_variants(path):
    assert theory_problems(json.loads(path.read_text()), str(path), variants=10) == []


def test_a_question_whose_numbers_do_not_solve_is_named():
    data, source = _cs577()
    question = next(q for q in data["theory"]["questions"] if q["id"] == "q2")
    question["given"].update(size=64, channels=["fill:1:64x64"] * 3, filter="ones:32x32")
    [problem] = theory_problems(data, source)
    assert (problem.where, problem.field) == ("question q2", "given")
    assert problem.message.startswith("does not solve: ShapeError: ")


def test_a_question_whose_variants_do_not_solve_is_named():
    data, source = _cs577()
    question = next(q for q in data["theory"]["questions"] if q["id"] == "q2")
    question["vary"].update(size={"choice": [64]},
                            filter={"either": ["ones:32x32", "ones:33x33"]})
    [problem] = theory_problems(data, source)
    assert (problem.where, problem.field) == ("question q2", "vary (seed 0)")


def test_a_malformed_theory_section_is_one_problem_naming_question_and_field():
    data, source = _cs577()
    data["theory"]["questions"][1]["id"] = "q1"
    assert theory_problems(data, source) == [
        Problem("question q1", "id", "two questions have this id")]
    data["theory"] = [{"id": "q1"}]
    [problem] = theory_problems(data, source)
    assert problem.field == "theory" and source not in problem.message


def test_a_schema_path_is_located_by_task_or_question_id():
    data = copy.deepcopy(_practical2())
    data["theory"] = {"questions": [{"id": "q7"}]}
    assert locate(data, "tasks[1].checks.params.trainable") == (
        "task model2", "checks.params.trainable")
    assert locate(data, "theory.questions[0].answer") == ("question q7", "answer")
    assert locate(data, "tasks[99].id") == ("", "tasks[99].id")
    assert locate(data, "(top level)") == ("", "(top level)")
