"""Runs a worker child process under limits and supervises it job by job.

The parent never imports what the worker runs. It talks to the worker over two
private pipes (jobs in, events out); the worker's stdout and stderr go to a third
pipe that the parent drains and caps. Each job has its own wall-clock limit: a job
that hangs, floods the output, or kills its process fails alone, and a fresh worker
takes the jobs that were still waiting.

Limits, and why these:
- RLIMIT_AS (address space). TensorFlow reserves far more virtual memory than it
  uses. Measured on the 2-core CI machine with TF 2.21 CPU (importing Keras, then
  building and saving Practical 2's four models): 1 GiB fails to map
  libtensorflow_cc, 1.5 GiB raises MemoryError, 2 GiB passes; importing and
  training a small conv net needs about 3 GiB (at 2 GiB TensorFlow aborts with
  SIGABRT). The default limit is therefore 3 GiB (spec `memory_mb`, 3072), and an
  abort or SIGKILL is reported as "probably the memory limit". Virtual size also
  grows with the core count (malloc arenas, thread stacks), so the build worker
  caps MALLOC_ARENA_MAX and TensorFlow's thread pools (grader/parent/pipeline.py). CUDA
  reserves much more address space, so the verify worker gets no RLIMIT_AS when a
  GPU is visible: there the batch system's cgroup (Slurm --mem) is the limit. The
  build worker is kept off the GPU (and under RLIMIT_AS) unless a task's training
  is the student's work (grader/parent/pipeline.py build_worker_resources).
- A new session per worker (its own process group), killed as a group; and the
  parent is a child subreaper, so a student daemon that double-forks and leaves
  the group is re-parented to us and killed too.
- A scrubbed environment with a private HOME (no ~/.keras cache, no GRADER_DATA, no
  results path).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import queue
import resource
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.protocol import Message

PR_SET_CHILD_SUBREAPER = 36
_SIGNAL_HINTS = {
    signal.SIGABRT: "probably the memory limit",
    signal.SIGKILL: "probably the memory limit or the system's out-of-memory killer",
    signal.SIGSEGV: "a crash in native code",
    signal.SIGXCPU: "the CPU-time limit",
}
# Environment a worker keeps; everything else (results paths, data paths, tokens) goes.
_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "CUDA_VISIBLE_DEVICES",
             "NVIDIA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "SLURM_JOB_ID")


def become_subreaper() -> bool:
    """Makes orphaned descendants our children, so they can be found and killed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def gpu_visible() -> bool:
    value = os.environ.get("CUDA_VISIBLE_DEVICES")
    if value is not None:
        return value.strip() not in ("", "-1")
    return Path("/dev/nvidia0").exists()


def scrubbed_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
    env.update({
        "HOME": str(home), "KERAS_HOME": str(home / ".keras"),
        "KERAS_BACKEND": "tensorflow",
        # TensorFlow's C++ start-up chatter would count against the student's output.
        "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg",
    })
    env.update(extra or {})
    return env


@dataclass
class Failure:
    """Why a job produced no result."""

    kind: str  # timeout | exited | signal | output | start
    message: str
    phase: str | None = None


@dataclass
class Budget:
    """Wall clock for one whole submission, shared by all its workers (`grader check
    --time-budget`): once it is spent no job starts, a job running then is stopped,
    and each job left fails saying so. Without it a submission whose every builder
    hangs costs one full job timeout per task."""

    seconds: float
    deadline: float  # time.monotonic() at which it is spent
    # Seconds each task's jobs ran (build, training, verify together), for the messages.
    taken: dict[str, float] = field(default_factory=dict)

    @classmethod
    def since(cls, seconds: float, started_wall: float) -> Budget:
        """A budget counted from ``started_wall`` (time.time() when grading began)."""
        return cls(seconds, time.monotonic() + seconds - max(0.0, time.time() - started_wall))

    def spent(self) -> bool:
        return time.monotonic() >= self.deadline

    def charge(self, job_id: str, seconds: float) -> None:
        task = job_id.split("+")[0]  # a task's extra jobs (task+train, task+visual)
        self.taken[task] = self.taken.get(task, 0.0) + max(0.0, seconds)

    def failure(self, job_id: str, ran_for: float | None = None) -> Failure:
        task = job_id.split("+")[0]
        before = ", ".join(f"{t} {s:.1f} s" for t, s in self.taken.items() if t != task)
        took = (f"the tasks before it took: {before}" if before else
                "no task before it finished; starting the workers took the rest")
        stopped = "" if ran_for is None else f", and this task was stopped after {ran_for:.1f} s"
        return Failure("budget", f"not graded: this submission used up its time budget of "
                       f"{self.seconds:g} s{stopped} ({took})")


@dataclass
class WorkerSpec:
    argv: list[str]  # the worker command; the job and event fds are appended
    cwd: Path
    env: dict[str, str]
    memory_mb: int | None
    output_limit: int  # bytes of output kept for the report; the rest is cut, never an error
    job_timeout: Callable[[Message], float]
    startup_timeout: float = 180.0
    # Start the worker before the first job arrives, so its TensorFlow import overlaps
    # with the other worker's.
    eager: bool = False
    # A job that prints more than this fails (the build worker): not for printing, which
    # scripts do (summaries, training logs), but so that an endless print loop cannot
    # fill the scratch disk. None: only capped (the verify worker runs no student code).
    flood_limit: int | None = 256 << 20
    # Called with (job id, event) for events other than ready/start/done, such as the
    # verify worker's training progress.
    on_event: Callable[[str | None, dict[str, Any]], None] | None = None
    budget: Budget | None = None  # the submission's, shared with its other workers
    # A warm start (grader/parent/warm.py): the launcher, the worker's own arguments
    # (what follows the module in argv) and, for a build worker, what to hide. When the
    # launcher cannot serve, the worker is started from argv as without one.
    warm: tuple[Any, list[str], dict[str, list[str]] | None] | None = None


@dataclass
class Outcome:
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, Failure] = field(default_factory=dict)
    output: bytearray = field(default_factory=bytearray)
    output_dropped: int = 0
    workers_started: int = 0
    workers_warm: int = 0  # of those, forked by a warm server
    timeline: list[tuple[float, str, str]] = field(default_factory=list)  # (time, event, job)


PR_SET_PDEATHSIG = 1


def _preexec(memory_mb: int | None) -> Callable[[], None]:
    def apply() -> None:
        # If the grader dies (Ctrl-C, a batch job's time limit), its workers die too.
        try:
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if memory_mb:
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
            # The command name may hold spaces and parentheses; the ppid follows the last ')'.
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            found.append(int(entry.name))
    return found


def reap_orphans(keep: set[int]) -> int:
    """Kills and reaps our children that are not in ``keep`` (adopted student daemons)."""
    killed = 0
    for _ in range(5):  # a killed daemon's own children are adopted next; sweep again
        strays = [p for p in _children_of(os.getpid()) if p not in keep]
        if not strays:
            break
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        for pid in strays:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    return killed


LIVE_WORKERS: set[int] = set()
"""Worker pids of this process still running; the orphan sweep leaves them alone."""
OTHER_CHILDREN: set[int] = set()
"""Children this process had before grading began (when a program calls the pipeline
in-process): never ours to kill. See protect_existing_children()."""


def protect_existing_children() -> None:
    OTHER_CHILDREN.update(_children_of(os.getpid()))
SPAWN_LOCK = threading.Lock()
"""Held while starting a worker and while sweeping orphans: the build and verify
workers are supervised from two threads, and a sweep must never see a worker that
was started but not yet recorded."""


class Supervisor:
    """Feeds jobs to a worker, one at a time, restarting it after a job fails it."""

    def __init__(self, spec: WorkerSpec):
        self.spec = spec
        self.outcome = Outcome()

    def run(self, jobs: queue.Queue, on_result: Callable[[str, dict[str, Any]], None],
            on_failure: Callable[[str, Failure], list[str]]) -> Outcome:
        """Runs until ``jobs`` yields None and every job has a result or a failure.

        ``on_failure`` returns ids of other jobs that fail for the same reason (for
        example every task of a file whose import hung), so they are not retried.
        """
        waiting: list[Message] = []  # sent to no worker yet, or to one that died
        closed = False
        doomed: dict[str, Failure] = {}
        while True:
            eager = self.spec.eager and not closed
            if not eager:
                closed = self._pull(jobs, waiting, closed, block=not waiting and not closed)
            waiting = [j for j in waiting if j.id not in doomed]
            if closed and not waiting:
                break
            if self.spec.budget is not None and self.spec.budget.spent():
                self._out_of_budget(jobs, waiting, closed, on_failure, doomed)
                break
            if not waiting and not eager:
                continue
            run = self._one_worker(jobs, waiting, closed, on_result, on_failure, doomed)
            closed = run.closed
            waiting = [j for j in run.waiting if j.id not in doomed]
            if run.fatal:
                # The worker could not even start: a fresh one would fare no better.
                while not closed:
                    closed = self._pull(jobs, waiting, closed, block=True)
                for job in waiting:
                    if job.id not in self.outcome.failures:
                        self._fail(job.id, run.fatal, on_failure, doomed)
                break
        for job_id, failure in doomed.items():
            self.outcome.failures.setdefault(job_id, failure)
        return self.outcome

    def _out_of_budget(self, jobs, waiting, closed, on_failure, doomed) -> None:
        """The budget is spent: every job waiting, and every job still to come, fails
        without a worker (none is started again)."""
        while True:
            for job in waiting:
                if job.id not in self.outcome.failures and job.id not in doomed:
                    self._fail(job.id, self.spec.budget.failure(job.id), on_failure, doomed)
            if closed:
                return
            waiting = []
            closed = self._pull(jobs, waiting, closed, block=True)

    def _fail(self, job_id: str, failure: Failure, on_failure, doomed) -> None:
        self.outcome.failures[job_id] = failure
        for other in on_failure(job_id, failure):
            if other not in self.outcome.results and other not in self.outcome.failures:
                doomed[other] = failure

    @staticmethod
    def _pull(jobs: queue.Queue, waiting: list, closed: bool, block: bool) -> bool:
        while not closed:
            try:
                job = jobs.get(block=block, timeout=0.05 if block else None)
            except queue.Empty:
                return closed
            if job is None:
                return True
            waiting.append(job)
            block = False
        return closed

    @dataclass
    class _Run:
        waiting: list
        closed: bool
        fatal: Failure | None = None

    def _one_worker(self, jobs, waiting, closed, on_result, on_failure, doomed) -> _Run:
        spec = self.spec
        job_r, job_w = os.pipe()
        ev_r, ev_w = os.pipe()
        # Student output goes to a file, not a pipe: the worker stamps each event with
        # the file's size, so output is charged to the job that printed it exactly,
        # and the parent can watch the size without reading megabytes.
        out_fd, out_path = tempfile.mkstemp(prefix="worker-output-", dir=spec.cwd.parent)
        proc = self._warm_start(job_r, ev_w, out_fd)
        if proc is None and spec.warm is not None:
            # The server may still fork a worker on these pipes after giving up on it:
            # the fresh worker gets new ones.
            for fd in (job_r, job_w, ev_r, ev_w):
                os.close(fd)
            job_r, job_w = os.pipe()
            ev_r, ev_w = os.pipe()
        argv = [*spec.argv, "--jobs-fd", str(job_r), "--events-fd", str(ev_w)]
        try:
            if proc is None:
                with SPAWN_LOCK:
                    proc = subprocess.Popen(
                        argv, cwd=spec.cwd, env=spec.env, stdin=subprocess.DEVNULL,
                        stdout=out_fd, stderr=out_fd, pass_fds=(job_r, ev_w),
                        start_new_session=True, preexec_fn=_preexec(spec.memory_mb),
                        close_fds=True)
                    LIVE_WORKERS.add(proc.pid)
        except OSError as exc:
            for fd in (job_r, job_w, ev_r, ev_w, out_fd):
                os.close(fd)
            return self._Run(waiting, closed, Failure("start", f"cannot start worker: {exc}"))
        self.outcome.workers_started += 1
        for fd in (job_r, ev_w):
            os.close(fd)
        fcntl.fcntl(ev_r, fcntl.F_SETFL, fcntl.fcntl(ev_r, fcntl.F_GETFL) | os.O_NONBLOCK)
        jobs_file = os.fdopen(job_w, "w", buffering=1)
        sent: list[Message] = []
        for job in waiting:
            jobs_file.write(json.dumps(job.to_wire()) + "\n")
            sent.append(job)
        waiting = []
        by_id = {j.id: j for j in sent}
        current: str | None = None
        started_at = time.monotonic()
        out_of_time = False  # killed for the submission's budget: not the worker's fault
        phase: str | None = None
        ready = False
        deadline = time.monotonic() + spec.startup_timeout
        step_output_start = 0
        ev_buf = b""
        failure: Failure | None = None
        fatal: Failure | None = None

        def flooded(size: int) -> Failure:
            return Failure("output", f"printed more than {spec.flood_limit or 0:,} bytes of "
                           "output, which is an endless print loop, not a log; remove it "
                           "(printing itself is fine: the first "
                           f"{spec.output_limit:,} bytes are kept)", phase)

        try:
            while True:
                if not closed:
                    more: list = []
                    closed = self._pull(jobs, more, closed, block=False)
                    for job in more:
                        if job.id in doomed:
                            continue
                        if spec.budget is not None and spec.budget.spent():
                            self._fail(job.id, spec.budget.failure(job.id), on_failure, doomed)
                            continue
                        jobs_file.write(json.dumps(job.to_wire()) + "\n")
                        sent.append(job)
                        by_id[job.id] = job
                    if closed:
                        jobs_file.close()
                remaining = [j for j in sent if j.id not in self.outcome.results
                             and j.id not in self.outcome.failures and j.id not in doomed]
                if closed and not remaining:
                    break
                # The submission's budget ends any wait, idle or not.
                limit = deadline if spec.budget is None else min(deadline,
                                                                 spec.budget.deadline)
                timeout = max(0.0, limit - time.monotonic())
                readable, _, _ = select.select([ev_r], [], [], min(timeout, 0.05))
                # Only with no event waiting: the job that printed may already have
                # ended, and its "done" must be read before the next job is blamed.
                if spec.flood_limit is not None and current is not None and not readable \
                        and os.fstat(out_fd).st_size - step_output_start > spec.flood_limit:
                    failure = flooded(os.fstat(out_fd).st_size)
                    break
                ev_open = True
                if readable:
                    try:
                        chunk = os.read(ev_r, 65536)
                    except BlockingIOError:
                        chunk = None
                    if chunk == b"":
                        ev_open = False
                    elif chunk:
                        ev_buf += chunk
                while b"\n" in ev_buf and failure is None:
                    line, ev_buf = ev_buf.split(b"\n", 1)
                    try:
                        event = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    kind = event.get("event")
                    out_size = int(event.get("out", 0) or 0)
                    self.outcome.timeline.append(
                        (time.time(), f"{kind}:{event.get('phase', '')}",
                         str(event.get("job", ""))))
                    if kind == "ready":
                        ready = True
                        deadline = time.monotonic() + 3600 * 24
                    elif kind == "start" and event.get("job") in by_id:
                        if event["job"] != current:
                            step_output_start = out_size
                        current = event["job"]
                        started_at = time.monotonic()
                        phase = event.get("phase")
                        deadline = time.monotonic() + spec.job_timeout(by_id[current])
                    elif kind == "done" and event.get("job") in by_id:
                        job_id = event["job"]
                        if spec.flood_limit is not None and \
                                out_size - step_output_start > spec.flood_limit:
                            # The builder returned, so the worker is still usable: fail
                            # the job and go on without a restart.
                            self._fail(job_id, flooded(out_size), on_failure, doomed)
                        elif job_id not in self.outcome.results:
                            self.outcome.results[job_id] = event.get("result", {})
                            on_result(job_id, event.get("result", {}))
                        if spec.budget is not None and job_id == current:
                            spec.budget.charge(job_id, time.monotonic() - started_at)
                        current = None
                        phase = None
                        deadline = time.monotonic() + 3600 * 24
                    elif spec.on_event is not None:
                        try:
                            spec.on_event(event.get("job"), event)
                        except Exception:  # drawing progress must never stop grading
                            pass
                if failure is not None or not ev_open:
                    break
                if spec.budget is not None and spec.budget.spent():
                    out_of_time = True
                    if current is not None:  # stopped; the jobs left fail in run()
                        ran = time.monotonic() - started_at
                        spec.budget.charge(current, ran)
                        failure = spec.budget.failure(
                            current, ran if started_at < spec.budget.deadline else None)
                    break
                if time.monotonic() >= deadline:
                    if current is None and not ready:
                        fatal = Failure("start", f"the worker did not start within "
                                        f"{spec.startup_timeout:g} s")
                    elif current is not None:
                        limit = spec.job_timeout(by_id[current])
                        what = "importing the file" if phase == "import" else "the call"
                        failure = Failure("timeout", f"{what} did not finish within "
                                          f"{limit:g} s (an endless loop, training or input()"
                                          " at import time?)", phase)
                    break
        finally:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            returncode = proc.wait()
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
            except (ProcessLookupError, PermissionError):
                pass
            with SPAWN_LOCK:
                LIVE_WORKERS.discard(proc.pid)
                reap_orphans(LIVE_WORKERS | OTHER_CHILDREN)
            self._keep_output(out_fd)
            os.close(out_fd)
            # Gone already when grading stopped on an error and its scratch was removed.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(out_path)
            os.close(ev_r)
            if not jobs_file.closed:
                try:
                    jobs_file.close()
                except BrokenPipeError:
                    pass

        if failure is None and fatal is None and not out_of_time:
            unfinished = [j for j in sent if j.id not in self.outcome.results
                          and j.id not in self.outcome.failures and j.id not in doomed]
            if unfinished and getattr(proc, "lost", False):
                # A warm worker whose server went away: not the job's doing. Its jobs
                # go to a worker started afresh (the launcher serves no more).
                return self._Run(unfinished, closed, None)
            if unfinished:
                if returncode < 0:
                    sig = signal.Signals(-returncode)
                    hint = _SIGNAL_HINTS.get(sig, "")
                    reason = f"the worker was killed by {sig.name}" + (f" ({hint})" if hint else "")
                    kind = "signal"
                else:
                    reason = (f"the worker process exited with status {returncode} "
                              "(sys.exit(), os._exit() or exit() in the student's code?)")
                    kind = "exited"
                if current is not None:
                    failure = Failure(kind, reason, phase)
                elif not ready:
                    fatal = Failure("start", f"the worker could not start: {reason}. Output: "
                                    + self.outcome.output[-2000:].decode(errors="replace"))
                else:
                    failure = Failure(kind, reason, phase)
                    current = unfinished[0].id
        if failure is not None and current is not None:
            if spec.budget is not None and failure.kind != "budget":
                spec.budget.charge(current, time.monotonic() - started_at)
            self._fail(current, failure, on_failure, doomed)
        left = [j for j in sent if j.id not in self.outcome.results
                and j.id not in self.outcome.failures and j.id not in doomed]
        return self._Run(left, closed, fatal)

    def _warm_start(self, job_r: int, ev_w: int, out_fd: int) -> Any:
        """The worker forked by the warm server, or None (start it from argv)."""
        if self.spec.warm is None:
            return None
        from grader.forkserver import Unavailable

        launcher, args, hide = self.spec.warm
        try:
            proc = launcher.spawn(args, self.spec.cwd, self.spec.env, self.spec.memory_mb,
                                  (job_r, ev_w, out_fd), hide)
        except Unavailable:
            return None
        with SPAWN_LOCK:
            LIVE_WORKERS.add(proc.pid)
        self.outcome.workers_warm += 1
        return proc

    def _keep_output(self, fd: int) -> None:
        """Appends the head of a finished worker's output to the outcome, within the cap."""
        size = os.fstat(fd).st_size
        room = max(0, self.spec.output_limit - len(self.outcome.output))
        if room:
            self.outcome.output += os.pread(fd, room, 0)
        self.outcome.output_dropped += max(0, size - room)

