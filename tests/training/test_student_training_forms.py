"""The call forms of a student's training function (arrays, tf.data datasets,
class-per-folder directories) and the learning-rate sweep, on real
Fashion-MNIST: each form gets the training and validation splits only, and
every score is measured afterwards on the test split."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from grader.build_worker.training import student_training_hook  # noqa: E402
from grader.parent.training_data import prepare_build_check  # noqa: E402
from grader.verify_worker import accuracy  # noqa: E402
from grader.verify_worker.worker import VerifyContext  # noqa: E402

pytestmark = pytest.mark.slow

BASE = {"points": 2, "dataset": "fashion-mnist", "threshold": 0.65, "trained_by": "student",
        "train_function": "train", "train_subset": 2000, "test_subset": 500, "seed": 0,
        "batch_size": 64}
BUILDER = {"function": "build", "kwargs": {}}


def build(learning_rate: float = 1e-3):
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(),
                              layers.Dense(64, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy")
    return model


def run(tmp_path: Path, check: dict, functions: dict, model=None) -> dict:
    """Prepares the data as the parent does, runs the build worker's hook on
    ``functions`` (name -> function), and scores the record as the verify
    worker does."""
    prepared, _ = prepare_build_check(check, tmp_path / "data", builder=BUILDER)
    load = functions.__getitem__
    record = student_training_hook(model if model is not None else build(), prepared, load,
                                   tmp_path, "task")
    json.dumps(record)  # the record crosses a process boundary as JSON
    ctx = VerifyContext(model=None, model_path=tmp_path / "unused.keras", task={"id": "task"},
                        check=check, data_dir=None)
    ctx.notes["accuracy"] = record
    return accuracy.run(ctx)


def test_datasets_form_gets_batched_tf_data_of_train_and_validation(tmp_path):
    seen = {}

    def train(model, train_ds, val_ds, epochs):
        x, y = next(iter(train_ds))
        seen.update(batch=tuple(x.shape), labels=y.dtype.name,
                    train=sum(int(b[1].shape[0]) for b in train_ds),
                    val=sum(int(b[1].shape[0]) for b in val_ds))
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0)

    out = run(tmp_path, {**BASE, "train_call": "datasets", "train_kwargs": {"epochs": 2}},
              {"train": train})
    assert seen == {"batch": (64, 28, 28, 1), "labels": "int64", "train": 1800, "val": 200}
    assert out["state"] == "passed", out["message"]
    assert out["details"]["samples"] == {"test": 500}


def test_directories_form_reads_png_class_folders_and_returns_its_model(tmp_path):
    seen = {}

    def train(train_dir, val_dir, epochs):
        folders = sorted(p.name for p in Path(train_dir).iterdir())
        seen.update(folders=folders, files=sum(1 for _ in Path(train_dir).rglob("*.png")),
                    val=sum(1 for _ in Path(val_dir).rglob("*.png")))
        read = [keras.utils.image_dataset_from_directory(
            d, color_mode="grayscale", image_size=(28, 28), batch_size=64, seed=0,
            verbose=False).map(lambda x, y: (x / 255.0, y)) for d in (train_dir, val_dir)]
        model = build()
        model.fit(read[0], validation_data=read[1], epochs=epochs, verbose=0)
        return model

    out = run(tmp_path, {**BASE, "train_call": "directories", "train_kwargs": {"epochs": 2}},
              {"train": train})
    # Fashion-MNIST's class names do not sort in class order (and one holds a "/"):
    # numbered folders keep the labels a directory reader infers equal to the truth.
    assert seen["folders"][0] == "00-T-shirt-top" and seen["folders"][9] == "09-Ankle boot"
    assert (seen["files"], seen["val"]) == (1800, 200)
    assert out["state"] == "passed", out["message"]
    assert not (tmp_path / "data" / "test").exists()


def test_directories_form_may_save_to_the_out_path_instead(tmp_path):
    def train(train_dir, val_dir, out):
        ds = keras.utils.image_dataset_from_directory(
            train_dir, color_mode="grayscale", image_size=(28, 28), batch_size=64,
            verbose=False).map(lambda x, y: (x / 255.0, y))
        model = build()
        model.fit(ds, epochs=2, verbose=0)
        model.save(out)

    out = run(tmp_path, {**BASE, "train_call": "directories", "train_kwargs": {"out": "$out"}},
              {"train": train})
    assert out["state"] == "passed", out["message"]


def test_directories_form_that_returns_nothing_and_saves_nothing_fails_by_name(tmp_path):
    out = run(tmp_path, {**BASE, "train_call": "directories"},
              {"train": lambda train_dir, val_dir: None})
    assert out["state"] == "failed"
    assert "train() returned NoneType and saved no model; return the trained keras.Model" in \
        out["message"]


def test_sweep_trains_every_point_scores_the_best_and_reports_each(tmp_path):
    calls = []

    def train(model, x_train, y_train, x_val, y_val, epochs):
        calls.append(float(model.optimizer.learning_rate.numpy()))
        model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)

    check = {**BASE, "sweep": [[5.0], [0.001]], "train_kwargs": {"epochs": 2}}
    out = run(tmp_path, check, {"train": train, "build": build})
    assert calls == pytest.approx([5.0, 0.001])  # a fresh model per point, built with its args
    assert out["state"] == "passed", out["message"]
    rows = out["details"]["sweep"]
    assert [r["args"] for r in rows] == [[5.0], [0.001]]
    assert rows[1]["value"] >= 0.65 > rows[0]["value"]  # lr 5 wrecks Adam
    assert out["details"]["value"] == rows[1]["value"]
    assert out["message"].startswith("best of 2 runs, (0.001); accuracy per run: (5) ")


def test_sweep_with_a_failing_point_is_incomplete_and_fails(tmp_path):
    def builder(learning_rate):
        if learning_rate > 1:
            raise ValueError("no such rate")
        return build(learning_rate)

    def train(model, x_train, y_train, x_val, y_val):
        model.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)

    out = run(tmp_path, {**BASE, "sweep": [[0.001], [2.0]]}, {"train": train, "build": builder})
    assert out["state"] == "failed" and out["fraction"] == 0.0
    assert out["message"].startswith("the sweep is incomplete: the run with (2) failed: ")
    assert "ValueError: no such rate" in out["message"]
    assert "value" in out["details"]["sweep"][0] and "error" in out["details"]["sweep"][1]


def test_sweep_of_a_template_is_not_implemented(tmp_path):
    def train(model, x_train, y_train, x_val, y_val):
        raise NotImplementedError

    out = run(tmp_path, {**BASE, "sweep": [[0.1], [0.01]]}, {"train": train, "build": build})
    assert out["state"] == "not_implemented"


@pytest.mark.parametrize("bad, message", [
    ({"train_call": "folders"}, "train_call 'folders'; use arrays, datasets or directories"),
    ({"sweep": []}, "sweep is a non-empty list of builder argument lists"),
    ({"sweep": [0.1, 0.01]}, "sweep is a non-empty list of builder argument lists"),
    ({"trained_by": "grader"}, "sweep, builder_kwargs and train_call need trained_by"),
])
def test_unusable_sweep_or_call_form_is_a_spec_error(tmp_path, bad, message):
    check = {**BASE, "sweep": [[0.1]], **bad}
    ctx = VerifyContext(model=None, model_path=tmp_path / "unused.keras", task={"id": "task"},
                        check=check, data_dir=None)
    out = accuracy.run(ctx)
    assert out["state"] == "error" and message in out["message"]


SUBMISSION = textwrap.dedent('''\
    import keras
    from keras import layers


    def build(learning_rate=0.001):
        model = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(),
                                  layers.Dense(64, activation="relu"),
                                  layers.Dense(10, activation="softmax")])
        model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy")
        return model


    def fit(model, x_train, y_train, x_val, y_val, epochs):
        model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs,
                  batch_size=64, verbose=0)


    def train_folders(train_dir, val_dir):
        ds = keras.utils.image_dataset_from_directory(
            train_dir, color_mode="grayscale", image_size=(28, 28), batch_size=64,
            verbose=False).map(lambda x, y: (x / 255.0, y))
        model = build()
        model.fit(ds, epochs=2, verbose=0)
        return model
    ''')


def test_sweep_and_directories_through_grader_check(grader, tmp_path):
    """The pipeline hands the builder to the sweep and the data to each form."""
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "models.py").write_text(SUBMISSION)
    tasks = [
        {"id": "sweep", "title": "sweep", "entry": {"file": "models.py", "function": "build"},
         "input_shape": [28, 28, 1],
         "checks": {"accuracy": {**BASE, "train_function": "fit", "sweep": [[0.01], [0.001]],
                                 "train_kwargs": {"epochs": 1}}}},
        {"id": "folders", "title": "folders", "entry": {"file": "models.py", "function": "build"},
         "input_shape": [28, 28, 1],
         "checks": {"accuracy": {**BASE, "train_function": "train_folders",
                                 "train_call": "directories"}}},
    ]
    spec = tmp_path / "forms.json"
    spec.write_text(json.dumps({"id": "forms", "title": "forms", "marker": "forms",
                                "tasks": tasks}))
    out = tmp_path / "results.json"
    result = grader("check", str(sub), "--assignment", str(spec), "--json", str(out))
    tests = {t["name"]: t for t in json.loads(out.read_text())["tests"]}
    sweep, folders = tests["sweep: accuracy"], tests["folders: accuracy"]
    assert sweep["grader"]["state"] == "passed", sweep["output"]
    assert [r["args"] for r in sweep["grader"]["details"]["sweep"]] == [[0.01], [0.001]]
    assert all(np.isfinite(r["value"]) for r in sweep["grader"]["details"]["sweep"])
    assert folders["grader"]["state"] == "passed", folders["output"]
    assert result.returncode == 0, result.stdout


def test_builder_gets_a_copy_of_a_weights_file_from_the_data_folders(tmp_path, monkeypatch):
    data = tmp_path / "course-data"
    data.mkdir()
    (data / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"imagenet")
    monkeypatch.setenv("GRADER_DATA", str(data))
    seen = {}

    def builder(weights=None):
        seen["weights"] = weights
        seen["bytes"] = Path(weights).read_bytes()
        return build()

    def train(model, x_train, y_train, x_val, y_val):
        model.fit(x_train, y_train, epochs=2, batch_size=64, verbose=0)

    check = {**BASE, "builder_kwargs": {"weights": "$weights:vgg16-notop"}}
    out = run(tmp_path, check, {"train": train, "build": builder})
    assert out["state"] == "passed", out["message"]
    # A copy in the build worker's scratch space: the data folders are hidden there.
    assert Path(seen["weights"]).parent == tmp_path / "data"
    assert seen["bytes"] == b"imagenet"


def test_a_missing_weights_file_skips_the_check_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    check = {**BASE, "builder_kwargs": {"weights": "$weights:vgg16-notop"}}
    out = run(tmp_path, check, {"train": None, "build": None})
    assert out["state"] == "not_run"
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in out["message"]
    assert "Nothing is downloaded by the grader" in out["message"]


def test_a_damaged_dataset_fails_no_student_trained_task(tmp_path):
    from grader.data.training_data import AccuracySpec
    from grader.parent.probes.fixtures import idx_dataset
    from grader.verify_worker.student_scores import score_training

    folder = tmp_path / "course-data" / "fashion-mnist"
    idx_dataset(folder, n_train=40, n_test=10)
    images = folder / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:50])
    prepared, _ = prepare_build_check(BASE, tmp_path / "data", tmp_path / "course-data",
                                      builder=BUILDER)
    record = student_training_hook(build(), prepared, {}.__getitem__, tmp_path, "task")
    out = score_training(record, AccuracySpec.from_dict(BASE))
    assert out["state"] == "error"
    assert "the grader's copy of dataset 'fashion-mnist' is damaged" in out["message"]
