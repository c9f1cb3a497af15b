"""Probe for a classification metric: ``metric(y_true, y_pred) -> float``.

Params: ``metric`` ("macro_f1": the unweighted mean over classes of per-class F1 =
2 TP / (2 TP + FP + FN); "accuracy": the fraction of equal labels) and
``num_classes`` (labels are 0..num_classes-1). Each call passes two seeded integer
label arrays of equal length in which every class occurs, both as a label and as a
prediction, so every class's F1 is defined and the definition is unambiguous. Two
of the cases are imbalanced, where macro, weighted and micro averaging (accuracy)
differ clearly, so returning another average is caught.

Scored by the share of calls whose result is within 1e-6 of the truth; a constant
matches none of them, as the cases' values all differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grader import probe_contract as contract
from grader.parent.probes import Call, Prepared, array_arg, verdict
from grader.protocol import CheckResult

RETURNS = contract.RETURNS["metric"]
TOLERANCE = 1e-6

# Name -> (size of the majority class 0 as a share of the labels, share of predictions
# changed). The imbalanced cases are where averaging the classes equally matters.
CASES = {"balanced": (0.1, 0.3), "imbalanced": (0.6, 0.25), "rare_classes_right": (0.5, 0.4)}


def prepare(folder: Path, params: dict[str, Any]) -> Prepared:
    k = params["num_classes"]
    rng = np.random.default_rng(params.get("seed", 0))
    calls, cases = [], []
    for name, (majority, noise) in CASES.items():
        y_true, y_pred = _labels(rng, k, majority, noise, rare_right=name == "rare_classes_right")
        described = f"{len(y_true)} labels, {name.replace('_', ' ')}"
        calls.append(Call(args=[
            array_arg(folder, f"{name}_true", y_true, f"<y_true: {described}>"),
            array_arg(folder, f"{name}_pred", y_pred, f"<y_pred: {described}>")]))
        cases.append({"name": name, "call": f"<y_true: {described}>, <y_pred>",
                      **scores(y_true, y_pred, k)})
    return Prepared(calls=calls, truth=cases)


def _labels(rng: np.random.Generator, k: int, majority: float, noise: float,
            rare_right: bool) -> tuple[np.ndarray, np.ndarray]:
    """y_true with class 0 making up ``majority`` of 10 * k labels and the rest spread
    evenly; y_pred with ``noise`` of them changed (only class 0's if ``rare_right``).
    Every class is kept both a label and a prediction."""
    n = 10 * k
    head = max(int(round(majority * n)), 1)
    y_true = np.concatenate([np.zeros(head, np.int64), 1 + np.arange(n - head) % max(k - 1, 1)])
    rng.shuffle(y_true)
    y_pred = y_true.copy()
    pool = np.flatnonzero(y_true == 0) if rare_right else np.arange(n)
    changed = rng.choice(pool, size=min(int(noise * n), len(pool)), replace=False)
    y_pred[changed] = (y_true[changed] + rng.integers(1, max(k, 2), len(changed))) % k
    for c in range(k):  # one right prediction of each class, so none is absent
        y_pred[np.flatnonzero(y_true == c)[0]] = c
    return y_true, y_pred


def scores(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> dict[str, float]:
    """The metrics and the averages students confuse them with, in NumPy."""
    classes = np.arange(k)
    tp = np.array([np.sum((y_pred == c) & (y_true == c)) for c in classes], float)
    fp = np.array([np.sum((y_pred == c) & (y_true != c)) for c in classes], float)
    fn = np.array([np.sum((y_pred != c) & (y_true == c)) for c in classes], float)
    f1 = 2 * tp / (2 * tp + fp + fn)
    precision, recall = np.mean(tp / (tp + fp)), np.mean(tp / (tp + fn))
    support = tp + fn
    accuracy = float(np.mean(y_true == y_pred))
    return {"macro_f1": float(np.mean(f1)), "accuracy": accuracy,
            "weighted_f1": float(np.sum(f1 * support) / np.sum(support)),
            "f1_of_macro_pr": float(2 * precision * recall / (precision + recall)),
            "macro_recall": float(recall), "error_rate": 1 - accuracy}


# Mistakes recognised by the value returned: (the value it would return, the hint).
MISTAKES = {
    "macro_f1": {
        "accuracy": "that is the accuracy (micro-averaged F1 for one label per sample): "
                    "compute F1 per class, then average the classes without weights "
                    "(sklearn: f1_score(y_true, y_pred, average='macro'))",
        "weighted_f1": "that is the support-weighted F1 (average='weighted'): macro F1 "
                       "gives every class the same weight, however rare",
        "f1_of_macro_pr": "that is the harmonic mean of macro precision and macro recall: "
                          "take F1 = 2 TP / (2 TP + FP + FN) of each class first, then "
                          "the mean of those",
        "macro_recall": "that is the mean per-class recall: F1 also counts false positives",
    },
    "accuracy": {
        "error_rate": "that is the error rate: accuracy is the share of EQUAL labels",
        "macro_f1": "that is the macro F1: accuracy is the share of equal labels",
    },
}


def judge(outputs: dict[str, np.ndarray], truth: list[dict[str, Any]],
          params: dict[str, Any], where: str) -> CheckResult:
    metric = params["metric"]
    values = outputs["values"]
    if values.shape != (len(truth),):
        return {"state": "failed", "fraction": 0.0, "hints": [], "details": {},
                "message": f"{where}: expected {len(truth)} values, got {values.shape}"}
    wrong = [(got, case) for got, case in zip(values, truth, strict=True)
             if not abs(got - case[metric]) <= TOLERANCE]
    problems = [f"{where.split(': ')[-1]}({case['call']}) returned {got:.6g}, expected "
                f"{case[metric]:.6g}" for got, case in wrong]
    # A mistake is named when it explains every wrong value, not one by coincidence
    # (on balanced labels some averages agree).
    hints = [hint for mistake, hint in MISTAKES[metric].items()
             if all(abs(got - case[mistake]) <= TOLERANCE for got, case in wrong)]
    if all(abs(got - 100 * case[metric]) <= 100 * TOLERANCE for got, case in wrong):
        hints.append("return a fraction in [0, 1], not a percentage")
    if any(not np.isfinite(got) for got, _ in wrong):
        hints.append("a value is NaN or infinite: every class occurs here, so no count "
                     "should divide by zero; check TP, FP and FN per class")
    right = len(truth) - len(wrong)
    details = {"cases": [{"name": c["name"], "expected": c[metric], "returned": float(v)}
                         for c, v in zip(truth, values, strict=True)]}
    return verdict(where, problems, hints, right / len(truth), details,
                   f"matches the {metric} of {len(truth)} label sets (balanced and "
                   f"imbalanced) to {TOLERANCE:g}")
