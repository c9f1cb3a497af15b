"""Spec parameter counts come from the reference models; thresholds from real results."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from reference_helpers import REPO

from grader.parent.spec import load_spec


def test_spec_parameter_counts_agree_with_the_reference_models():
    done = subprocess.run([sys.executable, "scripts/update_spec_params.py", "--check"],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # Every params check of every spec was compared (torch only where installed).
    checked = [line for line in done.stdout.splitlines() if ": trainable " in line]
    expected = sum(1 for a in ("cs577-a4", "ds-ag-021", "hw2-mnist", "practical2")
                   for t in load_spec(a).tasks if "params" in t["checks"])
    skipped = done.stdout.count("skipped (torch is not installed")
    assert len(checked) + skipped == expected


def test_the_parameter_script_notices_a_wrong_count(tmp_path, monkeypatch):
    # The script rewrites a spec whose number is off, and --check fails on it. Its
    # update() runs in this process (TensorFlow is loaded here already); the script as a
    # command runs in the test above.
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import update_spec_params as u

    spec = json.loads((REPO / "grader/assignments/practical2.json").read_text())
    text = (REPO / "grader/assignments/practical2.json").read_text()
    wrong = text.replace('"trainable": 62350', '"trainable": 62351', 1)
    assert wrong != text
    path = tmp_path / "practical2.json"
    path.write_text(wrong)
    problems = u.update(path, write=True)
    assert any("62,351 -> 62,350" in p for p in problems), problems
    assert '"trainable": 62350' in path.read_text()
    assert spec["id"] == "practical2"


def _results(assignment: str) -> dict:
    path = REPO / "reference" / "results" / f"{assignment}.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `grader reference run {assignment}` and commit it")
    return json.loads(path.read_text())


def test_practical2_results_come_from_a_real_fashion_mnist_run():
    results = _results("practical2")
    assert results["assignment"] == "practical2"
    assert results["environment"]["versions"]["tensorflow"]
    for task_id in ("model1", "model2", "model3", "model4"):
        task = results["tasks"][task_id]
        assert task["status"] == "trained", task
        accuracy = task["accuracy"]
        assert accuracy["dataset"] == "fashion-mnist" and accuracy["trained_by"] == "grader"
        assert accuracy["samples"]["test"] == 10000
        assert accuracy["epochs_run"] >= 1 and accuracy["train_seconds"] > 0
        # Ten classes: chance is 0.1; a real run of any of these models is far above it.
        assert accuracy["accuracy"] > 0.5


@pytest.mark.parametrize("assignment", ["practical2"])
def test_spec_thresholds_are_met_by_the_reference_results_they_cite(assignment):
    results = _results(assignment)
    for task in load_spec(assignment).tasks:
        check = task["checks"].get("accuracy")
        if not check:
            continue
        recorded = results["tasks"][task["id"]]["accuracy"]
        assert check["threshold"] <= recorded["value"], task["id"]
        assert check.get("epochs", 1) == recorded["epochs_planned"], task["id"]
        cited = str(check.get("derived_from", ""))
        assert cited.startswith(f"reference/results/{assignment}.json"), task["id"]
        assert f"{recorded['value']:.4f}" in cited, (task["id"], cited)


def test_results_record_parameters_matching_the_spec():
    results = _results("practical2")
    for task in load_spec("practical2").tasks:
        params = task["checks"].get("params")
        if params:
            recorded = results["tasks"][task["id"]]["params"]
            assert recorded["trainable"] == params["trainable"]
            assert recorded["total"] == params["total"]


@pytest.mark.parametrize("folder", ["reference", "submissions_template"])
def test_practical2_training_constants_match_every_accuracy_check(folder):
    import ast

    tree = ast.parse((REPO / folder / "practical2" / "cnn.py").read_text())
    training = next(ast.literal_eval(node.value) for node in tree.body
                    if isinstance(node, ast.AnnAssign | ast.Assign)
                    and "TRAINING" in ast.unparse(node.targets[0] if isinstance(node, ast.Assign)
                                                  else node.target))
    for task in load_spec("practical2").tasks:
        check = task["checks"].get("accuracy")
        if check:
            for key in ("optimizer", "learning_rate", "loss", "batch_size"):
                assert check[key] == training[key], (task["id"], key)
