"""Tasks whose training is the student's work: the build-worker side gets the
training and validation splits only, and the score is measured afterwards on
the test split by the verify-worker side."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from grader.build_worker.training import student_training  # noqa: E402
from grader.data.training_data import prepare_student_training  # noqa: E402
from grader.verify_worker import accuracy  # noqa: E402
from grader.verify_worker.worker import VerifyContext  # noqa: E402

pytestmark = pytest.mark.slow

CHECK = {"points": 2, "dataset": "fashion-mnist", "threshold": 0.7, "trained_by": "student",
         "train_function": "train", "train_kwargs": {"epochs": 1}, "train_subset": 6000,
         "test_subset": 2000, "seed": 0}


def build():
    return keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(),
                             layers.Dense(64, activation="relu"),
                             layers.Dense(10, activation="softmax")])


def verify(tmp_path, record):
    ctx = VerifyContext(model=None, model_path=tmp_path / "unused.keras", task={"id": "t"},
                        check=CHECK, data_dir=None)
    ctx.notes["accuracy"] = record
    return accuracy.run(ctx)


def test_student_training_sees_only_train_and_validation_and_is_scored_on_test(tmp_path):
    train = prepare_student_training(CHECK, tmp_path / "splits")
    assert sorted(train["splits"]) == ["train", "validation"]
    seen = {}

    def student_train(model, x_train, y_train, x_val, y_val, epochs):
        seen.update(train=x_train.shape, val=x_val.shape, dtype=x_train.dtype.name,
                    top=float(x_train.max()))
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
        return {"accuracy": 1.0}  # a claim; the grader never reads it

    record = student_training(build(), train, {"train": student_train}.__getitem__,
                              tmp_path, "task")
    assert record["error"] is None, record
    assert seen == {"train": (5400, 28, 28, 1), "val": (600, 28, 28, 1), "dtype": "float32",
                    "top": 1.0}
    out = verify(tmp_path, record)
    assert out["state"] == "passed", out["message"]
    assert out["details"]["trained_by"] == "student"
    assert out["details"]["samples"] == {"test": 2000}
    assert out["details"]["accuracy"] < 1.0  # measured, not the student's claim


def test_training_function_that_does_not_train_fails(tmp_path):
    train = prepare_student_training(CHECK, tmp_path / "splits")

    def lazy(model, x_train, y_train, x_val, y_val, epochs):
        return model

    keras.utils.set_random_seed(0)
    record = student_training(build(), train, {"train": lazy}.__getitem__, tmp_path, "task")
    out = verify(tmp_path, record)
    assert out["state"] == "failed" and out["details"]["accuracy"] < 0.4


def test_training_function_that_raises_is_reported_by_name(tmp_path):
    train = prepare_student_training(CHECK, tmp_path / "splits")

    def broken(model, x_train, y_train, x_val, y_val, epochs):
        raise KeyError("labels")

    record = student_training(build(), train, {"train": broken}.__getitem__, tmp_path, "task")
    out = verify(tmp_path, record)
    assert out["state"] == "failed"
    # The call as made, kwargs included, and where in the file it raised.
    assert "train(model, x_train, y_train, x_val, y_val, epochs=1) raised KeyError" in \
        out["message"]
    assert "test_student_training.py line" in out["message"]


def test_the_splits_hold_no_test_image(tmp_path):
    from grader.data import load_dataset

    train = prepare_student_training({**CHECK, "train_subset": None}, tmp_path / "splits")
    assert sorted(p.name for p in (tmp_path / "splits").iterdir()) == ["train.npz",
                                                                       "validation.npz"]
    test = load_dataset("fashion-mnist").x_test.reshape(10000, -1)
    test_rows = {row.tobytes() for row in test}
    total = 0
    for path in train["splits"].values():
        with np.load(path) as f:
            rows = f["x"].reshape(len(f["x"]), -1)
            total += len(rows)
            # Fashion-MNIST has a handful of exact duplicates across splits; allow those.
            assert sum(r.tobytes() in test_rows for r in rows) < 20
    assert total == 60000  # every image from the training split, none from test
