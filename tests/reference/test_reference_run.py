"""`grader reference run`: real training through the grader's own trainer, a results
file per assignment, and missing data listed as skipped with its prepare command."""

from __future__ import annotations

import json

import pytest
from reference_helpers import REPO


def test_unknown_task_is_refused_with_the_task_list(grader, tmp_path):
    done = grader("reference", "run", "practical2", "--task", "model9",
                  "--out", str(tmp_path / "r.json"))
    assert done.returncode == 2
    assert "model1, model2, model3, model4" in done.stdout + done.stderr
    assert not (tmp_path / "r.json").exists()


@pytest.mark.slow
def test_reference_run_trains_on_fashion_mnist_and_keeps_earlier_tasks(grader, tmp_path):
    if not (REPO / "reference" / "practical2").is_dir():
        pytest.skip("no reference folder")
    out = tmp_path / "practical2.json"
    first = grader("reference", "run", "practical2", "--task", "model3", "--epochs", "1",
                   "--out", str(out))
    if "is not on disk" in first.stdout + first.stderr:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    assert first.returncode == 0, first.stderr[-3000:]
    results = json.loads(out.read_text())
    model3 = results["tasks"]["model3"]
    assert model3["status"] == "trained"
    assert model3["params"] == {"trainable": 62350, "non_trainable": 0, "total": 62350}
    assert model3["accuracy"]["dataset"] == "fashion-mnist"
    assert model3["accuracy"]["epochs_run"] == 1 and model3["accuracy"]["accuracy"] > 0.7
    assert model3["seed"] == 0 and model3["date"].startswith("20")
    assert results["environment"]["versions"]["keras"]
    assert "--epochs 1" in results["command"]
    # A second run of another task (no accuracy check: built only) keeps model3.
    second = grader("reference", "run", "practical2", "--task", "gradcam", "--out", str(out))
    assert second.returncode == 0, second.stderr[-3000:]
    merged = json.loads(out.read_text())["tasks"]
    assert merged["model3"] == model3
    assert merged["gradcam"]["status"] == "built"
    assert merged["gradcam"]["params"]["total"] == 61514


@pytest.mark.slow
def test_a_task_without_its_data_is_skipped_with_the_command_that_prepares_it(
        grader, tmp_path):
    empty = tmp_path / "data"
    empty.mkdir()
    out = tmp_path / "cs577.json"
    done = grader("reference", "run", "cs577-a4", "--task", "cifar-basic",
                  "--data-dir", str(empty), "--out", str(out),
                  env={"HOME": str(tmp_path), "GRADER_DATA": str(empty)})
    assert done.returncode == 0, done.stderr[-3000:]
    task = json.loads(out.read_text())["tasks"]["cifar-basic"]
    if task["status"] == "trained":
        pytest.skip("CIFAR-10 is installed system-wide on this machine")
    assert task["status"] == "skipped"
    assert "grader data prepare cifar10" in task["prepare"]
    assert task["params"]["total"] > 0


def _tiny_mnist(root, n_train: int = 2000, n_test: int = 200) -> None:
    """MNIST's four IDX files, with ten classes told apart by where a bar is drawn.

    2000 training images: with 600 (540 after the validation split, 5 batches of 128
    an epoch) two epochs left macro F1 near 0.5 for some initial weights; 2000 and
    three epochs gave 1.0 for each of 12 seeds, in about 4 s of training."""
    import numpy as np

    from grader.probes.fixtures import write_idx

    folder = root / "mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)

    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, (n, 28, 28))
        for i, label in enumerate(labels):
            images[i, 2 * label + 4: 2 * label + 7, 4:24] = 250
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)


@pytest.mark.slow
def test_a_student_trained_task_runs_the_reference_training_function(grader, tmp_path):
    _tiny_mnist(tmp_path / "data")
    out = tmp_path / "hw2.json"
    done = grader("reference", "run", "hw2-mnist", "--task", "early-stopping",
                  "--data-dir", str(tmp_path / "data"), "--epochs", "3", "--out", str(out),
                  env={"HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    task = json.loads(out.read_text())["tasks"]["early-stopping"]
    assert task["status"] == "trained", task
    accuracy = task["accuracy"]
    assert accuracy["trained_by"] == "student" and accuracy["samples"] == {"test": 200}
    assert accuracy["train_seconds"] > 0
    # The bars are easy to tell apart: the reference's loop learns them (1.0 in trials).
    assert accuracy["macro_f1"] > 0.8
