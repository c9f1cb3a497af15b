"""dataset_arrays, build half: the four arrays a loader returned, as they are (the
parent half, grader/parent/probes/dataset_arrays.py, compares them with the files)."""

from __future__ import annotations

from typing import Any

from grader.build_worker.probes import ProbeMismatch, as_array, form


def capture(returned: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    value = returned[0]
    try:
        (x_train, y_train), (x_test, y_test) = value
    except (TypeError, ValueError):
        raise ProbeMismatch(f"returned {form(value)}; return ((x_train, y_train), "
                            "(x_test, y_test))") from None
    return {key: as_array(array, key) for key, array in (
        ("x_train", x_train), ("y_train", y_train), ("x_test", x_test), ("y_test", y_test))}
