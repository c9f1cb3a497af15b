"""Where each student of a run stands: done, failed, running, pending or missing.

The run directory is the truth for what finished; squeue only adds what is
still queued or running. Precedence, first match wins:

    done     results/<student>.json exists (graded; the score is in it)
    running  squeue lists the student's array task as running (or pending)
    failed   failed/<student>.json says why the last attempt made no result
    missing  nothing: never submitted, or its task was cancelled, timed out or
             lost its node (the attempts log tells which when it got that far)
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from grader.batch import manifest, slurm
from grader.batch.task import failed_path, read_attempts, results_path

STATES = ("done", "failed", "running", "pending", "missing")


@dataclass(frozen=True)
class StudentState:
    entry: manifest.Entry
    state: str
    reason: str = ""
    score: float | None = None
    max_score: float | None = None
    job: str = ""


@dataclass(frozen=True)
class RunState:
    students: list[StudentState]
    squeue_available: bool
    squeue_problem: str = ""  # why running tasks could not be listed, when they could not

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for st in self.students if st.state == s) for s in STATES}

    def indices(self, *states: str) -> list[int]:
        return [st.entry.index for st in self.students if st.state in states]


def _last_line(path: Path) -> str:
    lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else "(empty log)"


def _missing_reason(run: Path, entry: manifest.Entry,
                    squeue_available: bool) -> tuple[str, str]:
    student = entry.student
    attempts = read_attempts(run, student)
    if not attempts:
        # Slurm ran the script but grader never started: a missing container
        # runtime or image, a wrong --grader, a node without the file system.
        logs = sorted((run / "logs").glob(f"*_{entry.index}.out"),
                      key=lambda p: p.stat().st_mtime)
        if logs:
            job = logs[-1].name.removesuffix(".out")
            return (f"task {job} ended before grading began: {_last_line(logs[-1])} "
                    f"(see {logs[-1]})"), job
        return "never ran: not submitted yet, or still waiting in a queue", ""
    last = attempts[-1]
    job = last.get("job", "")
    log = run / "logs" / f"{job}.out"
    if last["event"] == "cancelled":
        return f"task {job} was terminated by Slurm before it finished (see {log})", job
    if last["event"] == "started":
        where = "" if squeue_available else " (squeue unavailable: it may still be running)"
        return (f"task {job} started on {last.get('host', '?')} and never finished: cancelled, "
                f"out of time or its node died{where} (see {log})"), job
    return f"last attempt {job}: {last['event']} {last.get('detail', '')}".strip(), job


def run_state(run: Path, use_squeue: bool = True) -> RunState:
    """The state of every manifest line of RUN, using squeue when it is on the PATH."""
    entries = manifest.read_manifest(run)
    queued: dict[int, slurm.QueuedTask] | None = None
    problem = ""
    if use_squeue:
        try:
            queued = slurm.queued_tasks(j.job_id for j in slurm.read_jobs(run))
        except (slurm.SlurmError, OSError, subprocess.SubprocessError) as exc:
            # Results on disk are still worth showing when the controller is down.
            problem = str(exc)
        else:
            if queued is None:
                problem = "squeue is not on the PATH"
    available = queued is not None
    queued = queued or {}
    students: list[StudentState] = []
    for entry in entries:
        result = results_path(run, entry.student)
        task = queued.get(entry.index)
        if result.exists():
            data = json.loads(result.read_text())
            batch = data.get("grader", {}).get("batch", {})
            reason = f"regrade queued as {task.job_id}_{task.index}" if task else ""
            students.append(StudentState(entry, "done", reason, data.get("score"),
                                         data.get("max_score"), batch.get("job", "")))
        elif task is not None:
            state = "pending" if task.state == "PENDING" else "running"
            if task.state == "PENDING":
                detail = f"waiting: {task.reason}" if task.reason else ""
            else:
                detail = "" if task.state == "RUNNING" else task.state.lower()
            students.append(StudentState(entry, state, detail,
                                         job=f"{task.job_id}_{task.index}"))
        elif failed_path(run, entry.student).exists():
            record = json.loads(failed_path(run, entry.student).read_text())
            students.append(StudentState(entry, "failed", record.get("reason", "?"),
                                         job=record.get("job", "")))
        else:
            reason, job = _missing_reason(run, entry, available)
            students.append(StudentState(entry, "missing", reason, job=job))
    return RunState(students, available, problem)
