"""The parent's part of tasks whose training is the student's work (accuracy checks with
``trained_by: "student"``): fine-tuning schedules, augmentation pipelines,
early-stopping loops, a learning-rate sweep.

The work is split along the trust boundary:

``prepare_build_check`` (here, in the parent, no TensorFlow)
    Writes the training and validation splits, never the test split, into the
    build worker's scratch space (`grader.data.training_data.prepare_student_training`):
    ``train.npz`` / ``validation.npz``, and for the ``directories`` call form
    class-per-folder PNGs as well.
``student_training_hook`` (grader/build_worker/training.py, where student code runs)
    Calls the student's function, once per sweep point for a sweep, and saves
    each trained model as a ``.keras`` file. What the function returns beyond a
    model (a score, a history) is never read: any number it computes is the
    student's claim.
``score_training`` (grader/verify_worker/student_scores.py)
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
from typing import Any

from grader.data.training_data import AccuracySpec, corrupt_message, prepare_student_training


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
