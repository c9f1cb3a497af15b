"""The gradebook of a run: one row per student, a column per task, the total.

Task scores are the sums of each results file's tests grouped by their first
tag (the task id, see DESIGN.md); the total is the file's top-level `score`,
which is what Gradescope would show. Students without a result stay in the
gradebook with empty cells and their state, so an LMS import never silently
turns "not graded" into zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader.files import write_atomic
from grader.parent.batch.state import RunState, run_state

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Gradebook:
    grades: pd.DataFrame      # student, <task>..., total, max_score, state
    summary: pd.DataFrame     # per task and total: out_of, graded, mean, median, min, max
    checks: pd.DataFrame      # per check: task, check, graded, passed, not_run, pass_rate
    problems: pd.DataFrame    # student, state, reason: everyone without a grade
    tasks: list[str]

    def to_csv(self, path: Path) -> Path:
        """Writes the gradebook for an LMS import: student id first, empty cells when ungraded."""
        return write_atomic(path, lambda fh: self.grades.to_csv(fh, index=False,
                                                                float_format="%g"))


def _task_scores(data: dict) -> tuple[dict[str, float], dict[str, float], list[tuple]]:
    scores: dict[str, float] = {}
    out_of: dict[str, float] = {}
    checks = []
    for test in data.get("tests", []):
        tags = test.get("tags") or ["(untagged)"]
        task = tags[0]
        scores[task] = scores.get(task, 0.0) + float(test.get("score", 0))
        out_of[task] = out_of.get(task, 0.0) + float(test.get("max_score", 0))
        # A skipped check (accuracy under --static) or one a person grades says
        # nothing about how many students passed it; one not run (data or weights
        # missing on the grading machine) is counted apart, never as failed.
        state = (test.get("grader") or {}).get("state")
        if state in ("skipped", "manual"):
            continue
        checks.append((task, test.get("name", "?"), test.get("status") == "passed",
                       float(test.get("max_score", 0)), state == "not_run"))
    return scores, out_of, checks


def build(run: Path, state: RunState | None = None) -> Gradebook:
    """Reads every results file of RUN into a Gradebook (pandas imported here, not at start-up)."""
    import pandas as pd

    state = state or run_state(run)
    rows: list[dict] = []
    check_rows: list[dict] = []
    tasks: list[str] = []
    out_of: dict[str, float] = {}
    total_out_of = 0.0
    for st in state.students:
        row: dict = {"student": st.entry.student}
        if st.state == "done" and st.result is not None:
            # Read and checked by run_state (grader/parent/batch/results.py): a corrupt
            # file is a "corrupt" state with its reason, never an exception here.
            data = st.result
            scores, maxima, checks = _task_scores(data)
            for task in scores:
                if task not in tasks:
                    tasks.append(task)
            row.update(scores)
            row["total"] = float(data.get("score", sum(scores.values())))
            row["max_score"] = float(data.get("max_score", sum(maxima.values())))
            total_out_of = max(total_out_of, row["max_score"])
            for task, m in maxima.items():
                out_of[task] = max(out_of.get(task, 0.0), m)
            for task, name, passed, max_score, not_run in checks:
                check_rows.append({"student": st.entry.student, "task": task, "check": name,
                                   "passed": passed and not not_run, "max_score": max_score,
                                   "graded": not not_run, "not_run": not_run})
            # The checks this student's grading could not run: the row says which, so a
            # score without them is never read as complete.
            row["not_run"] = " ".join(name.replace(": ", ".") for _, name, _, _, nr in checks
                                      if nr)
        row["state"] = st.state
        rows.append(row)

    columns = ["student", *tasks, "total", "max_score", "state", "not_run"]
    grades = pd.DataFrame(rows).reindex(columns=columns)

    stats = []
    for col in [*tasks, "total"]:
        values = grades.loc[grades["state"] == "done", col].astype(float)
        stats.append({
            "task": col, "out_of": total_out_of if col == "total" else out_of.get(col, 0.0),
            "graded": int(values.count()), "mean": values.mean(), "median": values.median(),
            "min": values.min(), "max": values.max(),
        })
    summary = pd.DataFrame(stats, columns=["task", "out_of", "graded", "mean", "median",
                                           "min", "max"])

    check_frame = pd.DataFrame(check_rows, columns=["student", "task", "check", "passed",
                                                    "max_score", "graded", "not_run"])
    checks = (check_frame.groupby(["task", "check"], sort=False)
              .agg(graded=("graded", "sum"), passed=("passed", "sum"),
                   not_run=("not_run", "sum"))
              .reset_index())
    # Tasks in gradebook order; checks of one task in the order the results list them.
    checks = checks.sort_values("task", key=lambda col: col.map(tasks.index), kind="stable")
    checks = checks.reset_index(drop=True)
    for col in ("passed", "graded", "not_run"):
        checks[col] = checks[col].astype(int)
    checks["pass_rate"] = checks["passed"] / checks["graded"].where(checks["graded"] > 0)

    problems = pd.DataFrame(
        [{"student": st.entry.student, "state": st.state, "reason": st.reason}
         for st in state.students if st.state != "done"],
        columns=["student", "state", "reason"])
    return Gradebook(grades, summary, checks, problems, tasks)
