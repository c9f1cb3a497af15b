"""The accuracy check, run by the verify worker (never where student code ran).

``run(ctx)`` takes the worker's VerifyContext and returns a CheckResult:

* the dataset is not on disk: not run, the message carrying the command that
  would prepare it (a missing dataset never fails a run);
* otherwise `grader.verify_worker.training.train_and_evaluate` rebuilds the saved model's
  architecture with fresh seeded weights and trains it with the spec's fixed
  hyper-parameters (``trained_by: "grader"``, the default), or, for tasks
  whose training is the student's work (``trained_by: "student"``), the
  weights the build worker saved are evaluated as they are
  (`grader.verify_worker.student_scores.score_training`). Either way the score is
  measured here, on the test split;
* with a training cache folder (``grader check --train-cache DIR``), a grader-trained
  result is keyed by the architecture, settings, data and versions
  (`grader.verify_worker.train_cache`) and reused when that key was trained before:
  each distinct architecture of a class trains once. Student-trained results are
  never cached.

Training sends ``progress`` events; the parent draws them
(grader/parent/progress.py), since only the parent owns the terminal.
"""

from __future__ import annotations

from typing import Any

from grader.protocol import CheckResult, State, error, failed, passed, result


def _hints(result, spec) -> list[str]:
    hints = []
    if result.stopped == "diverged":
        hints.append("the training loss became NaN: check the output activation and the loss "
                     "(softmax with from_logits=True?)")
    chance = 1.0 / max(2, result.num_classes)
    if result.accuracy <= chance + 0.05:
        hints.append(
            "the model scores about chance: it is not learning. Look for frozen layers "
            "(trainable=False), an output layer with the wrong number of units or activation, "
            "or a layer that discards its input")
    elif not result.passed:
        hints.append(f"with the fixed hyper-parameters ({spec.epochs} epoch(s), batch "
                     f"{spec.batch_size}, {spec.optimizer} at {spec.learning_rate:g}) the "
                     "model should reach the threshold; compare its layers with the assignment")
    if result.stopped == "time_limit":
        hints.append(f"training hit the {spec.time_limit_s:g} s limit; a much larger model "
                     "than the assignment asks for trains too slowly")
    return hints


def run(ctx: Any) -> CheckResult:
    """The verify worker's accuracy check (see the module docstring)."""
    from grader.data import DatasetCorrupt, DatasetMissing, locate
    from grader.data.training_data import AccuracySpec, corrupt_message
    from grader.device import GpuRequired
    from grader.verify_worker.student_scores import score_training

    try:
        spec = AccuracySpec.from_dict(ctx.check)
    except (TypeError, ValueError) as err:
        return error(f"the spec's accuracy check is unusable: {err}")
    send = getattr(ctx, "send", None)
    # The worker's send(**data) forwards a "progress" event to the parent.
    progress = (lambda payload: send(**payload)) if callable(send) else False
    require_gpu = bool(getattr(ctx, "require_gpu", False))
    try:
        if spec.trained_by == "student":
            locate(spec.dataset, ctx.data_dir)  # a missing dataset skips, before anything else
            # What grader.build_worker.training.student_training_hook recorded in the build worker.
            training = (getattr(ctx, "notes", None) or {}).get("accuracy") or {}
            outcome = score_training(training, spec, ctx.data_dir, require_gpu)
            if getattr(ctx, "notes", {}).get("data_hidden") is False and "details" in outcome:
                return result(State.UNVERIFIED, outcome["message"] + "; the test data could "
                              "not be hidden from the student's training on this machine (no "
                              "user namespaces), so a person must review this score",
                              details=outcome["details"])
            return outcome
        cache = _cache_lookup(ctx, spec, require_gpu)
        trained = _train(ctx, spec, cache, progress, require_gpu)
    except DatasetMissing as err:
        return result(State.NOT_RUN, f"not run: {err}",
                      details={"dataset": spec.dataset, "prepare": err.prepare})
    except GpuRequired as err:
        return error(str(err))
    except DatasetCorrupt as err:  # the grader's data, not the student's work
        return error(corrupt_message(spec.dataset, err))
    except ValueError as err:  # the model cannot be rebuilt or does not fit the data
        return failed(str(err), ["build the model for the dataset's input shape with built-in "
                                 "layers"], {"dataset": spec.dataset, "metric": spec.metric,
                                             "threshold": spec.threshold}, fraction=0.0)
    details = trained.as_dict()
    if "details" in cache:
        details["cache"] = cache["details"]
    if trained.passed:
        return passed(trained.summary(), details, fraction=1.0)
    return failed(trained.summary(), _hints(trained, spec), details, fraction=0.0)


def _cache_lookup(ctx: Any, spec: Any, require_gpu: bool) -> dict[str, Any]:
    """The training cache's view of this check (grader/verify_worker/train_cache.py):
    ``{}`` when no cache folder was given; else ``{"cache", "key", "material",
    "details"}``, plus ``result`` (a TrainResult) when this architecture was trained
    with these settings before. Raises what training would raise first (a missing
    dataset, --require-gpu on a CPU node), so a reused result never skips those."""
    folder = getattr(ctx, "train_cache", None)
    if not folder:
        return {}
    import time

    from grader import device as devices
    from grader.verify_worker import train_cache
    from grader.verify_worker.training import (
        PROBABILITY_ACTIVATIONS,
        final_activation,
        loss_for_head,
        read_model_config,
    )

    started = time.monotonic()
    dev = devices.describe()
    if require_gpu:
        devices.require_gpu(dev)
    cache = train_cache.TrainCache(folder)
    dataset = train_cache.dataset_digests(spec.dataset, ctx.data_dir, cache.digests_path)
    try:
        activation = final_activation(ctx.model)
        loss = loss_for_head(spec.loss, int(ctx.model.output_shape[-1]), activation)
        material = train_cache.key_material(
            read_model_config(ctx.model_path), spec, loss,
            activation not in PROBABILITY_ACTIVATIONS, dataset, dev)
    except (TypeError, ValueError, AttributeError, IndexError) as err:
        # Training says what is wrong with such a model; it is simply not cached.
        return {"details": {"reused": False, "stored": False,
                            "why": f"no cache key ({type(err).__name__})"}}
    key = train_cache.digest(material)
    found = {"cache": cache, "key": key, "material": material, "started": started,
             "details": {"key": key, "reused": False, "stored": False}}
    _reuse(found)
    return found


def _reuse(found: dict[str, Any]) -> None:
    """Adds ``result`` to a cache lookup when its key has a stored result."""
    import time

    from grader.verify_worker import train_cache
    from grader.verify_worker.training import TrainResult

    stored = found["cache"].get(found["key"])
    if stored is None:
        return
    try:
        result = TrainResult(**stored)
    except TypeError:  # written by another grader version: train again
        return
    result.notes = [*result.notes, train_cache.REUSED]
    found["result"] = result
    found["details"].update(reused=True,
                            lookup_seconds=round(time.monotonic() - found["started"], 3))


def _train(ctx: Any, spec: Any, cache: dict[str, Any], progress: Any,
           require_gpu: bool) -> Any:
    """Trains, unless the cache has the result. While one process trains a key, another
    that reaches it waits (up to the training's time limit) and then reuses the result,
    so students graded side by side train a shared architecture once."""
    from grader.verify_worker.training import train_and_evaluate

    if "result" in cache:
        return cache["result"]
    if "key" not in cache:
        return train_and_evaluate(ctx.model_path, spec, ctx.data_dir, progress=progress,
                                  require_gpu=require_gpu)
    with cache["cache"].claim(cache["key"], wait_s=float(spec.time_limit_s)):
        _reuse(cache)
        if "result" in cache:
            return cache["result"]
        trained = train_and_evaluate(ctx.model_path, spec, ctx.data_dir, progress=progress,
                                     require_gpu=require_gpu)
        _cache_store(cache, trained)
        return trained


def _cache_store(cache: dict[str, Any], trained: Any) -> None:
    """Keeps a grader-trained result that completed normally (see
    train_cache.CACHEABLE_STOPS for why only those)."""
    from grader.verify_worker.train_cache import CACHEABLE_STOPS

    if "key" not in cache or trained.stopped not in CACHEABLE_STOPS:
        return
    cache["details"]["stored"] = cache["cache"].put(cache["key"], cache["material"],
                                                    trained.as_dict())

