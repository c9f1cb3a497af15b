"""callback_config, build half: the EarlyStopping callbacks returned, as numbers and
short texts (the parent half, grader/parent/probes/callback_config.py, judges them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.build_worker.probes import ProbeMismatch
from grader.probe_contract import EARLY_STOPPING_NUMBERS, EARLY_STOPPING_TEXTS


def capture(returned: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    import keras

    out: dict[str, Any] = {}
    for i, callback in enumerate(returned):
        if not isinstance(callback, keras.callbacks.EarlyStopping):
            kind = "keras callback" if isinstance(callback, keras.callbacks.Callback) \
                else "object"
            raise ProbeMismatch(f"returned {type(callback).__name__} (a {kind}); return "
                                "keras.callbacks.EarlyStopping(monitor=..., patience=..., "
                                "restore_best_weights=True)")
        # The class by name: the parent cannot import keras to ask isinstance itself.
        texts = {"class": type(callback).__name__, "monitor": getattr(callback, "monitor", ""),
                 "mode": getattr(callback, "mode", "auto")}
        for key in EARLY_STOPPING_TEXTS:
            out[f"{key}_{i}"] = np.frombuffer(str(texts[key])[:200].encode(), dtype=np.uint8)
        for key in EARLY_STOPPING_NUMBERS:
            value = getattr(callback, key, None)
            try:
                out[f"{key}_{i}"] = np.asarray(float(value))
            except (TypeError, ValueError):
                raise ProbeMismatch(f"returned an EarlyStopping whose {key} is "
                                    f"{type(value).__name__} {value!r}, not a number") from None
    return out
