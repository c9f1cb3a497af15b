"""param_count, build half: the counts returned for the grader's models (made by
keras_objects.frozen_model), ``values`` (the parent half,
grader/parent/probes/param_count.py, computes the right counts without TensorFlow)."""

from __future__ import annotations

from typing import Any

from grader.build_worker.probes.metric import numbers


def capture(returned: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    return {"values": numbers(returned, "one int")}
