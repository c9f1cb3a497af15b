"""What grading one submission produces, and the options it runs under: the data the
pipeline's steps hand each other (grader/parent/pipeline/__init__.py lists them)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import registry
from grader.protocol import FAILED_STATES, BuildResult, State

STOPPED = ("not graded: the grader was stopped by SIGTERM (a batch time limit or scancel) "
           "before this task was done; grade the submission again with more time")


class Stopped(BaseException):
    """Raised by `grader check`'s SIGTERM handler: grading stops and keeps what it has.
    Not an Exception, so that no `except Exception` on the way swallows it."""


@dataclass(frozen=True)
class RunOptions:
    """How this submission is graded; every step reads the same decisions from here."""

    static: bool = False  # `--static`: the checks that train are skipped
    data_dir: str | None = None
    require_gpu: bool = False
    # `--map TASK=FILE:NAME`: task id -> (file, name or None), pinned by an instructor.
    maps: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    # `--train-cache DIR`: reuse grader-trained accuracy results by architecture and
    # settings (grader/verify_worker/train_cache.py); None trains every model.
    train_cache: str | None = None
    # `--time-budget S`: wall clock for the whole submission (else the spec's
    # defaults.time_budget_s); once spent no job starts (grader/parent/sandbox.py Budget).
    time_budget_s: float | None = None
    # Warm workers lent by `grader batch run` (grader/parent/warm.py Launchers), or None.
    warm: Any = None

    def skip_reason(self, check: str) -> str | None:
        """Why ``check`` does not run at all in this run, or None. `--static` is
        decided here and nowhere else: skipped checks never reach a worker."""
        if self.static and check in registry.training_checks():
            return "--static (no training)"
        return None


@dataclass
class TaskOutcome:
    task: dict[str, Any]
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> CheckResult
    build: BuildResult | None = None
    verified: bool | None = None
    entry_file: str | None = None
    skipped_cells: list[dict[str, Any]] = field(default_factory=list)
    # What a person should know about how this task was graded: a file that stood in
    # for the spec's, the captured model that was matched to it.
    notes: list[str] = field(default_factory=list)



@dataclass
class Grading:
    assignment: str | None
    submission: Path
    tasks: list[TaskOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    complete: bool = True
    fatal: bool = False  # could not grade at all (exit 2)
    stopped: bool = False  # SIGTERM arrived; the workers are gone (see _halt_workers)
    seconds: float = 0.0
    student_output: str = ""
    verify_output: str = ""  # the verify worker's own output, for grader bugs
    workers: dict[str, int] = field(default_factory=dict)
    # Seconds since the start at which each worker event arrived (for benchmarks).
    timeline: list[tuple] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    @property
    def exit_code(self) -> int:
        if self.fatal:
            return 2
        states = [c["state"] for t in self.tasks for c in t.checks.values()]
        # A check the machine could not run is no pass either: never exit 0 for it.
        return 1 if any(s in FAILED_STATES or s == State.NOT_RUN for s in states) else 0



def time_budget(spec_defaults: dict[str, Any], run: RunOptions) -> float | None:
    """The submission's time budget in seconds: `--time-budget`, else the spec's
    ``defaults.time_budget_s``, else None (no budget: only each job's own limit)."""
    value = run.time_budget_s if run.time_budget_s is not None else \
        spec_defaults.get("time_budget_s")
    return float(value) if value else None


def fail_all(task: dict[str, Any], state: str, message: str) -> dict[str, dict[str, Any]]:
    return {name: {"state": State(state), "message": message, "hints": [], "details": {}}
            for name in task["checks"]}

