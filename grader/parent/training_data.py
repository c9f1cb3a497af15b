"""The parent's part of tasks whose training is the student's work (accuracy checks with
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
from pathlib import Path
from typing import Any

from grader.data.training_data import (
    AccuracySpec,
    corrupt_message,
    load_training_data,
    split_for_training,
)


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
