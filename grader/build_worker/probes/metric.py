"""metric, build half: the values the metric returned, ``values`` (the parent half,
grader/parent/probes/metric.py, compares them with its own NumPy scores)."""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.build_worker.probes import ProbeMismatch


def capture(returned: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    return {"values": numbers(returned, "the metric as one float")}


def numbers(returned: list[Any], want: str) -> np.ndarray:
    """One number per call, as float64; anything else (a tuple, a report dict, a
    string) is a ProbeMismatch naming what came back. Shared with param_count."""
    values = []
    for value in returned:
        try:
            array = np.asarray(value)
        except Exception:
            array = np.asarray(None)
        if array.size != 1 or not np.issubdtype(array.dtype, np.number) \
                or np.issubdtype(array.dtype, np.complexfloating):
            form = type(value).__name__ if array.size == 1 else \
                f"{type(value).__name__} of {array.size} values"
            raise ProbeMismatch(f"returned {form}; return {want}")
        values.append(float(array.reshape(())))
    return np.array(values, dtype=np.float64)
