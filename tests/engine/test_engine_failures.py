"""A builder that fails, in any way, fails its own task; the other tasks are still graded."""

from __future__ import annotations

import time
from pathlib import Path


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


def test_input_at_import_says_there_is_no_stdin(zoo):
    out = zoo.test("asks_input", "params")["output"]
    assert "asks.py" in out and "input()" in out and "stdin" in out


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


def test_builder_printing_megabytes_fails_its_task(zoo):
    out = zoo.test("floods", "params")["output"]
    assert "printed more than 65,536 bytes" in out
    # The output kept for the report is capped, not megabytes.
    assert len(zoo.results["grader"]["student_output"]) <= 70_000


def test_memory_limit_turns_a_huge_allocation_into_a_task_error(zoo):
    out = zoo.test("memory_hog", "params")["output"]
    assert "ran out of memory" in out and "3072 MiB" in out


def test_a_daemon_started_by_a_builder_does_not_outlive_grading(zoo, zoo_dir):
    assert zoo.state("daemon", "params") == "passed"
    assert (zoo_dir / "daemon.pid").read_text()  # it did start
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


def test_a_file_whose_import_hangs_fails_all_its_tasks_after_one_timeout(zoo):
    for task in ("import_hangs_a", "import_hangs_b"):
        out = zoo.test(task, "params")["output"]
        assert "importing the file did not finish within 5 s" in out, out


def test_missing_entry_file_says_which_file(zoo):
    assert "nowhere.py not found" in zoo.test("missing_file", "params")["output"]


def test_the_parent_process_never_imports_tensorflow_or_student_code(zoo):
    assert zoo.modules["code"] == 1
    assert zoo.modules["imported"] == []
