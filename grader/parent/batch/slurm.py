"""Talking to Slurm: `sbatch` to submit, `squeue` to see what still runs.

Only the commands every Slurm site has are used. `sacct` is deliberately not:
it needs the accounting database, which small clusters (and the test cluster)
do not run; what finished is read from the run directory instead.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

JOBS = "jobs.tsv"
NO_CONFIG = "Could not establish a configuration source"  # sbatch without any slurm.conf

# squeue states of an array task that is queued or still holds a node. Anything
# else (COMPLETED, CANCELLED, TIMEOUT, NODE_FAIL, ...) is over: the run
# directory then says whether a result was written.
ACTIVE_STATES = frozenset({
    "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED",
    "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED",
})


class SlurmUnavailable(RuntimeError):
    """A Slurm client command is not on the PATH (not on a cluster login node)."""


class SlurmError(RuntimeError):
    """A Slurm client command ran and failed; the message carries its stderr."""


def array_spec(indices: Iterable[int]) -> str:
    """Compresses task indices into Slurm's --array syntax.

    >>> array_spec([1, 2, 3, 5, 7, 8])
    '1-3,5,7-8'
    """
    ordered = sorted(set(indices))
    if not ordered:
        raise ValueError("array_spec: no indices to submit")
    parts: list[str] = []
    start = prev = ordered[0]
    for i in ordered[1:]:
        if i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = i
    parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)


def require(command: str) -> str:
    """The full path of a Slurm client command, or SlurmUnavailable saying what to do."""
    found = shutil.which(command)
    if found is None:
        raise SlurmUnavailable(
            f"`{command}` is not on the PATH: run this on the cluster's login node (or load "
            f"its Slurm module, e.g. `module load slurm`); `grader batch submit --dry-run` "
            f"prints the command without needing Slurm")
    return found


def sbatch_command(script: Path, indices: Iterable[int], concurrency: int | None,
                   script_args: list[str]) -> list[str]:
    """The exact sbatch command line; `--parsable` makes it print `JOBID[;CLUSTER]`."""
    spec = array_spec(indices)
    if concurrency:
        spec += f"%{concurrency}"
    return ["sbatch", "--parsable", f"--array={spec}", str(script), *script_args]


def parse_job_id(stdout: str) -> str:
    """The job id from `sbatch --parsable` output (`1234` or `1234;clustername`)."""
    line = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    job_id = line.split(";", 1)[0].strip()
    if not job_id.isdigit():
        raise SlurmError(f"sbatch printed {stdout!r}, which holds no job id")
    return job_id


def submit(command: list[str], cwd: Path) -> str:
    """Runs sbatch and returns the job id."""
    exe = require(command[0])
    proc = subprocess.run([exe, *command[1:]], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    if proc.returncode != 0:
        if NO_CONFIG in proc.stderr:
            # The client is installed (a Debian package pulled in) but no cluster is set up.
            raise SlurmUnavailable(f"sbatch found no Slurm cluster here ({proc.stderr.strip()})")
        raise SlurmError(f"sbatch failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return parse_job_id(proc.stdout)


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    submitted: str
    array: str
    regrade: bool


def record_job(run: Path, record: JobRecord) -> None:
    path = run / JOBS
    new = not path.exists()
    with path.open("a", newline="") as fh:
        out = csv.writer(fh, delimiter="\t", lineterminator="\n")
        if new:
            out.writerow(["job_id", "submitted", "array", "regrade"])
        out.writerow([record.job_id, record.submitted, record.array, int(record.regrade)])


def read_jobs(run: Path) -> list[JobRecord]:
    path = run / JOBS
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return [JobRecord(r["job_id"], r["submitted"], r["array"], r["regrade"] == "1")
                for r in csv.DictReader(fh, delimiter="\t")]


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass(frozen=True)
class QueuedTask:
    job_id: str
    index: int
    state: str
    reason: str = ""  # why a pending task waits, in squeue's words (Priority, Resources, ...)


def queued_tasks(job_ids: Iterable[str]) -> dict[int, QueuedTask] | None:
    """Array tasks of these jobs that squeue still lists as active, by index.

    None when squeue is not available, so callers can say "unknown" rather
    than wrongly "not running". All jobs are listed and filtered here rather
    than passed with `-j`, because squeue rejects the whole call when one of
    the ids has already been purged from the controller.
    """
    wanted = set(job_ids)
    if not wanted:
        return {}
    exe = shutil.which("squeue")
    if exe is None:
        return None
    # -r: one line per array task, even for pending ones Slurm would fold into
    # `123_[4-9]`. %F: the array's job id; %K: the task's index; %T: its state;
    # %r: why it is pending.
    proc = subprocess.run([exe, "-h", "-r", "-o", "%F|%K|%T|%r"], capture_output=True,
                          text=True, timeout=60, env=os.environ.copy())
    if proc.returncode != 0:
        raise SlurmError(f"squeue failed (exit {proc.returncode}): {proc.stderr.strip()}")
    found: dict[int, QueuedTask] = {}
    for line in proc.stdout.splitlines():
        parts = line.strip().split("|", 3)
        if len(parts) != 4 or parts[0] not in wanted or not parts[1].isdigit():
            continue
        if parts[2] in ACTIVE_STATES:
            reason = "" if parts[3] in ("None", "(null)") else parts[3]
            task = QueuedTask(parts[0], int(parts[1]), parts[2], reason)
            # A later job for the same index (a resubmission) is the one that matters.
            if task.index not in found or int(task.job_id) > int(found[task.index].job_id):
                found[task.index] = task
    return found
