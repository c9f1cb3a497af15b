"""The build hooks (student training, visual functions) describe a failure of the
student's function the way the build worker describes a failing builder: file and
line (or notebook cell), the call as made, what happened and the fix."""

from __future__ import annotations

import importlib.util
import textwrap

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from grader.build_worker.training import student_training  # noqa: E402
from grader.build_worker.visual import produce  # noqa: E402
from grader.verify_worker import visual  # noqa: E402
from grader.verify_worker.worker import VerifyContext  # noqa: E402

STUDENT = textwrap.dedent('''\
    import sys
    import urllib.error


    def downloads(model, x_train, y_train, x_val, y_val, epochs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


    def exits(model, x_train, y_train, x_val, y_val, epochs):
        sys.exit(1)


    def todo(model, x_train, y_train, x_val, y_val, epochs):
        raise NotImplementedError


    def pattern_exits(model, layer_name, filter_index, start_image, steps=30):
        sys.exit("done")


    def cam_downloads(model, image, class_index):
        raise urllib.error.URLError("[Errno -2] Name or service not known")


    def cam_todo(model, image, class_index):
        raise NotImplementedError("write grad_cam")
    ''')


def line_of(text: str, source: str = STUDENT) -> int:
    return source.splitlines().index(text) + 1


@pytest.fixture
def student(tmp_path, monkeypatch):
    """load_function for student.py, imported from the current directory as the
    build worker imports the submission's scratch copy."""
    (tmp_path / "student.py").write_text(STUDENT)
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location("hook_errors_student", tmp_path / "student.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def load_function(name):
        return getattr(module, name)

    load_function.file = "student.py"  # as the build worker's loader names its file
    return load_function


@pytest.fixture
def train(tmp_path):
    """The `train` entry prepare_student_training would write, with tiny splits."""
    rng = np.random.default_rng(0)
    splits = {}
    for name, n in (("train", 8), ("validation", 4)):
        splits[name] = str(tmp_path / f"{name}.npz")
        np.savez(splits[name], x=rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8),
                 y=np.arange(n) % 2)
    return {"function": "downloads", "kwargs": {"epochs": 1}, "splits": splits, "seed": 0}


def dense_model():
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(2, activation="softmax")])


def conv_model():
    return keras.Sequential([keras.Input((8, 8, 1)),
                             keras.layers.Conv2D(2, 3, activation="relu", name="conv"),
                             keras.layers.Flatten(), keras.layers.Dense(2, name="head")])


CALL = "(model, x_train, y_train, x_val, y_val, epochs=1)"


def test_training_function_that_downloads_gets_the_no_network_message(tmp_path, student, train):
    record = student_training(dense_model(), train, student, tmp_path, "t")
    line = line_of('    raise urllib.error.URLError("[Errno -3] Temporary failure in name '
                   'resolution")')
    assert record["trained_model_path"] is None and not record["not_implemented"]
    assert record["error"].startswith(f"student.py line {line}: downloads{CALL} tried to "
                                      "download (urllib.error.URLError")
    assert "the grader has no network: the training function must not download" in \
        record["error"]


def test_training_function_that_calls_sys_exit_is_told_to_return(tmp_path, student, train):
    record = student_training(dense_model(), {**train, "function": "exits"}, student,
                              tmp_path, "t")
    assert record["error"] == (
        f"student.py line {line_of('    sys.exit(1)')}: exits{CALL} called sys.exit(1); the "
        "training function must return after training the model it is given in place, or "
        "the trained model, never end the program")


def test_training_function_not_implemented_keeps_the_flag(tmp_path, student, train):
    record = student_training(dense_model(), {**train, "function": "todo"}, student,
                              tmp_path, "t")
    assert record["not_implemented"] is True
    assert f"todo{CALL} is not implemented yet" in record["error"]


def test_missing_training_function_is_named(tmp_path, student, train):
    record = student_training(dense_model(), {**train, "function": "fit"}, student,
                              tmp_path, "t")
    assert record["error"] == ("student.py: no function 'fit'; define fit() as the "
                               "template does")


def test_model_that_cannot_take_the_data_is_not_blamed_on_the_function(tmp_path, student,
                                                                        train):
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)])
    record = student_training(model, train, student, tmp_path, "t")
    assert record["error"].startswith("the training data cannot be fed to the model: the "
                                      "model takes inputs of shape (5,)")


def _filter_check(function: str) -> dict:
    return {"kind": "filter_pattern", "file": "student.py", "function": function,
            "image_shape": [8, 8, 1], "layer_name": "conv", "steps": 2}


def _verify(tmp_path, model, check, record):
    model.save(tmp_path / "t.keras")
    ctx = VerifyContext(model=model, model_path=tmp_path / "t.keras", task={"id": "t"},
                        check=check, data_dir=None)
    ctx.notes["visual"] = record
    return visual.run(ctx)


def test_visual_function_that_calls_sys_exit_is_described_and_fails(tmp_path, student):
    model, check = conv_model(), _filter_check("pattern_exits")
    record = produce(model, check, student, tmp_path, "t")
    line = line_of('    sys.exit("done")')
    assert record["error"] == (
        f"student.py line {line}: pattern_exits(model, 'conv', 0, "
        "start_image, steps=2) called sys.exit('done'); the visual function must return the "
        "pattern as an (H, W, C) image in [0, 1], never end the program")
    out = _verify(tmp_path, model, check, record)
    assert out["state"] == "failed" and out["message"].startswith(record["error"])


def test_grad_cam_that_downloads_names_the_class_it_was_called_for(tmp_path, student):
    check = {"kind": "grad_cam", "file": "student.py", "function": "cam_downloads",
             "image_shape": [8, 8, 1], "class_indices": [1, 0]}
    record = produce(conv_model(), check, student, tmp_path, "t")
    line = line_of('    raise urllib.error.URLError("[Errno -2] Name or service not known")')
    assert record["error"].startswith(f"student.py line {line}: cam_downloads(model, image, 1) "
                                      "tried to download")
    assert "the grader has no network: the visual function must not download" in \
        record["error"]


def test_visual_function_not_implemented_stays_not_implemented(tmp_path, student):
    model = conv_model()
    check = {"kind": "grad_cam", "file": "student.py", "function": "cam_todo",
             "image_shape": [8, 8, 1], "class_index": 0}
    record = produce(model, check, student, tmp_path, "t")
    assert record["not_implemented"] is True
    line = line_of('    raise NotImplementedError("write grad_cam")')
    assert record["error"].startswith(f"student.py line {line}: cam_todo(model, image, 0) is "
                                      "not implemented yet")
    assert _verify(tmp_path, model, check, record)["state"] == "not_implemented"


def test_visual_function_from_a_notebook_names_its_cell(tmp_path, monkeypatch):
    from grader.parent.submission import CELL_MARKER, FILTERED_SUFFIX

    source = (f"{CELL_MARKER}1\nimport sys\n{CELL_MARKER}3\n"
              "def filter_pattern(model, layer_name, filter_index, start_image, steps=30):\n"
              "    sys.exit(2)\n")
    path = tmp_path / f"viz{FILTERED_SUFFIX}"
    path.write_text(source)
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location("hook_errors_notebook", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # The spec names the .py form; the student handed in the notebook.
    check = {**_filter_check("filter_pattern"), "file": "viz.py"}
    record = produce(conv_model(), check, lambda name: getattr(module, name), tmp_path,
                            "t")
    assert record["error"].startswith("viz.ipynb code cell 3: filter_pattern(model, 'conv', 0, "
                                      "start_image, steps=2) called sys.exit(2)")
