"""Reading submissions without running them: notebooks reduced to their definitions."""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader.parent.submission import filter_notebook, prepare

REPO = Path(__file__).resolve().parents[2]


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(path))


def _import_filtered(path):
    """Runs a notebook's filtered code as the build worker imports it: (namespace,
    skipped cells). A NameError here is what would fail every task."""
    code, skipped = filter_notebook(path)
    namespace: dict = {"__name__": "nb"}
    exec(compile(code, "nb__grader_defs.py", "exec"), namespace)
    return namespace, skipped


def test_notebook_keeps_imports_definitions_and_constants_only(tmp_path):
    _notebook(tmp_path / "nb.ipynb",
              "!pip install keras\nimport keras\nfrom keras import layers as L",
              "EPOCHS = 5\nSHAPE: tuple = (28, 28, 1)\nDense = L.Dense\nNEG = -1 + 2 * 3",
              "data = keras.datasets.mnist.load_data()\nEPOCHS2 = len(data)",
              "class Block:\n    pass\n\ndef build():\n    return Block()",
              "if __name__ == '__main__':\n    build()")
    code, skipped = filter_notebook(tmp_path / "nb.ipynb")
    compile(code, "nb", "exec")  # the kept code is valid Python on its own
    for kept in ("import keras", "EPOCHS = 5", "Dense = L.Dense", "NEG = -1 + 2 * 3",
                 "def build():", "class Block:"):
        assert kept in code
    for dropped in ("load_data", "EPOCHS2", "pip install", "__main__"):
        assert dropped not in code
    assert [(c.index, c.reason) for c in skipped] == [
        (3, "top-level code not run"), (5, "top-level code not run")]


def test_syntax_errors_in_python_files_are_found_without_running_them(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "cnn.py").write_text("import os\nos.system('touch ran')\ndef build(:\n")
    prepared = prepare(sub, tmp_path / "scratch", ["cnn.py"])
    assert prepared["cnn.py"].syntax_error.startswith("cnn.py line 3: SyntaxError")
    assert not (sub / "ran").exists() and not (tmp_path / "scratch" / "ran").exists()


def test_a_value_computed_from_dropped_code_is_dropped_so_the_notebook_imports(tmp_path):
    _notebook(tmp_path / "nb.ipynb",
              '"""Practical 2, my solution."""\nimport numpy as np',
              "def load():\n    return (np.ones((2, 3)), 0), (np.ones((1, 3)), 0)",
              "(x_train, y_train), (x_test, y_test) = load()",
              "x_train = x_train / 255.0\nMODEL_NUMBER = 2\nRATE: float = 1 / 255.0",
              "SHAPE = x_train.shape[1:]\nALIAS = np.float32\nLATER = TOO_LATE",
              "TOO_LATE = 1",
              "def build_model(n):\n    return ('model', n, MODEL_NUMBER, RATE)")
    namespace, skipped = _import_filtered(tmp_path / "nb.ipynb")
    assert namespace["build_model"](4) == ("model", 4, 2, 1 / 255.0)
    assert namespace["ALIAS"] is namespace["np"].float32 and namespace["TOO_LATE"] == 1
    for dropped in ("x_train", "SHAPE", "LATER"):
        assert dropped not in namespace
    # The docstring is neither kept nor reported; each dropped statement is reported.
    assert [(c.index, c.reason, c.first_line) for c in skipped] == [
        (3, "top-level code not run", "(x_train, y_train), (x_test, y_test) = load()"),
        (4, "1 top-level statement(s) not run", "x_train = x_train / 255.0"),
        (5, "2 top-level statement(s) not run", "SHAPE = x_train.shape[1:]")]


def test_a_def_whose_default_or_decorator_reads_dropped_code_is_dropped_alone(tmp_path):
    _notebook(tmp_path / "nb.ipynb",
              "import sys\nEPOCHS = int(sys.argv[-1])\nSIZE = 28",
              "def fit(model, epochs=EPOCHS):\n    return epochs",
              "@register\ndef decorated():\n    pass",
              "class Net(Base):\n    pass",
              "def build(size=SIZE, *, scale=1 / 255):\n    return size, scale")
    namespace, skipped = _import_filtered(tmp_path / "nb.ipynb")  # the rest still imports
    assert namespace["build"]() == (28, 1 / 255)
    for dropped in ("EPOCHS", "fit", "decorated", "Net"):
        assert dropped not in namespace
    assert [(c.index, c.first_line) for c in skipped] == [
        (1, "EPOCHS = int(sys.argv[-1])"), (2, "def fit(model, epochs=EPOCHS):"),
        (3, "def decorated():"), (4, "class Net(Base):")]


def test_practical2_notebook_that_loads_normalises_and_trains_at_top_level(tmp_path, grade):
    """The cells students write after the builder: load, normalise, train. Grading
    keeps the builder and drops all three, instead of failing on x_train."""
    sub = tmp_path / "frank"
    sub.mkdir()
    (sub / ".grader-assignment").write_text("practical2\n")
    source = (REPO / "reference" / "practical2" / "cnn.py").read_text()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(source.split('\nif __name__ == "__main__":')[0]),
        nbformat.v4.new_code_cell(
            "(x_train, y_train), (x_test, y_test) = load_fashion_mnist('data')"),
        nbformat.v4.new_code_cell("x_train = x_train / 255.0\nx_test = x_test / 255.0"),
        nbformat.v4.new_code_cell("model = build_model(MODEL_NUMBER)\n"
                                  "model.fit(x_train, y_train, epochs=20)"),
    ]
    nbformat.write(nb, str(sub / "cnn.ipynb"))
    run = grade(str(sub), "--static", "--task", "model2", json_path=tmp_path / "r.json")
    assert run.code == 0, run.stderr[-2000:] + str(run.results.get("tests"))[:2000]
    assert run.results["score"] == run.results["max_score"] > 0
    skipped = run.results["grader"]["tasks"]["model2"]["skipped_cells"]
    assert [(c["index"], c["first_line"]) for c in skipped] == [
        (2, "(x_train, y_train), (x_test, y_test) = load_fashion_mnist('data')"),
        (3, "x_train = x_train / 255.0"),
        (4, "model = build_model(MODEL_NUMBER)")]
    assert "code cell 3 not run (top-level code not run): x_train = x_train / 255.0" in (
        " ".join(run.stdout.split()))
