"""What the tests of submissions as handed in share (test_handed_in*.py): the corpus,
its hand-adapted verdicts, one static grading per submission, and the comparison."""

from __future__ import annotations

import json
from typing import Any

from conftest import REPO, run_check

CORPUS = REPO / "tests" / "fixtures" / "handed_in"
FOUND_BY_THE_GRADER = {"run-with-settings", "capture"}
STATIC = {"architecture", "params", "lints", "graph"}


def expected(name: str) -> dict:
    return json.loads((CORPUS / f"{name}.expected.json").read_text())


def grade_each(names: list[str], tmp_path_factory: Any) -> dict[str, Any]:
    """Each submission graded once, as received, statically."""
    runs = {}
    for name in names:
        out = tmp_path_factory.mktemp(name)
        runs[name] = run_check(str(CORPUS / name), "--assignment",
                               expected(name)["assignment"], "--static", "-q",
                               json_path=out / "results.json")
    return runs


def verdict_differences(run: Any, name: str) -> list[str]:
    """Where the grading disagrees with the hand adaptation: a check the grader finds on
    its own with another verdict, or a task the student did not attempt that scored."""
    assert run.code in (0, 1) and "Traceback" not in run.stderr, run.stderr[-2000:]
    assert run.results["grader"]["complete"]
    want = expected(name)
    differ = []
    for task, checks in want["verdicts"].items():
        how = want.get("sources", {}).get(task, {}).get("adaptation")
        for check, verdict in checks.items():
            verdict = verdict["verdict"] if isinstance(verdict, dict) else verdict
            got = run.state(task, check)
            if verdict == "not attempted":
                if run.test(task, check)["score"] != 0:
                    differ.append(f"{task}.{check}: not attempted, yet scored")
            elif check in STATIC and how in FOUND_BY_THE_GRADER:
                if (got == "passed") != (verdict == "passed"):
                    differ.append(f"{task}.{check}: {verdict} by hand, {got} here: "
                                  + run.test(task, check)["output"][:200])
    return differ
