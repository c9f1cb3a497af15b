"""The reference solutions score full marks on every static check; the templates score 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.parent.spec import available_assignments

REPO = Path(__file__).resolve().parents[2]
# Only assignments that have a spec, a reference folder and a template are graded, each
# folder once per session (`shipped_static`, tests/conftest.py).
READY = [a for a in available_assignments()
         if (REPO / "reference" / a).is_dir() and (REPO / "submissions_template" / a).is_dir()]


@pytest.mark.parametrize("assignment", READY)
def test_reference_scores_full_marks_on_every_static_check(assignment, shipped_static):
    run = shipped_static("reference", assignment)
    failing = {t["name"]: t["output"][:300] for t in run.results["tests"]
               if t["grader"]["state"] not in ("passed", "skipped")}
    assert failing == {}
    assert run.code == 0, run.stderr[-2000:]
    assert run.results["score"] == run.results["max_score"] > 0


@pytest.mark.parametrize("assignment", ["practical2", "cs577-a4", "ds-ag-021"])
def test_visual_checks_train_nothing_so_static_grades_them(assignment, shipped_static):
    visual = {t["name"]: t["grader"]["state"] for t in shipped_static("reference", assignment)
              .results["tests"] if t["name"].endswith(": visual")}
    assert visual and set(visual.values()) == {"passed"}, visual


@pytest.mark.parametrize("assignment", READY)
def test_template_scores_zero_with_not_implemented_for_each_task(assignment, shipped_static):
    run = shipped_static("submissions_template", assignment)
    assert run.code == 1, run.stderr[-2000:]
    assert run.results["score"] == 0
    states = {t["name"]: t["grader"]["state"] for t in run.results["tests"]}
    graded = {n: s for n, s in states.items() if s != "skipped"}
    assert graded and set(graded.values()) == {"not_implemented"}, states
    assert "not implemented" in run.stdout


@pytest.mark.parametrize("assignment", READY)
def test_a_failed_build_is_out_of_the_same_points_as_a_full_one(assignment, shipped_static):
    # Checks that --static skips for the reference are skipped for a template whose
    # builds fail too, so every student of a class is graded out of the same total.
    reference = shipped_static("reference", assignment).results
    template = shipped_static("submissions_template", assignment).results
    assert template["max_score"] == reference["max_score"]
    assert ({t["name"]: t["max_score"] for t in template["tests"]}
            == {t["name"]: t["max_score"] for t in reference["tests"]})


def test_task_option_grades_only_the_named_tasks(practical2_zip_model3):
    # The practical2 reference (zipped: the zip test in test_engine_cli_errors.py reads
    # the same run) graded with --task model3.
    run = practical2_zip_model3
    assert run.code == 0, run.stderr[-2000:]
    assert {t["tags"][0] for t in run.results["tests"]} == {"model3"}


def test_an_unknown_task_is_refused_with_the_valid_ones(tmp_path, grade):
    run = grade(str(REPO / "reference" / "practical2"), "--static", "--task", "model9",
                json_path=tmp_path / "results.json")
    assert run.code == 2
    assert "no task 'model9'; tasks: model1, model2, model3, model4, gradcam" in (
        " ".join(run.results["grader"]["errors"]))


def test_practical2_handed_in_as_a_notebook_is_graded_like_cnn_py(tmp_path, grade):
    """A student's cnn.ipynb: the reference builder in cells, then top-level training
    that would download nothing but would train for minutes if the grader ran it."""
    import shutil

    import nbformat

    sub = tmp_path / "erin"
    sub.mkdir()
    shutil.copy(REPO / "reference" / "practical2" / "gradcam.py", sub)
    (sub / ".grader-assignment").write_text("practical2\n")
    source = (REPO / "reference" / "practical2" / "cnn.py").read_text()
    definitions = source.split('\nif __name__ == "__main__":')[0]
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%matplotlib inline"),
        nbformat.v4.new_code_cell(definitions),
        nbformat.v4.new_code_cell(
            "(x_train, y_train), (x_test, y_test) = load_fashion_mnist()\n"
            "model = build_model(MODEL_NUMBER)\n"
            "model.fit(x_train, y_train, epochs=20)\n"
            "while True:\n    pass"),
    ]
    nbformat.write(nb, str(sub / "cnn.ipynb"))
    run = grade(str(sub), "--static", json_path=tmp_path / "results.json")
    failing = {t["name"]: t["output"][:300] for t in run.results["tests"]
               if t["grader"]["state"] not in ("passed", "skipped")}
    assert failing == {}
    assert run.code == 0, run.stderr[-2000:]
    info = run.results["grader"]["tasks"]["model2"]
    assert info["entry_file"] == "cnn.ipynb"
    skipped = {c["index"]: c for c in info["skipped_cells"]}
    assert skipped[3]["reason"] == "top-level code not run"
    assert skipped[3]["first_line"].startswith("(x_train, y_train)")
