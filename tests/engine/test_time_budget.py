"""A time budget per submission (issue 13): `grader check --time-budget S`.

A submission whose every builder sleeps forever would cost one build timeout per
task (120 s each by default) and a worker restart after each; with a budget it
costs the budget. One `grader check` run: four tasks that hang, a budget of 15 s.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from check_runs import Run, run_check

from grader.parent.pipeline.outcome import RunOptions, time_budget
from grader.parent.spec import validation_problems

BUDGET = 15
TASKS = [f"hang{i}" for i in range(1, 5)]

HANGING = '''import time


def build_model(n):
    time.sleep(10 ** 6)  # hangs, as a builder waiting on input() or a download does
'''


def _spec() -> dict:
    # The spec's own default is far larger: the command line's value wins.
    return {"id": "hangs", "title": "hangs", "marker": "hangs",
            "defaults": {"time_budget_s": 900},
            "tasks": [{"id": t, "title": t,
                       "entry": {"file": ["cnn.py"], "function": "build_model", "args": [i]},
                       "input_shape": [8, 8, 1], "num_classes": 3,
                       "checks": {"params": {"points": 1, "trainable": 235}}}
                      for i, t in enumerate(TASKS, 1)]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Run, float]:
    root = tmp_path_factory.mktemp("time-budget")
    sub = root / "submission"
    sub.mkdir()
    (sub / "cnn.py").write_text(HANGING)
    spec = root / "hangs.json"
    spec.write_text(json.dumps(_spec()))
    started = time.monotonic()
    run = run_check(str(sub), "--assignment", str(spec), "--static", "--time-budget",
                    str(BUDGET), json_path=root / "results.json", timeout=300)
    return run, time.monotonic() - started


def test_hanging_submission_costs_its_budget_not_a_timeout_per_task(graded):
    run, seconds = graded
    # Budget, plus the grader's own start and the results: far from 4 x 120 s.
    assert seconds < BUDGET + 30, seconds
    assert run.results["tests"], run.stderr  # the results file is written
    assert run.code == 1, run.stderr


def test_every_task_says_it_was_not_graded_for_time(graded):
    run, _ = graded
    messages = {t: run.test(t, "params")["output"] for t in TASKS}
    for task in TASKS:
        assert run.state(task, "params") == "error"
        assert f"not graded: this submission used up its time budget of {BUDGET} s" in \
            messages[task], messages[task]
    # The builder that was running when the budget ran out was stopped, and the tasks
    # after it say what the time went on. (On a machine so loaded that the workers'
    # start took the whole budget, no builder ran: each task says that instead.)
    stopped = [t for t in TASKS if "this task was stopped after" in messages[t]]
    if stopped:
        assert stopped == ["hang1"], messages
        assert "the tasks before it took: hang1" in messages["hang2"], messages["hang2"]
    else:
        assert all("starting the workers took the rest" in m for m in messages.values())


def test_budget_comes_from_the_command_line_else_the_spec():
    defaults = {"time_budget_s": 300}
    assert time_budget(defaults, RunOptions()) == 300.0
    assert time_budget(defaults, RunOptions(time_budget_s=20)) == 20.0
    assert time_budget({}, RunOptions()) is None
    spec = _spec()
    assert validation_problems(spec, "assignment") == []
    spec["defaults"]["time_budget_s"] = 0
    assert validation_problems(spec, "assignment")


def test_a_submission_without_a_budget_is_unaffected(tmp_path: Path):
    """No budget given and none in the spec: nothing changes for the workers."""
    from grader.parent import sandbox

    assert sandbox.WorkerSpec(argv=[], cwd=tmp_path, env={}, memory_mb=None,
                              output_limit=0, job_timeout=lambda job: 1.0).budget is None
