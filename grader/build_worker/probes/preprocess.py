"""preprocess, build half: each (x, y) returned, ``x_<call>`` and ``y_<call>`` (the
parent half, grader/parent/probes/preprocess.py, compares them with the raw inputs)."""

from __future__ import annotations

from typing import Any

from grader.build_worker.probes import ProbeMismatch, as_array, form
from grader.probe_contract import RETURNS


def capture(returned: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for index, value in enumerate(returned):
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise ProbeMismatch(f"returned {form(value)}; return {RETURNS['preprocess']}")
        for key, array in zip(("x", "y"), value, strict=True):
            out[f"{key}_{index}"] = as_array(array, key)
    return out
