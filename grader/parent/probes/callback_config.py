"""Probe for a function that returns an early-stopping callback:
``early_stopping(patience=...) -> keras.callbacks.EarlyStopping``.

Called twice: with no arguments, then with ``patience=<params.patience>``. The
callback must be a ``keras.callbacks.EarlyStopping`` (or a subclass) that

- watches a validation quantity, one of ``params.monitors`` (e.g. "val_loss",
  "val_accuracy"): stopping on the training loss never sees overfitting; its
  ``mode`` is "auto" or the quantity's direction ("min" for a loss, "max" for an
  accuracy), as the other direction would stop at the first improvement;
- restores the best epoch's weights (``restore_best_weights=True``), or the model
  keeps the last, worse, epoch's;
- passes the function's ``patience`` through, and waits at least one epoch with
  the default (``patience=0`` stops at the first epoch without improvement).

Scored in three equal parts (monitor and mode, restored weights, patience). An
EarlyStopping with Keras' defaults watches val_loss already; it earns nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grader import probe_contract as contract
from grader.parent.probes import Call, Prepared, verdict
from grader.protocol import CheckResult

RETURNS = contract.RETURNS["callback_config"]


def prepare(folder: Path, params: dict[str, Any]) -> Prepared:
    calls = [Call(), Call(kwargs={"patience": params["patience"]})]
    return Prepared(calls=calls, truth=[None, params["patience"]])


def _read(outputs: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    """One call's callback, with its texts decoded."""
    got: dict[str, Any] = {k: bytes(outputs[f"{k}_{i}"]).decode(errors="replace")
                           for k in contract.EARLY_STOPPING_TEXTS}
    got.update({k: float(outputs[f"{k}_{i}"]) for k in contract.EARLY_STOPPING_NUMBERS})
    return got


def _direction(monitor: str) -> str:
    return "min" if monitor.endswith("loss") else "max"


def judge(outputs: dict[str, np.ndarray], truth: list[int | None],
          params: dict[str, Any], where: str) -> CheckResult:
    name = where.split(": ")[-1]
    calls = [f"{name}()", f"{name}(patience={params['patience']})"]
    got = [_read(outputs, i) for i in range(len(truth))]
    monitors = params["monitors"]
    problems: list[str] = []
    hints: list[str] = []
    parts = {"monitor": True, "restore_best_weights": True, "patience": True}
    for call, cb in zip(calls, got, strict=True):
        if not parts["monitor"]:
            pass  # said once, for the first call that shows it
        elif cb["monitor"] not in monitors:
            parts["monitor"] = False
            problems.append(f"{call} monitors {cb['monitor']!r}, expected a validation "
                            f"quantity ({' or '.join(map(repr, monitors))})")
            if "val_" + cb["monitor"] in monitors:
                hints.append(f"monitor='val_{cb['monitor']}': the validation quantity shows "
                             "overfitting, the training one keeps improving")
        elif cb["mode"] not in ("auto", _direction(cb["monitor"])):
            parts["monitor"] = False
            problems.append(f"{call} has mode={cb['mode']!r} for {cb['monitor']!r}, which "
                            f"improves by going {'down' if cb['mode'] == 'max' else 'up'}")
            hints.append(f"use mode='{_direction(cb['monitor'])}' (or leave mode='auto')")
        if cb["restore_best_weights"] != 1.0 and parts["restore_best_weights"]:
            parts["restore_best_weights"] = False
            problems.append(f"{call} does not restore the best weights")
            hints.append("pass restore_best_weights=True, or the model keeps the weights of "
                         "the last epoch, not of the best")
    default, asked = got[0]["patience"], got[1]["patience"]
    if asked != params["patience"]:
        parts["patience"] = False
        problems.append(f"{calls[1]} has patience {asked:g}, expected {params['patience']}")
        hints.append("pass the function's `patience` argument to EarlyStopping(patience="
                     "patience) instead of a fixed number")
    if default < 1:
        parts["patience"] = False
        problems.append(f"{calls[0]} has patience {default:g}: it stops at the first epoch "
                        "that does not improve")
        hints.append("keep the signature's default patience (at least 1)")
    # Keras' defaults (val_loss, patience 0, no restoring) are no configuration at all.
    untouched = all(cb["patience"] == 0 and cb["restore_best_weights"] != 1.0 for cb in got)
    fraction = 0.0 if untouched else sum(parts.values()) / len(parts)
    details = {"parts": parts, "callbacks": got}
    return verdict(where, problems, hints, fraction, details,
                   f"an EarlyStopping on {got[0]['monitor']!r} that restores the best "
                   f"weights, patience {default:g} by default and {asked:g} when asked")
