"""Submissions of hw2, CS 577 and DS-AG-021 as students hand them in, graded as
received and held to the verdicts of their hand adaptation (tests/fixtures/handed_in/;
the rules are in test_handed_in.py's docstring)."""

from __future__ import annotations

import pytest
from handed_in import grade_each, verdict_differences

GRADED = ["hw2_solution_script", "cs577_dogsandcats_keras2", "dsag_q1_q10_notebook"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade_each(GRADED, tmp_path_factory)


@pytest.mark.parametrize("name", GRADED)
def test_a_submission_as_handed_in_gets_the_hand_adapted_verdicts(graded, name):
    assert verdict_differences(graded[name], name) == []


def test_keras2_spellings_are_notes_not_failures(graded):
    run = graded["cs577_dogsandcats_keras2"]
    notes = [n for t in run.results["grader"]["tasks"].values() for n in t["notes"]]
    assert any("keras.layers.normalization is Keras 2" in n for n in notes)
    assert any("lr" in n and "learning_rate" in n for n in notes)
    assert run.state("vgg16-frozen", "graph") == "passed"


def test_a_notebook_run_whole_reports_no_cell_as_left_out(graded):
    """Captured models come from running every cell; the definitions-only reading's
    "cell not run" list would tell the student the opposite of what happened."""
    tasks = graded["cs577_dogsandcats_keras2"].results["grader"]["tasks"]
    assert tasks["vgg16-augmented"]["skipped_cells"] == []
    assert tasks["cats-cnn"]["skipped_cells"] == []
