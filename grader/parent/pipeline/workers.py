"""Steps 4 and 5 of grading: the build worker builds (student code runs there), and
each saved model goes to the verify worker as soon as it is saved, so the two
workers' TensorFlow start-ups overlap. grader/parent/sandbox.py supervises both.

A visual check the grader trains for (jobs.visual_training) goes in three stages:
its saved model goes to a second verify worker, the trainer, which trains a fresh
copy and picks the real images (grader/verify_worker/visual_training.py); then a
second build worker runs the student's visual function on that trained model and
those images; then the verify worker scores it, on the files whose hashes the
trainer reported. Each queue is closed by what comes before it only (build, then
trainer, then the visual builds, then verify), so a worker that cannot start fails
its jobs instead of waiting forever. When training is not possible the stages still
run, on the untrained model and the synthetic image, and the check says why."""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from grader.parent import sandbox
from grader.parent.checks.source_facts import with_source_facts
from grader.parent.pipeline.jobs import Plan, build_worker_resources, verify_job
from grader.parent.pipeline.matching import Candidate, match
from grader.parent.pipeline.outcome import (
    Grading,
    RunOptions,
    Stopped,
    TaskOutcome,
    time_budget,
)
from grader.parent.spec import Spec
from grader.protocol import BuildJob, BuildResult, BuildState, VerifyJob

#: Ids of a visual check's extra jobs: the trainer's, and the build on the trained model.
TRAIN_SUFFIX = "+train"
VISUAL_SUFFIX = "+visual"


def run_workers(spec: Spec, plan: Plan, scratch: Path, run: RunOptions,
                outcomes: dict[str, TaskOutcome], result: Grading, on_event: Any = None
                ) -> tuple[sandbox.Outcome, sandbox.Outcome]:
    """Runs both workers over the plan's jobs: (the build outcome, the verify outcome).
    Each task's build result lands in its outcome as it arrives."""
    sandbox.protect_existing_children()
    sandbox.become_subreaper()
    limits0 = spec.limits(spec.tasks[0])
    build_extra_env, build_memory = build_worker_resources(plan.jobs,
                                                           sandbox.gpu_visible())
    build_q: queue.Queue = queue.Queue()
    verify_q: queue.Queue = queue.Queue()
    for job in plan.jobs:
        build_q.put(job)
    build_q.put(None)
    by_task = {t["id"]: t for t in spec.tasks}
    from grader.data.hiding import hidden_paths, prefix_for

    run, cover = _train_cache(run, scratch)
    # The verify side's folders sit in the scratch space the build worker may write:
    # covered there, so student code cannot plant files the verify workers read (a
    # dataset in their Keras cache, say).
    cover = [*cover, _mkdir(scratch / "verify"), _mkdir(scratch / "visual-train")]
    hidden = hidden_paths(run.data_dir, keep=[scratch], cover=cover)
    hide = prefix_for(hidden)
    warm_build = warm_verify = None
    # Warm workers (grader/parent/warm.py) only where no GPU is visible: a worker forked
    # after the import must set up CUDA itself, which is not tested on a GPU node yet,
    # and there training, not the import, is what a student costs.
    if run.warm is not None and not sandbox.gpu_visible():
        warm_verify = run.warm.verify
        # A warm build worker builds the hiding namespaces itself; where they cannot be
        # built, the build worker starts fresh (and the report says the data is not hidden).
        warm_build = run.warm.build if hide is not None else None
    seconds = time_budget(spec.data.get("defaults", {}), run)
    budget = sandbox.Budget.since(seconds, result.started) if seconds else None

    captured: dict[str, BuildResult] = {}  # tasks whose models are matched after the build
    trainer_q: queue.Queue = queue.Queue()
    staged: dict[str, BuildResult] = {}  # visual tasks built, waiting for the trainer

    def fallback(job_id: str) -> dict[str, Any] | None:
        why = plan.visual_fallback.get(job_id)
        return None if why is None else {"_fallback": why}

    def on_built(job_id: str, raw: dict[str, Any]) -> None:
        built = outcomes[job_id].build = BuildResult.from_wire(raw)
        # What running the file met: Keras 2 spellings, stand-ins, statements that raised.
        outcomes[job_id].notes += [str(n) for n in built.run_notes]
        outcomes[job_id].notes += [f"not run: {f}" for f in built.run_failures]
        if built.state == BuildState.CAPTURED:
            captured[job_id] = built
            return
        if built.state != BuildState.BUILT or not built.model_path:
            return
        # The path comes from the process student code ran in: only a file the worker
        # saved in the models folder goes to the verify worker.
        if not _inside(built.model_path, plan.models):
            outcomes[job_id].build = BuildResult(
                BuildState.ERROR, f"the build worker named {built.model_path}, outside the "
                "folder models are saved in; the submission must not move the saved model")
            return
        if job_id in plan.visual_training:
            staged[job_id] = built
            trainer_q.put(_train_job(spec, by_task[job_id], built, run, scratch,
                                     plan.visual_training[job_id], hide is not None))
            return
        verify_q.put(verify_job(spec, by_task[job_id], built, run, hide is not None,
                                fallback(job_id)))

    file_of = {j.id: j.file for j in plan.jobs}

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
                                 {"GRADER_DATA": run.data_dir} if run.data_dir else None),
        # No student code runs here, but the model file is the student's: keep a
        # limit, a roomier one since training happens here (none on GPUs; see sandbox).
        memory_mb=None if sandbox.gpu_visible() else 2 * max(j.memory_mb for j in plan.jobs),
        output_limit=1 << 20,
        flood_limit=None,
        job_timeout=lambda job: job.timeout,
        # Started with the build worker, so the two TensorFlow imports overlap, where a
        # model will come; a run of function tasks only may never need it.
        eager=any(j.kind != "function" for j in plan.jobs),
        on_event=on_event,
        budget=budget,
        warm=(warm_verify, [], None) if warm_verify else None,
    )
    verify_sup = sandbox.Supervisor(verify_spec)
    verify_thread = threading.Thread(
        target=verify_sup.run, args=(verify_q, lambda j, r: None, lambda j, f: []),
        daemon=True)
    verify_thread.start()
    # The trainer: a verify worker of its own (started only when a job comes), so that
    # training for the pictures overlaps the accuracy checks instead of queueing behind.
    trainer_sup = sandbox.Supervisor(sandbox.WorkerSpec(
        argv=verify_spec.argv, cwd=_mkdir(scratch / "visual-train"),
        env=sandbox.scrubbed_env(scratch / "visual-train",
                                 {"GRADER_DATA": run.data_dir} if run.data_dir else None),
        memory_mb=verify_spec.memory_mb, output_limit=1 << 20, flood_limit=None,
        job_timeout=lambda job: job.timeout, budget=budget, warm=verify_spec.warm))
    trainer_thread = threading.Thread(
        target=trainer_sup.run, args=(trainer_q, lambda j, r: None, lambda j, f: []),
        daemon=True)
    trainer_thread.start()

    # Its temporary files go to its own folder: the rest of the disk is read-only there.
    build_env = sandbox.scrubbed_env(_mkdir(scratch / "home"), {
        **build_extra_env, "TMPDIR": str(_mkdir(scratch / "home" / "tmp"))})
    build_spec = sandbox.WorkerSpec(
        # -P: the submission folder is not put on sys.path before the worker has
        # imported Keras, so a student's keras.py cannot stand in for it.
        # The data roots are covered in the build worker's namespaces (grader/data/hiding.py):
        # student code cannot read test labels, nor the verify worker's memory.
        argv=[*(hide or []), sys.executable, "-P", "-m", "grader.build_worker.worker",
              str(plan.models)],
        cwd=plan.work, env=build_env, memory_mb=build_memory,
        output_limit=limits0["output_limit_bytes"],
        flood_limit=limits0["output_flood_bytes"],
        job_timeout=lambda job: job.build_timeout_s,
        budget=budget,
        warm=(warm_build, [str(plan.models)], hidden) if warm_build else None,
    )
    build_sup = sandbox.Supervisor(build_spec)
    try:
        try:
            build_sup.run(build_q, on_built, on_build_failure)
            # Every run is in: each task that had no builder gets its captured model.
            for job_id, built in assign_captured(spec, captured, outcomes, plan,
                                                 result.submission).items():
                verify_q.put(verify_job(spec, by_task[job_id], built, run, hide is not None,
                                        fallback(job_id)))
            trainer_q.put(None)
            trainer_thread.join()
            if staged:
                visual_sup = sandbox.Supervisor(build_spec)
                _visual_builds(spec, plan, run, staged, trainer_sup.outcome, visual_sup,
                               verify_q, hide is not None)
                _merge(build_sup.outcome, visual_sup.outcome)
        finally:
            trainer_q.put(None)
            verify_q.put(None)
        verify_thread.join()
    except Stopped:  # SIGTERM: score the tasks that are done; the rest say why not
        halt_workers(result)
    build, verify = build_sup.outcome, verify_sup.outcome
    _merge(verify, trainer_sup.outcome)
    result.workers = {"build": build.workers_started, "verify": verify.workers_started,
                      "warm": build.workers_warm + verify.workers_warm}
    result.timeline = sorted([(round(t - result.started, 3), "build", e, j)
                              for t, e, j in build.timeline]
                             + [(round(t - result.started, 3), "verify", e, j)
                                for t, e, j in verify.timeline])
    result.student_output = build.output.decode(errors="replace")
    result.verify_output = verify.output.decode(errors="replace")
    if build.output_dropped:
        result.student_output += f"\n[... {build.output_dropped:,} more bytes not kept]"

    return build, verify


def _train_job(spec: Spec, task: dict[str, Any], built: BuildResult, run: RunOptions,
               scratch: Path, settings: dict[str, Any], data_hidden: bool) -> VerifyJob:
    """The trainer's job for a visual task: its visual check alone, as the training
    stage (grader/verify_worker/visual.py), writing into a folder of the scratch space.
    With the training cache where the build worker cannot reach it, a classmate's
    training of the same architecture is reused (visual_training._trained_once)."""
    check = {k: v for k, v in task["checks"]["visual"].items() if not k.startswith("_")}
    check.update(_stage="train", _training=settings,
                 # In the trainer's own folder, which no build worker can reach: what it
                 # writes there is what it hashes and may store for classmates.
                 _out_dir=str(_mkdir(scratch / "visual-train" / "trained" / task["id"])))
    timeout = float(spec.limits(task)["verify_timeout_s"]) + float(
        settings.get("time_limit_s", 600)) + 120.0  # + reading the dataset
    if run.train_cache and data_hidden:
        timeout += float(settings.get("time_limit_s", 600))  # a wait on the key's claim
    return VerifyJob(id=task["id"] + TRAIN_SUFFIX, model_path=built.model_path or "",
                     task={**task, "checks": {"visual": check}}, data_dir=run.data_dir,
                     require_gpu=run.require_gpu, timeout=timeout,
                     train_cache=run.train_cache if data_hidden else None)


def _trained(trainer: sandbox.Outcome, task_id: str) -> tuple[dict[str, Any] | None, str]:
    """What the trainer made for ``task_id`` (paths and hashes), or (None, why not)."""
    job_id = task_id + TRAIN_SUFFIX
    if job_id in trainer.failures:
        return None, f"the grader's training failed ({trainer.failures[job_id].message})"
    raw = trainer.results.get(job_id) or {}
    check = (raw.get("checks") or {}).get("visual") or {}
    details = check.get("details") or {}
    if check.get("state") == "passed" and all(
            isinstance(details.get(k), str) for k in ("model", "sha256", "inputs",
                                                      "inputs_sha256", "summary")):
        return details, ""
    return None, check.get("message") or raw.get("message") or "the grader's training failed"


def _visual_builds(spec: Spec, plan: Plan, run: RunOptions, staged: dict[str, BuildResult],
                   trainer: sandbox.Outcome, sup: sandbox.Supervisor, verify_q: queue.Queue,
                   data_hidden: bool) -> None:
    """The student's visual functions on the trained models (or, where training was
    not possible, the untrained ones), in a fresh build worker; each result goes on
    to the verify worker for scoring."""
    by_task = {t["id"]: t for t in spec.tasks}
    jobs_by_id = {j.id: j for j in plan.jobs}
    extra: dict[str, dict[str, Any]] = {}
    todo: queue.Queue = queue.Queue()
    for task_id, first in staged.items():
        details, why = _trained(trainer, task_id)
        check = {k: v for k, v in by_task[task_id]["checks"]["visual"].items()
                 if not k.startswith("_")}
        if details is not None:
            # The visual build reads copies; scoring reads the trainer's own files.
            model, inputs = _hand_over(details, plan.models.parent / "visual-trained")
            check.update(_model=model, _inputs=inputs)
            # The hashes stay here, out of the build worker's reach, for the scoring.
            extra[task_id] = {"_trained": {k: details[k] for k in (
                "model", "sha256", "inputs", "inputs_sha256", "summary")}}
        else:
            check.update(_model=first.model_path, _fallback=why)
            extra[task_id] = {"_fallback": why}
        original = jobs_by_id[task_id]
        todo.put(BuildJob.from_wire({**original.to_wire(), "id": task_id + VISUAL_SUFFIX,
                                     "checks": {"visual": check}}))
    todo.put(None)

    def send(task_id: str, visual: dict[str, Any]) -> None:
        first = staged[task_id]
        built = BuildResult(first.state, model_path=first.model_path, facts=first.facts,
                            notes={**first.notes, "visual": visual})
        verify_q.put(verify_job(spec, by_task[task_id], built, run, data_hidden,
                                extra[task_id]))

    def on_built(job_id: str, raw: dict[str, Any]) -> None:
        task_id = job_id.removesuffix(VISUAL_SUFFIX)
        built = BuildResult.from_wire(raw)
        visual = built.notes.get("visual") if isinstance(built.notes, dict) else None
        if not isinstance(visual, dict):
            visual = {"error": built.message or "the visual function was not run"}
        send(task_id, visual)

    def on_failure(job_id: str, failure: sandbox.Failure) -> list[str]:
        task_id = job_id.removesuffix(VISUAL_SUFFIX)
        check = by_task[task_id]["checks"]["visual"]
        send(task_id, {"error": f"{check.get('file', '?')}: {check.get('function', '?')}: "
                                f"{failure.message}"})
        return []

    sup.run(todo, on_built, on_failure)


def _hand_over(details: dict[str, Any], folder: Path) -> tuple[str, str]:
    """Copies of the trainer's model and images for the student's visual function, in a
    new folder of a name no earlier student code could guess, written without following
    links: (model path, images path)."""
    import tempfile

    folder.mkdir(exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="trained-", dir=folder))
    copies = []
    for key in ("model", "inputs"):
        source = Path(details[key])
        copy = target / source.name
        fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            out.write(src.read())
        copies.append(str(copy))
    return copies[0], copies[1]


def _merge(into: sandbox.Outcome, other: sandbox.Outcome) -> None:
    """A helper worker's output, timeline and starts, counted with its side's."""
    into.output += other.output
    into.output_dropped += other.output_dropped
    into.workers_started += other.workers_started
    into.workers_warm += other.workers_warm
    into.timeline += other.timeline


def halt_workers(result: Grading) -> None:
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



def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _train_cache(run: RunOptions, scratch: Path) -> tuple[RunOptions, list[Path]]:
    """``run`` with its training cache folder made and resolved, and the folders to
    cover in the build worker. A folder that cannot be made, or covered whole (it holds
    the scratch space or the grader itself), is not used: student code must never
    be able to write an entry (grader/verify_worker/train_cache.py)."""
    if not run.train_cache:
        return run, []
    from dataclasses import replace

    from grader.data.hiding import can_cover

    folder = Path(run.train_cache).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return replace(run, train_cache=None), []
    if not can_cover(folder, [scratch]):
        return replace(run, train_cache=None), []
    return replace(run, train_cache=str(folder.resolve())), [folder.resolve()]


def _inside(path: str, folder: Path | None) -> bool:
    try:
        return folder is not None and Path(path).resolve().is_relative_to(folder.resolve())
    except (OSError, ValueError):
        return False


def assign_captured(spec: Spec, captured: dict[str, BuildResult],
                    outcomes: dict[str, TaskOutcome], plan: Plan,
                    submission: Path) -> dict[str, BuildResult]:
    """For each task whose file had no builder to call, the captured model matched to
    it, as a build result the verify worker can take (task id -> result). A task left
    without a model fails here, naming what the run did build."""
    by_task = {t["id"]: t for t in spec.tasks}
    pools: dict[str, list[Candidate]] = {}
    for job_id, built in captured.items():
        # Matched on the facts it will be checked on: the file's augmentation, say.
        pools[job_id] = [Candidate(model_path=c["model_path"], name=c.get("name", "<unnamed>"),
                                   where=c.get("where", "?"), run=c.get("run", "?"),
                                   facts=with_source_facts(_candidate_facts(c), by_task[job_id],
                                                           submission,
                                                           outcomes[job_id].entry_file),
                                   events=list(c.get("events", [])),
                                   model_id=str(c.get("model_id") or ""))
                         for c in built.captured if _inside(c.get("model_path", ""), plan.models)]
    # A task whose checks call more of the student's functions on the model (Grad-CAM,
    # the student's own training) needs the builder itself: a captured model has no
    # function of the student's to hand them.
    hooked = {j for j in captured if _calls_student_functions(by_task[j])}
    chosen = match([by_task[j] for j in captured if j not in hooked], pools)
    out: dict[str, BuildResult] = {}
    for job_id, built in captured.items():
        outcome = outcomes[job_id]
        # The whole file ran under the harness: no cell was left out, and what failed
        # in the run is reported as such (run_failures).
        outcome.skipped_cells = []
        if job_id in hooked:
            task = by_task[job_id]
            uses = ", ".join(_student_functions(task))
            outcome.build = BuildResult(
                BuildState.ERROR, f"{outcome.entry_file}: no function "
                f"{task['entry']['function']}(), which this task calls to build the model "
                f"its checks hand to your {uses}: define it as the template does")
            continue
        found = chosen.get(job_id)
        if found is None:
            names = ", ".join(c.describe() for c in pools[job_id]) or "no model at all"
            outcome.build = BuildResult(
                BuildState.ERROR, f"{outcome.entry_file}: no function "
                f"{by_task[job_id]['entry']['function']}() to call, and no model that the "
                f"file builds is left for this task (it builds: {names}); define the "
                "function as the template does, or pin a model with --map "
                f"{job_id}=FILE:NAME")
            continue
        note = f"graded model: {found.why}"
        if found.weak:
            note += "; a weak match: a person should check it is the model meant"
        if found.tied_with is not None:
            note += (f"; as close: {found.tied_with.describe()}, so a person should check "
                     "which was meant")
        outcome.notes.append(note)
        out[job_id] = outcome.build = BuildResult(
            BuildState.BUILT, model_path=found.candidate.model_path,
            facts=found.candidate.facts, run_failures=built.run_failures,
            run_notes=built.run_notes)
    return out


def _candidate_facts(record: dict[str, Any]) -> dict[str, Any]:
    """A captured model's facts for matching. Its framework is the saved file's: the
    verify worker loads a .pt2 as a torch.export program whatever the record says, so
    the file decides which tasks may take it (matching.py)."""
    facts = dict(record.get("facts") or {})
    facts["framework"] = ("torch" if str(record.get("model_path", "")).endswith(".pt2")
                          else "keras")
    return facts


def _student_functions(task: dict[str, Any]) -> list[str]:
    """The student's functions a task's checks call on its model in the build worker:
    a visual check's, a student-trained accuracy check's training function."""
    names = []
    for name, check in task["checks"].items():
        if name == "visual":
            names.append(check.get("function", "visual function"))
        elif name == "accuracy" and check.get("trained_by") == "student":
            names.append(check.get("train_function", "training function"))
    return names


def _calls_student_functions(task: dict[str, Any]) -> bool:
    return bool(_student_functions(task))
