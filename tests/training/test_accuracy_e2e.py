"""End to end through `grader check`: the accuracy and visual checks of a
practical2 submission on the real Fashion-MNIST (Debian's
dataset-fashion-mnist, installed by scripts/setup.sh), and the wall between
the student's code and the test labels.

To keep CI time sane the submission is graded against practical2's spec cut
down to model 3 (one epoch, about 4 s of training here) and, for the visual
test, the Grad-CAM task; everything else about the spec is the shipped one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def practical2_spec(tmp_path: Path, tasks: tuple[str, ...]) -> Path:
    spec = json.loads((REPO / "grader/assignments/practical2.json").read_text())
    spec.pop("$schema", None)
    spec["tasks"] = [t for t in spec["tasks"] if t["id"] in tasks]
    path = tmp_path / "practical2-cut.json"
    path.write_text(json.dumps(spec))
    return path


def submission(tmp_path: Path, name: str, edit=None) -> Path:
    sub = tmp_path / name
    shutil.copytree(REPO / "reference/practical2", sub)
    if edit:
        cnn = sub / "cnn.py"
        cnn.write_text(edit(cnn.read_text()))
    return sub


def check(grader, sub: Path, spec: Path, out: Path, *extra: str, env=None):
    result = grader("check", str(sub), "--assignment", str(spec), "--json", str(out), *extra,
                    env=env)
    data = json.loads(out.read_text())
    tests = {t["name"]: t for t in data["tests"]}
    return result, data, tests


def test_sound_submission_passes_accuracy_and_grad_cam_and_a_missing_dataset_is_not_run(
        grader, tmp_path):
    """One `grader check` run (TensorFlow starts once): model 3 trained on real
    Fashion-MNIST, the Grad-CAM task, and model 3 again against a dataset that
    is not on this machine."""
    spec_path = practical2_spec(tmp_path, ("model3", "gradcam"))
    spec = json.loads(spec_path.read_text())
    missing = json.loads(json.dumps(spec["tasks"][0]))
    missing["id"] = "model3-no-data"
    missing["checks"] = {"accuracy": {**missing["checks"]["accuracy"], "dataset": "cats-dogs"}}
    spec["tasks"].append(missing)
    spec_path.write_text(json.dumps(spec))
    out = tmp_path / "results" / "alice.json"
    env = {"GRADER_DATA": str(tmp_path / "empty"), "KERAS_HOME": str(tmp_path / "kh")}
    result, data, tests = check(grader, submission(tmp_path, "alice"), spec_path, out, env=env)

    acc = tests["model3: accuracy"]
    assert acc["grader"]["state"] == "passed", acc["output"]
    details = acc["grader"]["details"]
    assert details["accuracy"] >= 0.80 and details["trained_by"] == "grader"
    assert details["samples"]["test"] == 10000 and details["epochs_run"] == 1
    assert details["device"].startswith(("CPU", "GPU")) and details["train_seconds"] > 0
    assert acc["score"] == acc["max_score"] == 3

    # Missing data is loud: not run (0 of 0, shown as failed, counted apart), never a pass.
    not_run = tests["model3-no-data: accuracy"]
    assert not_run["grader"]["state"] == "not_run" and not_run["max_score"] == 0
    assert not_run["status"] == "failed"
    assert "grader data prepare cats-dogs --zip kagglecatsanddogs_3367a.zip" in not_run["output"]
    assert "1 check(s) not run on this machine" in data["output"]

    visual = tests["gradcam: visual"]
    assert visual["grader"]["state"] == "passed", visual["output"]
    images = [Path(p) for p in visual["grader"]["details"]["images"]]
    # Saved next to the results file, so a person can look after the scratch space is gone.
    assert images and all(p.is_file() and out.parent in p.parents for p in images)
    assert any(p.name == "student_figure.png" for p in images)
    assert result.returncode == 1, result.stdout + result.stderr  # exit 1: a check not run


def freeze_the_output_layer(source: str) -> str:
    """A deliberately broken model 3: its output layer starts at zero and is
    frozen (trainable=False left over from transfer learning), so whatever the
    labels say, every prediction is the same."""
    old = '''        layers.Dense(50, activation="relu"),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ], name="model_3")'''
    assert old in source
    return source.replace(old, '''        layers.Dense(50, activation="relu"),
        layers.Dense(NUM_CLASSES, activation="softmax", kernel_initializer="zeros",
                     trainable=False),
    ], name="model_3")''')


def test_model_that_cannot_learn_from_the_labels_fails_the_accuracy_check(grader, tmp_path):
    spec = practical2_spec(tmp_path, ("model3",))
    sub = submission(tmp_path, "broken", freeze_the_output_layer)
    result, data, tests = check(grader, sub, spec, tmp_path / "r.json")
    acc = tests["model3: accuracy"]
    assert acc["grader"]["state"] == "failed"
    assert acc["grader"]["details"]["accuracy"] < 0.2 and acc["score"] == 0
    assert "trainable=False" in acc["output"]  # the hint points at the cause
    assert result.returncode == 1


def test_require_gpu_fails_fast_on_a_node_without_one(grader, tmp_path):
    from grader.device import gpu_hint

    if gpu_hint() is None:
        pytest.skip("this machine may have a GPU")
    spec = practical2_spec(tmp_path, ("model3",))
    result = grader("check", str(submission(tmp_path, "g")), "--assignment", str(spec),
                    "--require-gpu", timeout=60)
    assert result.returncode == 2
    said = result.stdout + result.stderr
    assert "--require-gpu" in said and "--gres=gpu" in said
