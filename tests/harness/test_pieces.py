"""The harness's pure parts, on small inputs: IPython lines, statement splitting,
the override rewrite, bounded output."""

from __future__ import annotations

import ast

import keras

from grader.build_worker.harness.magics import plan_cell, strip_line_magics
from grader.build_worker.harness.output import BoundedText
from grader.build_worker.harness.rewrite import rewrite
from grader.build_worker.harness.statements import split


def test_python_that_parses_is_never_taken_for_a_magic():
    text = "x = (10\n% 3)\nprint(x)"
    assert strip_line_magics(text) == (text, [])


def test_magic_and_shell_lines_keep_the_cells_line_numbers():
    python, skipped = strip_line_magics(
        "%matplotlib inline\n!pip install x \\\n  y\nfiles = !ls\nif True:\n    !echo hi\n"
        "model.fit?\nz = 1")

    assert python.split("\n") == ["", "", "", "files = []", "if True:", "    pass", "", "z = 1"]
    assert [(s.line, s.kind) for s in skipped] == [
        (1, "line magic %matplotlib"), (2, "shell command"), (4, "shell command"),
        (6, "shell command"), (7, "help line (?)")]
    ast.parse(python)


def test_cell_magics_write_run_or_skip_the_cell():
    assert plan_cell("%%writefile -a utils/app.py\nimport os\n").writefile == \
        ("utils/app.py", "import os\n\n", True)
    timed = plan_cell("\n%%time\nmodel.fit(x)\n%ls")
    assert timed.run_body_of == "time"
    assert timed.python.split("\n") == ["", "", "model.fit(x)", ""]
    skipped = plan_cell("%%bash\nls")
    assert skipped.python is None and skipped.skipped[0].kind == "cell magic %%bash"


def test_a_syntax_error_loses_only_its_block():
    text = ("import os\n\n@decorate\ndef broken():\n    print 'x'\n\nclass Fine:\n    pass\n"
            "if True:\n    a = 1\nelse:\n    a = 2\n")
    statements = split(text, "f.py", "f.py", None)

    assert [(s.where.line, s.syntax_error is not None) for s in statements] == [
        (1, False), (3, True), (7, False), (9, False)]
    assert statements[1].first_line == "@decorate"


def test_notebook_statements_are_located_in_their_cell():
    [first, second] = split("a = 1\nb = (2,\n     3)", "nb.ipynb code cell 4", "nb.ipynb", 4)
    assert str(second.where) == "nb.ipynb code cell 4 line 2"
    assert first.filename == "nb.ipynb code cell 4"


def _rewritten(source: str, overrides: frozenset[str]) -> str:
    [node] = ast.parse(source).body
    return "\n".join(ast.unparse(n) for n in rewrite(node, overrides))


def test_overridden_assignments_are_replaced_at_top_level_and_through_global():
    names = frozenset({"N"})
    assert _rewritten("N = int(sys.argv[1])", names) == \
        "N = __grader_harness__.setting('N')"
    assert _rewritten("if x:\n    N: int = 2", names) == \
        "if x:\n    N: int = __grader_harness__.setting('N')"
    assert _rewritten("A, N = 1, 2", names) == \
        "A, N = (1, 2)\nN = __grader_harness__.setting('N')"
    assert "setting('N')" in _rewritten("def f():\n    global N\n    N = 3", names)
    assert "setting" not in _rewritten("def f():\n    N = 3\n    return N + 1", names)
    assert "setting" not in _rewritten("class C:\n    N = 3", names)


def test_returns_report_the_function_they_return_from():
    text = _rewritten("class B:\n    def make(self):\n        def inner():\n"
                      "            return 1\n        return inner()", frozenset())
    assert "__grader_harness__.returned(1, 'B.make.<locals>.inner')" in text
    assert "__grader_harness__.returned(inner(), 'B.make')" in text
    assert "returned" not in _rewritten("f = lambda: 3", frozenset())


def test_bounded_text_keeps_head_and_tail_and_counts_the_rest():
    out = BoundedText(20, "<stdout>")
    for i in range(100):
        out.write(f"{i:03d}\n")

    assert out.total == 400 and out.truncated
    value = out.getvalue()
    assert value.startswith("000\n001\n") and value.endswith("098\n099\n")
    assert "[... 380 characters cut by the grader ...]" in value


def test_a_compatibility_layers_fit_generator_is_stood_in_for_too(run_script, monkeypatch):
    def fit_generator(self, *args, **kwargs):  # what a Keras 2 shim might add
        raise AssertionError("the real one must not run")

    monkeypatch.setattr(keras.Model, "fit_generator", fit_generator, raising=False)
    report = run_script("""
        import keras
        import numpy as np

        def batches():
            while True:
                yield np.zeros((4, 3), "float32"), np.zeros(4, "int64")

        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit_generator(batches(), steps_per_epoch=5, epochs=2, workers=2)
    """)

    assert report.failures == []
    [fit] = report.models[0].fits
    assert (fit["method"], fit["epochs"], fit["steps_per_epoch"]) == ("fit_generator", 2, 5)
    assert fit["x"] == {"kind": "generator"}
    assert len(report.namespace["history"].history["loss"]) == 2
    assert keras.Model.fit_generator is fit_generator


def test_a_script_exported_from_colab_and_ipython_calls(run_script, submission):
    report = run_script("""
        !pip install -q tensorflow
        import numpy as np
        get_ipython().system('nvidia-smi')
        get_ipython().run_cell_magic('writefile', 'helper.py', 'VALUE = 41\\n')
        import helper
        answer = helper.VALUE + 1
        print(np.float32(answer))
    """, name="hw2.py")

    assert report.failures == []
    assert report.namespace["answer"] == 42
    assert (submission / "helper.py").is_file()
    notes = "\n".join(report.notes)
    assert "shell commands did not run" in notes and "(hw2.py line 1)" in notes
    assert "get_ipython().system(...): skipped" in notes
    assert report.stdout == "42.0\n"
