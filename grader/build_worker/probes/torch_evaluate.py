"""torch_evaluate, build half: the fraction returned, ``returned`` (the parent half,
grader/parent/probes/torch_evaluate.py, knows the right one without torch)."""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.build_worker.probes import ProbeMismatch


def capture(returned: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    value = returned[0]
    try:
        return {"returned": np.float64(float(value))}
    except (TypeError, ValueError, RuntimeError):
        raise ProbeMismatch(f"returned {type(value).__name__}; return the fraction of "
                            "correct predictions as a float") from None
