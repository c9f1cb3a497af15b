"""Probe for a PyTorch training loop: ``train_epoch(model, loader, optimizer)`` runs one
pass over ``loader`` minimising F.nll_loss and returns the mean loss (a float).

The parent draws a small classification problem (48 flattened 28x28 "images", a mean
per class plus noise) and the initial weights of a grader-owned model, flatten ->
linear (784 -> 10) -> log_softmax; the build worker makes that model, a DataLoader of
4 batches of 12 in a fixed order and plain SGD over the model (``$make`` markers), and
calls the student's function once. The capture saves the model's weights afterwards
and the returned value.

Judged in NumPy, in two parts: the training (2/3: the NLL on the fixture data with the
weights after the epoch must be at most ``DROP`` times the NLL before) and the return
(1/3: within 5% of the mean of the 4 batch losses, which the parent knows by replaying
the epoch's SGD steps). No params beyond an optional ``seed``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from grader import probe_contract as contract
from grader.parent.probes import Call, Prepared, array_arg, make_arg, verdict
from grader.protocol import CheckResult

RETURNS = contract.RETURNS["torch_train_epoch"]
FACTORIES = contract.TORCH_OBJECTS
MODEL_KEY = contract.TRAIN_EPOCH_MODEL_KEY  # the capture reads this model's weights
SAMPLES, BATCH, LR = 48, 12, 0.02
DROP = 0.75  # the loss after one epoch must be at most this fraction of the loss before
RETURN_TOLERANCE = 0.05


def prepare(folder: Path, params: dict[str, Any]) -> Prepared:
    rng = np.random.default_rng(params.get("seed", 0))
    y = np.arange(SAMPLES) % 10
    rng.shuffle(y)
    means = rng.normal(0, 1, (10, 784))
    x = (0.5 * means[y] + rng.normal(0, 1, (SAMPLES, 784))).astype(np.float32)
    x = x.reshape(SAMPLES, 1, 28, 28)
    weight = rng.normal(0, 0.05, (10, 784)).astype(np.float32)
    bias = np.zeros(10, np.float32)
    model = {**make_arg(f"{FACTORIES}:linear_model",
                        [array_arg(folder, "weight", weight, "weight"),
                         array_arg(folder, "bias", bias, "bias")], "model"), "key": MODEL_KEY}
    loader = make_arg(f"{FACTORIES}:tensor_loader",
                      [array_arg(folder, "images", x, "images"),
                       array_arg(folder, "labels", y, "labels"), BATCH], "loader")
    optimizer = make_arg(f"{FACTORIES}:sgd", [{"$made": MODEL_KEY}, LR], "optimizer")
    truth = {"x": x.reshape(SAMPLES, -1).astype(np.float64), "y": y,
             "weight": weight.astype(np.float64), "bias": bias.astype(np.float64)}
    return Prepared(calls=[Call(args=[model, loader, optimizer])], truth=truth)


def nll(weight: np.ndarray, bias: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """F.nll_loss of the log-softmax of x @ weight.T + bias, in float64."""
    logits = x @ weight.T + bias
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())


def replay(truth: dict[str, np.ndarray]) -> tuple[list[float], np.ndarray, np.ndarray]:
    """One epoch of plain SGD as F.nll_loss, backward and optimizer.step make it on the
    fixture: the batch losses, each taken before its batch's step, and the weight and
    bias after the epoch."""
    weight, bias = truth["weight"].copy(), truth["bias"].copy()
    losses = []
    for start in range(0, SAMPLES, BATCH):
        xb, yb = truth["x"][start:start + BATCH], truth["y"][start:start + BATCH]
        losses.append(nll(weight, bias, xb, yb))
        logits = xb @ weight.T + bias
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(yb)), yb] -= 1  # d(mean NLL)/d(logits), times the batch size
        weight -= LR * (p.T @ xb) / len(yb)
        bias -= LR * p.sum(axis=0) / len(yb)
    return losses, weight, bias


def judge(outputs: dict[str, np.ndarray], truth: dict[str, np.ndarray],
          params: dict[str, Any], where: str) -> CheckResult:
    x, y = truth["x"], truth["y"]
    before = nll(truth["weight"], truth["bias"], x, y)
    weight, bias = outputs["weight"], outputs["bias"]
    after = nll(weight, bias, x, y) if weight.shape == (10, 784) and bias.shape == (10,) \
        else math.nan
    losses = replay(truth)[0]
    expected = float(np.mean(losses))
    returned = float(outputs["returned"])
    problems, hints = [], []
    trained = math.isfinite(after) and after <= DROP * before
    if not trained:
        problems.append(f"the loss on the batches went from {before:.3f} to {after:.3f} "
                        f"after one epoch; expected it to fall below {DROP * before:.3f}")
        hints.append(_training_hint(truth, weight, bias, before, after))
    returns = math.isfinite(returned) \
        and abs(returned - expected) <= RETURN_TOLERANCE * expected
    # Without the training the expected mean is not this loop's: name the return only
    # when the training is right or the return cannot be a mean loss at all.
    if not returns and (trained or not math.isfinite(returned)):
        problems.append(f"returned {returned:.4g}; expected the mean of the epoch's batch "
                        f"losses, about {expected:.3f}")
        hints.append(_return_hint(returned, losses))
    details = {"loss_before": round(before, 4), "loss_after": round(after, 4),
               "returned": returned, "expected_return": round(expected, 4)}
    # The return earns its third only with the training: a loop that never steps
    # returns its own constant loss, which is no work done.
    fraction = 2 / 3 * trained + 1 / 3 * (trained and returns)
    return verdict(where, problems, hints, fraction, details,
                   f"one epoch lowered the loss from {before:.3f} to {after:.3f} and "
                   f"returned its mean loss ({returned:.3f})")


def _training_hint(truth: dict[str, np.ndarray], weight: np.ndarray, bias: np.ndarray,
                   before: float, after: float) -> str:
    if weight.shape == truth["weight"].shape and np.allclose(weight, truth["weight"]) \
            and np.allclose(bias, truth["bias"]):
        return ("the model's weights did not change: for every batch call "
                "optimizer.zero_grad(), loss.backward() and optimizer.step()")
    if math.isfinite(after) and after > before:
        return ("the loss rose: minimise F.nll_loss(model(images), labels) (do not negate "
                "it) and step with the optimizer you were given")
    return ("train with the optimizer passed in, on every batch of the loader: "
            "zero_grad(), F.nll_loss(model(images), labels), backward(), step()")


def _return_hint(returned: float, losses: list[float]) -> str:
    if not math.isfinite(returned):
        return "return a finite float: the mean of loss.item() over the batches"
    if abs(returned - sum(losses)) <= RETURN_TOLERANCE * sum(losses):
        return "divide the summed batch losses by the number of batches (or of examples)"
    if abs(returned - losses[-1]) <= 0.01 * losses[-1]:
        return "return the mean over all batches, not the last batch's loss"
    return ("add up loss.item() (times the batch size) for every batch, before its "
            "step, and return the total divided by the count")
