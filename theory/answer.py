"""The shape of a worked answer: a reading, its answer and the steps that reach it.

Steps are plain dicts so that the terminal renderer and ``--json`` share them:

- ``{"kind": "text", "text": ...}``
- ``{"kind": "formula", "text": ...}``                     a formula with numbers in it
- ``{"kind": "tensor", "title": ..., "value": HxWxC, "channels": [...]}``
- ``{"kind": "sums", "title": ..., "lines": [{"index": [i, j, m], "expr": ..., "value": v}],
  "omitted": n}``
- ``{"kind": "table", "title": ..., "columns": [...], "rows": [[...], ...]}``
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

__all__ = ["Reading", "Solution", "GradeError", "to_json", "fmt"]

ANSWER_TYPES = ("tensor", "shape", "integer", "number", "record", "text", "none")


class GradeError(ValueError):
    """Answers that cannot be graded (the message names the problem and the fix)."""


# Plain classes, not dataclasses: each @dataclass costs a few milliseconds at
# import, and `grader theory` has a start-up budget (benchmarks/theory_startup.py).
class Reading:
    """One way to read a question, with its answer.

    ``answer_type``: ``tensor`` (nested list, channels-last), ``shape`` (list of
    ints), ``integer``, ``number``, ``record`` (named numbers, shapes or
    tensors), ``text`` (a model answer graded by a person) or ``none`` (the
    reading has no valid result, e.g. a window wider than the input; ``note``
    says why).
    """

    __slots__ = ("label", "answer", "answer_type", "steps", "note")

    def __init__(self, label: str, answer: Any, answer_type: str,
                 steps: list[dict] | None = None, note: str = "") -> None:
        if answer_type not in ANSWER_TYPES:
            raise ValueError(f"answer_type {answer_type!r} is not one of {ANSWER_TYPES}")
        self.label = label
        self.answer = answer
        self.answer_type = answer_type
        self.steps = steps if steps is not None else []
        self.note = note

    def __repr__(self) -> str:
        return f"Reading({self.label!r}, {self.answer!r}, {self.answer_type!r})"


class Solution:
    """A question's answer: the reading taken and the labelled alternatives."""

    __slots__ = ("primary", "alternatives")

    def __init__(self, primary: Reading, alternatives: list[Reading] | None = None) -> None:
        self.primary = primary
        self.alternatives = alternatives if alternatives is not None else []


def to_json(value: Any) -> Any:
    """Exact numbers to JSON: integers stay integers, other fractions become floats."""
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def fmt(value: Any) -> str:
    """A number as a person writes it: ``45``, ``7/2``, ``-1``."""
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else f"{value}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
