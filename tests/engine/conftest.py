"""Fixtures of the engine tests: real submissions on disk, graded once per session.

Each `grader check` run starts two TensorFlow processes (several seconds each), so
the expensive runs are session-scoped and many tests assert on one run's results.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest
from check_runs import Run, run_check  # noqa: F401 (tests import them from here)

REPO = Path(__file__).resolve().parents[2]

FIXTURES = Path(__file__).parent / "fixtures"

# The model of models.small(): Conv2D(4, 3x3, same, relu), MaxPooling2D(2), Flatten,
# Dense(3, softmax) on 8x8x1 inputs; 40 + 0 + 0 + 195 = 235 parameters.
SMALL_LAYERS = [
    {"type": "Conv2D", "filters": 4, "kernel_size": [3, 3], "padding": "same",
     "activation": "relu"},
    {"type": "MaxPooling2D", "pool_size": [2, 2]},
    {"type": "Flatten"},
    {"type": "Dense", "units": 3, "activation": "softmax"},
]
SMALL = {"architecture": {"points": 2, "layers": SMALL_LAYERS},
         "params": {"points": 1, "trainable": 235, "total": 235}}


def function_task(task_id: str, function: str, probe: str, params: dict, *,
                  file: str | list[str], points: float) -> dict:
    """A spec task of kind "function": ``function`` in ``file``, its outputs judged by
    ``probe`` with ``params``."""
    return {"id": task_id, "title": task_id, "kind": "function",
            "entry": {"file": file, "function": function},
            "checks": {"outputs": {"points": points, "probe": probe, "params": params}}}


def write_spec(path: Path, tasks: list[dict]) -> Path:
    """An assignment spec of ``tasks`` at ``path``, named after the file."""
    path.write_text(json.dumps({"id": path.stem, "title": path.stem, "marker": path.stem,
                                "tasks": tasks}))
    return path


def grade_functions(root: Path, tasks: list[dict], files: dict[str, str]) -> Run:
    """Grades a submission of ``files`` (name -> text) against a spec of ``tasks``
    through the real CLI, everything under ``root``. --static: a function task trains
    nothing, so it is graded under --static too."""
    sub = root / "submission"
    sub.mkdir()
    for name, text in files.items():
        (sub / name).write_text(text)
    spec = write_spec(root / "functions.json", tasks)
    return run_check(str(sub), "--assignment", str(spec), "--static",
                     json_path=root / "results.json")


# How a student reads the gzipped IDX files the MNIST fixtures are (magic, then one
# big-endian size per dimension), for test submissions; they import gzip and numpy.
READ_IDX = textwrap.dedent('''
    def _idx(path):
        with gzip.open(path, "rb") as handle:
            data = handle.read()
        dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(data[3])]
        return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * data[3]).reshape(dims)
''')


def task(task_id: str, function: str, checks: dict, file: str | list = "models.py",
         **extra) -> dict:
    return {"id": task_id, "title": task_id.replace("_", " "),
            "entry": {"file": file, "function": function, **extra.pop("entry", {})},
            "input_shape": [8, 8, 1], "num_classes": 3, "checks": checks, **extra}


ONE_POINT = {"params": {"points": 1, "trainable": 235}}
QUICK = {"limits": {"build_timeout_s": 5}}


def zoo_spec(daemon_marker: Path) -> dict:
    graph = lambda *need: {"graph": {"points": 1, "require": list(need)}}  # noqa: E731
    return {
        "id": "zoo", "title": "Engine test zoo", "marker": "zoo",
        "tasks": [
            task("ok", "small", {**SMALL, "lints": {"points": 1, "rules": [
                "softmax_from_logits", "dense_before_flatten", "output_classes"]}}),
            task("activation_apart", "activation_apart", SMALL),
            task("wrong_padding", "wrong_padding", SMALL),
            task("missing_pool", "missing_pool", SMALL),
            task("returns_none", "returns_none", ONE_POINT),
            task("raises", "raises", ONE_POINT),
            task("not_a_model", "not_a_model", ONE_POINT),
            task("calls_exit", "calls_exit", ONE_POINT),
            task("memory_hog", "memory_hog", ONE_POINT),
            task("hard_exit", "hard_exit", ONE_POINT),
            task("after_hard_exit", "small", ONE_POINT),
            task("hangs", "hangs", ONE_POINT, **QUICK),
            task("floods", "floods", ONE_POINT),
            # The pid file goes to the worker's own folder (it may write nothing else);
            # the marker names the daemon in its command line.
            task("daemon", "daemon", ONE_POINT,
                 entry={"kwargs": {"pidfile": "daemon.pid", "marker": str(daemon_marker)}}),
            task("from_logits", "from_logits", {"lints": {"points": 1,
                                                          "rules": ["softmax_from_logits"]}}),
            task("dense_first", "dense_first", {"lints": {"points": 1,
                                                          "rules": ["dense_before_flatten"]}}),
            task("sigmoid_two", "sigmoid_two", {"lints": {
                "points": 1, "rules": ["binary_sigmoid_units"],
                "warnings": ["output_classes"]}}, num_classes=2),
            task("inception", "inception", graph("inception"), input_shape=[8, 8, 3]),
            task("residual", "residual", graph("residual"), input_shape=[8, 8, 4]),
            task("no_blocks", "small", graph("inception", "residual")),
            task("frozen", "with_base", graph("frozen_base", "augmentation"),
                 entry={"args": [2]}, input_shape=[8, 8, 3]),
            task("fine_tuned", "with_base", graph("fine_tuned_base"),
                 entry={"args": [1]}, input_shape=[8, 8, 3]),
            task("not_frozen", "with_base", graph("frozen_base"),
                 entry={"args": [0]}, input_shape=[8, 8, 3]),
            task("custom_layer", "custom_layer", SMALL),
            task("lambda_layer", "lambda_layer", ONE_POINT),
            task("notebook", "build", {
                "architecture": {"points": 1, "layers": SMALL_LAYERS[2:]},
                "params": {"points": 1, "trainable": 195}},
                file=["solution.py", "student.ipynb"]),
            task("notebook_name_error", "build_bad", ONE_POINT,
                 file=["solution.py", "student.ipynb"]),
            task("custom_layer_trusted", "custom_layer", SMALL,
                 limits={"unverified": "trust"}),
            task("torch_frozen", "frozen_conv", {"params": {
                "points": 1, "trainable": 443, "non_trainable": 40, "total": 483}},
                file="torch_models.py", framework="torch", input_shape=[1, 8, 8]),
            task("torch_branchy", "branchy", ONE_POINT, file="torch_models.py",
                 framework="torch", input_shape=[1, 8, 8]),
            task("syntax_error", "build", ONE_POINT, file="syntax.py"),
            task("import_error", "build", ONE_POINT, file="broken_import.py"),
            task("import_hangs_a", "a", ONE_POINT, file="hangs_on_import.py", **QUICK),
            task("import_hangs_b", "b", ONE_POINT, file="hangs_on_import.py", **QUICK),
            task("missing_file", "build", ONE_POINT, file="nowhere.py"),
            task("corrupt_notebook", "build", ONE_POINT, file=["corrupt.py", "corrupt.ipynb"]),
            task("downloads_on_import", "build", ONE_POINT, file="downloads.py"),
            task("downloads_weights", "pretrained_weights", ONE_POINT,
                 entry={"kwargs": {"weights": None}}),
            task("asks_input", "build", ONE_POINT, file="asks.py"),
            # Last: its monkeypatches stay in the worker for every later task.
            task("cheat", "forged", SMALL, file="cheat.py"),
        ],
    }


def write_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# My solution"),
        nbformat.v4.new_code_cell("%matplotlib inline\nimport numpy as np\nimport keras\n"
                                  "from keras import layers"),
        nbformat.v4.new_code_cell("UNITS = 3\nSHAPE = (8, 8, 1)"),
        nbformat.v4.new_code_cell(
            "def build():\n"
            "    m = keras.Sequential([keras.Input(SHAPE), layers.Flatten(),\n"
            "                          layers.Dense(UNITS, activation='softmax')])\n"
            "    m.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\n"
            "    return m"),
        # Top-level training: if the grader ran this cell, the import would never end.
        nbformat.v4.new_code_cell(
            "model = build()\nx = np.random.rand(64, 8, 8, 1)\n"
            "model.fit(x, np.zeros(64), epochs=1)\nwhile True:\n    pass"),
        nbformat.v4.new_code_cell("import sys\nsys.exit(1)"),
        nbformat.v4.new_code_cell("print('unbalanced'"),
        # A value computed by a call is not kept, so a builder that needs it fails.
        nbformat.v4.new_code_cell("SHAPE2 = tuple(np.array([8, 8, 1]))"),
        nbformat.v4.new_code_cell(
            "def build_bad():\n    return keras.Sequential([keras.Input(SHAPE2)])"),
    ]
    nbformat.write(nb, str(path))


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory) -> Path:
    return make_zoo(tmp_path_factory.mktemp("zoo"))


def make_zoo(root: Path) -> Path:
    """The zoo submission and its spec under ``root``: every way a builder can fail."""
    sub = root / "submission"
    shutil.copytree(FIXTURES / "zoo", sub, ignore=shutil.ignore_patterns("__pycache__"))
    (sub / ".grader-assignment").write_text("zoo\n")
    (sub / "syntax.py").write_text("import keras\n\n\ndef build(:\n    pass\n")
    (sub / "broken_import.py").write_text("import keras_addons_that_is_not_installed\n\n\n"
                                          "def build():\n    pass\n")
    (sub / "hangs_on_import.py").write_text(
        "import time\n\nwhile True:\n    time.sleep(0.01)\n\n\ndef a():\n    pass\n\n\n"
        "def b():\n    pass\n")
    write_notebook(sub / "student.ipynb")
    # A notebook cut short in transfer: not JSON at all.
    (sub / "corrupt.ipynb").write_text('{"cells": [{"cell_type": "code", "source": "imp')
    # Top-level data loading at import, as `fashion_mnist.load_data()` does; the host
    # never resolves (.invalid), so this fails the same way with or without a network.
    (sub / "downloads.py").write_text(
        "import keras\n\npath = keras.utils.get_file('fashion.npz', "
        "origin='http://data.grader-test.invalid/fashion.npz')\n\n\ndef build():\n"
        "    pass\n")
    (sub / "asks.py").write_text("MODEL_NUMBER = int(input('model? '))\n\n\n"
                                 "def build():\n    pass\n")
    (root / "zoo.json").write_text(json.dumps(zoo_spec(root / "daemon.pid"), indent=1))
    return root


@pytest.fixture(scope="session")
def zoo(zoo_dir) -> Run:
    # Started fresh, as a lone `grader check` does; test_engine_failures.py grades the zoo
    # with warm workers too.
    return run_check(str(zoo_dir / "submission"), "--assignment", str(zoo_dir / "zoo.json"),
                     "--static", json_path=zoo_dir / "results.json", fresh=True)


@pytest.fixture(scope="session")
def practical2_as_text(tmp_path_factory) -> Run:
    """Practical 2 with model 2's second convolution 'valid' and model 4 exactly as
    the text lists it (no 10-way output layer); models 1 and 3 right."""
    root = tmp_path_factory.mktemp("p2text")
    sub = root / "submission"
    shutil.copytree(FIXTURES / "practical2_as_text", sub,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return run_check(str(sub), "--static", json_path=root / "results.json")


@pytest.fixture(scope="session")
def practical2_zip_model3(tmp_path_factory) -> Run:
    """practical2's reference handed in as carol.zip (the folder carol/ inside), graded
    with `--static --task model3`: one run for the zip test and the --task test."""
    import zipfile

    root = tmp_path_factory.mktemp("p2zip")
    sub = root / "carol"
    shutil.copytree(REPO / "reference" / "practical2", sub,
                    ignore=shutil.ignore_patterns("__pycache__"))
    with zipfile.ZipFile(root / "carol.zip", "w") as zf:
        for path in sorted(sub.rglob("*")):
            zf.write(path, path.relative_to(root).as_posix())
    shutil.rmtree(sub)  # only the zip is handed in
    return run_check(str(root / "carol.zip"), "--static", "--task", "model3",
                     json_path=root / "r.json")


@pytest.fixture(scope="session")
def grade():
    """`grade(*args, json_path=...)`: runs `grader check ARGS --json PATH`, returns a Run."""
    return run_check
