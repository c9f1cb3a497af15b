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

__all__ = ["Reading", "Solution", "GradeError", "to_json", "fmt", "matrix_text", "value_text",
           "printed_answers"]

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


def matrix_text(value: list) -> str:
    """A matrix in the calculator's row notation, which the grader reads back: rows by
    ``;``, values by ``,``; an H x W x C tensor as its channels separated by `` | ``.

    >>> matrix_text([[45, 45], [54, 54]]), matrix_text([[[1, 2]], [[3, 4]]])
    ('45,45;54,54', '1;3 | 2;4')
    """
    if value and value[0] and isinstance(value[0][0], list):
        return " | ".join(matrix_text([[px[k] for px in row] for row in value])
                          for k in range(len(value[0][0])))
    return ";".join(",".join(fmt(v) for v in row) for row in value)


def value_text(value: Any) -> str:
    """One value of a record as the terminal shows it: counts with thousands separators,
    lists as ``[32, 32, 64]``.

    >>> value_text(36928), value_text([32, 32, 64]), value_text(Fraction(49, 9))
    ('36,928', '[32, 32, 64]', '49/9')
    """
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return fmt(value)


def printed_answers(reading: Reading) -> list[Any]:
    """Every form in which the terminal prints a reading's answer (``theory.render`` prints
    these very strings), each one a student may copy into an answers file: a string, or
    for a record an object of strings. The grader reads them all back (a test holds it).

    >>> printed_answers(Reading("", [63, 63, 16], "shape"))
    ['[63, 63, 16]', '63 x 63 x 16']
    """
    answer, kind = reading.answer, reading.answer_type
    if kind == "tensor":
        return [matrix_text(answer)]
    if kind == "shape":
        return [value_text(answer), " x ".join(fmt(v) for v in answer)]
    if kind == "record":
        return [{key: value_text(value) for key, value in answer.items()}]
    if kind == "none":
        return ["none"]
    return [fmt(answer) if kind in ("integer", "number") else str(answer)]
