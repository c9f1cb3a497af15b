"""A statement that fails, hangs, exits or floods the output costs that statement only:
the run records it and goes on."""

from __future__ import annotations

import time

from grader.build_worker.harness import NoNetwork


def test_a_top_level_endless_loop_is_stopped_by_the_statement_limit(run_script):
    started = time.monotonic()
    report = run_script("""
        import keras
        print("before the loop")
        while True:
            try:
                spin = 1
            except Exception:  # the limit is not an Exception: this cannot swallow it
                pass
        print("after the loop")
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    """, statement_timeout_s=2)

    assert time.monotonic() - started < 15
    [failure] = report.failures
    assert (str(failure.where), failure.kind, failure.error) == \
        ("train.py line 3", "timeout", "StatementTimeout")
    assert failure.message.startswith("still running after 2 s")
    assert failure.statement == "while True:"
    assert "after the loop" in report.stdout
    assert [m.name for m in report.models] == ["model"]


def test_fifty_megabytes_of_printing_is_cut_not_a_failure(run_script):
    report = run_script("""
        import sys
        import keras
        print("first line")
        for i in range(1000):
            print("x" * 50_000)
        sys.stdout.buffer.write(b"bytes too\\n")
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        print("last line")
    """, output_limit=10_000)

    assert report.failures == []
    assert report.printed["stdout"] > 50_000_000
    assert len(report.stdout) < 11_000
    assert report.stdout.startswith("first line\n")
    assert report.stdout.rstrip().endswith("bytes too\nlast line")
    assert "characters cut by the grader" in report.stdout
    assert [m.name for m in report.models] == ["model"]


def test_a_syntax_error_costs_only_its_own_block(run_script):
    report = run_script("""
        import keras

        def describe(model):
            print "parameters:", model.count_params()

        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        print(model.count_params())
    """)

    [failure] = report.failures
    assert (str(failure.where), failure.kind, failure.error) == \
        ("train.py line 3", "syntax", "SyntaxError")
    assert str(failure.raised_at) == "train.py line 4"
    assert "Missing parentheses" in failure.message
    assert [m.name for m in report.models] == ["model"]
    assert report.stdout.strip() == "8"


def test_exit_download_and_input_are_recorded_and_the_run_goes_on(run_script):
    report = run_script("""
        import sys
        import keras
        path = keras.utils.get_file("cats.zip", origin="https://example.com/cats.zip")
        (x, y), _ = keras.datasets.imdb.load_data()
        name = input("Your name: ")
        sys.exit(3)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    """)

    assert [(str(f.where), f.kind, f.error) for f in report.failures] == [
        ("train.py line 3", "error", "NoNetwork"),
        ("train.py line 4", "error", "NoNetwork"),
        ("train.py line 6", "exit", "SystemExit"),
    ]
    assert "keras.utils.get_file('https://example.com/cats.zip'): the grader has no network" \
        in report.failures[0].message
    assert report.failures[2].message == "called sys.exit(3)"
    assert issubclass(NoNetwork, ConnectionError)
    assert report.namespace["name"] == ""
    assert report.stdout == "Your name: "
    assert [m.name for m in report.models] == ["model"]


def test_an_exception_inside_a_function_points_at_the_students_line(run_script):
    report = run_script("""
        import numpy as np

        def load(path):
            return np.load(path)

        data = load("/data/train.npz")
    """)

    [failure] = report.failures
    assert str(failure.where) == "train.py line 6"
    assert failure.raised_at.describe() == "train.py line 4 in load()"
    assert failure.error == "FileNotFoundError"
    assert "train.py" in failure.traceback and "runner.py" not in failure.traceback


def test_overrides_replace_every_assignment_and_are_preset(run_script):
    report = run_script("""
        import sys
        print("preset:", MODEL_NUMBER)
        MODEL_NUMBER = int(sys.argv[1])
        EPOCHS = 5

        def pick():
            global MODEL_NUMBER
            MODEL_NUMBER = 99
            return MODEL_NUMBER

        PICKED = pick()
        A, MODEL_NUMBER = 1, 42
        AFTER_TUPLE = MODEL_NUMBER
        MODEL_NUMBER += 1
        globals()["MODEL_NUMBER"] = 7
        FINAL = MODEL_NUMBER
    """, overrides={"MODEL_NUMBER": 3})

    # int(sys.argv[1]) is never evaluated: sys.argv is just ["train.py"]
    assert report.failures == []
    ns = report.namespace
    assert (ns["PICKED"], ns["A"], ns["AFTER_TUPLE"], ns["FINAL"], ns["EPOCHS"]) == (3, 1, 3, 3, 5)
    assert report.stdout.startswith("preset: 3")
    [note] = [n for n in report.notes if n.startswith("MODEL_NUMBER = 3")]
    assert note.endswith("(train.py line 3, train.py line 8 in pick(), train.py line 12, "
                         "train.py line 14, train.py line 15)")
