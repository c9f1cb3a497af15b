"""The verify worker: computes everything that scores, and never imports student code.

Started by grader/parent/sandbox.py in an empty private directory with ``python -I`` (so no
file of the submission can shadow a module). For each job it loads the saved model
with ``keras.saving.load_model(path, safe_mode=True)`` (which refuses Lambda layers
and unknown classes, so no student code can come back in through the file) and
returns its facts. Checks that need the live model (training for accuracy) are
registered in VERIFY_CHECKS and run here as well.

Usage: python -I -m grader.verify_worker.worker --jobs-fd N --events-fd M
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import registry
from grader.protocol import (
    CheckResult,
    EventWriter,
    VerifyJob,
    VerifyResult,
    VerifyState,
    error,
    not_run,
    read_jobs,
)


@dataclass
class VerifyContext:
    """What a check that runs in the verify worker gets."""

    model: Any  # the keras.Model loaded with safe_mode
    model_path: Path
    task: dict[str, Any]  # the task's spec
    check: dict[str, Any]  # this check's part of the spec
    data_dir: str | None  # --data-dir / GRADER_DATA, never visible to the build worker
    seed: int = 0
    # What the build worker's hooks recorded for this task (grader/registry.py build_hook).
    notes: dict[str, Any] = field(default_factory=dict)
    # send(**data): a "progress" event to the parent (e.g. training epochs and batches).
    send: Callable[..., None] | None = None
    require_gpu: bool = False
    # A folder of grader-trained accuracy results to reuse (grader/verify_worker/train_cache.py).
    train_cache: str | None = None


def _check(name: str) -> Callable[[VerifyContext], CheckResult]:
    """The verify-side check registered under ``name`` (grader/registry.py), imported
    when first used; if its module cannot be imported here (an optional extra), the
    check is skipped and scores nothing rather than failing."""

    def run(ctx: VerifyContext) -> CheckResult:
        try:
            function = registry.load(registry.CHECKS[name].target)
        except ImportError as exc:
            return not_run(f"not run: the {name} check is not available here ({exc})")
        return function(ctx)

    return run


VERIFY_CHECKS: dict[str, Callable[[VerifyContext], CheckResult]] = {
    name: _check(name) for name in registry.checks_scored_in("verify")}
"""Checks that need the loaded model, by spec check name. The parent sends only the
checks this run does not skip (`--static` is decided there, once)."""


def _torch_facts(path: Path, task: dict[str, Any]) -> VerifyResult:
    """Facts of a PyTorch model saved with torch.export: a graph and tensors, loaded
    without any class of the submission. The example input has the shape the program
    was exported on (a Keras task's model may have been exported channels-first); the
    task's own shape where the program does not say."""
    import torch

    from grader.verify_worker.torch_facts import program_input_shape, torch_export_facts

    try:
        program = torch.export.load(str(path))
        shape = program_input_shape(program) or [1, *(task.get("input_shape") or [])]
        example = torch.zeros(shape)
        with torch.no_grad():
            return VerifyResult(VerifyState.VERIFIED, facts=torch_export_facts(program, example))
    except Exception as exc:
        return VerifyResult(VerifyState.ERROR, message=f"{type(exc).__name__}: {exc}"[:2000])


# What the verify-side checks need that a torch.export program cannot give here.
_KERAS_ONLY = {
    "accuracy": ("the grader trains and evaluates Keras models only, and this is a PyTorch "
                 "model; a person can train it with the check's settings (or read the "
                 "accuracy the student's own script reports) and grade this check by hand"),
    "visual": ("the grader draws its pictures (activation maps, filter patterns, Grad-CAM) "
               "on Keras models only, and this is a PyTorch model; a person can run the "
               "student's visual code and grade this check by hand"),
}


def _verify_torch(job: VerifyJob, path: Path) -> VerifyResult:
    """A PyTorch model, chosen by its saved file (.pt2) whatever the task's framework:
    its facts, and the checks that need a live Keras model marked not run, for a person
    (never an error: nothing is wrong with the student's model)."""
    verified = _torch_facts(path, job.task)
    if verified.state != VerifyState.VERIFIED:
        return verified
    for name in job.task.get("checks", {}):
        if name in VERIFY_CHECKS:
            why = _KERAS_ONLY.get(name, f"the {name} check runs on Keras models only, and "
                                  "this is a PyTorch model; a person should grade it by hand")
            verified.checks[name] = not_run(f"not run: {why}")
    return verified


def _load(path: Path) -> tuple[Any, VerifyResult | None]:
    import keras

    try:
        return keras.saving.load_model(path, safe_mode=True, compile=True), None
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}"
        # safe_mode refuses Lambda layers; an unknown class means a student-defined
        # layer whose code lives only in the submission. Both are "cannot verify".
        unsafe = ("safe_mode" in text or "Lambda" in text or "Could not locate class" in text
                  or "Unknown layer" in text or "custom" in text.lower())
        return None, VerifyResult(VerifyState.UNVERIFIED if unsafe else VerifyState.ERROR,
                                  message=text[:2000])


def _own_copy(path: Path) -> Path:
    """The model file read once, into this worker's own folder (its temporary folder,
    which the build worker cannot reach): every fact, key and training of the job then
    comes from the same bytes, whatever the build worker, still running the student's
    next task, does to the file meanwhile. A symlink is refused, not followed."""
    import tempfile

    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as src:
        data = src.read()
    copy = Path(tempfile.mkdtemp(prefix="model-")) / f"model{path.suffix}"
    copy.write_bytes(data)
    return copy


def _verify(job: VerifyJob, events: EventWriter, model_facts: Callable[[Any], dict]
            ) -> VerifyResult:
    started = time.monotonic()
    try:
        path = _own_copy(Path(job.model_path))
    except OSError as exc:
        return VerifyResult(VerifyState.ERROR, message=f"cannot read the saved model "
                            f"{job.model_path}: {exc}")
    if path.suffix == ".pt2":
        return _verify_torch(job, path)
    model, problem = _load(path)
    if problem is not None:
        return problem
    verified = VerifyResult(VerifyState.VERIFIED, facts=model_facts(model))
    for name, check in job.task.get("checks", {}).items():
        if name not in VERIFY_CHECKS:
            continue
        ctx = VerifyContext(
            model=model, model_path=path, task=job.task, check=check, data_dir=job.data_dir,
            seed=check.get("seed", 0), notes=job.notes, require_gpu=job.require_gpu,
            train_cache=job.train_cache,
            send=lambda _job=job.id, **data: events.send("progress", job=_job, **data))
        try:
            verified.checks[name] = VERIFY_CHECKS[name](ctx)
        except Exception as exc:
            verified.checks[name] = error(f"{name} check crashed: {type(exc).__name__}: {exc}")
    verified.seconds = round(time.monotonic() - started, 3)
    # No keras.backend.clear_session() here: it costs 0.2-0.4 s per model, more than
    # loading one; dropping the reference is enough for a handful of models.
    return verified


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs-fd", type=int, required=True)
    parser.add_argument("--events-fd", type=int, required=True)
    args = parser.parse_args(argv)
    events = EventWriter(args.events_fd)
    # Its temporary files (model copies, pictures, Keras' own) stay in its working
    # folder, which the parent covers in the build worker's namespaces.
    import tempfile

    tempfile.tempdir = os.getcwd()

    import keras  # noqa: F401  (imported before the first job, so start-up is not charged to it)

    from grader.verify_worker.facts import model_facts

    # Loading a compiled model whose optimizer never ran warns once per model; noise.
    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
    events.send("ready", pid=os.getpid())
    for raw in read_jobs(args.jobs_fd):
        job = VerifyJob.from_wire(raw)
        events.send("start", job=job.id, phase="verify")
        events.send("done", job=job.id, result=_verify(job, events, model_facts).to_wire())
    return 0


if __name__ == "__main__":
    sys.exit(main())
