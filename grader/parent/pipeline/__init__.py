"""The grading pipeline of `grader check`: spec -> build worker -> verify worker -> results.

Its steps, one module each: read the spec (grader/parent/spec.py, here), find the
entry files (entries.py), plan the jobs (jobs.py), build and verify (workers.py),
assemble the results (assemble.py); outcome.py holds what they hand each other.

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

import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from grader.parent import submission
from grader.parent.pipeline.assemble import align_skipped_checks, assemble
from grader.parent.pipeline.entries import find_entries
from grader.parent.pipeline.jobs import build_worker_resources, plan_jobs
from grader.parent.pipeline.outcome import (
    STOPPED,
    Grading,
    RunOptions,
    Stopped,
    TaskOutcome,
    fail_all,
)
from grader.parent.pipeline.workers import halt_workers, run_workers
from grader.parent.spec import (
    MARKER_FILE,
    Spec,
    SpecError,
    available_assignments,
    find_assignment,
    load_spec,
)

__all__ = ["Grading", "RunOptions", "Stopped", "TaskOutcome", "build_worker_resources",
           "grade", "parse_maps", "select_tasks", "stopped"]


def parse_maps(values: list[str]) -> dict[str, tuple[str, str | None]]:
    """``--map TASK=FILE:NAME`` values (NAME optional) as task id -> (file, name)."""
    out: dict[str, tuple[str, str | None]] = {}
    for value in values:
        task, eq, target = value.partition("=")
        file, _, name = target.rpartition(":") if ":" in target else (target, "", "")
        if not eq or not task.strip() or not file.strip():
            raise ValueError(f"--map {value!r}: write TASK=FILE:NAME, e.g. "
                             "--map model2=hw.ipynb:cnn (NAME may be left out)")
        if name and not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(f"--map {value!r}: {name!r} is not a Python name")
        if task in out:
            raise ValueError(f"--map {value!r}: task {task!r} is mapped twice")
        out[task.strip()] = (file.strip(), name or None)
    return out


def stopped(grading: Grading) -> Grading:
    """``grading`` as SIGTERM left it: what was graded stays, every task without
    results fails saying so, and the run is incomplete (exit 2: not a grade)."""
    for out in grading.tasks:
        if not out.checks:
            out.checks = fail_all(out.task, "error", STOPPED)
    grading.fatal, grading.complete = True, False
    grading.errors.append("stopped by SIGTERM (a batch time limit or scancel) before grading "
                          "finished; grade the submission again with more time")
    return grading



def grade(sub: Path, assignment: str | None = None, static: bool = False,
          data_dir: str | None = None, keep_scratch: bool = False,
          on_event: Any = None, require_gpu: bool = False,
          images_dir: Path | None = None, only_tasks: list[str] | None = None,
          maps: dict[str, tuple[str, str | None]] | None = None,
          train_cache: str | None = None, time_budget_s: float | None = None,
          warm: Any = None) -> Grading:
    """Grades one submission folder. Never raises for a bad submission; see Grading.

    ``require_gpu``: refuse at once (exit 2) on a machine without a GPU.
    ``images_dir``: where the visual checks' PNGs are kept (else they go with
    the scratch space).
    ``only_tasks``: grade just these task ids (`grader check --task`).
    ``maps``: task id -> (file, name) pinned by `grader check --map`.
    ``train_cache``: a folder of grader-trained accuracy results to reuse and add to.
    ``time_budget_s``: wall clock for the whole submission (else the spec's default).
    ``warm``: warm workers to use (grader/parent/warm.py Launchers), else fresh ones."""
    if sub.is_file() and sub.suffix.lower() in (".zip", ".ipynb"):
        return _grade_single_file(sub, assignment, static=static, data_dir=data_dir,
                                  keep_scratch=keep_scratch, on_event=on_event,
                                  require_gpu=require_gpu, images_dir=images_dir,
                                  only_tasks=only_tasks, maps=maps, train_cache=train_cache,
                                  time_budget_s=time_budget_s, warm=warm)
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
        unknown = sorted(set(maps or {}) - {t["id"] for t in spec.tasks})
        if unknown:
            raise SpecError(spec.id, [f"--map names no task {', '.join(map(repr, unknown))}; "
                                      f"tasks: {', '.join(t['id'] for t in spec.tasks)}"])
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
        run = RunOptions(static=static, data_dir=data_dir, require_gpu=require_gpu,
                         maps=dict(maps or {}), train_cache=train_cache,
                         time_budget_s=time_budget_s, warm=warm)
        _grade_with_spec(spec, sub, scratch, run, result, on_event)
        align_skipped_checks(result.tasks, run)
        if images_dir is not None:
            from grader.parent.images import keep_images

            keep_images(result.tasks, images_dir)
    except Stopped:  # SIGTERM outside the workers' run (that one is caught closer)
        halt_workers(result)
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



def _grade_with_spec(spec: Spec, sub: Path, scratch: Path, run: RunOptions, result: Grading,
                     on_event: Any = None) -> None:
    """Steps 2-6 for a spec that loaded (step 1)."""
    outcomes = {t["id"]: TaskOutcome(task=t) for t in spec.tasks}
    result.tasks = list(outcomes.values())
    entry_files = find_entries(spec, sub, outcomes, run)
    plan = plan_jobs(spec, sub, scratch, run, outcomes, entry_files)
    if not plan.jobs:
        result.workers = {"build": 0, "verify": 0}
        return
    build, verify = run_workers(spec, plan, scratch, run, outcomes, result, on_event)
    assemble(spec, plan, build, verify, outcomes, result, run)


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

