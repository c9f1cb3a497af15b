"""`grader batch run`: a planned class graded on this machine, N students at a time.

Each student is graded by the very command a Slurm array task runs,
`grader batch run-task RUN INDEX`, in a child process of its own: the states,
the attempts log, the results and failed files, and what --only-missing and
--regrade mean are therefore the Slurm path's, line for line. The child's output
goes to RUN/logs/local-PID_INDEX.out, as a Slurm task's goes to logs/JOB_INDEX.out.

The workers come warm: this process holds one forkserver per worker kind
(grader/parent/warm.py) and hands each task a channel to them, so a student's
workers cost a fork, not a TensorFlow import each (`--no-warm` starts them fresh).

Stopping (Ctrl-C, SIGTERM) sends SIGTERM to every child's process group: the
task logs "cancelled" and leaves no results file (see task.py), so the next
`grader batch run` grades exactly the students that were in flight.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.parent.batch import manifest
from grader.parent.batch.plan import load_plan
from grader.parent.batch.state import run_state
from grader.parent.batch.task import (
    LOCAL_JOB_ENV,
    TaskIds,
    failed_path,
    read_attempts,
    skip_if_graded,
)
from grader.parent.spec import load_spec

GRACE_S = 20  # after SIGTERM, how long a task may take to log its cancellation

@dataclass(frozen=True)
class Event:
    """One student's task is over: outcome is graded, failed or cancelled."""

    outcome: str
    entry: manifest.Entry
    seconds: float
    detail: str = ""  # the score, or why it failed


@dataclass
class Selection:
    grade: list[manifest.Entry]
    skip: list[manifest.Entry]            # already graded: skipped, as a Slurm task would
    busy: list[str] = field(default_factory=list)  # queued or running elsewhere: left alone


def _available_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // (1 << 20)
    except (ValueError, OSError):
        return None


def default_jobs(assignment: str) -> tuple[int, str]:
    """How many students to grade at once here, and the sum that says why (JOBS_RULE)."""
    spec = load_spec(assignment)
    # Each student's build worker is held to memory_mb (RLIMIT_AS); the largest task's
    # limit is what one student may need at a time.
    per_student = max(int(spec.limits(t)["memory_mb"]) for t in spec.tasks)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    available = _available_mb()
    by_memory = cores if available is None else available // per_student
    jobs = max(1, min(cores, by_memory))
    memory = "unknown memory" if available is None else (
        f"{available / 1024:.1f} GiB available / {per_student / 1024:.1f} GiB per student")
    return jobs, f"{cores} cores, {memory}"


def select(run: Path, only_missing: bool, regrade: bool) -> Selection:
    """Which students this run grades, by the rules `grader batch submit` applies."""
    state = run_state(run)
    busy = [s for s in state.students if s.state in ("running", "pending")]
    chosen = [s for s in state.students if s.state not in ("running", "pending")]
    if only_missing:
        chosen = [s for s in chosen if s.state in ("missing", "failed", "corrupt")]
    skip = [] if regrade else [s.entry for s in chosen if s.state == "done"]
    grade = [s.entry for s in chosen if s.entry not in skip]
    return Selection(grade, skip, [s.entry.student for s in busy])


def log_skips(run: Path, entries: list[manifest.Entry]) -> None:
    """Logs "skipped" for students that already have a result, as their array task would."""
    for entry in entries:
        ids = TaskIds(f"local-{os.getpid()}_{entry.index}", socket.gethostname())
        skip_if_graded(run, entry, ids, regrade=False)


@dataclass
class _Running:
    entry: manifest.Entry
    proc: subprocess.Popen
    started: float


def grade(run: Path, entries: list[manifest.Entry], jobs: int, regrade: bool,
          on_start: Callable[[manifest.Entry], None], on_event: Callable[[Event], None],
          warm: bool = True) -> int:
    """Grades ENTRIES, JOBS at a time; returns 0, or the signal number that stopped it.

    A stop (SIGINT, SIGTERM) cancels the tasks in flight and starts no more.
    ``warm``: workers forked from warm servers (else each starts Python afresh)."""
    load_plan(run)  # a bad plan is one error here, not one per student
    logs = run / "logs"
    logs.mkdir(exist_ok=True)
    if not entries:
        return 0
    from grader.parent.warm import WarmPool

    pool = WarmPool(logs) if warm else None
    try:
        return _grade(run, entries, jobs, regrade, on_start, on_event, pool)
    finally:
        if pool is not None:
            pool.close()


def _grade(run: Path, entries: list[manifest.Entry], jobs: int, regrade: bool,
           on_start: Callable[[manifest.Entry], None], on_event: Callable[[Event], None],
           pool: object) -> int:
    todo = list(entries)
    running: list[_Running] = []
    logs = run / "logs"

    stopped: list[int] = []

    def stop(signum: int, frame: object) -> None:
        # Only noted here: the loop below acts on it between two steps, so no child
        # can be started and then lost from `running`.
        stopped.append(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while (todo or running) and not stopped:
            while todo and len(running) < jobs and not stopped:
                entry = todo.pop(0)
                running.append(_start(run, entry, regrade, logs, pool))
                on_start(entry)
            time.sleep(0.2)
            for task in [t for t in running if t.proc.poll() is not None]:
                running.remove(task)
                on_event(_outcome(run, task))
        if not stopped:
            return 0
        # A second Ctrl-C must not cut the cancellation short.
        for s in previous:
            signal.signal(s, signal.SIG_IGN)
        _cancel(running)
        for task in running:
            on_event(_outcome(run, task))
        return stopped[0]
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _start(run: Path, entry: manifest.Entry, regrade: bool, logs: Path,
           pool: object) -> _Running:
    job = f"local-{os.getpid()}_{entry.index}"
    cmd = [sys.executable, "-m", "grader", "batch", "run-task", str(run), str(entry.index)]
    if regrade:
        cmd.append("--regrade")
    fds, env = pool.channels() if pool is not None else ([], {})
    try:
        with (logs / f"{job}.out").open("ab") as log:
            # A session of its own: a terminal's Ctrl-C reaches only us, and the task's
            # `grader check` can be signalled with it as one process group.
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    pass_fds=fds, env={**os.environ, **env, LOCAL_JOB_ENV: job})
    finally:
        for fd in fds:  # the task holds them now; a server sees its hang-up when it ends
            os.close(fd)
    return _Running(entry, proc, time.monotonic())


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _cancel(running: list[_Running]) -> None:
    """SIGTERM to each task's group (the task logs "cancelled", `grader check` stops its
    workers); what is left after GRACE_S is killed."""
    for task in running:
        _signal_group(task.proc, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    for task in running:
        try:
            task.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for task in running:
        _signal_group(task.proc, signal.SIGKILL)  # stragglers of the group, if any
        task.proc.wait()


def _outcome(run: Path, task: _Running) -> Event:
    seconds = time.monotonic() - task.started
    student = task.entry.student
    attempts = read_attempts(run, student)
    last = attempts[-1] if attempts else {"event": "", "detail": ""}
    if task.proc.returncode == 0:
        kind = "graded" if last["event"] in ("finished", "regraded") else "skipped"
        return Event(kind, task.entry, seconds, last["detail"])
    if task.proc.returncode == 2 and failed_path(run, student).exists():
        import json

        try:
            reason = json.loads(failed_path(run, student).read_text()).get("reason", "")
        except (OSError, ValueError, AttributeError):
            reason = "see " + str(failed_path(run, student))
        return Event("failed", task.entry, seconds, str(reason))
    if last["event"] == "cancelled" or task.proc.returncode in (143, -signal.SIGTERM,
                                                                 -signal.SIGKILL):
        return Event("cancelled", task.entry, seconds, "stopped; no result written")
    return Event("failed", task.entry, seconds,
                 f"the task exited {task.proc.returncode} (see {run / 'logs'})")
