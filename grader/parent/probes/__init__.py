"""Probes: how the grader checks a task whose function is not a model builder
(a data loader, a preprocessing step, a metric, a dataset pipeline).

A spec task with ``"kind": "function"`` names a probe in its ``outputs`` check. A probe
is a module here with three functions, each run on one side of the trust boundary:

- ``prepare(folder, params) -> Prepared`` in the parent: writes small fixture files in
  a real on-disk format into ``folder`` (the scratch space the build worker sees) and
  returns the calls to make and the truth, which stays in the parent's memory.
- ``capture(returned, params) -> dict[str, ndarray]`` in the build worker: turns what
  the student's function returned (arrays, a tf.data.Dataset, a DataLoader, a float)
  into plain arrays, saved as ``.npz`` without pickles. It may raise ProbeMismatch
  for a return value of the wrong form. Student code ran in that process, so nothing
  here decides a score: at worst a student forges their own function's output.
- ``judge(outputs, truth, params, where) -> CheckResult`` in the parent, NumPy only:
  compares the outputs with the truth and scores them.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.protocol import CheckResult

PROBES: dict[str, str] = {
    "dataset_arrays": "grader.parent.probes.dataset_arrays",
    "image_folders": "grader.parent.probes.image_folders",
    "preprocess": "grader.parent.probes.preprocess",
    "image_bytes": "grader.parent.probes.image_bytes",
    "metric": "grader.parent.probes.metric",
    "callback_config": "grader.parent.probes.callback_config",
    "param_count": "grader.parent.probes.param_count",
    "torch_loaders": "grader.parent.probes.torch_loaders",
    "torch_train_epoch": "grader.parent.probes.torch_train_epoch",
    "torch_evaluate": "grader.parent.probes.torch_evaluate",
    "streamlit_app": "grader.parent.probes.streamlit_app",
}
"""Probe name (the spec's ``outputs.probe``) -> module."""

# What a capture may hand back: enough for every probe's fixture, small enough that a
# function returning a huge array cannot fill the scratch disk or the parent's memory.
MAX_OUTPUT_BYTES = 64 << 20


class ProbeUnavailable(Exception):
    """Raised by a probe's prepare when what it needs is not installed (an optional
    extra): the check is skipped, 0 of 0 points, with this message (the fix)."""


class ProbeMismatch(Exception):
    """The student's function returned something of the wrong form; the message says
    what came back and what the contract asks for."""


@dataclass
class Call:
    """One call of the student's function. Arguments are JSON, with markers for values
    JSON cannot carry or messages should not spell out: ``{"$npy": path, "label": text}``
    (an array saved with np.save), ``{"$bytes": path, "label": text}`` (a file's bytes),
    ``{"$path": path, "label": text}`` (a path, passed as a str) and ``{"$make":
    "grader.parent.probes.M:F", "args": [...], "label": text}`` (what that grader factory
    returns, built in the build worker: see make_arg); ``label`` is how
    the call is written in messages, instead of a scratch path.

    A ``$make`` marker's args may hold markers themselves (``$npy`` weights for a
    model). With ``"key": name`` the object made is also kept in ``MADE[name]``, where
    a later marker ``{"$made": name}`` passes the same object (the optimizer of that
    model) and the probe's capture finds it (the model's weights after the student's
    function ran). Objects made are inputs: nothing they compute there is trusted.

    ``raises``: the contract says this call raises that exception (a class name; a
    subclass counts, "Exception" takes any). Its return is not captured: the build
    worker records what it raised as ``raised_<index>`` in the outputs, and the judge
    reads that with ``raised_problem``. Never the first call."""

    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    raises: str | None = None


@dataclass
class Prepared:
    calls: list[Call]
    truth: Any  # the probe's own; never leaves the parent


def probe(name: str) -> Any:
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
    "grader.parent.probes.MODULE:FUNCTION", called with the JSON ``args`` (a Keras model,
    say, which the parent cannot build and must not import TensorFlow to build)."""
    _factory_target(target)
    return {"$make": target, "args": list(args), "label": label}


def _factory_target(target: str) -> tuple[str, str]:
    """(module, function) of a ``$make`` target; refuses anything outside grader.parent.probes,
    so a marker can only ever run the grader's own factories."""
    module, _, function = target.partition(":")
    parts = module.split(".")
    if parts[:3] != ["grader", "parent", "probes"] or len(parts) != 4 \
            or not all(p.isidentifier() for p in parts) or not function.isidentifier():
        raise ValueError(f"$make {target!r}: only grader.parent.probes.MODULE:FUNCTION may be "
                         "named")
    return module, function


MARKERS = ("$npy", "$bytes", "$path", "$make", "$made")

MADE: dict[str, Any] = {}
"""Build-worker side: what ``$make`` markers with a ``key`` made, by key (see Call)."""


def resolve(value: Any) -> Any:
    """Build-worker side: a call's JSON argument with its markers read back."""
    if isinstance(value, dict) and "$npy" in value:
        import numpy as np

        return np.load(value["$npy"], allow_pickle=False)
    if isinstance(value, dict) and "$bytes" in value:
        return Path(value["$bytes"]).read_bytes()
    if isinstance(value, dict) and "$path" in value:
        return value["$path"]
    if isinstance(value, dict) and "$make" in value:
        module, function = _factory_target(value["$make"])
        made = getattr(importlib.import_module(module), function)(
            *map(resolve, value.get("args", [])))
        if "key" in value:
            MADE[value["key"]] = made
        return made
    if isinstance(value, dict) and "$made" in value:
        return MADE[value["$made"]]
    return value


def label(value: Any) -> str:
    """How an argument is written in a message: markers by their label."""
    if isinstance(value, dict) and any(m in value for m in MARKERS):
        return value.get("label", "...")
    return repr(value)


def raised_record(exc: BaseException | None) -> list[str]:
    """Build-worker side of ``Call.raises``: "Type: message" and the names of the
    exception's classes; empty when the call returned."""
    if exc is None:
        return []
    return [f"{type(exc).__name__}: {exc}"[:300], *(c.__name__ for c in type(exc).__mro__)]


def raised_problem(outputs: dict[str, Any], index: int, expected: str) -> str | None:
    """Judge side of ``Call.raises``: None when call ``index`` raised ``expected``,
    else what it did instead (e.g. "returned normally", "raised TypeError: ...")."""
    record = [str(v) for v in outputs.get(f"raised_{index}", [])]
    if not record:
        return "returned normally"
    return None if expected in record[1:] else f"raised {record[0]}"


def form(value: Any) -> str:
    """What a capture got, for a ProbeMismatch: "a tuple of 3", "ndarray"."""
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


def as_array(value: Any, what: str) -> Any:
    """Build-worker side: ``value`` as a NumPy array, or a ProbeMismatch naming
    ``what`` ("x_train", "the image") when NumPy cannot make one (a ragged list)."""
    import numpy as np

    try:
        return np.asarray(value)
    except Exception as exc:
        raise ProbeMismatch(f"returned {what} as {type(value).__name__}, which is not an "
                            f"array ({exc})") from None


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


def save_outputs(path: Path, arrays: dict[str, Any]) -> None:
    import numpy as np

    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    for key, value in arrays.items():
        if value.dtype == object:
            raise ProbeMismatch(f"{key} holds Python objects, not numbers")
    size = sum(v.nbytes for v in arrays.values())
    if size > MAX_OUTPUT_BYTES:
        raise ProbeMismatch(f"returned {size / 2**20:.0f} MiB of data for a fixture of a few "
                            "images; return the arrays themselves, nothing larger")
    np.savez(path, **arrays)


def load_outputs(path: str | os.PathLike) -> dict[str, Any]:
    """Parent side: the arrays a capture saved. No pickles; a file larger than any
    capture writes is refused (the build worker could have written anything there)."""
    import numpy as np

    if os.path.getsize(path) > MAX_OUTPUT_BYTES + (1 << 20):
        raise ValueError(f"{path} is larger than any probe writes")
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
