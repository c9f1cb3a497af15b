"""Practical 2's script as the starter shapes it: one run per MODEL_NUMBER, each run
captures the model that number picks, with the fit it was given."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from harness_helpers import CORPUS, layer_classes, trainable

from grader.build_worker.harness import Source, run_source

MODEL_4_LAYERS = [
    "Conv2D", "BatchNormalization", "MaxPooling2D", "BatchNormalization", "Conv2D",
    "BatchNormalization", "Conv2D", "BatchNormalization", "MaxPooling2D",
    "BatchNormalization", "Conv2D", "BatchNormalization", "Conv2D", "BatchNormalization",
    "MaxPooling2D", "Flatten", "Dense", "Dense", "Dense",
]
EXPECTED = {
    1: (["Flatten", "Dense", "Dense"], 101_770),
    2: (["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D",
         "Flatten", "Dense", "Dense"], 61_514),
    3: (["Flatten", "Dense", "Dense", "Dense"], 62_350),
    4: (MODEL_4_LAYERS, 1_546_954),
}


def _line_of(text: str, needle: str, after: str = "") -> int:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines) if i >= start and needle in line) + 1


@pytest.fixture
def cnn(submission: Path) -> Path:
    return Path(shutil.copy(CORPUS / "cnn.py", submission / "cnn.py"))


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_each_model_number_run_captures_the_model_it_picks(cnn, tmp_path, number):
    report = run_source(Source.script(cnn, "cnn.py"), {"MODEL_NUMBER": number},
                        scratch=tmp_path / "scratch")

    assert report.failures == []
    [captured] = report.models
    layers, params = EXPECTED[number]
    assert captured.name == "model"
    assert captured.framework == "keras"
    assert layer_classes(captured.model) == layers
    assert trainable(captured.model) == params
    assert captured.run == f"cnn.py run with MODEL_NUMBER={number}"
    assert captured.overrides == {"MODEL_NUMBER": number}
    text = cnn.read_text()
    branch = f"MODEL_NUMBER == {number}"
    assert str(captured.built_at) == f"cnn.py line {_line_of(text, 'keras.Sequential', branch)}"
    assert str(captured.first_seen) == f"cnn.py line {_line_of(text, 'if MODEL_NUMBER == 1')}"
    assert captured.event_kinds == ["built", "compiled", "fit", "evaluated"]
    assert captured.compile == {"optimizer": "Adam", "learning_rate": 0.001,
                                "loss": "sparse_categorical_crossentropy",
                                "metrics": ["accuracy"], "weighted_metrics": []}
    [fit] = captured.fits
    assert fit["epochs"] == 10 and fit["epochs_run"] == 10
    assert fit["batch_size"] == 128
    assert fit["validation"] == {"split": 0.1}
    assert fit["x"] == {"shape": [64, 28, 28, 1], "dtype": "float32"}
    assert fit["y"] == {"shape": [64], "dtype": "uint8"}
    assert captured.final_names == ["model"]

    history = report.namespace["history"]
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 10 for v in history.history.values())
    assert "Test accuracy:" in report.stdout
    assert f"Total params: {params + (2_048 if number == 4 else 0):,}" in report.stdout
    assert report.namespace["MODEL_NUMBER"] == number
    override_line = _line_of(text, "MODEL_NUMBER = 1")
    assert (f"MODEL_NUMBER = {number} is this run's setting; it replaced the file's own "
            f"assignment (cnn.py line {override_line})") in report.notes
    assert ("keras.datasets.fashion_mnist.load_data(): 64 synthetic training and 32 test "
            "images stood in (the grader has no network)") in report.notes
    assert any(n.startswith("matplotlib.pyplot.show()") for n in report.notes)


def test_without_overrides_the_files_own_model_number_is_used(cnn, tmp_path):
    report = run_source(Source.script(cnn, "cnn.py"), scratch=tmp_path / "scratch")

    [captured] = report.models
    assert trainable(captured.model) == 101_770
    assert captured.run == "cnn.py run"
    assert not any("this run's setting" in n for n in report.notes)


def test_the_main_block_does_not_run_and_the_module_is_not_main(cnn, tmp_path):
    report = run_source(Source.script(cnn, "cnn.py"), {"MODEL_NUMBER": 3},
                        scratch=tmp_path / "scratch")

    assert report.namespace["__name__"] == "student_cnn"
    assert report.failures == []  # the block would raise SystemExit
    line = _line_of(cnn.read_text(), 'if __name__ == "__main__":')
    assert ('the `if __name__ == "__main__":` block did not run (the file runs as module '
            f"student_cnn, not as a program) (cnn.py line {line})") in report.notes
