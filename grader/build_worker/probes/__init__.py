"""Probes, build-worker half: what runs next to the student's code for a function task.

A probe (see grader/parent/probes/, the parent half, for the whole contract) is split
along the trust boundary. Here, in the build worker, each module
grader/build_worker/probes/NAME.py has

- ``capture(returned, params) -> dict[str, ndarray]``: turns what the student's
  function returned (arrays, a tf.data.Dataset, a DataLoader, a float) into plain
  arrays, saved as ``.npz`` without pickles. It may raise ProbeMismatch for a return
  value of the wrong form. Iterating a student's dataset runs student code, so
  nothing here decides a score: at worst a student forges their own function's output.
- optionally ``run(script, calls, params, scratch)``, for a task whose entry file is a
  script (a Streamlit app): it runs the script once per call instead of importing it.

This package also reads the calls' argument markers back (``resolve``) and holds the
factories that ``$make`` markers name (torch_objects, keras_objects; the rule is
grader.probe_contract.factory_target). It imports nothing from the parent, which
reaches it only through the job's JSON and the ``.npz`` it writes.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from grader.probe_contract import MAX_OUTPUT_BYTES, RETURNS, factory_target


class ProbeMismatch(Exception):
    """The student's function returned something of the wrong form; the message says
    what came back and what the contract asks for."""


def capture_module(name: str) -> Any:
    """The build half of probe ``name`` (its capture, and run for a script)."""
    if name not in RETURNS:  # a job names a probe; never import an arbitrary module
        raise KeyError(f"no probe {name!r}")
    return importlib.import_module(f"{__name__}.{name}")


MADE: dict[str, Any] = {}
"""What ``$make`` markers with a ``key`` made, by key (see grader.parent.probes.Call)."""


def resolve(value: Any) -> Any:
    """A call's JSON argument with its markers read back."""
    if isinstance(value, dict) and "$npy" in value:
        import numpy as np

        return np.load(value["$npy"], allow_pickle=False)
    if isinstance(value, dict) and "$bytes" in value:
        return Path(value["$bytes"]).read_bytes()
    if isinstance(value, dict) and "$path" in value:
        return value["$path"]
    if isinstance(value, dict) and "$make" in value:
        # Checked again here: the job file is the parent's, but the rule is cheap.
        module, function = factory_target(value["$make"])
        made = getattr(importlib.import_module(module), function)(
            *map(resolve, value.get("args", [])))
        if "key" in value:
            MADE[value["key"]] = made
        return made
    if isinstance(value, dict) and "$made" in value:
        return MADE[value["$made"]]
    return value


def raised_record(exc: BaseException | None) -> list[str]:
    """The record of a call the contract says raises (``Call.raises``): "Type: message"
    and the names of the exception's classes; empty when the call returned. The
    parent's ``raised_problem`` reads it."""
    if exc is None:
        return []
    return [f"{type(exc).__name__}: {exc}"[:300], *(c.__name__ for c in type(exc).__mro__)]


def form(value: Any) -> str:
    """What a capture got, for a ProbeMismatch: "a tuple of 3", "ndarray"."""
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


def as_array(value: Any, what: str) -> Any:
    """``value`` as a NumPy array, or a ProbeMismatch naming ``what`` ("x_train", "the
    image") when NumPy cannot make one (a ragged list)."""
    import numpy as np

    try:
        return np.asarray(value)
    except Exception as exc:
        raise ProbeMismatch(f"returned {what} as {type(value).__name__}, which is not an "
                            f"array ({exc})") from None


def save_outputs(path: Path, arrays: dict[str, Any]) -> None:
    """Writes a capture's arrays for the parent: numbers only (it loads them without
    pickles) and at most MAX_OUTPUT_BYTES (it refuses a larger file)."""
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
