"""The build worker's part of a student-trained accuracy check (the call forms and
the whole flow: grader/parent/training_data.py): calls the student's training
function, once per sweep point for a sweep, on the train and validation splits the
parent wrote, and saves each trained model as a ``.keras`` file. What the function
returns beyond a model (a score, a history) is never read: any number it computes
is the student's claim. The verify worker scores the saved models
(grader/verify_worker/student_scores.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from grader.data.training_data import AccuracySpec, adapt_images, feeds_raw_pixels, input_shape

OUT_PLACEHOLDER = "$out"
_ARGUMENT_NAMES = {
    "arrays": ("model", "x_train", "y_train", "x_val", "y_val"),
    "datasets": ("model", "train_ds", "val_ds"),
    "directories": ("train_dir", "val_dir"),
}



def _call_arguments(model, train: dict[str, Any], out_path: Path) -> tuple[list, dict]:
    """The student's function's arguments for the spec's call form. Raises
    ValueError when the model cannot take the data."""
    import numpy as np

    call = train.get("call", "arrays")
    kwargs = {k: (str(out_path) if v == OUT_PLACEHOLDER else v)
              for k, v in train.get("kwargs", {}).items()}
    if call == "directories":
        return [train["directories"]["train"], train["directories"]["validation"]], kwargs
    arrays = {}
    for name, path in train["splits"].items():
        with np.load(path, allow_pickle=False) as f:
            arrays[name] = (f["x"], f["y"])
    spec = AccuracySpec(dataset="", threshold=0, input_scale=train.get("input_scale", "auto"))
    try:
        shape, raw = input_shape(model), feeds_raw_pixels(spec, model)
        x_train, y_train = adapt_images(arrays["train"][0], shape, raw), arrays["train"][1]
        x_val, y_val = adapt_images(arrays["validation"][0], shape, raw), arrays["validation"][1]
    except Exception as err:  # the model cannot take the data (its input shape, say)
        raise ValueError(f"the training data cannot be fed to the model: {err}") from err
    if call == "arrays":
        return [model, x_train, y_train, x_val, y_val], kwargs
    import tensorflow as tf

    batch, seed = int(train.get("batch_size", 32)), int(train.get("seed", 0))
    train_ds = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
                .shuffle(len(y_train), seed=seed).batch(batch))
    val_ds = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(batch)
    return [model, train_ds, val_ds], kwargs


def student_training(model, train: dict[str, Any], load_function, out_dir: str | os.PathLike,
                     task_id: str) -> dict[str, Any]:
    """Runs the student's training function once, in the spec's call form, and
    saves the trained model as ``<task_id>.trained.keras``. Never raises: the
    record's ``error`` says what went wrong, for the verify worker, which alone
    measures the score."""
    import keras

    from grader.build_worker.student_errors import Named, hook_failure

    record: dict[str, Any] = {"trained_model_path": None, "error": None}
    out_path = Path(out_dir) / f"{task_id}.student-saved.keras"
    call = train.get("call", "arrays")
    try:
        args, kwargs = _call_arguments(model, train, out_path)
    except ValueError as err:
        record["error"] = str(err)
        return record
    # The call as made, for the message when the student's code raises.
    job = {"file": getattr(load_function, "file", None), "function": train["function"],
           "kwargs": kwargs, "args": [Named(n) for n in _ARGUMENT_NAMES[call]]}
    returns = ("the model it trained, or save it to the path it is given" if call == "directories"
               else "after training the model it is given in place, or the trained model")
    function = None
    try:
        function = load_function(train["function"])
        keras.utils.set_random_seed(int(train.get("seed", 0)))
        start = time.monotonic()
        returned = function(*args, **kwargs)
        record["seconds"] = round(time.monotonic() - start, 3)
        if isinstance(returned, keras.Model):
            trained = returned
        elif call != "directories":
            trained = model
        elif out_path.exists():
            trained = keras.models.load_model(out_path, compile=False)
        else:
            record["error"] = (f"{job['file']}: {train['function']}() returned "
                               f"{type(returned).__name__} and saved no model; return the "
                               "trained keras.Model")
            return record
        target = Path(out_dir) / f"{task_id}.trained.keras"
        trained.save(target)
        record["trained_model_path"] = str(target.resolve())
    except BaseException as err:
        record.update(hook_failure(err, job, function, returns, "the training function"))
    return record


def _runs(train: dict[str, Any], load_function, out_dir, task_id: str) -> dict[str, Any]:
    """One build and one training per argument list of ``train["sweep"]``; each
    run's record carries its builder ``args``."""
    import keras

    from grader.build_worker.student_errors import hook_failure

    builder = train["builder"]
    runs = []
    for i, args in enumerate(train["sweep"]):
        job = {"file": getattr(load_function, "file", None), "function": builder["function"],
               "args": args, "kwargs": builder.get("kwargs", {})}
        function = None
        try:
            function = load_function(builder["function"])
            keras.utils.set_random_seed(int(train.get("seed", 0)))
            model = function(*args, **job["kwargs"])
            if not isinstance(model, keras.Model):
                raise TypeError(f"{builder['function']}() returned {type(model).__name__}, "
                                "not a keras.Model")
        except BaseException as err:
            run = {"trained_model_path": None,
                   **hook_failure(err, job, function, "the model", "the builder")}
        else:
            run = student_training(model, train, load_function, out_dir, f"{task_id}.run{i}")
        runs.append({"args": args, **run})
    return {"runs": runs, "error": None}


def student_training_hook(model, check: dict[str, Any], load_function, out_dir: str | os.PathLike,
                          task_id: str) -> dict[str, Any] | None:
    """The build worker's hook for the accuracy check (grader/build_worker/worker.py
    BUILD_HOOKS): runs the student's training when the check is ``trained_by:
    "student"`` and the parent prepared its data (``check["train"]``);
    otherwise does nothing."""
    if check.get("trained_by") != "student":
        return None
    if "train" not in check:
        if check.get("train_skipped"):
            return {"trained_model_path": None, "skipped": check["train_skipped"]}
        if check.get("train_error"):
            return {"trained_model_path": None, "grader_error": check["train_error"]}
        return {"trained_model_path": None,
                "error": "the grader prepared no training data for this task"}
    if "builder" not in check["train"]:
        return student_training(model, check["train"], load_function, out_dir, task_id)
    record = _runs(check["train"], load_function, out_dir, task_id)
    if "sweep" in check:  # the spec's sweep: every run is scored
        return record
    return {k: v for k, v in record["runs"][0].items() if k != "args"}
