"""The grading pipeline of `grader check`: spec -> build worker -> verify worker -> results.

Runs in the parent process, which imports neither TensorFlow nor student code. The
build and verify workers run side by side: each model goes to the verify worker as
soon as the build worker has saved it, so their TensorFlow start-ups overlap.

Decisions a reader of the results should know:
- A model the verify worker cannot load with safe_mode (a student-defined layer, a
  Lambda) is "unverified". By default (spec `unverified: "review"`) its checks score
  0 and say what the build worker's own facts claim, for a person to review: those
  facts come from the process the student's code ran in and could be forged. A spec
  may choose `"trust"` to score them from those facts, tagged "unverified".
- A skipped check (`--static`, no dataset, no training code) scores 0 of 0: it is
  reported, with the points it would carry, but left out of the total.
- Exit codes: 0 every check that ran passed; 1 some check failed, errored, was not
  implemented or is unverified; 2 nothing could be graded (no spec, bad spec, not a
  submission folder, a worker that cannot start), or SIGTERM stopped grading part-way
  (`grader check` then writes what was graded; the tasks left say they were not).
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.parent import sandbox, submission
from grader.parent.checks import architecture, graph, lints, params
from grader.parent.spec import (
    MARKER_FILE,
    Spec,
    SpecError,
    available_assignments,
    find_assignment,
    load_spec,
)
from grader.protocol import skipped

# Checks computed in the parent from the verified facts, by spec check name.
STATIC_CHECKS = {
    "architecture": architecture.check,
    "params": params.check,
    "graph": graph.check,
    "lints": lints.check,
}
# Checks of function tasks (grader/parent/probes): judged in the parent, and never trained.
PROBE_CHECKS = {"outputs"}
# What `--static` skips. The visual checks run the student's functions on the built
# model, untrained, so they run under --static too.
TRAINING_CHECKS = {"accuracy"}
FAILED_STATES = {"failed", "error", "unverified", "not_implemented"}
STOPPED = ("not graded: the grader was stopped by SIGTERM (a batch time limit or scancel) "
           "before this task was done; grade the submission again with more time")


class Stopped(BaseException):
    """Raised by `grader check`'s SIGTERM handler: grading stops and keeps what it has.
    Not an Exception, so that no `except Exception` on the way swallows it."""


@dataclass
class TaskOutcome:
    task: dict[str, Any]
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> CheckResult
    build: dict[str, Any] = field(default_factory=dict)
    verified: bool | None = None
    entry_file: str | None = None
    skipped_cells: list[dict[str, Any]] = field(default_factory=list)


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
        return 1 if any(s in FAILED_STATES for s in states) else 0


def _fail_all(task: dict[str, Any], state: str, message: str) -> dict[str, dict[str, Any]]:
    return {name: {"state": state, "message": message, "hints": [], "details": {}}
            for name in task["checks"]}


def stopped(grading: Grading) -> Grading:
    """``grading`` as SIGTERM left it: what was graded stays, every task without
    results fails saying so, and the run is incomplete (exit 2: not a grade)."""
    for out in grading.tasks:
        if not out.checks:
            out.checks = _fail_all(out.task, "error", STOPPED)
    grading.fatal, grading.complete = True, False
    grading.errors.append("stopped by SIGTERM (a batch time limit or scancel) before grading "
                          "finished; grade the submission again with more time")
    return grading


def _halt_workers(result: Grading) -> None:
    """Kills the workers and whatever they started, once. SPAWN_LOCK stays held until
    the process exits, so that the verify thread cannot start a fresh worker for the
    jobs left (Stopped reaches the main thread only)."""
    if result.stopped:
        return
    result.stopped = True
    sandbox.SPAWN_LOCK.acquire()
    for pid in list(sandbox.LIVE_WORKERS):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    sandbox.reap_orphans(sandbox.OTHER_CHILDREN)


def grade(sub: Path, assignment: str | None = None, static: bool = False,
          data_dir: str | None = None, keep_scratch: bool = False,
          on_event: Any = None, require_gpu: bool = False,
          images_dir: Path | None = None, only_tasks: list[str] | None = None) -> Grading:
    """Grades one submission folder. Never raises for a bad submission; see Grading.

    ``require_gpu``: refuse at once (exit 2) on a machine without a GPU.
    ``images_dir``: where the visual checks' PNGs are kept (else they go with
    the scratch space).
    ``only_tasks``: grade just these task ids (`grader check --task`)."""
    if sub.is_file() and sub.suffix.lower() in (".zip", ".ipynb"):
        return _grade_single_file(sub, assignment, static=static, data_dir=data_dir,
                                  keep_scratch=keep_scratch, on_event=on_event,
                                  require_gpu=require_gpu, images_dir=images_dir,
                                  only_tasks=only_tasks)
    started = time.monotonic()
    result = Grading(assignment=assignment, submission=sub)
    if require_gpu:
        from grader.device import require_gpu_problem  # imports no TensorFlow

        problem = require_gpu_problem()
        if problem:
            try:  # the results still say which assignment this submission was
                result.assignment = find_assignment(sub, assignment) if sub.is_dir() \
                    else assignment
            except SpecError:
                pass
            result.fatal, result.complete = True, False
            result.errors.append(problem)
            result.seconds = time.monotonic() - started
            return result
    try:
        if not sub.exists():
            raise SpecError(str(sub), ["does not exist; check the path"])
        if not sub.is_dir():
            raise SpecError(str(sub), ["not a folder; pass the submission folder, a .zip "
                                       "of it, or a single .ipynb"])
        result.assignment = find_assignment(sub, assignment)
        spec = select_tasks(load_spec(result.assignment), only_tasks)
        # After the spec, so a broken spec or missing marker is what gets reported.
        if not any(p.is_file() and p.name != MARKER_FILE for p in sub.rglob("*")):
            raise SpecError(str(sub), ["not a submission: no files; pass the folder that "
                                       "holds your code"])
    except SpecError as exc:
        result.fatal, result.complete = True, False
        result.errors.extend(f"{exc.source}: {p}" for p in exc.problems)
        result.seconds = time.monotonic() - started
        return result
    scratch = Path(tempfile.mkdtemp(prefix="grader-"))
    try:
        _grade_with_spec(spec, sub, scratch, static, data_dir, result, on_event, require_gpu)
        _align_skipped_checks(result.tasks, static, data_dir)
        if images_dir is not None:
            from grader.parent.images import keep_images

            keep_images(result.tasks, images_dir)
    except Stopped:  # SIGTERM outside the workers' run (that one is caught closer)
        _halt_workers(result)
    except Exception as exc:  # a grader bug: still say what happened, in the results file
        import traceback

        result.fatal, result.complete = True, False
        result.errors.append(f"internal error: {type(exc).__name__}: {exc}")
        result.errors.append(traceback.format_exc()[-3000:])
    finally:
        if not keep_scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    result.seconds = time.monotonic() - started
    return stopped(result) if result.stopped else result


def _grade_single_file(path: Path, assignment: str | None, **options: Any) -> Grading:
    """A zip of a submission, or a lone notebook, graded as the folder it stands for.

    Unpacked by the same functions `grader batch` uses (grader.parent.submission), so a
    student's pre-check and the instructor's batch grade the same files.
    """
    holder = Path(tempfile.mkdtemp(prefix="grader-unpacked-"))
    try:
        try:
            if path.suffix.lower() == ".zip":
                folder = submission.unpack_zip(path, holder / "submission")
            else:
                if not assignment:
                    raise SpecError(str(path), [
                        "a lone notebook does not say which assignment it is; pass "
                        "--assignment ID (one of: "
                        + ", ".join(available_assignments()) + ")"])
                folder = submission.place_notebook(path, holder / "submission",
                                                   submission.spec_notebook_name(assignment))
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise SpecError(str(path), [f"cannot unpack it ({exc}); unzip it and pass the "
                                        "folder"]) from None
    except SpecError as exc:
        shutil.rmtree(holder, ignore_errors=True)
        result = Grading(assignment=assignment, submission=path, fatal=True, complete=False)
        result.errors.extend(f"{exc.source}: {p}" for p in exc.problems)
        return result
    try:
        result = grade(folder, assignment, **options)
        result.submission = path
        return result
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _grade_with_spec(spec: Spec, sub: Path, scratch: Path, static: bool,
                     data_dir: str | None, result: Grading, on_event: Any = None,
                     require_gpu: bool = False) -> None:
    outcomes = {t["id"]: TaskOutcome(task=t) for t in spec.tasks}
    result.tasks = list(outcomes.values())
    entry_files: dict[str, str] = {}
    for task in spec.tasks:
        out = outcomes[task["id"]]
        found = submission.resolve_entry_file(sub, task["entry"])
        if found is None:
            candidates = submission.entry_candidates(task["entry"])
            names = " or ".join(candidates)
            near = submission.near_misses(sub, candidates)
            if near:
                fix = (f"found {', '.join(near)} instead: keep one, named {names}, at the "
                       "top of the submission folder (beside .grader-assignment)")
            else:
                fix = "keep the file name the template uses"
            out.checks = _fail_all(task, "error", f"{names} not found in the submission; {fix}")
            continue
        out.entry_file = found
        entry_files[task["id"]] = found
    work = scratch / "submission"
    models = scratch / "models"
    models.mkdir()
    prepared = submission.prepare(sub, work, sorted(set(entry_files.values())))

    jobs: list[dict[str, Any]] = []
    truths: dict[str, Any] = {}  # what function tasks are judged against; parent only
    for task_id, rel in entry_files.items():
        out = outcomes[task_id]
        source = prepared[rel]
        out.skipped_cells = [vars(c) for c in source.skipped_cells]
        if source.syntax_error:
            out.checks = _fail_all(out.task, "error", source.syntax_error)
            continue
        entry = out.task["entry"]
        limits = spec.limits(out.task)
        jobs.append({
            "id": task_id, "file": rel, "module_path": source.module_path,
            "function": entry["function"], "args": entry.get("args", []),
            "kwargs": entry.get("kwargs", {}), "globals": entry.get("globals", {}),
            "input_shape": out.task.get("input_shape"), "memory_mb": limits["memory_mb"],
            "framework": out.task.get("framework", "keras"),
            "build_timeout_s": limits["build_timeout_s"],
            "checks": {k: v for k, v in out.task["checks"].items()
                       if k not in STATIC_CHECKS and not (static and k in TRAINING_CHECKS)},
        })
        if out.task.get("kind") == "function":
            problem = _prepare_probe(jobs[-1], out.task, scratch / "probe-data" / task_id,
                                     truths)
            if problem:
                jobs.pop()
                out.checks = ({"outputs": problem} if isinstance(problem, dict)  # skipped
                              else _fail_all(out.task, "error", problem))
            continue
        if "accuracy" in jobs[-1]["checks"]:
            # A student-trained task gets its train/validation splits (never the test
            # split) in the scratch space, and its training time on top of the build's.
            from grader.parent.training_data import builder_of, prepare_build_check

            jobs[-1]["checks"]["accuracy"], extra_s = prepare_build_check(
                jobs[-1]["checks"]["accuracy"], scratch / "training-data" / task_id, data_dir,
                builder=builder_of(entry))
            jobs[-1]["build_timeout_s"] += extra_s
    if not jobs:
        result.workers = {"build": 0, "verify": 0}
        return

    sandbox.protect_existing_children()
    sandbox.become_subreaper()
    limits0 = spec.limits(spec.tasks[0])
    build_extra_env, build_memory = build_worker_resources(jobs, sandbox.gpu_visible())
    build_q: queue.Queue = queue.Queue()
    verify_q: queue.Queue = queue.Queue()
    for job in jobs:
        build_q.put(job)
    build_q.put(None)
    by_task = {t["id"]: t for t in spec.tasks}
    from grader.data.hiding import hide_prefix

    hide = hide_prefix(data_dir, keep=[scratch])

    def on_built(job_id: str, res: dict[str, Any]) -> None:
        outcomes[job_id].build = res
        if res.get("state") == "built" and res.get("model_path"):
            task = by_task[job_id]
            verify_q.put({"id": job_id, "model_path": res["model_path"], "task": task,
                          "static": static, "data_dir": data_dir,
                          # data_hidden is the parent's own fact, not the build worker's.
                          "notes": {**res.get("notes", {}), "data_hidden": hide is not None},
                          "require_gpu": require_gpu,
                          "timeout": _verify_timeout(spec, task, static)})

    file_of = {j["id"]: j["file"] for j in jobs}

    def on_build_failure(job_id: str, failure: sandbox.Failure) -> list[str]:
        # An import that hangs or kills the worker would do the same for every task
        # of that file: fail them together instead of retrying each.
        if failure.phase == "import":
            return [j for j, f in file_of.items() if f == file_of[job_id] and j != job_id]
        return []

    verify_spec = sandbox.WorkerSpec(
        argv=[sys.executable, "-I", "-m", "grader.verify_worker.worker"],
        cwd=_mkdir(scratch / "verify"),
        env=sandbox.scrubbed_env(scratch / "verify",
                                 {"GRADER_DATA": data_dir} if data_dir else None),
        # No student code runs here, but the model file is the student's: keep a
        # limit, a roomier one since training happens here (none on GPUs; see sandbox).
        memory_mb=None if sandbox.gpu_visible() else 2 * max(j["memory_mb"] for j in jobs),
        output_limit=1 << 20,
        fail_on_output=False,
        job_timeout=lambda job: job["timeout"],
        eager=True,
        on_event=on_event,
    )
    verify_sup = sandbox.Supervisor(verify_spec)
    verify_thread = threading.Thread(
        target=verify_sup.run, args=(verify_q, lambda j, r: None, lambda j, f: []),
        daemon=True)
    verify_thread.start()

    build_env = sandbox.scrubbed_env(_mkdir(scratch / "home"), build_extra_env)
    build_spec = sandbox.WorkerSpec(
        # -P: the submission folder is not put on sys.path before the worker has
        # imported Keras, so a student's keras.py cannot stand in for it.
        # The data roots are covered in the build worker's namespaces (grader/data/hiding.py):
        # student code cannot read test labels, nor the verify worker's memory.
        argv=[*(hide or []), sys.executable, "-P", "-m", "grader.build_worker.worker", str(models)],
        cwd=work, env=build_env, memory_mb=build_memory,
        output_limit=limits0["output_limit_bytes"],
        job_timeout=lambda job: job["build_timeout_s"],
    )
    build_sup = sandbox.Supervisor(build_spec)
    try:
        try:
            build_sup.run(build_q, on_built, on_build_failure)
        finally:
            verify_q.put(None)
        verify_thread.join()
    except Stopped:  # SIGTERM: score the tasks that are done; the rest say why not
        _halt_workers(result)
    build, verify = build_sup.outcome, verify_sup.outcome
    result.workers = {"build": build.workers_started, "verify": verify.workers_started}
    result.timeline = sorted([(round(t - result.started, 3), "build", e, j)
                              for t, e, j in build.timeline]
                             + [(round(t - result.started, 3), "verify", e, j)
                                for t, e, j in verify.timeline])
    result.student_output = build.output.decode(errors="replace")
    result.verify_output = verify.output.decode(errors="replace")
    if build.output_dropped:
        result.student_output += f"\n[... {build.output_dropped:,} more bytes not kept]"

    unverified_policy = {t["id"]: spec.limits(t)["unverified"] for t in spec.tasks}
    for job in jobs:
        out = outcomes[job["id"]]
        task = out.task
        if result.stopped and not _finished(job["id"], out.build, build, verify):
            out.checks = _fail_all(task, "error", STOPPED)
            continue
        if job["id"] in build.failures:
            failure = build.failures[job["id"]]
            if failure.kind == "start":
                result.fatal, result.complete = True, False
                if f"build worker: {failure.message}" not in result.errors:
                    result.errors.append(f"build worker: {failure.message}")
            call = f"{job['function']}({', '.join(map(repr, job['args']))})"
            out.build = {"state": "error", "message": f"{job['file']}: {call}: "
                         f"{failure.message}"}
        if out.build.get("state") == "called":
            out.checks = {"outputs": _judge_outputs(task, job, out.build, truths[job["id"]])}
            continue
        if out.build.get("state") != "built":
            state = out.build.get("state", "error")
            out.checks = _fail_all(task, state if state in FAILED_STATES else "error",
                                   out.build.get("message", "the build failed"))
            continue
        if job["id"] in verify.failures:
            failure = verify.failures[job["id"]]
            if failure.kind == "start":
                result.fatal, result.complete = True, False
                result.errors.append(f"verify worker: {failure.message}")
            out.checks = _fail_all(task, "error", f"verifying the saved model failed: "
                                   f"{failure.message}")
            continue
        if out.build.get("unexportable"):
            out.verified = False
            out.checks = _unverified(task, out.build.get("facts"), out.build["unexportable"],
                                     unverified_policy[job["id"]],
                                     "the PyTorch model could not be saved with torch.export "
                                     "for checking apart from your code")
            continue
        verified = verify.results.get(job["id"], {})
        if verified.get("state") == "verified":
            out.verified = True
            out.checks = _run_checks(task, verified["facts"], verified.get("checks", {}))
        elif verified.get("state") == "unverified":
            out.verified = False
            out.checks = _unverified(task, out.build.get("facts"), verified["message"],
                                     unverified_policy[job["id"]])
        else:
            out.checks = _fail_all(task, "error", "the saved model could not be loaded: "
                                   + verified.get("message", "no result from the verify worker"))


def _finished(job_id: str, built: dict[str, Any], build: sandbox.Outcome,
              verify: sandbox.Outcome) -> bool:
    """Whether every result a task needs was in when grading was stopped."""
    if job_id in build.failures or job_id in verify.results or job_id in verify.failures:
        return True
    # A build that ends the task: a failure, a function's outputs, an unexportable model.
    return job_id in build.results and (built.get("state") != "built"
                                        or bool(built.get("unexportable")))


def _prepare_probe(job: dict[str, Any], task: dict[str, Any], folder: Path,
                   truths: dict[str, Any]) -> str | dict[str, Any] | None:
    """Turns a function task's job into calls on the probe's fixture files (written in
    the scratch space, which the build worker sees); the truth stays in ``truths``.
    Returns a problem, the skipped result of a probe that cannot run here, or None."""
    from grader.parent import probes

    check = task["checks"]["outputs"]
    params = check.get("params", {})
    try:
        module = probes.probe(check["probe"])
        prepared = module.prepare(_mkdir(folder), params)
    except probes.ProbeUnavailable as exc:  # an optional extra is not installed: 0 of 0
        return skipped(f"skipped: {exc}")
    except Exception as exc:  # a grader problem, not the student's: say so
        return (f"the grader could not prepare the {check['probe']} probe's data "
                f"({type(exc).__name__}: {exc}); report this to the course staff")
    truths[task["id"]] = prepared.truth
    job.update(kind="function", calls=[vars(c) for c in prepared.calls], checks={},
               probe=check["probe"], probe_params=params,
               returns=check.get("returns", module.RETURNS), seed=params.get("seed", 0))
    return None


def _judge_outputs(task: dict[str, Any], job: dict[str, Any], build: dict[str, Any],
                   truth: Any) -> dict[str, Any]:
    """The outputs check of a function task, from what the build worker captured."""
    from grader.parent import probes

    check = task["checks"]["outputs"]
    where = f"{job['file']}: {job['function']}"
    try:
        outputs = probes.load_outputs(build["outputs_path"])
        result = probes.probe(check["probe"]).judge(outputs, truth, check.get("params", {}),
                                                    where)
    except (OSError, ValueError, KeyError) as exc:
        return {"state": "error", "hints": [], "details": {},
                "message": f"{where}: what the function returned could not be read back "
                           f"({type(exc).__name__}: {exc})"}
    return {"hints": [], "details": {}, **result}


def select_tasks(spec: Spec, only_tasks: list[str] | None) -> Spec:
    """The spec cut down to ``only_tasks``; an unknown id is a SpecError naming the valid ones."""
    if not only_tasks:
        return spec
    known = [t["id"] for t in spec.tasks]
    unknown = [t for t in only_tasks if t not in known]
    if unknown:
        raise SpecError(spec.id, [f"no task {', '.join(map(repr, unknown))}; "
                                  f"tasks: {', '.join(known)}"])
    return Spec(data={**spec.data, "tasks": [t for t in spec.tasks if t["id"] in only_tasks]},
                path=spec.path)


def _align_skipped_checks(outcomes: list[TaskOutcome], static: bool,
                          data_dir: str | None) -> None:
    """Skips, for every student alike, the checks that could not have run here.

    A task whose build failed has every check failed, but a check that `--static`
    or a missing dataset would have skipped anyway must be skipped for this student
    too: otherwise its points count in one student's max_score and not in another's."""
    from grader.data import DatasetMissing, locate

    for out in outcomes:
        for name, res in out.checks.items():
            if name in STATIC_CHECKS or name in PROBE_CHECKS or res.get("state") == "skipped":
                continue
            why = "--static (no training)" if static and name in TRAINING_CHECKS else None
            dataset = out.task["checks"][name].get("dataset")
            if why is None and dataset:
                try:
                    locate(dataset, data_dir)
                except DatasetMissing as exc:
                    why = str(exc)
            if why is not None:
                out.checks[name] = skipped(f"skipped: {why}")


def build_worker_resources(jobs: list[dict[str, Any]], gpu: bool
                           ) -> tuple[dict[str, str], int | None]:
    """The build worker's extra environment and RLIMIT_AS (MiB, or None).

    One worker builds every task, so it gets the largest ``memory_mb`` any task
    asks for. Building needs no GPU, and CUDA's address-space reservations break
    RLIMIT_AS, so the GPU is hidden, unless a task's training is the student's
    work and a GPU is there: then the student trains on it, as the verify worker
    does, with no RLIMIT_AS and the batch system's cgroup (Slurm --mem) as the
    limit. The test split is never in this worker either way."""
    env = {
        # Virtual memory grows with the core count (a 64 MiB malloc arena and a thread
        # stack per thread); cap both so that the same RLIMIT_AS holds on a 64-core node.
        "MALLOC_ARENA_MAX": "4",
        "TF_NUM_INTRAOP_THREADS": str(min(os.cpu_count() or 1, 8)),
        "TF_NUM_INTEROP_THREADS": "2",
    }
    trains = any((job["checks"].get("accuracy") or {}).get("trained_by") == "student"
                 for job in jobs)
    if gpu and trains:
        return env, None
    return {**env, "CUDA_VISIBLE_DEVICES": ""}, max(job["memory_mb"] for job in jobs)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _verify_timeout(spec: Spec, task: dict[str, Any], static: bool) -> float:
    timeout = float(spec.limits(task)["verify_timeout_s"])
    acc = task["checks"].get("accuracy")
    if acc and not static:
        timeout += float(acc.get("time_limit_s", 600))
    return timeout


def _run_checks(task: dict[str, Any], facts: dict[str, Any],
                worker_checks: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, check_spec in task["checks"].items():
        if name in STATIC_CHECKS:
            out[name] = STATIC_CHECKS[name](facts, check_spec, task)
        elif name in worker_checks:
            out[name] = {"hints": [], "details": {}, **worker_checks[name]}
        else:
            out[name] = skipped(f"skipped: no {name} check available")
    return out


def _unverified_cause(why: str, what: str) -> tuple[str, str]:
    """What kept the model from being verified, in one sentence, and the fix.

    Keras' own safe_mode error is long and ends in advice for whoever loads the file
    (pass safe_mode=False), which is the wrong advice here; say it in the student's terms.
    """
    if "Lambda" in why:
        return ("the model has a Lambda layer, which the grader cannot load without running "
                "your code (Keras safe_mode)",
                "replace the Lambda layer with built-in Keras layers (e.g. "
                "layers.Rescaling(2.0) for `lambda x: x * 2`) so the checks can be scored")
    if what.startswith("the saved model") and any(
            k in why for k in ("Could not locate", "custom", "register", "Unknown layer")):
        return ("the model has a layer class of your own, which the grader cannot load "
                "without running your code (Keras safe_mode)",
                "use only built-in Keras layers so the grader can load your model with "
                "safe_mode=True")
    first = why.strip().splitlines()[0] if why.strip() else ""
    sentence = first.split(". ")[0][:300]
    fix = ("make the model exportable with torch.export (no data-dependent Python control "
           "flow in forward)" if "torch.export" in what else
           "use only built-in Keras layers so the grader can load your model with "
           "safe_mode=True")
    return f"{what} ({sentence})", fix


def _unverified(task: dict[str, Any], facts: dict[str, Any] | None, why: str,
                policy: str, what: str = "the saved model could not be loaded with safe_mode"
                ) -> dict[str, dict[str, Any]]:
    """Checks of a model the verify worker could not load without the student's code."""
    cause, fix = _unverified_cause(why, what)
    if facts is None:
        checks = _fail_all(task, "unverified", f"unverified: {cause}")
        for res in checks.values():
            res["hints"] = [fix]
        return checks
    checks = _run_checks(task, facts, {})
    for res in checks.values():
        if res["state"] == "skipped":
            continue
        first = res["message"].splitlines()[0] if res["message"] else ""
        said = f"your code's own result, not trusted: {res['state']}: {first}"
        if policy == "trust":
            res["message"] = f"{res['message']} (unverified: {cause})"
            res["unverified"] = True
        else:
            res.update(state="unverified", message=f"unverified, 0 points until a person "
                       f"reviews it: {cause}; {said}")
            # The check's own hints and details describe a model nobody verified; one
            # instruction replaces them.
            res["hints"] = [fix]
            # The terminal report says cause and fix once per task, from these.
            res["details"] = {"unverified": {"cause": cause, "fix": fix, "own_result": said}}
    return checks
