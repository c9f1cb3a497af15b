"""Reading submissions without running them: notebooks reduced to their definitions."""

from __future__ import annotations

import nbformat

from grader.submission import filter_notebook, prepare


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(path))


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
