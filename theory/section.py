"""A spec's ``theory`` section turned into ``Question`` objects, checked on the way in.

A section is ``{"default": true?, "questions": [...]}``. A manual question has ``answer``
(the model answer) and ``rubric``; a numeric one has ``given`` (the numbers the assignment
uses), ``readings`` (the reading taken first, then the alternatives, each a ``label`` and
one computation of ``theory.calculator.COMPUTATIONS`` in the CLI's notation) and,
optionally, ``vary`` (how a per-student variant draws other numbers, ``draw``). ``text``,
``label`` and computation fields are templates (``fill``): ``{n}``, ``{channels.0}`` (an
item of a list), ``{filter|words}`` and ``{filter|size}`` (a matrix in words, its HxW); a
label may also say ``{out}``, the HxW of the reading's output.
grader/schemas/assignment.schema.json describes every field; ``parse_theory`` checks the
same and more (templates, notation), and names each problem in one line: the spec file,
the assignment and question ids, the field. Pure Python, no I/O.
"""

from __future__ import annotations

import random
import re
from typing import Any

from theory.calculator import COMPUTATIONS, check_notation
from theory.parse import describe_matrix, parse_channels
from theory.shapes import ShapeError

__all__ = ["Question", "Assignment", "TheoryError", "parse_theory", "fill", "draw"]

KINDS = ("numeric", "manual")
VIEWS = {"words": describe_matrix,
         "size": lambda spec: "x".join(str(n) for n in _hw(parse_channels(spec)[0]))}
FACTS = ("out",)                  # what a label may name besides the given numbers
MATRIX_FORMS = ("fill", "rows", "cols", "literal")
MAX_DRAWN = 64                    # repeat counts and matrix sides a variant may draw
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_BODY = re.compile(r"([a-z_][a-z0-9_]*)(?:\.(\d+))?(?:\|([a-z]+))?")


class TheoryError(ValueError):
    """A theory section that cannot be used; one line naming the file, question and field."""


def _hw(matrix: list) -> tuple[int, int]:
    return len(matrix), len(matrix[0])


# --- templates ----------------------------------------------------------------------------------

def _lookup(body: str, values: dict[str, Any]) -> str:
    match = _BODY.fullmatch(body)
    if match is None:
        raise KeyError(f"{{{body}}} is not a placeholder; write {{name}}, {{name.0}} or "
                       f"{{name|view}} with a view among {', '.join(VIEWS)}")
    name, index, view = match.groups()
    if name not in values:
        raise KeyError(f"{{{body}}} names {name!r}, which is not given; the names are "
                       f"{', '.join(values) or '(none)'}")
    value = values[name]
    if index is not None:
        if not isinstance(value, list) or int(index) >= len(value):
            raise KeyError(f"{{{body}}}: {name} has no item {index}")
        value = value[int(index)]
    elif isinstance(value, list):
        raise KeyError(f"{{{body}}}: {name} is a list; name one item, e.g. {{{name}.0}}")
    if view is None:
        return str(value)
    if view not in VIEWS:
        raise KeyError(f"{{{body}}}: unknown view {view!r}; the views are {', '.join(VIEWS)}")
    if not isinstance(value, str):
        raise KeyError(f"{{{body}}}: the {view} view takes a matrix such as ones:3x3")
    return VIEWS[view](value)


def fill(template: str, values: dict[str, Any]) -> str:
    """``template`` with each placeholder replaced; ``KeyError`` names a bad one.

    >>> fill("{n}x{n}, {m.1|words}", {"n": 4, "m": ["ones:2x2", "fill:3:2x2"]})
    '4x4, all 3-s'
    """
    text = _PLACEHOLDER.sub(lambda m: _lookup(m.group(1), values), template)
    stray = _PLACEHOLDER.sub("", template)
    if "{" in stray or "}" in stray:
        raise KeyError(f"{template!r} has an unmatched brace")
    return text


def _fill_fields(fields: Any, values: dict[str, Any]) -> Any:
    if isinstance(fields, str):
        return fill(fields, values)
    if isinstance(fields, list):
        return [_fill_fields(v, values) for v in fields]
    if isinstance(fields, dict):
        return {k: _fill_fields(v, values) for k, v in fields.items()}
    return fields if isinstance(fields, bool) else str(fields)


# --- variants -----------------------------------------------------------------------------------

def draw(spec: Any, rng: random.Random, drawn: dict[str, Any]) -> Any:
    """One value of a variant (``vary``): a plain value is itself; ``{"choice": [...]}``
    draws one item (then draws from it); ``{"randint": [lo, hi]}``; ``{"either": [a, b]}``
    takes ``a`` when ``rng.random() < 0.5``; ``{"repeat": {"times": k, "each": d}}`` is a
    list; ``{"matrix": {"form": fill|rows|cols|literal, "side": N or a name drawn before,
    "values": d}}`` is a square matrix in the tensor notation.

    >>> draw({"matrix": {"form": "rows", "side": "n", "values": {"choice": [7]}}},
    ...      random.Random(0), {"n": 3})
    'rows:7,7,7'
    """
    if not isinstance(spec, dict):
        return spec
    ((how, arg),) = spec.items()
    if how == "choice":
        return draw(rng.choice(arg), rng, drawn)
    if how == "randint":
        return rng.randint(arg[0], arg[1])
    if how == "either":
        # Not a two-item choice: it consumes the generator differently, and the shipped
        # variants (every seed a class has already been handed) were drawn this way.
        return draw(arg[0] if rng.random() < 0.5 else arg[1], rng, drawn)
    if how == "repeat":
        return [draw(arg["each"], rng, drawn) for _ in range(arg["times"])]
    side = arg["side"] if isinstance(arg["side"], int) else drawn[arg["side"]]
    form, values = arg["form"], arg["values"]
    if form == "fill":
        return f"fill:{draw(values, rng, drawn)}:{side}x{side}"
    if form in ("rows", "cols"):
        return f"{form}:" + ",".join(str(draw(values, rng, drawn)) for _ in range(side))
    return ";".join(",".join(str(draw(values, rng, drawn)) for _ in range(side))
                    for _ in range(side))


# --- questions ----------------------------------------------------------------------------------

class Question:
    """One theory question; ``kind`` is ``numeric`` (solved) or ``manual`` (a person grades).

    ``params`` are the numbers the assignment uses (the spec's ``given``); ``vary`` is the
    spec's ``vary`` (None: no variants). A plain class, not a dataclass, for start-up time
    (see theory/answer.py).
    """

    __slots__ = ("assignment", "qid", "title", "kind", "template", "params", "vary",
                 "readings", "model_answer", "rubric", "points")

    def __init__(self, assignment: str, qid: str, title: str, kind: str, template: str,
                 params: dict | None = None, vary: dict | None = None,
                 readings: list[dict] | None = None, model_answer: str = "", rubric: str = "",
                 points: float = 1.0) -> None:
        self.assignment = assignment
        self.qid = qid
        self.title = title
        self.kind = kind
        self.template = template
        self.params = params if params is not None else {}
        self.vary = vary
        self.readings = readings if readings is not None else []
        self.model_answer = model_answer
        self.rubric = rubric
        self.points = points

    def text(self, params: dict | None = None) -> str:
        """The question as a student reads it, with ``params`` (default: the given ones)."""
        if self.kind == "manual":
            return self.template
        return fill(self.template, self.params if params is None else params)

    def computations(self, params: dict | None = None) -> list[tuple[str, Any]]:
        """Each reading's computation with the numbers filled in: ``(name, fields)``, or
        ``("params", layer list)``."""
        values = self.params if params is None else params
        out = []
        for reading in self.readings:
            name = next(k for k in reading if k in COMPUTATIONS)
            out.append((name, _fill_fields(reading[name], values)))
        return out

    def __repr__(self) -> str:
        return f"Question({self.assignment!r}, {self.qid!r}, {self.kind!r})"


class Assignment:
    """The theory questions of one spec, in the spec's order."""

    __slots__ = ("id", "source", "default", "questions")

    def __init__(self, id: str, source: str, default: bool, questions: dict[str, Question]):
        self.id = id
        self.source = source
        self.default = default
        self.questions = questions


# --- checking a theory section ------------------------------------------------------------------

class _Where:
    """Where a problem is: the spec file, the assignment and question ids, the field path."""

    def __init__(self, source: str, assignment: str = "", qid: str | None = None,
                 path: str = "") -> None:
        self.source, self.assignment, self.qid, self.path = source, assignment, qid, path

    def at(self, key: str | int) -> _Where:
        step = f"[{key}]" if isinstance(key, int) else (f".{key}" if self.path else key)
        return _Where(self.source, self.assignment, self.qid, self.path + step)

    def question(self, qid: str) -> _Where:
        return _Where(self.source, self.assignment, qid)

    def fail(self, problem: str) -> TheoryError:
        where = f"theory question {self.assignment} {self.qid}" if self.qid else "theory"
        field = f", field {self.path}" if self.path else ""
        return TheoryError(f"{self.source}: {where}{field}: {problem}")


def _obj(value: Any, where: _Where, required: tuple[str, ...], allowed: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise where.fail(f"must be an object, got {type(value).__name__}")
    for key in required:
        if key not in value:
            raise where.at(key).fail("is missing")
    for key in value:
        if key not in allowed:
            raise where.at(key).fail(f"is not a field here; the fields are {', '.join(allowed)}")
    return value


def _text(value: Any, where: _Where) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.fail("must be non-empty text")
    return value


def _template(value: Any, where: _Where, values: dict[str, Any]) -> str:
    try:
        return fill(_text(value, where), values)
    except KeyError as exc:
        raise where.fail(str(exc.args[0])) from None


def _check_draw(spec: Any, where: _Where, earlier: list[str]) -> None:
    if isinstance(spec, (bool, int, float, str)):
        return
    if not isinstance(spec, dict) or len(spec) != 1:
        raise where.fail("a draw is a plain value or one of choice, randint, either, repeat, "
                         "matrix")
    ((how, arg),) = spec.items()
    here = where.at(how)
    if how == "choice":
        if not isinstance(arg, list) or not arg:
            raise here.fail("must be a non-empty list")
        for i, item in enumerate(arg):
            _check_draw(item, here.at(i), earlier)
    elif how == "randint":
        if (not isinstance(arg, list) or len(arg) != 2 or not all(type(v) is int for v in arg)
                or arg[0] > arg[1]):
            raise here.fail("must be [low, high], two integers with low <= high")
    elif how == "either":
        if not isinstance(arg, list) or len(arg) != 2:
            raise here.fail("must be a list of two draws")
        for i, item in enumerate(arg):
            _check_draw(item, here.at(i), earlier)
    elif how == "repeat":
        _obj(arg, here, ("times", "each"), ("times", "each"))
        if type(arg["times"]) is not int or not 1 <= arg["times"] <= MAX_DRAWN:
            raise here.at("times").fail(f"must be an integer from 1 to {MAX_DRAWN}")
        _check_draw(arg["each"], here.at("each"), earlier)
    elif how == "matrix":
        _obj(arg, here, ("form", "side", "values"), ("form", "side", "values"))
        if arg["form"] not in MATRIX_FORMS:
            raise here.at("form").fail(f"must be one of {', '.join(MATRIX_FORMS)}")
        side = arg["side"]
        if not ((type(side) is int and 1 <= side <= MAX_DRAWN) or side in earlier):
            raise here.at("side").fail(f"must be an integer from 1 to {MAX_DRAWN} or the name "
                                       f"of a number drawn before it ({', '.join(earlier)})")
        _check_draw(arg["values"], here.at("values"), earlier)
    else:
        raise here.fail("unknown draw; use choice, randint, either, repeat or matrix")


def _check_given(given: Any, where: _Where) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise where.fail("must be an object: name -> the number the assignment uses")
    for name, value in given.items():
        if not _NAME.fullmatch(name) or name in FACTS:
            raise where.at(name).fail("a name is lower-case letters, digits and _ (not "
                                      f"{', '.join(FACTS)}, which labels use for the output)")
        ok = (isinstance(value, (int, float, str)) and not isinstance(value, bool)) or (
            isinstance(value, list) and value and all(isinstance(v, str) for v in value))
        if not ok:
            raise where.at(name).fail("must be a number, a text or a list of texts")
    return given


def _check_reading(reading: Any, where: _Where, given: dict[str, Any]) -> dict:
    extras = ("label", "empty_label", "before", "after")
    _obj(reading, where, ("label",), (*extras, *COMPUTATIONS))
    names = [k for k in reading if k in COMPUTATIONS]
    if len(names) != 1:
        raise where.fail(f"needs exactly one computation, one of {', '.join(COMPUTATIONS)}; "
                         f"it has {', '.join(names) or 'none'}")
    name = names[0]
    facts = {"out": "0x0"} if name in ("conv", "pool", "shape") else {}
    _template(reading["label"], where.at("label"), {**given, **facts})
    if "empty_label" in reading:
        _template(reading["empty_label"], where.at("empty_label"), given)
    for key in ("before", "after"):
        steps = reading.get(key, [])
        if not isinstance(steps, list):
            raise where.at(key).fail("must be a list of texts")
        for i, step in enumerate(steps):
            _template(step, where.at(key).at(i), given)
    function, fields = COMPUTATIONS[name]
    here = where.at(name)
    if name == "params":
        _notation("layers", reading[name], here, given)
        return reading
    _obj(reading[name], here, tuple(k for k, (_, req) in fields.items() if req), tuple(fields))
    for key, value in reading[name].items():
        _notation(fields[key][0], value, here.at(key), given)
    return reading


def _notation(kind: str, value: Any, where: _Where, given: dict[str, Any]) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and kind != "flag":
        value = str(value)
    if isinstance(value, str) or (isinstance(value, list) and kind == "tensors"):
        try:
            value = _fill_fields(value, given)
        except KeyError as exc:
            raise where.fail(str(exc.args[0])) from None
    try:
        check_notation(kind, value)
    except ShapeError as exc:
        raise where.fail(str(exc)) from None


def _question(assignment: str, data: Any, where: _Where) -> Question:
    common = ("id", "title", "kind", "points", "text")
    if not isinstance(data, dict):
        raise where.fail("a question must be an object")
    qid = data.get("id")
    if not isinstance(qid, str) or not _ID.fullmatch(qid):
        raise where.at("id").fail("a question needs an id: lower-case letters, digits, - and _, "
                                  "e.g. q1")
    where = where.question(qid)
    kind = data.get("kind")
    if kind not in KINDS:
        raise where.at("kind").fail(f"must be one of {', '.join(KINDS)}")
    if kind == "manual":
        _obj(data, where, (*common, "answer", "rubric"), (*common, "answer", "rubric"))
    else:
        _obj(data, where, (*common, "given", "readings"), (*common, "given", "readings", "vary"))
    points = data["points"]
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
        raise where.at("points").fail("must be a number of at least 0")
    title = _text(data["title"], where.at("title"))
    if kind == "manual":
        return Question(assignment, qid, title, kind, _text(data["text"], where.at("text")),
                        model_answer=_text(data["answer"], where.at("answer")),
                        rubric=_text(data["rubric"], where.at("rubric")), points=float(points))
    given = _check_given(data["given"], where.at("given"))
    _template(data["text"], where.at("text"), given)
    readings = data["readings"]
    if not isinstance(readings, list) or not readings:
        raise where.at("readings").fail("must be a non-empty list (the reading taken first)")
    for i, reading in enumerate(readings):
        _check_reading(reading, where.at("readings").at(i), given)
    vary = data.get("vary")
    if vary is not None:
        _obj(vary, where.at("vary"), tuple(given), tuple(given))
        for i, (name, spec) in enumerate(vary.items()):
            _check_draw(spec, where.at("vary").at(name), list(vary)[:i])
    return Question(assignment, qid, title, kind, data["text"], given, vary, readings,
                    points=float(points))


def parse_theory(spec: dict, source: str) -> Assignment:
    """The ``theory`` section of a spec (already parsed JSON) as an ``Assignment``;
    ``TheoryError`` names the first problem. A spec without the section has no questions."""
    if not isinstance(spec, dict):
        raise TheoryError(f"{source}: the spec must be a JSON object")
    assignment = spec.get("id")
    if not isinstance(assignment, str) or not assignment:
        raise TheoryError(f"{source}: id: the spec needs an id such as cs577-a4")
    where = _Where(source, assignment)
    section = _obj(spec.get("theory", {"questions": []}), where.at("theory"), ("questions",),
                   ("questions", "default"))
    default = section.get("default", False)
    if not isinstance(default, bool):
        raise where.at("theory").at("default").fail("must be true or false")
    items = section["questions"]
    if not isinstance(items, list):
        raise where.at("theory").at("questions").fail("must be a list of questions")
    questions: dict[str, Question] = {}
    for i, data in enumerate(items):
        question = _question(assignment, data, where.at("theory").at("questions").at(i))
        if question.qid in questions:
            raise where.question(question.qid).at("id").fail("two questions have this id")
        questions[question.qid] = question
    return Assignment(assignment, source, default, questions)
