"""Step 3 of grading: plan the jobs, one per task that has an entry file.

A model task's job names the builder to call; a function task's job carries the
calls its probe prepared (their fixture files written in the scratch space, the
truth kept here); a student-trained task's job carries its train and validation
splits. The verify job of a task is its spec less the checks this run skips.

A visual check whose model the grader can train (`visual_training`) leaves the
build job without its hook: workers.py runs it in stages (train in a verify worker,
the student's function on the trained model in a build worker, then scoring).
Otherwise the hook runs on the untrained model as the job is built, and the check
says why (``_fallback``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import registry
from grader.parent import submission
from grader.parent.pipeline.outcome import RunOptions, TaskOutcome, fail_all
from grader.parent.spec import Spec, SpecError, load_spec
from grader.protocol import BuildJob, BuildResult, VerifyJob, skipped


@dataclass
class Plan:
    jobs: list[BuildJob]  # in the order they run
    truths: dict[str, Any] = field(default_factory=dict)  # function tasks' truths; parent only
    work: Path | None = None  # the build worker's copy of the submission
    models: Path | None = None  # where it saves models
    # Visual checks trained first: task id -> the training settings (visual_training).
    visual_training: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Visual checks on the untrained model: task id -> why (said in the check's output).
    visual_fallback: dict[str, str] = field(default_factory=dict)


def plan_jobs(spec: Spec, sub: Path, scratch: Path, run: RunOptions,
              outcomes: dict[str, TaskOutcome], entry_files: dict[str, str]) -> Plan:
    parent_checks = registry.checks_scored_in("parent")
    work = scratch / "submission"
    models = scratch / "models"
    models.mkdir()
    prepared = submission.prepare(sub, work, sorted(set(entry_files.values())))

    jobs: list[BuildJob] = []
    truths: dict[str, Any] = {}
    trained: dict[str, dict[str, Any]] = {}
    fallback: dict[str, str] = {}
    for task_id, rel in entry_files.items():
        out = outcomes[task_id]
        source = prepared[rel]
        out.skipped_cells = [vars(c) for c in source.skipped_cells]
        if source.syntax_error:
            out.checks = fail_all(out.task, "error", source.syntax_error)
            continue
        entry = out.task["entry"]
        limits = spec.limits(out.task)
        job = BuildJob(
            id=task_id, file=rel, module_path=source.module_path,
            function=entry["function"], args=entry.get("args", []),
            kwargs=entry.get("kwargs", {}), globals=entry.get("globals", {}),
            input_shape=out.task.get("input_shape"), memory_mb=limits["memory_mb"],
            framework=out.task.get("framework", "keras"),
            build_timeout_s=limits["build_timeout_s"],
            # The build worker sees the checks it has work for: not those scored from
            # facts in the parent, nor those this run skips.
            checks={k: v for k, v in out.task["checks"].items()
                    if k not in parent_checks and run.skip_reason(k) is None},
            source_path=source.source_path, pin=run.maps.get(task_id, (None, None))[1],
            capture=out.task.get("kind", "model") == "model")
        if out.task.get("kind") == "function":
            problem = _prepare_probe(job, out.task, scratch / "probe-data" / task_id, truths)
            if problem:
                out.checks = ({"outputs": problem} if isinstance(problem, dict)  # skipped
                              else fail_all(out.task, "error", problem))
            else:
                jobs.append(job)
            continue
        if "accuracy" in job.checks:
            # A student-trained task gets its train/validation splits (never the test
            # split) in the scratch space, and its training time on top of the build's.
            from grader.data.training_data import builder_of
            from grader.parent.training_data import prepare_build_check

            job.checks["accuracy"], extra_s = prepare_build_check(
                job.checks["accuracy"], scratch / "training-data" / task_id, run.data_dir,
                builder=builder_of(entry))
            job.build_timeout_s += extra_s
        if "visual" in job.checks and job.framework == "keras":
            settings, why = visual_training(spec, out.task, run)
            if settings is not None:
                trained[task_id] = settings
                del job.checks["visual"]  # run later, on the model the grader trains
            else:
                fallback[task_id] = why or "no training"
                job.checks["visual"] = {**_spec_keys(job.checks["visual"]),
                                        "_fallback": fallback[task_id]}
        jobs.append(job)
    return Plan(jobs=jobs, truths=truths, work=work, models=models, visual_training=trained,
                visual_fallback=fallback)


#: Keys of an accuracy check that say nothing about how to train.
_NOT_TRAINING = ("points", "derived_from", "notes", "train", "train_skipped", "train_error")


def visual_training(spec: Spec, task: dict[str, Any], run: RunOptions
                    ) -> tuple[dict[str, Any] | None, str | None]:
    """How the grader trains the model of ``task``'s visual check before it is drawn,
    or (None, why not). The settings are, first found: the visual check's own
    ``train`` object (accuracy-check keys; ``{"from_task": ID}`` borrows that task's),
    the task's own accuracy check, or that of a task with the same builder call
    (practical2's gradcam and model2). Only the grader's own training counts: a
    student's training function never runs for a picture."""
    if run.static:
        return None, "--static (no training)"
    check = task["checks"]["visual"]
    own = check.get("train") if isinstance(check.get("train"), dict) else {}
    tasks = _all_tasks(spec)
    source: dict[str, Any] | None = None
    if "dataset" in own:
        source = {}
    elif own.get("from_task"):
        source = _grader_accuracy(tasks.get(own["from_task"]))
    else:
        source = _grader_accuracy(task)
        if source is None:
            same = json.dumps(task.get("entry"), sort_keys=True)
            source = next((acc for other in tasks.values()
                           if json.dumps(other.get("entry"), sort_keys=True) == same
                           and (acc := _grader_accuracy(other)) is not None), None)
    if source is None:
        return None, ("no training settings for this model (no accuracy check that the "
                      "grader trains on the same builder call, and no `train` in the "
                      "visual check)")
    settings = {k: v for k, v in {**source, **own}.items()
                if k not in _NOT_TRAINING and k != "from_task"}
    from grader.data import DatasetMissing, locate

    try:
        locate(settings["dataset"], run.data_dir)
    except DatasetMissing as exc:
        return None, f"no training data on this machine ({exc})"
    except (KeyError, ValueError) as exc:
        return None, f"no usable dataset in the training settings ({exc})"
    return settings, None


def _spec_keys(check: dict[str, Any]) -> dict[str, Any]:
    """A visual check less the ``_`` keys: only the parent says how it was trained."""
    return {k: v for k, v in check.items() if not k.startswith("_")}


def _grader_accuracy(task: dict[str, Any] | None) -> dict[str, Any] | None:
    acc = (task or {}).get("checks", {}).get("accuracy")
    if isinstance(acc, dict) and acc.get("trained_by", "grader") == "grader" and \
            acc.get("dataset"):
        return acc
    return None


def _all_tasks(spec: Spec) -> dict[str, dict[str, Any]]:
    """Every task of the spec by id, also those `--task` left out of this run (the
    task whose accuracy settings a visual check borrows may be one of them)."""
    tasks = {t["id"]: t for t in spec.tasks}
    try:
        full = load_spec(spec.path) if spec.path else None
    except SpecError:
        full = None
    for t in (full.tasks if full is not None and full.id == spec.id else []):
        tasks.setdefault(t["id"], t)
    return tasks


def verify_job(spec: Spec, task: dict[str, Any], built: BuildResult, run: RunOptions,
               data_hidden: bool, visual: dict[str, Any] | None = None) -> VerifyJob:
    """What the verify worker gets for a built model: the task with only the checks
    it scores and this run does not skip. ``visual``: keys the parent adds to the
    visual check (``_trained``, ``_fallback``); nothing from a worker's spec copy."""
    kept = {name: check for name, check in task["checks"].items()
            if registry.CHECKS[name].scored_in == "verify" and run.skip_reason(name) is None}
    if "visual" in kept:
        kept["visual"] = {**_spec_keys(kept["visual"]), **(visual or {})}
    timeout = float(spec.limits(task)["verify_timeout_s"])
    if "accuracy" in kept:
        timeout += float(kept["accuracy"].get("time_limit_s", 600))
        if run.train_cache and data_hidden:
            # It may first wait, up to that limit, for another process training the same
            # architecture (train_cache.TrainCache.claim), and train after all if that ends
            # without a result to reuse.
            timeout += float(kept["accuracy"].get("time_limit_s", 600))
    return VerifyJob(id=task["id"], model_path=built.model_path,
                     task={**task, "checks": kept}, data_dir=run.data_dir,
                     # data_hidden is the parent's own fact, not the build worker's.
                     notes={**built.notes, "data_hidden": data_hidden},
                     require_gpu=run.require_gpu, timeout=timeout,
                     # Only where the build worker's namespaces cover the cache folder.
                     train_cache=run.train_cache if data_hidden else None)


def _prepare_probe(job: BuildJob, task: dict[str, Any], folder: Path,
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
    job.kind, job.calls, job.checks = "function", [vars(c) for c in prepared.calls], {}
    job.probe, job.probe_params = check["probe"], params
    job.returns, job.seed = check.get("returns", module.RETURNS), params.get("seed", 0)
    return None


def build_worker_resources(jobs: list[BuildJob], gpu: bool
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
    trains = any((job.checks.get("accuracy") or {}).get("trained_by") == "student"
                 for job in jobs)
    if gpu and trains:
        return env, None
    return {**env, "CUDA_VISIBLE_DEVICES": ""}, max(job.memory_mb for job in jobs)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
