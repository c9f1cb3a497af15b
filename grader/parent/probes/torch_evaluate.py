"""Probe for a PyTorch accuracy function: ``evaluate(model, loader)`` returns the
fraction (0-1) of examples whose arg-max prediction equals the label.

The grader's model (flatten -> linear -> log_softmax, made in the build worker by a
``$make`` marker) is the identity from pixel k of the first row to class k, so an
image lit at pixel k alone is predicted k: the parent knows every prediction without
running torch. The loader holds 20 such images in batches of 8, 8 and 4, with 1, 2
and 4 right, so 7 of 20 (0.35): averaging per-batch accuracies (0.458), dividing by
the batch count or the batch size, or a percentage, each give another number. No
partial credit: the fraction is right or not. No params beyond an optional ``seed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grader import probe_contract as contract
from grader.parent.probes import Call, Prepared, array_arg, make_arg, verdict
from grader.protocol import CheckResult

RETURNS = contract.RETURNS["torch_evaluate"]
FACTORIES = contract.TORCH_OBJECTS
BATCHES = ((8, 1), (8, 2), (4, 4))  # (examples, right) per batch


def prepare(folder: Path, params: dict[str, Any]) -> Prepared:
    rng = np.random.default_rng(params.get("seed", 0))
    predicted, labels = [], []
    for size, right in BATCHES:
        guess = rng.integers(0, 10, size)
        hit = np.zeros(size, bool)
        hit[rng.choice(size, right, replace=False)] = True
        labels.append(np.where(hit, guess, (guess + rng.integers(1, 10, size)) % 10))
        predicted.append(guess)
    predicted, labels = np.concatenate(predicted), np.concatenate(labels)
    images = np.zeros((len(labels), 1, 28, 28), np.float32)
    images[np.arange(len(labels)), 0, 0, predicted] = 1.0
    weight = np.zeros((10, 784), np.float32)
    weight[np.arange(10), np.arange(10)] = 1.0  # pixel k (row 0, column k) -> class k
    model = make_arg(f"{FACTORIES}:linear_model",
                     [array_arg(folder, "weight", weight, "weight"),
                      array_arg(folder, "bias", np.zeros(10, np.float32), "bias")], "model")
    loader = make_arg(f"{FACTORIES}:tensor_loader",
                      [array_arg(folder, "images", images, "images"),
                       array_arg(folder, "labels", labels, "labels"), BATCHES[0][0]], "loader")
    return Prepared(calls=[Call(args=[model, loader])],
                    truth={"right": [r for _, r in BATCHES], "sizes": [s for s, _ in BATCHES]})


def judge(outputs: dict[str, np.ndarray], truth: dict[str, list[int]],
          params: dict[str, Any], where: str) -> CheckResult:
    right, sizes = truth["right"], truth["sizes"]
    expected = sum(right) / sum(sizes)
    returned = float(outputs["returned"])
    details = {"returned": returned, "expected": expected}
    # What the usual slips return on this loader, and the fix for each.
    slips = [(100 * expected, "return a fraction in [0, 1], not a percentage"),
             (float(np.mean(np.divide(right, sizes))),
              "count the correct examples over all batches and divide once by the number "
              "of examples; averaging per-batch accuracies overweights the short last batch"),
             (sum(right) / len(sizes), "divide by the number of examples "
              "(len(loader.dataset)), not by the number of batches (len(loader))"),
             (sum(right) / (sizes[0] * len(sizes)), "the last batch is shorter: count the "
              "examples seen (len(labels) per batch) instead of batch_size * batches"),
             (float(sum(right)), "divide the number of correct predictions by the number of "
              "examples")]
    hints = [fix for value, fix in slips if abs(returned - value) <= 1e-6]
    problems = [] if abs(returned - expected) <= 1e-6 else [
        f"returned {returned:.4g} on {sum(sizes)} examples of which {sum(right)} are "
        f"predicted right; expected {expected:.4g}"]
    return verdict(where, problems, hints or [
        "compare model(images).argmax(dim=1) with the labels, add up the matches over "
        "every batch, and divide by the example count"], 0.0, details,
        f"returned {returned:.4g}, the fraction of the {sum(sizes)} examples predicted right")
