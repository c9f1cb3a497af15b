"""Probes, parent half: how the grader checks a task whose function is not a model
builder (a data loader, a preprocessing step, a metric, a dataset pipeline).

A spec task with ``"kind": "function"`` names a probe in its ``outputs`` check. A probe
is split along the trust boundary into two modules of the same name, which never
import each other (what both need is in grader/probe_contract.py):

- here, grader/parent/probes/NAME.py, run in the parent process (no TensorFlow, Keras
  or torch, no student code):
  - ``prepare(folder, params) -> Prepared``: writes small fixture files in a real
    on-disk format into ``folder`` (the scratch space the build worker sees) and
    returns the calls to make and the truth, which stays in the parent's memory;
  - ``judge(outputs, truth, params, where) -> CheckResult``, NumPy only: compares the
    outputs with the truth and scores them;
  - ``RETURNS``: what the function must return, in the messages' words.
- grader/build_worker/probes/NAME.py, run in the build worker next to the student's
  code: ``capture(returned, params)`` turns what the function returned into plain
  arrays (saved as ``.npz`` without pickles), and ``run`` drives a script. Nothing
  there decides a score: at worst a student forges their own function's output.

The grader-owned objects a call passes (a Keras or torch model, a DataLoader) are
made in the build worker by factories that ``$make`` markers name (make_arg); the
parent writes their names and never imports them.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# label is shared: the build worker writes calls in its errors the same way.
from grader.probe_contract import MAX_OUTPUT_BYTES, RETURNS, factory_target, label

if TYPE_CHECKING:
    from grader.protocol import CheckResult

__all__ = ["PROBES", "Call", "Prepared", "ProbeUnavailable", "array_arg", "label",
           "load_outputs", "make_arg", "path_arg", "probe", "raised_problem", "verdict"]

PROBES: dict[str, str] = {name: f"{__name__}.{name}" for name in RETURNS}
"""Probe name (the spec's ``outputs.probe``) -> its parent module."""


class ProbeUnavailable(Exception):
    """Raised by a probe's prepare when what it needs is not installed (an optional
    extra): the check is skipped, 0 of 0 points, with this message (the fix)."""


@dataclass
class Call:
    """One call of the student's function. Arguments are JSON, with markers for values
    JSON cannot carry or messages should not spell out: ``{"$npy": path, "label": text}``
    (an array saved with np.save), ``{"$bytes": path, "label": text}`` (a file's bytes),
    ``{"$path": path, "label": text}`` (a path, passed as a str) and ``{"$make":
    "MODULE:FUNCTION", "args": [...], "label": text}`` (what that grader factory
    returns, built in the build worker: see make_arg); ``label`` is how
    the call is written in messages, instead of a scratch path.

    A ``$make`` marker's args may hold markers themselves (``$npy`` weights for a
    model). With ``"key": name`` the object made is also kept in the build worker's
    ``grader.build_worker.probes.MADE[name]``, where a later marker ``{"$made": name}``
    passes the same object (the optimizer of that model) and the probe's capture finds
    it (the model's weights after the student's function ran). Objects made are
    inputs: nothing they compute there is trusted.

    ``raises``: the contract says this call raises that exception (a class name; a
    subclass counts, "Exception" takes any). Its return is not captured: the build
    worker records what it raised as ``raised_<index>`` in the outputs (its
    ``raised_record``), and the judge reads that with ``raised_problem``. Never the first call."""

    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    raises: str | None = None


@dataclass
class Prepared:
    calls: list[Call]
    truth: Any  # the probe's own; never leaves the parent


def probe(name: str) -> Any:
    """The parent half of probe ``name`` (prepare, judge, RETURNS)."""
    return importlib.import_module(PROBES[name])


def array_arg(folder: Path, name: str, array: Any, label: str) -> dict[str, str]:
    """Saves ``array`` for the build worker and returns the marker that passes it."""
    import numpy as np

    path = folder / f"{name}.npy"
    np.save(path, array, allow_pickle=False)
    return {"$npy": str(path.resolve()), "label": label}


def path_arg(path: Path, label: str) -> dict[str, str]:
    return {"$path": str(path.resolve()), "label": label}


def make_arg(target: str, args: list[Any], label: str) -> dict[str, Any]:
    """An argument built in the build worker by a grader-owned factory: ``target`` is
    "MODULE:FUNCTION" of one of grader.probe_contract.FACTORY_MODULES, called there with
    the JSON ``args`` (a Keras model, say, which the parent cannot build and must not
    import TensorFlow to build). Refused here already, so a bad target is the grader's
    error at once, not a student's failed call."""
    factory_target(target)
    return {"$make": target, "args": list(args), "label": label}


def raised_problem(outputs: dict[str, Any], index: int, expected: str) -> str | None:
    """Judge side of ``Call.raises``: None when call ``index`` raised ``expected``,
    else what it did instead (e.g. "returned normally", "raised TypeError: ...")."""
    record = [str(v) for v in outputs.get(f"raised_{index}", [])]
    if not record:
        return "returned normally"
    return None if expected in record[1:] else f"raised {record[0]}"


def verdict(where: str, problems: list[str], hints: list[str], fraction: float,
            details: dict[str, Any], passed: str) -> CheckResult:
    """The check result of a judge: passed with ``passed`` when there is no problem,
    else failed with the problems, the hints once each, and ``fraction``."""
    if not problems:
        return {"state": "passed", "fraction": 1.0, "hints": [], "details": details,
                "message": f"{where}: {passed}"}
    return {"state": "failed", "fraction": fraction, "details": details,
            "message": f"{where}: " + "; ".join(problems),
            "hints": list(dict.fromkeys(hints))}


def load_outputs(path: str | os.PathLike) -> dict[str, Any]:
    """Parent side: the arrays a capture saved. No pickles; a file larger than any
    capture writes is refused (the build worker could have written anything there)."""
    import numpy as np

    if os.path.getsize(path) > MAX_OUTPUT_BYTES + (1 << 20):
        raise ValueError(f"{path} is larger than any probe writes")
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
