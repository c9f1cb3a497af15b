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

    from grader.parent.probes.fixtures import write_idx

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


def _run(grader, tmp_path, assignment: str, tasks: list[str], epochs: int) -> dict:
    """`grader reference run` of ``tasks`` on the data under tmp_path/data; the
    results file's tasks."""
    out = tmp_path / f"{assignment}.json"
    done = grader("reference", "run", assignment, *[a for t in tasks for a in ("--task", t)],
                  "--data-dir", str(tmp_path / "data"), "--epochs", str(epochs), "--out",
                  str(out), env={"HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())["tasks"]


@pytest.mark.slow
def test_a_student_trained_task_runs_the_reference_training_function(grader, tmp_path):
    _tiny_mnist(tmp_path / "data")
    task = _run(grader, tmp_path, "hw2-mnist", ["early-stopping"], 3)["early-stopping"]
    assert task["status"] == "trained", task
    accuracy = task["accuracy"]
    assert accuracy["trained_by"] == "student" and accuracy["samples"] == {"test": 200}
    assert accuracy["train_seconds"] > 0
    # The bars are easy to tell apart: the reference's loop learns them (1.0 in trials).
    assert accuracy["macro_f1"] > 0.8


@pytest.mark.slow
def test_the_learning_rate_sweep_trains_and_scores_every_rate(grader, tmp_path):
    _tiny_mnist(tmp_path / "data")
    accuracy = _run(grader, tmp_path, "hw2-mnist", ["lr-sweep"], 2)["lr-sweep"]["accuracy"]
    rows = accuracy["sweep"]
    assert [r["args"] for r in rows] == [[0.1], [0.01], [0.001], [0.0001]]
    assert all(0 <= r["macro_f1"] <= 1 and r["seconds"] > 0 for r in rows)
    assert accuracy["macro_f1"] == max(r["macro_f1"] for r in rows) > 0.8


def _class_folders(root, splits: list[str], classes: list[str], per_class: int) -> None:
    """Class-per-folder JPEGs whose classes differ in colour (learnable at a glance)."""
    from grader.parent.probes.fixtures import image_folders

    image_folders(root, splits, classes, per_class=per_class, size=(48, 48))


def _cats_dogs(data, per_class: int) -> None:
    """A prepared cats-dogs folder (`grader data prepare` layout, its manifest)."""
    _class_folders(data / "cats-dogs", ["train", "validation", "test"], ["cats", "dogs"],
                   per_class)
    (data / "cats-dogs" / "manifest.json").write_text(json.dumps(
        {"dataset": "cats-dogs", "classes": ["cats", "dogs"], "files": {},
         "split": dict.fromkeys(("train", "validation", "test"), per_class)}))


@pytest.mark.slow
def test_directory_training_functions_of_q9_and_the_xray_app_are_scored(grader, tmp_path):
    """Q9's train(train_dir, val_dir, epochs) on a prepared cats-dogs folder and the
    X-ray train(train_dir, val_dir, out, epochs) on the Kaggle layout, both on PNG
    class folders the grader writes from the training and validation splits."""
    data = tmp_path / "data"
    _cats_dogs(data, per_class=6)
    _class_folders(data / "chest_xray", ["train", "val", "test"], ["NORMAL", "PNEUMONIA"], 6)
    tasks = _run(grader, tmp_path, "ds-ag-021", ["q9-train", "q10-xray-train"], 1)
    for task_id in ("q9-train", "q10-xray-train"):
        task = tasks[task_id]
        assert task["status"] == "trained", task
        accuracy = task["accuracy"]
        assert accuracy["trained_by"] == "student" and accuracy["samples"] == {"test": 12}
        assert accuracy["dataset"] == ("cats-dogs" if task_id == "q9-train" else "chest-xray")
        assert 0 <= accuracy["accuracy"] <= 1 and accuracy["train_seconds"] > 0


def _vgg16_notop_weights(path) -> None:
    """A VGG16 notop weights file in the legacy HDF5 layout Keras' applications
    read (random weights: only the file's format matters here). Written through
    Keras' legacy HDF5 writer, as `save_weights` in Keras 3 writes another layout."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    base = keras.applications.VGG16(weights=None, include_top=False)
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, base)


@pytest.mark.slow
def test_the_two_stage_schedule_gets_the_weights_file_and_tf_data(grader, tmp_path):
    """cs577's train_two_stage(model, train, validation, ...) on tf.data datasets,
    the VGG16 base built from a weights file found in the data folder."""
    pytest.importorskip("h5py")
    data = tmp_path / "data"
    _cats_dogs(data, per_class=4)
    # Without the file the check is skipped (tests/training/test_student_training_forms.py).
    _vgg16_notop_weights(data / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    task = _run(grader, tmp_path, "cs577-a4", ["vgg16-two-stage"], 1)["vgg16-two-stage"]
    assert task["status"] == "trained", task
    accuracy = task["accuracy"]
    assert accuracy["trained_by"] == "student" and accuracy["samples"] == {"test": 8}
    assert 0 <= accuracy["accuracy"] <= 1 and accuracy["train_seconds"] > 0
