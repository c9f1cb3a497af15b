"""A builder that fails, in any way, fails its own task; the other tasks are still graded."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import (
    FIXTURES,
    ONE_POINT,
    REPO,
    SMALL,
    make_zoo,
    run_check,
    task,
    write_spec,
)

from grader.parent.spec import validation_problems


def test_a_correct_builder_scores_full_marks_beside_broken_ones(zoo):
    for check in ("architecture", "params", "lints"):
        assert zoo.state("ok", check) == "passed", zoo.test("ok", check)["output"]
    assert zoo.test("ok", "architecture")["score"] == 2


def test_the_run_is_graded_with_exit_1_and_a_valid_results_file(zoo):
    assert zoo.code == 1, zoo.stderr[-3000:]
    assert zoo.results["grader"]["complete"] is True
    assert zoo.results["grader"]["exit_code"] == 1


def test_syntax_error_names_file_and_line(zoo):
    out = zoo.test("syntax_error", "params")["output"]
    assert zoo.state("syntax_error", "params") == "error"
    assert "syntax.py line 4" in out and "SyntaxError" in out


def test_import_error_names_the_missing_module(zoo):
    out = zoo.test("import_error", "params")["output"]
    assert "broken_import.py" in out
    assert "keras_addons_that_is_not_installed" in out
    assert "ModuleNotFoundError" in out
    # The list of what the grader has is true: every library it names is importable.
    import importlib.util
    for module, label in [("torch", "PyTorch"), ("PIL", "Pillow"),
                          ("matplotlib", "Matplotlib"), ("sklearn", "scikit-learn")]:
        assert (label in out) == (importlib.util.find_spec(module) is not None), label


def test_a_corrupt_notebook_is_named_with_the_fix_and_the_rest_is_graded(zoo):
    out = zoo.test("corrupt_notebook", "params")["output"]
    assert zoo.state("corrupt_notebook", "params") == "error"
    assert "corrupt.ipynb: corrupt notebook" in out
    assert "save it again" in out and "corrupt.py" in out
    assert zoo.code == 1 and zoo.state("ok", "params") == "passed"


def test_download_at_import_says_there_is_no_network_and_where_to_move_it(zoo):
    out = zoo.test("downloads_on_import", "params")["output"]
    assert "downloads.py" in out and "no network" in out
    assert 'if __name__ == "__main__":' in out
    assert "run the function yourself" not in out


def test_builder_fetching_its_own_weights_is_told_to_use_the_weights_argument(zoo):
    out = zoo.test("downloads_weights", "params")["output"]
    assert "no network" in out and "weights=None" in out
    assert "`weights` argument" in out


def test_input_at_import_is_stood_in_and_what_followed_is_reported(zoo):
    # input() returns "" with a note; the file's int(input()) then fails at its line,
    # which the failed task's message names, and the rest of the file was still run.
    out = zoo.test("asks_input", "params")["output"]
    assert "running the file first: asks.py line 1: ValueError" in out
    notes = zoo.results["grader"]["tasks"]["asks_input"]["notes"]
    assert any("input()" in n for n in notes)


def test_builder_returning_none_is_told_to_return_the_model(zoo):
    assert zoo.state("returns_none", "params") == "not_implemented"
    out = zoo.test("returns_none", "params")["output"]
    assert "models.py: returns_none() returned None" in out and "return" in out


def test_builder_that_raises_names_file_line_and_error(zoo):
    out = zoo.test("raises", "params")["output"]
    assert "models.py line" in out and "raises()" in out
    assert "ValueError: the number of filters is not set" in out


def test_builder_returning_something_else_is_told_it_is_not_a_model(zoo):
    assert "returned str, not a keras.Model" in zoo.test("not_a_model", "params")["output"]


def test_sys_exit_in_a_builder_fails_only_that_task(zoo):
    out = zoo.test("calls_exit", "params")["output"]
    assert "sys.exit(3)" in out
    assert zoo.state("memory_hog", "params") == "error"  # the next task still ran


def test_hard_exit_kills_the_worker_and_a_fresh_one_grades_the_rest(zoo):
    out = zoo.test("hard_exit", "params")["output"]
    assert "exited with status 7" in out and "hard_exit()" in out
    assert zoo.state("after_hard_exit", "params") == "passed"
    assert zoo.results["grader"]["workers_started"]["build"] >= 2


def test_hanging_builder_times_out(zoo):
    out = zoo.test("hangs", "params")["output"]
    assert zoo.state("hangs", "params") == "error"
    assert "did not finish within 5 s" in out


def test_builder_printing_megabytes_is_graded_and_its_output_cut(zoo):
    # Scripts print summaries and training logs: printing is never a reason to fail.
    assert zoo.state("floods", "params") == "passed"
    # The output kept for the report is capped, not megabytes.
    assert len(zoo.results["grader"]["student_output"]) <= 70_000


def test_memory_limit_turns_a_huge_allocation_into_a_task_error(zoo):
    out = zoo.test("memory_hog", "params")["output"]
    assert "ran out of memory" in out and "3072 MiB" in out


def test_a_daemon_started_by_a_builder_does_not_outlive_grading(zoo, zoo_dir):
    assert zoo.state("daemon", "params") == "passed"  # passed only once the daemon started
    marker = str(zoo_dir / "daemon.pid").encode()
    for _ in range(50):
        # Found by its command line: in the build worker's PID namespace its pid differs.
        alive = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, marker)]
        if not alive:
            return
        time.sleep(0.1)
    raise AssertionError(f"the student's daemon (pid {alive[0].name}) is still running")


def _cmdline_has(proc: Path, marker: bytes) -> bool:
    try:
        return marker in (proc / "cmdline").read_bytes()
    except OSError:
        return False


def test_a_top_level_statement_that_hangs_is_stopped_and_the_file_still_runs(zoo):
    # The hanging loop costs its own statement (80% of the 5 s limit), not the file:
    # the functions after it are defined and called.
    for task_id in ("import_hangs_a", "import_hangs_b"):
        out = zoo.test(task_id, "params")["output"]
        assert "returned None" in out, out
        assert "hangs_on_import.py line 3: StatementTimeout: still running after 4 s" in out
        assert 'belongs under `if __name__ == "__main__":`' in out


def test_missing_entry_file_says_which_file(zoo):
    assert "nowhere.py not found" in zoo.test("missing_file", "params")["output"]


def test_the_parent_process_never_imports_tensorflow_or_student_code(zoo):
    assert zoo.modules["code"] == 1
    assert zoo.modules["imported"] == []


def test_sigterm_still_writes_the_results_with_what_was_graded(tmp_path):
    """A Slurm time limit sends SIGTERM: the tasks graded so far keep their results,
    the rest say the grader was stopped, and no worker outlives the grader."""
    sub = tmp_path / "submission"
    shutil.copytree(FIXTURES / "zoo", sub, ignore=shutil.ignore_patterns("__pycache__"))
    flag = "stalled"  # written in the worker's own folder, under TMPDIR (found below)
    (sub / "stall.py").write_text("import pathlib\nimport time\n\n\ndef stall(flag):\n"
                                  "    pathlib.Path(flag).write_text('stalled')\n"
                                  "    while True:\n        time.sleep(0.05)\n")
    spec = write_spec(tmp_path / "stop.json", [
        task("returns_none", "returns_none", ONE_POINT),
        task("missing_file", "build", ONE_POINT, file="nowhere.py"),
        task("stall", "stall", ONE_POINT, file="stall.py", entry={"kwargs": {"flag": flag}},
             limits={"build_timeout_s": 600}),
        task("after", "small", SMALL)])
    scratch = tmp_path / "tmp"  # the workers' command lines name it: found below
    scratch.mkdir()
    out = tmp_path / "results.json"
    proc = subprocess.Popen([sys.executable, "-m", "grader", "check", str(sub), "--assignment",
                             str(spec), "--static", "--json", str(out)], cwd=REPO,
                            env={**os.environ, "TMPDIR": str(scratch)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not list(scratch.rglob(flag)) and proc.poll() is None and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(scratch.rglob(flag)), "the stalling builder never ran"
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 2, stderr[-3000:]
    assert "Traceback" not in stderr
    results = json.loads(out.read_text())
    assert validation_problems(results, "results") == []
    assert results["grader"]["complete"] is False and results["grader"]["exit_code"] == 2
    assert "stopped by SIGTERM" in results["grader"]["errors"][-1]
    states = {t["name"]: (t["grader"]["state"], t["output"]) for t in results["tests"]}
    assert states["returns_none: params"][0] == "not_implemented"  # graded before the stop
    assert "nowhere.py not found" in states["missing_file: params"][1]
    for name in ("stall: params", "after: architecture", "after: params"):
        assert states[name][0] == "error"
        assert states[name][1].startswith("not graded: the grader was stopped by SIGTERM")
    assert "stopped by SIGTERM" in stderr
    marker = str(scratch).encode()
    for _ in range(50):
        alive = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, marker)]
        if not alive:
            return
        time.sleep(0.1)
    raise AssertionError(f"a worker (pid {alive[0].name}) outlived the stopped grader")


def test_an_endless_print_loop_fails_its_task_before_it_fills_the_disk(tmp_path):
    """Printing is fine; printing without end is stopped at the spec's flood limit, and
    the task says why, while a task that prints a log beside it is graded."""
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "models.py").write_text(
        "import keras\nfrom keras import layers\n\n\n"
        "def build():\n    return keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(),"
        " layers.Dense(3)])\n\n\n"
        "def chatty():\n    for epoch in range(200):\n        print(f'epoch {epoch}: loss 0.5')\n"
        "    return build()\n\n\n"
        "def endless():\n    while True:\n        print('x' * 1000)\n")
    spec = write_spec(tmp_path / "flood.json", [
        task("chatty", "chatty", {"params": {"points": 1, "trainable": 195}}),
        task("endless", "endless", {"params": {"points": 1, "trainable": 195}})])
    data = json.loads(spec.read_text())
    data["defaults"] = {"output_flood_bytes": 200_000}
    spec.write_text(json.dumps(data))
    run = run_check(str(sub), "--assignment", str(spec), "--static",
                    json_path=tmp_path / "r.json")
    assert run.state("chatty", "params") == "passed"
    assert run.state("endless", "params") == "error"
    assert "printed more than 200,000 bytes" in run.test("endless", "params")["output"]


def test_warm_workers_grade_the_zoo_as_fresh_ones(zoo, tmp_path):
    """Every way a builder can fail, graded by workers forked from warm servers
    (`grader batch run`): the same states, the same reasons, restarts forked too."""
    from grader.data.hiding import namespaces_available

    root = make_zoo(tmp_path)
    warm = run_check(str(root / "submission"), "--assignment", str(root / "zoo.json"),
                     "--static", json_path=root / "results.json")
    states = {t["name"]: t["grader"]["state"] for t in zoo.results["tests"]}
    assert {t["name"]: t["grader"]["state"] for t in warm.results["tests"]} == states
    assert warm.code == zoo.code
    started = warm.results["grader"]["workers_started"]
    if namespaces_available():
        assert started["warm"] == started["build"] + started["verify"], started
    assert started["build"] >= 2  # the hard exit's worker was replaced
    for task_id, words in (("hard_exit", "exited with status 7"),
                           ("hangs", "did not finish within 5 s"),
                           ("memory_hog", "ran out of memory"),
                           ("calls_exit", "sys.exit(3)")):
        assert words in warm.test(task_id, "params")["output"], task_id
    marker = str(root / "daemon.pid").encode()
    assert warm.state("daemon", "params") == "passed"  # so the daemon started
    time.sleep(1)
    assert not [p for p in Path("/proc").iterdir() if p.name.isdigit() and
                _cmdline_has(p, marker)], "the daemon outlived warm grading"
