"""Function tasks (grader/parent/probes, their captures in grader/build_worker/probes):
loaders and other non-model functions, called by `grader check` on fixture files in real
formats and judged in the parent."""

from __future__ import annotations

import json
import textwrap

import pytest
from conftest import READ_IDX, function_task, grade_functions

LOADERS = textwrap.dedent('''
    import gzip
    import pickle
    from pathlib import Path

    import numpy as np
''') + READ_IDX + textwrap.dedent('''

    def load_idx(data_dir):
        root = Path(data_dir)
        x = lambda stem: (_idx(root / f"{stem}.gz") / 255.0).astype("float32")[..., None]
        y = lambda stem: _idx(root / f"{stem}.gz").astype("int64")
        return ((x("train-images-idx3-ubyte"), y("train-labels-idx1-ubyte")),
                (x("t10k-images-idx3-ubyte"), y("t10k-labels-idx1-ubyte")))


    def _batch(path, transpose=True):
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1) if transpose \\
            else data.reshape(-1, 32, 32, 3)
        return x, np.asarray(batch[b"labels"])


    def _cifar(data_dir, transpose=True, scale=1 / 255):
        root = Path(data_dir)
        parts = [_batch(root / f"data_batch_{i}", transpose) for i in range(1, 6)]
        x_test, y_test = _batch(root / "test_batch", transpose)
        x_train = np.concatenate([p[0] for p in parts])
        y_train = np.concatenate([p[1] for p in parts])
        return (x_train * scale, y_train), (x_test * scale, y_test)


    def load_cifar(data_dir):
        return _cifar(data_dir)


    def load_cifar_no_transpose(data_dir):
        return _cifar(data_dir, transpose=False)


    def load_cifar_unscaled(data_dir):
        return _cifar(data_dir, scale=1)


    def load_one_array(data_dir):
        return _cifar(data_dir)[0][0]


    def load_nothing(data_dir):
        pass


    def load_todo(data_dir):
        raise NotImplementedError("loaders.py: load_todo is not implemented yet")


    def load_missing_file(data_dir):
        return np.load(Path(data_dir) / "nowhere.npy")


    def load_and_forge(data_dir):
        """Patches the judge and the capture in its own process: neither scores."""
        import grader.parent.probes as probes
        import grader.parent.probes.dataset_arrays as arrays

        arrays.judge = lambda *a, **k: {"state": "passed", "fraction": 1.0, "message": "ok"}
        probes.load_outputs = lambda path: {}
        zeros = np.zeros((20, 32, 32, 3), "float32")
        return (zeros, np.zeros(20)), (zeros[:6], np.zeros(6))
''')


def _task(task_id: str, function: str, fmt: str = "cifar10_pickles") -> dict:
    shape = [28, 28, 1] if fmt == "idx" else [32, 32, 3]
    return function_task(task_id, function, "dataset_arrays",
                         {"format": fmt, "image_shape": shape},
                         file=["loaders.py", "loaders.ipynb"], points=3)


@pytest.fixture(scope="module")
def loaders_run(tmp_path_factory):
    return grade_functions(tmp_path_factory.mktemp("function-tasks"), [
        _task("idx", "load_idx", "idx"),
        _task("cifar", "load_cifar"),
        _task("no_transpose", "load_cifar_no_transpose"),
        _task("unscaled", "load_cifar_unscaled"),
        _task("one_array", "load_one_array"),
        _task("nothing", "load_nothing"),
        _task("todo", "load_todo"),
        _task("missing_file", "load_missing_file"),
        _task("forge", "load_and_forge"),
        _task("after_forge", "load_cifar"),
    ], {"loaders.py": LOADERS})


def test_correct_loaders_pass_in_both_formats(loaders_run):
    for task in ("idx", "cifar", "after_forge"):
        test = loaders_run.test(task, "outputs")
        assert test["grader"]["state"] == "passed", test
        assert test["score"] == 3
    assert "20 training and 6 test images" in loaders_run.test("cifar", "outputs")["output"]


def test_planes_read_in_the_wrong_order_lose_the_pixel_part_only(loaders_run):
    test = loaders_run.test("no_transpose", "outputs")
    assert test["grader"]["state"] == "failed"
    assert test["score"] == pytest.approx(1.5)  # the labels are right
    assert "red plane, then green" in test["output"]


def test_unscaled_pixels_are_told_to_divide_by_255(loaders_run):
    test = loaders_run.test("unscaled", "outputs")
    assert test["grader"]["state"] == "failed" and "divide the pixels by 255" in test["output"]


def test_wrong_return_forms_fail_with_the_contract(loaders_run):
    one = loaders_run.test("one_array", "outputs")
    assert one["grader"]["state"] == "failed" and one["score"] == 0
    assert "returned ndarray; return ((x_train, y_train), (x_test, y_test))" in one["output"]
    nothing = loaders_run.test("nothing", "outputs")
    assert nothing["grader"]["state"] == "not_implemented"
    assert "load_nothing('<cifar-10-batches-py folder>') returned None" in nothing["output"]


def test_not_implemented_and_raising_functions_name_file_and_line(loaders_run):
    todo = loaders_run.test("todo", "outputs")
    assert todo["grader"]["state"] == "not_implemented"
    assert "loaders.py line" in todo["output"]
    missing = loaders_run.test("missing_file", "outputs")
    assert missing["grader"]["state"] == "error"
    assert "FileNotFoundError" in missing["output"] and "loaders.py line" in missing["output"]


def test_patching_the_grader_inside_the_student_process_scores_nothing(loaders_run):
    forged = loaders_run.test("forge", "outputs")
    assert forged["grader"]["state"] == "failed" and forged["score"] == 0
    assert loaders_run.modules["imported"] == []  # the parent imported no TF, no student code


def test_a_function_task_with_a_model_check_is_refused_by_the_schema(tmp_path):
    from grader.parent.spec import SpecError, load_spec

    bad = _task("x", "f")
    bad["checks"]["params"] = {"points": 1, "trainable": 3}
    model_with_outputs = {"id": "y", "title": "y", "entry": {"file": "a.py", "function": "g"},
                          "checks": {"outputs": bad["checks"]["outputs"]}}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"id": "bad", "title": "b", "marker": "bad",
                                "tasks": [bad, model_with_outputs]}))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    text = "\n".join(err.value.problems)
    assert "tasks[0].checks" in text and "tasks[1].checks" in text


def test_the_shared_capture_and_verdict_helpers():
    from grader.build_worker.probes import ProbeMismatch, as_array, form
    from grader.parent.probes import verdict

    with pytest.raises(ProbeMismatch, match=r"^returned x_train as list, which is not an array"):
        as_array([[1, 2], [3]], "x_train")  # ragged: NumPy makes no array of it
    assert as_array([1, 2], "y").tolist() == [1, 2]
    assert (form((1, 2, 3)), form(None)) == ("a tuple of 3", "NoneType")
    failed = verdict("f.py: g", ["a", "b"], ["fix", "fix"], 0.5, {}, "fine")
    assert failed == {"state": "failed", "fraction": 0.5, "details": {},
                      "message": "f.py: g: a; b", "hints": ["fix"]}
    assert verdict("f.py: g", [], ["fix"], 0.5, {}, "fine")["message"] == "f.py: g: fine"


def test_arguments_the_grader_cannot_prepare_are_its_fault_not_the_students(tmp_path):
    from grader.build_worker.worker import _arguments

    job = {"file": "loaders.py", "function": "load", "kwargs": {},
           "args": [{"$npy": str(tmp_path / "gone.npy"), "label": "images"}]}
    _, failed = _arguments(job)
    assert failed.state == "error"
    assert failed.message.startswith("loaders.py: the grader could not prepare the "
                                     "arguments of load(images) (FileNotFoundError")
    assert "not your code's fault: report it to the course staff" in failed.message
    (arguments, kwargs), failed = _arguments({**job, "args": [1, {"$path": "/x", "label": "d"}]})
    assert failed is None and arguments == [1, "/x"] and kwargs == {}
