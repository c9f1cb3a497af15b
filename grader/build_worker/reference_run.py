"""The child of `grader reference run` (grader/commands/reference.py): builds one
reference task from reference/ASSIGNMENT/ and, when its data is on disk, trains and
evaluates it with the very code that grades students. It runs the reference's code,
as a build worker runs a student's, and the trusted training in the same process:
the reference is the instructor's own code, so nothing here needs a second worker.

Usage: python -m grader.build_worker.reference_run JOB.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _load_builder(folder: Path, entry: dict[str, Any]):
    import importlib.util

    files = entry["file"] if isinstance(entry["file"], list) else [entry["file"]]
    path = next((folder / f for f in files if (folder / f).exists()), None)
    if path is None:
        raise FileNotFoundError(f"{folder}: none of {', '.join(files)} exists")
    # The reference imports its sibling files (gradcam.py imports cnn), as a
    # student's script run from its own folder would.
    sys.path.insert(0, str(folder))
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[path.stem] = module
    module_spec.loader.exec_module(module)
    for key, value in entry.get("globals", {}).items():
        setattr(module, key, value)
    return module


def _attribute(module, dotted: str):
    value = module
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _environment() -> dict[str, Any]:
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for dist in ("tensorflow", "keras", "numpy", "torch", "cnn-grader"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    from grader import device

    return {"versions": versions, "platform": platform.platform(),
            "device": str(device.describe())}


def _child(job: dict[str, Any]) -> dict[str, Any]:
    task = job["task"]
    entry = task["entry"]
    framework = task.get("framework", "keras")
    result: dict[str, Any] = {"title": task["title"], "framework": framework}
    module = _load_builder(Path(job["reference_dir"]), entry)
    model = _attribute(module, entry["function"])(*entry.get("args", []),
                                                  **entry.get("kwargs", {}))
    if framework == "torch":
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        result["params"] = {"trainable": trainable, "non_trainable": total - trainable,
                            "total": total}
        result.update(status="built", message="torch task: parameters only (the grader's "
                      "trainer is Keras); train it with the reference script")
        return result
    import numpy as np

    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    total = int(sum(np.prod(w.shape) for w in model.weights))
    result["params"] = {"trainable": trainable, "non_trainable": total - trainable,
                        "total": total}
    check = task["checks"].get("accuracy")
    if not check:
        result.update(status="built", message="no accuracy check in the spec")
        return result
    from grader.data import DatasetMissing
    from grader.verify_worker import training

    settings = {k: v for k, v in check.items() if k != "points"}
    # The full budget, not the grader's stop-at-threshold: these numbers are
    # what the thresholds are derived from.
    settings["early_stop"] = False
    if job.get("epochs"):
        settings["epochs"] = job["epochs"]
    scratch = Path(job["scratch"])
    model_path = scratch / f"{task['id']}.keras"
    model.save(model_path)
    try:
        if settings.get("trained_by") == "student":
            # The reference's own training function, given the train and validation
            # splits only, exactly as a student's is when graded.
            from grader.build_worker.training import student_training_hook
            from grader.data.training_data import AccuracySpec, builder_of, prepare_student_training
            from grader.verify_worker.student_scores import score_training

            if job.get("epochs"):
                settings["train_kwargs"] = {**settings.get("train_kwargs", {}),
                                            "epochs": job["epochs"]}
            check = {**settings, "train": prepare_student_training(
                settings, scratch / "splits", job.get("data_dir"),
                builder=builder_of(task["entry"]))}
            record = student_training_hook(
                model, check, lambda name: _attribute(module, name), scratch, task["id"])
            outcome = score_training(
                record, AccuracySpec.from_dict(settings), job.get("data_dir"),
                job["require_gpu"])
            if "value" not in outcome.get("details", {}):
                result.update(status="error", message=outcome["message"])
                return result
            result["accuracy"] = outcome["details"]
        else:
            result["accuracy"] = training.train_and_evaluate(
                model_path, settings, job.get("data_dir"), progress=True,
                require_gpu=job["require_gpu"]).as_dict()
    except DatasetMissing as exc:
        result.update(status="skipped", message=f"dataset {exc.name!r} is not on disk",
                      prepare=exc.prepare)
        return result
    result["seed"] = settings.get("seed", 0)
    result["status"] = "trained"
    return result


def child_main(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    out = Path(job["scratch"]) / "result.json"
    try:
        result = _child(job)
    except Exception as exc:  # reported in the results file, not as a traceback only
        import traceback

        traceback.print_exc()
        result = {"title": job["task"]["title"], "status": "error",
                  "message": f"{type(exc).__name__}: {exc}"}
    try:
        result["environment"] = _environment()
    except Exception as exc:  # versions are a courtesy; never lose a result over them
        result["environment"] = {"error": str(exc)}
    out.write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1]))
