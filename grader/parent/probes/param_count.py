"""Probe for ``trainable_parameter_count(model) -> int``.

The function is called on small Keras models that the grader builds in the build
worker (grader/build_worker/probes/keras_objects.py's ``frozen_model``, passed with a
``$make`` marker): a frozen Conv2D, a BatchNormalization (whose moving mean and
variance are weights but not trainable) and Dense layers, the second model with its
hidden Dense frozen as well. So the trainable count differs from the total, from the
non-trainable count and from the sum over layers whose ``trainable`` flag is set. The
parent computes the counts from the layer sizes with the formulas of
``theory.shapes``; no TensorFlow there.

No params are needed (``seed`` varies the sizes). Scored by the share of models
counted exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grader import probe_contract as contract
from grader.parent.probes import Call, Prepared, make_arg, verdict
from grader.protocol import CheckResult
from theory.shapes import batchnorm_params, conv2d_params, dense_params

RETURNS = contract.RETURNS["param_count"]


def counts(input_shape: list[int], filters: int, kernel: int, units: int, classes: int,
           freeze_dense: bool) -> dict[str, int]:
    """The parameter counts of the model keras_objects.frozen_model makes from these
    arguments, and the wrong counts students return."""
    h, w, c = input_shape
    conv = conv2d_params(kernel, kernel, c, filters)
    bn_trainable, bn_moving = batchnorm_params(filters)
    flat = ((h - kernel + 1) // 2) * ((w - kernel + 1) // 2) * filters
    hidden, out = dense_params(flat, units), dense_params(units, classes)
    trainable = bn_trainable + out + (0 if freeze_dense else hidden)
    frozen = conv + bn_moving + (hidden if freeze_dense else 0)
    return {"trainable": trainable, "non_trainable": frozen, "total": trainable + frozen,
            # sum of layer.count_params() over layers whose .trainable flag is set
            "trainable_layers": trainable + bn_moving,
            # len(model.trainable_weights): gamma, beta and each trainable Dense's two
            "tensors": 2 + 2 + (0 if freeze_dense else 2)}


def prepare(folder: Path, params: dict[str, Any]) -> Prepared:
    rng = np.random.default_rng(params.get("seed", 0))
    calls, truth = [], []
    for freeze_dense in (False, True):
        args = [[int(rng.integers(10, 15)), int(rng.integers(10, 15)), 1],
                int(rng.integers(3, 9)), 3, int(rng.integers(6, 17)), 10, freeze_dense]
        what = "its Conv2D and hidden Dense frozen" if freeze_dense else "its Conv2D frozen"
        label = f"<a Keras model with {what}, and a BatchNormalization>"
        calls.append(Call(args=[make_arg(f"{contract.KERAS_OBJECTS}:frozen_model", args, label)]))
        truth.append({"label": label, **counts(*args)})
    return Prepared(calls=calls, truth=truth)


MISTAKES = {
    "total": "that is every parameter (model.count_params()), frozen ones included: sum "
             "the sizes of model.trainable_weights",
    "non_trainable": "that is the non-trainable count: count model.trainable_weights",
    "trainable_layers": "that counts every weight of the layers whose .trainable is True; "
                        "BatchNormalization's moving mean and variance are weights but not "
                        "trainable: sum the sizes of model.trainable_weights instead",
    "tensors": "that is how many weight tensors there are (len(model.trainable_weights)): "
               "add up their sizes, e.g. sum(int(np.prod(w.shape)) for w in "
               "model.trainable_weights)",
}


def judge(outputs: dict[str, np.ndarray], truth: list[dict[str, Any]],
          params: dict[str, Any], where: str) -> CheckResult:
    values = outputs["values"]
    if values.shape != (len(truth),):
        return {"state": "failed", "fraction": 0.0, "hints": [], "details": {},
                "message": f"{where}: expected {len(truth)} counts, got {values.shape}"}
    name = where.split(": ")[-1]
    wrong = [(got, case) for got, case in zip(values, truth, strict=True)
             if got != case["trainable"]]
    problems = [f"{name}({case['label']}) returned {got:g}, expected {case['trainable']}"
                for got, case in wrong]
    hints = [hint for key, hint in MISTAKES.items()
             if all(got == case[key] for got, case in wrong)]
    if any(got != round(got) for got, _ in wrong if np.isfinite(got)):
        hints.append("a parameter count is a whole number: return an int")
    details = {"models": [{"label": c["label"], "trainable": c["trainable"],
                           "total": c["total"], "returned": float(v)}
                          for c, v in zip(truth, values, strict=True)]}
    return verdict(where, problems, hints, (len(truth) - len(wrong)) / len(truth), details,
                   f"counts the trainable parameters of {len(truth)} models with frozen "
                   f"layers exactly ({', '.join(str(c['trainable']) for c in truth)})")
