"""Trusted training: fresh seeded weights, fixed hyper-parameters, early stop
on validation, time limit, evaluation on the held-out test split."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from grader.data import load_dataset  # noqa: E402
from grader.data.training_data import AccuracySpec  # noqa: E402
from grader.device import GpuRequired, describe  # noqa: E402
from grader.verify_worker import accuracy  # noqa: E402
from grader.verify_worker.training import (  # noqa: E402
    evaluate_saved_model,
    macro_f1,
    rebuild_fresh,
    train_and_evaluate,
)
from grader.verify_worker.worker import VerifyContext  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fashion():
    return load_dataset("fashion-mnist")


def model3(output_activation="softmax", trainable=True):
    model = keras.Sequential([
        keras.Input((28, 28, 1)), layers.Flatten(),
        layers.Dense(74, activation="relu"), layers.Dense(50, activation="relu"),
        layers.Dense(10, activation=output_activation),
    ])
    model.trainable = trainable
    return model


QUICK = dict(dataset="fashion-mnist", threshold=0.65, epochs=1, batch_size=64,
             optimizer="adam", learning_rate=1e-3, loss="sparse_categorical_crossentropy",
             seed=0, time_limit_s=120, train_subset=8000, test_subset=2000)


def quick(**overrides) -> AccuracySpec:
    return AccuracySpec.from_dict({**QUICK, **overrides})


def save(model, path):
    model.save(path)
    return path


def test_rebuild_ignores_weights_shipped_in_the_file(tmp_path):
    honest = save(model3(), tmp_path / "honest.keras")
    doctored = model3()
    doctored.set_weights([np.full_like(w, 0.5) for w in doctored.get_weights()])
    doctored = save(doctored, tmp_path / "doctored.keras")
    a = rebuild_fresh(honest, seed=3).get_weights()
    b = rebuild_fresh(doctored, seed=3).get_weights()
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert not np.allclose(b[0], 0.5)
    c = rebuild_fresh(doctored, seed=4).get_weights()
    assert not np.array_equal(a[0], c[0])  # the seed, not the file, decides


def test_same_seed_gives_the_same_accuracy(tmp_path, fashion):
    path = save(model3(), tmp_path / "m.keras")
    first = train_and_evaluate(path, quick(), data=fashion, progress=False)
    second = train_and_evaluate(path, quick(), data=fashion, progress=False)
    assert first.accuracy == second.accuracy and first.passed
    assert first.samples == {"train": 7200, "validation": 800, "test": 2000}
    assert first.device.startswith(("CPU", "GPU"))


def test_training_stops_once_validation_meets_the_threshold(tmp_path, fashion):
    path = save(model3(), tmp_path / "m.keras")
    result = train_and_evaluate(path, quick(epochs=5, threshold=0.5), data=fashion,
                                progress=False)
    assert result.stopped == "threshold" and result.epochs_run == 1
    assert result.val_metric >= 0.5 and result.epochs_planned == 5


def test_time_limit_stops_training_and_the_model_is_still_evaluated(tmp_path, fashion):
    path = save(model3(), tmp_path / "m.keras")
    result = train_and_evaluate(path, quick(epochs=3, time_limit_s=0.001), data=fashion,
                                progress=False)
    assert result.stopped == "time_limit" and result.epochs_run == 1
    assert "time limit" in result.summary()
    assert 0.0 <= result.accuracy <= 1.0


def test_model_without_softmax_output_is_trained_as_logits(tmp_path, fashion):
    path = save(model3(output_activation="linear"), tmp_path / "m.keras")
    result = train_and_evaluate(path, quick(), data=fashion, progress=False)
    assert result.from_logits and result.passed


def test_macro_f1_metric_is_measured_on_test(tmp_path, fashion):
    path = save(model3(), tmp_path / "m.keras")
    result = train_and_evaluate(path, quick(metric="macro_f1"), data=fashion, progress=False)
    assert result.metric == "macro_f1" and result.value == result.macro_f1
    assert abs(result.macro_f1 - result.accuracy) < 0.1


def test_macro_f1_matches_a_hand_count():
    y = np.array([0, 0, 0, 1, 1, 2])
    p = np.array([0, 0, 1, 1, 2, 2])
    # class 0: P=1 R=2/3 F1=0.8; class 1: P=1/2 R=1/2 F1=0.5; class 2: P=1/2 R=1 F1=2/3
    assert macro_f1(y, p, 3) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_require_gpu_fails_fast_without_one(tmp_path):
    if describe().kind == "GPU":
        pytest.skip("this machine has a GPU")
    path = save(model3(), tmp_path / "m.keras")
    with pytest.raises(GpuRequired, match="--gres=gpu"):
        train_and_evaluate(path, quick(), require_gpu=True, progress=False)


def test_mixed_precision_is_ignored_on_cpu_and_said_so(tmp_path, fashion):
    if describe().kind == "GPU":
        pytest.skip("this machine has a GPU")
    path = save(model3(), tmp_path / "m.keras")
    result = train_and_evaluate(path, quick(mixed_precision=True), data=fashion, progress=False)
    assert not result.mixed_precision and any("mixed precision" in n for n in result.notes)


def test_student_trained_weights_are_evaluated_not_retrained(tmp_path, fashion):
    model = model3()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(fashion.x_train[:3000] / 255.0, fashion.y_train[:3000], epochs=1, verbose=0)
    path = save(model, tmp_path / "trained.keras")
    spec = quick(trained_by="student", train_function="train")
    result = evaluate_saved_model(path, spec, data=fashion)
    assert result.trained_by == "student" and result.epochs_run == 0
    assert result.stopped == "not_trained" and result.samples == {"test": 2000}
    untrained = evaluate_saved_model(save(model3(), tmp_path / "raw.keras"), spec, data=fashion)
    assert result.accuracy > untrained.accuracy + 0.3


def test_weights_hidden_in_initializers_are_refused(tmp_path, fashion):
    """Trained on the test split, frozen, and shipped as Constant initializers:
    a "fresh" rebuild would start from the answers. The config is refused, and
    the accuracy check fails with the reason."""
    cheat = model3(trainable=True)
    cheat.compile("adam", "sparse_categorical_crossentropy")
    cheat.fit(fashion.x_test[:2000] / 255.0, fashion.y_test[:2000], epochs=1, verbose=0)
    dense = [layer for layer in cheat.layers if layer.weights]
    planted = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten()] + [
        layers.Dense(layer.units, activation=layer.activation, trainable=False,
                     kernel_initializer=keras.initializers.Constant(layer.kernel.numpy()),
                     bias_initializer=keras.initializers.Constant(layer.bias.numpy()))
        for layer in dense])
    path = save(planted, tmp_path / "planted.keras")
    with pytest.raises(ValueError, match="kernel_initializer Constant holds an array"):
        rebuild_fresh(path, seed=0)
    ctx = VerifyContext(model=None, model_path=path, task={"id": "t"},
                        check={"points": 1, **QUICK}, data_dir=None)
    out = accuracy.run(ctx)
    assert out["state"] == "failed" and out["fraction"] == 0.0
    assert "could hold trained weights" in out["message"]


def test_a_long_array_in_any_layer_setting_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((28, 28, 1)),
                              layers.Normalization(axis=None, mean=np.zeros(()),
                                                   variance=np.ones(())),
                              layers.Flatten(),
                              layers.Normalization(mean=np.zeros(784), variance=np.ones(784)),
                              layers.Dense(10, activation="softmax")])
    with pytest.raises(ValueError, match="784 numbers"):
        rebuild_fresh(save(model, tmp_path / "norm.keras"), seed=0)
    # Scalars and short per-channel settings are layer settings, not data.
    small = keras.Sequential([keras.Input((4, 4, 3)),
                              layers.Normalization(mean=[0.5, 0.4, 0.3], variance=[1, 1, 1]),
                              layers.Flatten(), layers.Dense(2, activation="softmax")])
    assert rebuild_fresh(save(small, tmp_path / "small.keras"), seed=0).built


def test_lambda_layer_cannot_come_back_through_the_config(tmp_path):
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Lambda(lambda x: x * 2),
                              layers.Flatten(), layers.Dense(10, activation="softmax")])
    path = save(model, tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="safe_mode"):
        rebuild_fresh(path, seed=0)


def ctx(path, check, data_dir=None, model=None):
    return VerifyContext(model=model, model_path=path, task={"id": "t"}, check=check,
                         data_dir=data_dir)


def test_check_passes_a_sound_model_and_fails_a_frozen_one_with_a_hint(tmp_path):
    check = {"points": 3, **QUICK}
    sound = accuracy.run(ctx(save(model3(), tmp_path / "ok.keras"), check))
    assert sound["state"] == "passed", sound["message"]
    assert sound["details"]["accuracy"] >= 0.65 and sound["fraction"] == 1.0
    frozen = accuracy.run(ctx(save(model3(trainable=False), tmp_path / "frozen.keras"), check))
    assert frozen["state"] == "failed" and frozen["fraction"] == 0.0
    assert any("trainable=False" in h for h in frozen["hints"])


def test_check_with_missing_dataset_is_not_run_with_the_prepare_command(tmp_path, monkeypatch):
    monkeypatch.setattr("grader.data.locations.SYSTEM_ROOTS", ())
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    monkeypatch.delenv("GRADER_DATA", raising=False)
    path = save(model3(), tmp_path / "m.keras")
    out = accuracy.run(ctx(path, {"points": 1, "dataset": "fashion-mnist", "threshold": 0.8},
                           data_dir=str(tmp_path)))
    assert out["state"] == "not_run"  # missing data is loud, not a silent skip
    assert "apt-get install dataset-fashion-mnist" in out["message"]


def test_model_for_the_wrong_input_size_fails_with_the_fix(tmp_path):
    model = keras.Sequential([keras.Input((32, 32, 3)), layers.Flatten(),
                              layers.Dense(10, activation="softmax")])
    out = accuracy.run(ctx(save(model, tmp_path / "m.keras"),
                           {"dataset": "fashion-mnist", "threshold": 0.5, "train_subset": 500}))
    assert out["state"] == "failed" and "(32, 32, 3)" in out["message"]


def test_images_too_big_for_memory_as_float_are_streamed_and_train_as_well(
        tmp_path, fashion, monkeypatch):
    monkeypatch.setattr("grader.verify_worker.training.STREAM_ABOVE_BYTES", 0)
    path = save(model3(), tmp_path / "m.keras")
    result = train_and_evaluate(path, quick(), data=fashion, progress=False)
    assert any("streamed" in n for n in result.notes)
    assert result.passed and result.samples["train"] == 7200


def test_a_damaged_dataset_is_the_graders_error_not_the_students(tmp_path):
    from grader.parent.probes.fixtures import idx_dataset

    folder = tmp_path / "data" / "fashion-mnist"
    idx_dataset(folder, n_train=40, n_test=10)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:20])  # cut short, as a broken copy is
    path = save(model3(), tmp_path / "m.keras")
    ctx = VerifyContext(model=None, model_path=path, task={"id": "t"},
                        check={"points": 1, **QUICK}, data_dir=tmp_path / "data")
    out = accuracy.run(ctx)
    assert out["state"] == "error" and "fraction" not in out
    assert "the grader's copy of dataset 'fashion-mnist' is damaged" in out["message"]
    assert "t10k-labels" in out["message"] and "grader data status" in out["message"]


@pytest.mark.parametrize("bad, message", [
    ({"epoch": 3}, "unknown key(s) epoch"),
    ({"dataset": "fashion_mnist"}, "dataset 'fashion_mnist'; known: fashion-mnist, mnist"),
])
def test_a_misspelt_accuracy_setting_is_a_spec_error(bad, message):
    with pytest.raises(ValueError) as raised:
        AccuracySpec.from_dict({**QUICK, **bad})
    assert message in str(raised.value)


def test_the_schema_knows_exactly_the_datasets_the_loaders_know():
    import json
    from pathlib import Path

    from grader.data import DATASET_NAMES

    schema = json.loads((Path(__file__).resolve().parents[2] /
                         "grader/schemas/assignment.schema.json").read_text())
    allowed = schema["$defs"]["check_accuracy"]["properties"]["dataset"]["enum"]
    assert sorted(allowed) == sorted(DATASET_NAMES)
