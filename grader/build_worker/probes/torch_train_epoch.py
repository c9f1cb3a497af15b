"""torch_train_epoch, build half: the loss returned, ``returned``, and the grader's
model's weights after the epoch, ``weight`` and ``bias`` (the parent half,
grader/parent/probes/torch_train_epoch.py, replays the epoch in NumPy)."""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.build_worker.probes import MADE, ProbeMismatch
from grader.probe_contract import TRAIN_EPOCH_MODEL_KEY


def capture(returned: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    from grader.build_worker.probes.torch_objects import weights  # imports torch

    value = returned[0]
    try:
        loss = float(value)
    except (TypeError, ValueError, RuntimeError):
        raise ProbeMismatch(f"returned {type(value).__name__}; return the mean loss as a "
                            "float (total / count, or loss.item() values averaged)") from None
    return {"returned": np.float64(loss), **weights(MADE[TRAIN_EPOCH_MODEL_KEY])}
