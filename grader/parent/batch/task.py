"""What one array task does: grade one manifest line, and leave a trace.

The rules that keep a class's grades safe when nodes die or jobs are resubmitted:

* `grader check` writes its results to a private temporary path; only when it
  has exited on its own is the file moved to `results/<student>.json`. A task
  that is cancelled, times out or loses its node leaves no results file, so the
  student shows up as missing and `submit --only-missing` grades them again.
* A finished result is never replaced unless the task was started with
  `--regrade`: without it the task skips a student who already has one, and if
  two tasks race, the second finds the file there and discards its own copy
  (a hard link cannot overwrite, unlike a rename).
* Every start, finish, skip and cancellation is appended to
  `attempts/<student>.tsv`, so "was anybody graded twice?" has an answer.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from grader.files import write_json_atomic
from grader.parent.batch import manifest, maps
from grader.parent.batch.plan import load_plan
from grader.parent.batch.results import CorruptResult, load_result
from grader.parent.submission import place_notebook, spec_notebook_name, unpack_zip

LOCAL_JOB_ENV = "GRADER_BATCH_JOB"  # the job id a `grader batch run` task logs under
EXIT_GRADED = (0, 1)  # grader check: 0 all passed, 1 some check failed
# How much of grader check's own output a failure reason quotes (the rest is in the log).
TAIL_LINES = 6
TAIL_CHARS = 600
_BOX = str.maketrans("", "", "│╭╮╰╯─┃━┏┓┗┛")  # rich's panel borders around typer's errors


class _Terminated(Exception):
    """Slurm sent SIGTERM (scancel, time limit, preemption, node shutdown)."""


@dataclass(frozen=True)
class TaskIds:
    """Where this attempt ran, for the attempts log and the results file."""

    job: str
    host: str

    @classmethod
    def from_env(cls) -> TaskIds:
        # `grader batch run` names its tasks itself (LOCAL_JOB_ENV): first, because
        # it may run inside a Slurm allocation whose ids would be the same for all.
        local = os.environ.get(LOCAL_JOB_ENV)
        if local:
            return cls(local, socket.gethostname())
        array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
        array_task = os.environ.get("SLURM_ARRAY_TASK_ID")
        if array_job and array_task:
            job = f"{array_job}_{array_task}"
        else:
            job = os.environ.get("SLURM_JOB_ID") or f"local-{os.getpid()}"
        return cls(job, socket.gethostname())


def results_path(run: Path, student: str) -> Path:
    return run / "results" / f"{student}.json"


def images_path(run: Path, student: str) -> Path:
    """Where a student's visual-check images are kept once their result is installed."""
    return run / "images" / student


def failed_path(run: Path, student: str) -> Path:
    return run / "failed" / f"{student}.json"


def attempts_path(run: Path, student: str) -> Path:
    return run / "attempts" / f"{student}.tsv"


def log_attempt(run: Path, student: str, ids: TaskIds, event: str, detail: str = "") -> None:
    # One short line per write with O_APPEND: lines from two tasks never interleave.
    line = "\t".join([time.strftime("%Y-%m-%dT%H:%M:%S%z"), event, ids.job, ids.host,
                      detail.replace("\t", " ").replace("\n", " ")]) + "\n"
    path = attempts_path(run, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(line)


def read_attempts(run: Path, student: str) -> list[dict[str, str]]:
    """The attempts log of one student as dicts with time, event, job, host, detail."""
    path = attempts_path(run, student)
    if not path.exists():
        return []
    keys = ("time", "event", "job", "host", "detail")
    # A line cut short (a node died mid-write) still yields every key.
    return [{**dict.fromkeys(keys, ""), **dict(zip(keys, line.split("\t"), strict=False))}
            for line in path.read_text(errors="replace").splitlines() if line.strip()]


def prepare(entry: manifest.Entry, scratch: Path, notebook_name: str | None = None) -> Path:
    """The folder `grader check` should grade for this manifest entry.

    A lone notebook (`alice.ipynb`) is graded under the notebook name the spec
    expects (`cnn.ipynb`) when the spec names exactly one.
    """
    if entry.kind == "folder":
        return entry.path
    if entry.kind == "notebook":
        return place_notebook(entry.path, scratch / entry.student, notebook_name)
    return unpack_zip(entry.path, scratch / entry.student)


def _find_entry(run: Path, index: int) -> manifest.Entry:
    for entry in manifest.read_manifest(run):
        if entry.index == index:
            return entry
    raise LookupError(f"{run / manifest.MANIFEST}: no line with index {index}; "
                      "was the run planned again with fewer students?")


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def run_task(run: Path, index: int, regrade: bool = False) -> int:
    """Grades manifest line INDEX of RUN; returns the exit status for Slurm.

    0: a result is in place (graded now or earlier); 2: no result could be made
    (the reason is in failed/<student>.json); 143: terminated by Slurm.
    """
    run = run.resolve()
    plan = load_plan(run)
    entry = _find_entry(run, index)
    ids = TaskIds.from_env()
    print(f"grader batch: task {index} grades {entry.student} ({entry.path}) as job {ids.job} "
          f"on {ids.host}", flush=True)

    if skip_if_graded(run, entry, ids, regrade):
        return 0

    signal.signal(signal.SIGTERM, _on_sigterm)
    log_attempt(run, entry.student, ids, "started", str(entry.path))
    partial = run / "results" / ".partial"
    partial.mkdir(parents=True, exist_ok=True)
    tmp_json = partial / f"{entry.student}.{ids.job}.json"
    scratch = Path(tempfile.mkdtemp(prefix=f"grader-{entry.student}-",
                                    dir=os.environ.get("TMPDIR")))
    started = time.time()
    try:
        try:
            folder = prepare(entry, scratch, spec_notebook_name(plan.assignment))
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            return _fail(run, entry, ids, f"could not unpack the submission: {exc}", None, None)
        # The instructor's results: hidden tasks keep their details here; the student
        # pages collect writes are redacted from them (grader/parent/visibility.py).
        cmd = [sys.executable, "-m", "grader", "check", str(folder),
               "--assignment", plan.assignment, "--json", str(tmp_json),
               "--audience", "instructor"]
        if plan.static:
            cmd.append("--static")
        elif plan.gpus:
            # A job planned for a GPU that lands on a node without one (a missing
            # --gres, a broken driver) fails at once and stays resubmittable,
            # instead of training for hours on the CPU.
            cmd.append("--require-gpu")
        # Every architecture of the class trains once (grader/verify_worker/train_cache.py);
        # --check-arg=--no-cache turns it off.
        cmd += ["--train-cache", str(run / "cache")]
        cmd += plan.check_args
        cmd += maps.args_for(run, entry.student)
        print("grader batch: " + " ".join(cmd), flush=True)
        code, tail = _run_teed(cmd, scratch)
        data = _read_json(tmp_json)
        if code not in EXIT_GRADED or data is None:
            reason = (f"grader check exited {code}" + ("" if data is not None
                      else " without writing its results file"))
            errors = (data or {}).get("grader", {}).get("errors") or []
            if errors:
                reason += f": {errors[0]}"
            elif tail:
                # Its own words (a usage error, a traceback's last line) say why.
                reason += f": {tail}"
            return _fail(run, entry, ids, reason, code, data)
        # Grading is over: from here a SIGTERM must not split "result moved in
        # place" from "attempt logged". Slurm's SIGKILL after KillWait still ends us.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        data.setdefault("grader", {})["batch"] = {
            "student": entry.student, "index": entry.index, "submission": str(entry.path),
            "job": ids.job, "host": ids.host, "exit_code": code,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "seconds": round(time.time() - started, 1),
        }
        # `grader check` wrote the images beside the partial results; they move with them.
        produced = tmp_json.with_name(tmp_json.stem + "-images")
        if produced.is_dir():
            data = _repoint(data, produced, images_path(run, entry.student))
        write_json_atomic(tmp_json, data)
        code, installed = _install(run, entry, ids, tmp_json, regrade, data)
        if installed and produced.is_dir():
            kept = images_path(run, entry.student)
            shutil.rmtree(kept, ignore_errors=True)  # a regrade's images replace the old
            kept.parent.mkdir(parents=True, exist_ok=True)
            os.replace(produced, kept)
        return code
    except _Terminated:
        by = ("`grader batch run` (Ctrl-C or SIGTERM)" if os.environ.get(LOCAL_JOB_ENV)
              else "Slurm (scancel, time limit or preemption)")
        log_attempt(run, entry.student, ids, "cancelled",
                    f"SIGTERM from {by}; no result written")
        print(f"grader batch: {entry.student}: terminated by {by.split(' (')[0]}; "
              "no result written", flush=True)
        return 143
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        tmp_json.unlink(missing_ok=True)
        shutil.rmtree(tmp_json.with_name(tmp_json.stem + "-images"), ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


def skip_if_graded(run: Path, entry: manifest.Entry, ids: TaskIds, regrade: bool) -> bool:
    """True (and the skip logged) when ENTRY already has a usable result and no regrade was
    asked; a corrupt one is set aside first, so the student is graded again."""
    final = results_path(run, entry.student)
    if regrade or not final.exists() or _set_aside_if_corrupt(run, entry, ids):
        return False
    log_attempt(run, entry.student, ids, "skipped", "already graded; submit --regrade to redo")
    print(f"grader batch: {final} exists; not grading {entry.student} again "
          "(submit with --regrade to replace it)", flush=True)
    return True


def _set_aside_if_corrupt(run: Path, entry: manifest.Entry, ids: TaskIds) -> bool:
    """Moves an unreadable results file to results/.corrupt/; True when it did (grade again)."""
    final = results_path(run, entry.student)
    try:
        load_result(final)
    except CorruptResult as exc:
        aside = run / "results" / ".corrupt" / f"{entry.student}.{ids.job}.json"
        aside.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(final, aside)
        except FileNotFoundError:
            pass  # another task set it aside first; grading again is still right
        log_attempt(run, entry.student, ids, "corrupt", f"{exc}; moved to {aside}")
        print(f"grader batch: {exc}; moved to {aside}, grading again", flush=True)
        return True
    except OSError:
        return False
    return False


def _run_teed(cmd: list[str], cwd: Path) -> tuple[int, str]:
    """Runs CMD with its output copied to ours (the Slurm log); returns its exit code and the
    last lines of that output, joined, for a failure reason."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    from grader.parent.warm import inherited_fds

    # Warm workers lent by `grader batch run` pass through to `grader check`.
    lent = inherited_fds()
    with subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, pass_fds=lent) as proc:
        for fd in lent:  # `grader check` holds them now; the servers see its hang-up
            os.close(fd)
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                sys.stdout.buffer.write(raw)
                sys.stdout.buffer.flush()
                line = " ".join(raw.decode(errors="replace").translate(_BOX).split())
                if line:
                    tail.append(line)
            code = proc.wait()
        except BaseException:
            # SIGTERM from Slurm (_Terminated): the child gets it too, but must
            # not outlive us either way.
            proc.kill()
            raise
    text = " / ".join(tail)
    return code, text if len(text) <= TAIL_CHARS else "..." + text[-TAIL_CHARS:]


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _repoint(data: dict, old: Path, new: Path) -> dict:
    """``data`` with every path under ``old`` (image lists, "images in ..." messages)
    written under ``new``."""
    quoted = [json.dumps(str(p))[1:-1] for p in (old, new)]
    return json.loads(json.dumps(data).replace(*quoted))


def _install(run: Path, entry: manifest.Entry, ids: TaskIds, tmp_json: Path, regrade: bool,
             data: dict) -> tuple[int, bool]:
    """Moves the result in place: (exit code, whether it was installed)."""
    final = results_path(run, entry.student)
    summary = f"score {data.get('score')}/{data.get('max_score')}"
    if regrade:
        os.replace(tmp_json, final)
    else:
        try:
            os.link(tmp_json, final)
        except FileExistsError:
            log_attempt(run, entry.student, ids, "discarded",
                        f"{summary}; another task finished first and its result stands")
            print(f"grader batch: {final} appeared while grading; kept it, discarded this "
                  "attempt's result", flush=True)
            return 0, False
    failed_path(run, entry.student).unlink(missing_ok=True)
    log_attempt(run, entry.student, ids, "regraded" if regrade else "finished", summary)
    print(f"grader batch: {entry.student}: {summary} -> {final}", flush=True)
    return 0, True


def _fail(run: Path, entry: manifest.Entry, ids: TaskIds, reason: str, code: int | None,
          data: dict | None) -> int:
    write_json_atomic(failed_path(run, entry.student), {
        "student": entry.student, "index": entry.index, "submission": str(entry.path),
        "job": ids.job, "host": ids.host, "reason": reason, "exit_code": code,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "log": str(run / "logs" / f"{ids.job}.out"), "results": data,
    })
    log_attempt(run, entry.student, ids, "failed", reason)
    print(f"grader batch: {entry.student}: {reason}", flush=True)
    return 2
