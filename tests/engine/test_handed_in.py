"""Submissions as students hand them in (tests/fixtures/handed_in/), graded as received.

Each corpus submission has beside it the verdicts an instructor's hand adaptation of
the same file gets (real Keras counts against the specs). A check the grader finds
on its own, from the models the file builds (a script run with MODEL_NUMBER, models
captured from top-level cells or from builders of other names), must get that
verdict; a task the student did not attempt must score nothing; and nothing ends in
a traceback or exit 2. Function tasks whose code a person had to wrap into a function
are not asserted: the grader leaves those to `--map` and says so.
"""

from __future__ import annotations

import pytest
from conftest import run_check
from handed_in import CORPUS, grade_each, verdict_differences

# practical2 as handed in; the other courses' submissions: test_handed_in_courses.py.
GRADED = ["p2_starter_script", "p2_colab_johndoe", "p2_duplicate_download"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_each(GRADED, tmp_path_factory)


@pytest.mark.parametrize("name", GRADED)
def test_a_submission_as_handed_in_gets_the_hand_adapted_verdicts(graded, name):
    assert verdict_differences(graded[name], name) == []


def test_the_starter_script_gets_every_static_point_on_models_1_to_4(graded):
    run = graded["p2_starter_script"]
    for task in ("model1", "model2", "model3", "model4"):
        for check in ("architecture", "params", "lints"):
            assert run.state(task, check) == "passed", (task, check)
        notes = run.results["grader"]["tasks"][task]["notes"]
        number = task[-1]
        assert any(n.startswith(f"graded model: {task} <- cnn.py run with MODEL_NUMBER="
                                f"{number}, `model` built at cnn.py line") for n in notes)
        assert any(f"MODEL_NUMBER = {number} is this run's setting" in n for n in notes)
        # Accuracy is left to training, which --static skips: it trains what was built.
        assert run.state(task, "accuracy") == "skipped"


def test_what_the_harness_stood_in_for_and_what_failed_is_in_the_report(graded):
    run = graded["p2_colab_johndoe"]
    notes = run.results["grader"]["tasks"]["model1"]["notes"]
    assert any("graded Practical2_JohnDoe.ipynb in its place" in n for n in notes)
    assert any("!pip install" in n for n in notes)
    assert any(n.startswith("not run: Practical2_JohnDoe.ipynb code cell") and
               "FileNotFoundError" in n for n in notes)
    # The mistake the student made is found exactly, the rest of model 4 is not blamed.
    assert "expected Conv2D(128, 3x3, same, relu), got Conv2D(64, 3x3, same, relu)" in \
        run.test("model4", "architecture")["output"]


def test_map_pins_a_task_to_a_model_variable_of_the_file(tmp_path):
    sub = CORPUS / "p2_colab_johndoe"
    run = run_check(str(sub), "--assignment", "practical2", "--static", "-q",
                    "--task", "model4", "--map", "model4=Practical2_JohnDoe.ipynb:model2",
                    json_path=tmp_path / "r.json")
    assert run.code == 1
    notes = run.results["grader"]["tasks"]["model4"]["notes"]
    assert "graded Practical2_JohnDoe.ipynb: model2 (pinned with --map)" in notes
    # model2's layers, graded against model 4's spec.
    assert "got 61,514" in run.test("model4", "params")["output"]
    bad = run_check(str(sub), "--assignment", "practical2", "--static", "-q",
                    "--map", "model4", json_path=tmp_path / "bad.json")
    assert bad.code == 2 and "write TASK=FILE:NAME" in bad.stderr


@pytest.mark.slow
def test_the_accuracy_check_trains_the_model_the_starter_script_built(tmp_path):
    run = run_check(str(CORPUS / "p2_starter_script"), "--assignment", "practical2",
                    "--task", "model3", "-q", json_path=tmp_path / "r.json")
    accuracy = run.test("model3", "accuracy")
    assert accuracy["grader"]["state"] == "passed", accuracy["output"]
    # Trained here from the captured model's layers, on the real training split.
    assert accuracy["grader"]["details"]["accuracy"] >= 0.8
