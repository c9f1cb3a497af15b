"""Where each student of a run stands: done, failed, running, pending or missing.

The run directory is the truth for what finished; squeue only adds what is
still queued or running. Precedence, first match wins:

    done     results/<student>.json exists (graded; the score is in it)
    corrupt  results/<student>.json exists but is cut short or not a results
             file ("corrupt result"): counted as no grade, and resubmitted by
             --only-missing (the task moves the bad file to results/.corrupt/)
    running  squeue lists the student's array task as running (or pending)
    failed   failed/<student>.json says why the last attempt made no result
    missing  nothing: never submitted, or its task was cancelled, timed out or
             lost its node (the attempts log tells which when it got that far)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from grader.parent.batch import manifest, slurm
from grader.parent.batch.results import CorruptResult, load_result
from grader.parent.batch.task import failed_path, read_attempts, results_path

STATES = ("done", "failed", "corrupt", "running", "pending", "missing")


@dataclass(frozen=True)
class StudentState:
    entry: manifest.Entry
    state: str
    reason: str = ""
    score: float | None = None
    max_score: float | None = None
    job: str = ""
    result: dict | None = field(default=None, compare=False, repr=False)  # when done


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
        by = ("stopped with its `grader batch run`" if job.startswith("local-")
              else "terminated by Slurm")
        return f"task {job} was {by} before it finished (see {log})", job
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
        data = None
        if result.exists():
            try:
                data = load_result(result)
            except CorruptResult as exc:
                if task is None:
                    students.append(StudentState(entry, "corrupt", str(exc)))
                    continue
                data = None  # its task is queued again: show that, and never queue it twice
        if data is not None:
            batch = (data.get("grader") or {}).get("batch") or {}
            reason = f"regrade queued as {task.job_id}_{task.index}" if task else ""
            students.append(StudentState(entry, "done", reason, data.get("score"),
                                         data.get("max_score"), batch.get("job", ""), data))
        elif task is not None:
            state = "pending" if task.state == "PENDING" else "running"
            if task.state == "PENDING":
                detail = f"waiting: {task.reason}" if task.reason else ""
            else:
                detail = "" if task.state == "RUNNING" else task.state.lower()
            students.append(StudentState(entry, state, detail,
                                         job=f"{task.job_id}_{task.index}"))
        elif (local := local_task(run, entry.student)) is not None:
            students.append(StudentState(entry, "running", "grading on this machine "
                                         "(`grader batch run`)", job=local))
        elif failed_path(run, entry.student).exists():
            record = _read_failure(failed_path(run, entry.student))
            students.append(StudentState(entry, "failed", str(record.get("reason", "?")),
                                         job=str(record.get("job", ""))))
        else:
            reason, job = _missing_reason(run, entry, available)
            students.append(StudentState(entry, "missing", reason, job=job))
    return RunState(students, available, problem)


def local_task(run: Path, student: str) -> str | None:
    """The job id of a `grader batch run` task grading STUDENT right now, or None.

    Such a task logs "started" under `local-PID_INDEX`; it still runs while the
    `grader batch run` process PID lives on this host (squeue knows nothing of it)."""
    attempts = read_attempts(run, student)
    if not attempts or attempts[-1]["event"] != "started":
        return None
    job, host = attempts[-1]["job"], attempts[-1]["host"]
    pid = job.removeprefix("local-").partition("_")[0]
    if not job.startswith("local-") or "_" not in job or not pid.isdigit() \
            or host != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, someone else's
    return job


def _read_failure(path: Path) -> dict:
    """failed/<student>.json, or a record saying it is unreadable (the student still failed)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        record = None
        why = str(exc)
    else:
        why = "not a JSON object"
    if isinstance(record, dict):
        return record
    return {"reason": f"the last attempt failed, but {path} is unreadable ({why}); "
                      "see the task's log in logs/"}
