"""Tasks whose training is the student's work (accuracy checks with
``trained_by: "student"``): fine-tuning schedules, augmentation pipelines,
early-stopping loops, a learning-rate sweep.

The work is split along the trust boundary:

``prepare_build_check`` (parent, no TensorFlow)
    Writes the training and validation splits, never the test split, into the
    build worker's scratch space: ``train.npz`` / ``validation.npz``, and for
    the ``directories`` call form class-per-folder PNGs as well.
``student_training_hook`` (build worker, where student code runs)
    Calls the student's function, once per sweep point for a sweep, and saves
    each trained model as a ``.keras`` file. What the function returns beyond a
    model (a score, a history) is never read: any number it computes is the
    student's claim.
``score_training`` (verify worker)
    Loads each saved model with ``safe_mode`` and scores it on the test split,
    which the build worker never had.

How the student's function is called (the spec's ``train_call``):

``arrays`` (default)
    ``f(model, x_train, y_train, x_val, y_val, **train_kwargs)`` with float32
    images scaled as the model expects and integer labels; trains ``model`` in
    place or returns the trained model (hw2's ``fit_with_early_stopping``).
``datasets``
    ``f(model, train_ds, val_ds, **train_kwargs)`` with batched ``tf.data``
    datasets of the same arrays (cs577's two-stage ``train_two_stage``).
``directories``
    ``f(train_dir, val_dir, **train_kwargs)`` on class-per-folder PNG trees;
    the function builds its own model and returns it (DS-AG-021 Q9's and the
    X-ray ``train``). A keyword whose spec value is ``"$out"`` receives a path
    the function may save the model to instead of returning it.

``sweep`` (optional): a list of builder argument lists. The builder is called
with each, and each model is trained by the student's function and scored;
the check scores the best run and reports every one (hw2's learning rates).
``builder_kwargs`` (optional): the builder is called again with these before
training, e.g. ``{"weights": "$weights:vgg16-notop"}`` for a pretrained base
(`grader.data.weights`; a missing file skips the check like a missing dataset).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from grader.training import (
    AccuracySpec,
    TrainResult,
    _feeds_raw_pixels,
    _input_shape,
    adapt_images,
    evaluate_saved_model,
    load_training_data,
    split_for_training,
)

OUT_PLACEHOLDER = "$out"
_ARGUMENT_NAMES = {
    "arrays": ("model", "x_train", "y_train", "x_val", "y_val"),
    "datasets": ("model", "train_ds", "val_ds"),
    "directories": ("train_dir", "val_dir"),
}


# --------------------------------------------------------------------------- parent side


def builder_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The builder a sweep or ``builder_kwargs`` calls again: a task's entry point."""
    return {"function": entry["function"], "args": entry.get("args", []),
            "kwargs": entry.get("kwargs", {})}


def _folder_name(index: int, name: str, names: list[str]) -> str:
    """A class's folder: its own name where every name is a plain file name that
    sorts in class order (Keras reads folders in sorted order), else ``NN-name``."""
    plain = all(n and "/" not in n and n not in (".", "..") for n in names)
    if plain and sorted(names) == list(names):
        return name
    return f"{index:02d}-{name.replace('/', '-')}"


def write_class_folders(x, y, class_names: list[str], root: str | os.PathLike) -> str:
    """``root/CLASS/NNNNN.png`` for uint8 images ``x`` (N x H x W x C, C 1 or 3) and
    integer labels ``y``: the layout `keras.utils.image_dataset_from_directory`
    and `torchvision.datasets.ImageFolder` read. PNG, so no pixel changes."""
    from PIL import Image

    root = Path(root)
    folders = [root / _folder_name(i, n, class_names) for i, n in enumerate(class_names)]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        pixels = image[..., 0] if image.shape[-1] == 1 else image
        Image.fromarray(pixels).save(folders[int(label)] / f"{i:05d}.png")
    return str(root)


def prepare_student_training(check: dict[str, Any], folder: str | os.PathLike,
                             data_dir: str | os.PathLike | None = None,
                             builder: dict[str, Any] | None = None) -> dict[str, Any]:
    """Writes the train and validation splits (never the test split) into
    ``folder`` and returns the build job's ``train`` entry. ``builder`` (the
    task's entry ``function``, ``args`` and ``kwargs``) is needed for a sweep
    or ``builder_kwargs``: the build worker then builds each model to train
    itself (``train["sweep"]``: the argument lists, one run each). Raises
    `grader.data.DatasetMissing` when the data is absent, `ValueError` for an
    unusable spec."""
    import numpy as np

    from grader.data.weights import resolve_weights

    spec = AccuracySpec.from_dict(check)
    if (spec.sweep or spec.builder_kwargs) and not builder:
        raise ValueError("accuracy check: sweep and builder_kwargs need the task's builder")
    # Weights first: a missing file skips the check before any data is written.
    builder_kwargs = resolve_weights(spec.builder_kwargs, folder, data_dir)
    data = load_training_data(spec, data_dir)
    splits = split_for_training(data, spec)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # The directories form reads only its PNG folders; the others only the arrays.
    written, directories = {}, {}
    for name in ("train", "validation"):
        x, y = splits[name]
        if spec.train_call == "directories":
            directories[name] = write_class_folders(x, y, data.class_names, folder / name)
        else:
            written[name] = str(folder / f"{name}.npz")
            np.savez(written[name], x=x, y=y, class_names=np.array(data.class_names))
    train = {"function": spec.train_function, "kwargs": dict(spec.train_kwargs),
             "call": spec.train_call, "splits": written, "input_scale": spec.input_scale,
             "batch_size": spec.batch_size, "seed": spec.seed}
    if directories:
        train["directories"] = directories
    if spec.sweep or builder_kwargs:
        train["builder"] = {**builder, "kwargs": {**builder.get("kwargs", {}), **builder_kwargs}}
        train["sweep"] = [list(args) for args in spec.sweep or [builder.get("args", [])]]
    return train


def prepare_build_check(check: dict[str, Any], folder: str | os.PathLike,
                        data_dir: str | os.PathLike | None = None,
                        builder: dict[str, Any] | None = None) -> tuple[dict[str, Any], float]:
    """Parent side, for the build job: the accuracy check as the build worker's
    hook should see it, and the seconds to add to the build's time limit (the
    check's ``time_limit_s`` per training run).

    A student-trained check gets ``train`` (`prepare_student_training`), or
    ``train_skipped`` when the dataset is missing (the check is then skipped),
    or ``train_error`` when the grader's copy is damaged (a grader error, not the
    student's). Other checks pass through unchanged."""
    if check.get("trained_by") != "student":
        return check, 0.0
    from grader.checks.accuracy import corrupt_message
    from grader.data import DatasetCorrupt, DatasetMissing

    runs = len(check.get("sweep") or [None])
    extra = float(check.get("time_limit_s", AccuracySpec.time_limit_s)) * runs
    try:
        return {**check, "train": prepare_student_training(check, folder, data_dir,
                                                           builder)}, extra
    except DatasetMissing as err:  # the data or a weights file
        return {**check, "train_skipped": str(err)}, 0.0
    except DatasetCorrupt as err:
        return {**check, "train_error": corrupt_message(check["dataset"], err)}, 0.0


# --------------------------------------------------------------------------- build worker


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
        shape, raw = _input_shape(model), _feeds_raw_pixels(spec, model)
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

    from grader.student_errors import Named, hook_failure

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

    from grader.student_errors import hook_failure

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
    """The build worker's hook for the accuracy check (grader/worker_build.py
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


# --------------------------------------------------------------------------- verify worker


def _args_label(args: list) -> str:
    return ", ".join(f"{a:g}" if isinstance(a, float) else repr(a) for a in args)


def score_training(record: dict[str, Any], spec: AccuracySpec,
                   data_dir: str | os.PathLike | None = None,
                   require_gpu: bool = False) -> dict[str, Any]:
    """The accuracy check's result for what the build worker's hook recorded:
    each saved model scored on the test split. A sweep passes when every run
    trained and the best meets the threshold; its ``details`` list every run."""
    if record.get("skipped"):
        return {"state": "skipped", "message": f"skipped: {record['skipped']}"}
    if record.get("grader_error"):
        return {"state": "error", "message": record["grader_error"]}
    runs = record.get("runs")
    if runs is None:
        if not record.get("trained_model_path"):
            state = "not_implemented" if record.get("not_implemented") else "failed"
            return {"state": state, "fraction": 0.0, "message": record.get("error")
                    or "the build worker saved no trained model for this task"}
        result = evaluate_saved_model(record["trained_model_path"], spec, data_dir,
                                      require_gpu=require_gpu)
        result.train_seconds = float(record.get("seconds") or 0.0)
        return _verdict(result, [])
    rows, best = [], None
    for run in runs:
        row: dict[str, Any] = {"args": run["args"]}
        if run.get("trained_model_path"):
            result = evaluate_saved_model(run["trained_model_path"], spec, data_dir,
                                          require_gpu=require_gpu)
            row.update(accuracy=result.accuracy, macro_f1=result.macro_f1, value=result.value,
                       seconds=run.get("seconds"))
            if best is None or result.value > best[1].value:
                best = (run["args"], result)
        else:
            row["error"] = run.get("error") or "no trained model was saved"
        rows.append(row)
    failed = [r for r in rows if "error" in r]
    if failed and len(failed) == len(rows) and all(r.get("not_implemented") for r in runs):
        return {"state": "not_implemented", "fraction": 0.0, "message": failed[0]["error"]}
    if best is None or failed:
        first = failed[0]
        return {"state": "failed", "fraction": 0.0, "details": {"sweep": rows},
                "message": f"the sweep is incomplete: the run with ({_args_label(first['args'])}) "
                           f"failed: {first['error']}"}
    args, result = best
    table = "; ".join(f"({_args_label(r['args'])}) {r['value']:.4f}" for r in rows)
    return _verdict(result, rows, f"best of {len(rows)} runs, ({_args_label(args)}); "
                                  f"{spec.metric} per run: {table}")


def _verdict(result: TrainResult, rows: list, prefix: str = "") -> dict[str, Any]:
    details = result.as_dict()
    if rows:
        details["sweep"] = rows
    message = result.summary()
    return {"state": "passed" if result.passed else "failed",
            "fraction": 1.0 if result.passed else 0.0,
            "message": f"{prefix}: {message}" if prefix else message,
            "hints": [] if result.passed else [
                "the score comes from the weights the training function leaves, measured "
                "on a test split it never sees: check that it trains the model it is given "
                "(or returns the one it trained) and that its loop runs"],
            "details": details}
