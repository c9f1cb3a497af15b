"""Grading a student's numeric theory answers, with partial credit by cell.

A question's answer is compared with every reading the solver gives (the one
taken and the labelled alternatives); the student gets the best of them, so a
defensible other reading of an ambiguous question earns its credit. Within a
reading, each cell of a tensor, each entry of a shape and each named number of
a record is one cell; the score is ``points * correct / cells``.

>>> result = grade_answers({"answers": {"q7": [126, 126, 15]}}, "cs577-a4")
>>> [(t["number"], t["score"]) for t in result["tests"] if t["number"] in ("q7", "q8")]
[('q7', 0.67), ('q8', 0.0)]

A string answer is read in the notation the solver prints, chosen by the kind of the
expected answer (``read_answer``): ``63x63x16`` or ``(63, 63, 16)`` for a shape,
``45,45;54,54`` or ``[[45, 45], [54, 54]]`` for a matrix, ``1,199,882`` for one number.
Scores are rounded to two decimals wherever they are shown (the results JSON too, as
Gradescope shows its numbers); the total is the exact sum, rounded once.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from theory.answer import GradeError, Reading, fmt, matrix_text, to_json, value_text
from theory.ops import simplify, stack_channels
from theory.parse import parse_channels, parse_count, parse_nested, parse_vector
from theory.questions import (
    Assignment,
    Question,
    UnknownQuestion,
    get_question,
    load_assignment,
    solve,
    variant_params,
)
from theory.shapes import ShapeError

__all__ = ["GradeError", "Tolerance", "answer_problem", "compare", "decode_answers",
           "failed_results", "grade_answers", "points_text", "read_answer"]

# The words that answer a reading with no valid output (cs577 q3 without padding). JSON
# null and [] are no answer at all: a student who leaves a question blank gets 0, not
# the credit of the empty reading. The answers schema and `grade --help` list these.
NO_ANSWER_WORDS = ("none", "no output", "empty", "undefined", "n/a", "0x0")
# An answer is a number, a matrix (H x W x C, perhaps wrapped once more) or a
# record of those: a few levels at most. Deeper values are refused before any
# recursive code (the schema validator, _shape, _squeeze) sees them.
MAX_ANSWER_DEPTH = 8
# The largest real answer is a 5x5x3 variant tensor (about 100 values with its lists);
# a bigger one is refused before the schema validator, which costs ~60 us per value.
MAX_ANSWER_VALUES = 256
# A whole answers file is a few numbers per question and some paragraphs of text; the
# cap keeps json.loads and the schema validator from reading megabytes (a 48 MB file
# took over ten minutes).
MAX_ANSWERS_BYTES = 1 << 20
# An answer written as text: the largest, a 5x5x3 tensor as nested lists with fractions,
# is about 1,000 characters; the cap bounds the work of reading one.
MAX_ANSWER_TEXT = 4000


def answer_problem(value: Any, limit: int = MAX_ANSWER_DEPTH) -> str | None:
    """Why ``value`` cannot be an answer (nested too deep, too many values, a non-finite
    number), else None.

    Iterative, so a value nested thousands of levels deep is reported, not a RecursionError.

    >>> answer_problem([[1, 2], [3, float("inf")]])
    'holds inf, which is not a finite number; write numbers such as 3, 0.5 or "1/3"'
    """
    stack = [(value, 0)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > MAX_ANSWER_VALUES:
            return (f"holds more than {MAX_ANSWER_VALUES} values and lists; no answer here "
                    "is that large (theory.grade.MAX_ANSWER_VALUES)")
        if depth > limit:
            return (f"is nested more than {limit} levels deep; an answer is a number, a matrix "
                    "or an object of those (theory.grade.MAX_ANSWER_DEPTH)")
        if isinstance(item, float) and (item != item or item in (float("inf"), float("-inf"))):
            return (f"holds {item}, which is not a finite number; write numbers such as 3, 0.5 "
                    'or "1/3"')
        if isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
    return None


def _too_deep_answers(text: str, limit: int) -> list[tuple[str, int, int]]:
    """(key, start, end) of each value under the top-level "answers" object of the JSON
    ``text`` that is nested deeper than ``limit``; a character scan, no recursion."""
    found: list[tuple[str, int, int]] = []
    depth, i, n = 0, 0, len(text)
    last_top = key = ""
    in_answers, start, peak = False, -1, 0
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            word = text[i + 1:j]
            if depth == 1:
                last_top = word
            elif depth == 2 and in_answers:
                key = word
            i = j + 1
            continue
        if ch in "[{":
            depth += 1
            if depth == 2:
                in_answers = ch == "{" and last_top == "answers"
            elif depth == 3 and in_answers:
                start, peak = i, 3
            peak = max(peak, depth)
        elif ch in "]}":
            if depth == 3 and in_answers and start >= 0:
                if peak - 2 > limit:
                    found.append((key, start, i + 1))
                start = -1
            depth -= 1
        i += 1
    if in_answers and start >= 0 and peak - 2 > limit:     # unclosed: json.loads will say so
        found.append((key, start, n))
    return found


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    """A JSON object whose keys are all different: json.loads would keep the last of a
    repeated key silently, grading one of two answers the student gave."""
    obj: dict = {}
    for key, value in pairs:
        if key in obj:
            raise GradeError(f"the key {key!r} appears twice in one object; keep one of them")
        obj[key] = value
    return obj


def decode_answers(text: str) -> tuple[Any, dict[str, str]]:
    """Decodes an answers file's JSON text. Answers nested too deep for the JSON decoder
    are cut out (read as null) and returned as ``{key: reason}`` for grading as zero;
    raises ``GradeError`` when the file cannot be read as JSON even so, or repeats a key."""
    import json

    def loads(text: str) -> Any:
        return json.loads(text, object_pairs_hook=_unique_keys)

    try:
        return loads(text), {}
    except RecursionError:
        pass
    cut = _too_deep_answers(text, MAX_ANSWER_DEPTH)
    reason = (f"is nested more than {MAX_ANSWER_DEPTH} levels deep; an answer is a number, a "
              "matrix or an object of those (theory.grade.MAX_ANSWER_DEPTH)")
    for _, begin, end in reversed(cut):
        text = text[:begin] + "null" + text[end:]
    try:
        return loads(text), {k: reason for k, _, _ in cut}
    except RecursionError:
        raise GradeError("nested too deeply to read (outside the answers, or more than the "
                         "JSON decoder allows); answers are numbers, matrices or objects of "
                         "those") from None


@dataclass(frozen=True)
class Tolerance:
    """How close a number must be: an integer exactly, any other number within
    ``max(abs, rel * |expected|)``.

    The relative part lets 5.44 stand for 49/9; a count or a size is exact, as
    62300 for 62350 parameters is a wrong count, not a rounding.
    """

    rel: float = 1e-3
    abs: float = 1e-6

    def close(self, got: Fraction, expected: Fraction) -> bool:
        if expected.denominator == 1:
            return got == expected
        return abs(got - expected) <= max(Fraction(self.abs), Fraction(self.rel) * abs(expected))


@dataclass
class Comparison:
    correct: int = 0
    total: int = 0
    problems: list[str] = field(default_factory=list)


def _number(value: Any) -> Fraction | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        try:
            return Fraction(str(value))
        except (ValueError, OverflowError):      # inf and nan are no answer
            return None
    if isinstance(value, str):
        try:     # parse_number caps length and exponent: Fraction("1e999999999") would spin
            return Fraction(parse_count(value))     # one number: "1,199,882" is a count
        except ShapeError:
            return None
    return None


def points_text(value: float) -> str:
    """Points as people read them: at most two decimals, no trailing zeros.

    >>> points_text(2.41666), points_text(6), points_text(0.5)
    ('2.42', '6', '0.5')
    """
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _points(value: float | Fraction) -> float:
    """A score or a maximum in the results JSON: two decimals, as Gradescope shows it.
    Halves round up, exactly (5/8 of a point is 0.63; round() would give 0.62, and 2.675,
    stored as 2.67499..., 2.67).

    >>> _points(Fraction(5, 8)), _points(2.675), _points(Fraction(29, 12)), _points(6)
    (0.63, 2.68, 2.42, 6.0)
    """
    exact = value if isinstance(value, Fraction) else Fraction(str(value))
    return float(Fraction(math.floor(exact * 100 + Fraction(1, 2)), 100))


def _depth(expected: Any) -> int:
    depth = 0
    while isinstance(expected, list) and expected:
        expected, depth = expected[0], depth + 1
    return depth


def read_answer(text: str, expected: Any) -> Any:
    """A string answer read as the kind of ``expected`` (the reading's answer) is: one
    number (thousands separators allowed), a flat list (a shape: ``63x63x16``,
    ``63 × 63 × 16``, ``(63, 63, 16)``, ``[63, 63, 16]``) or a matrix (the calculator's
    rows ``45,45;54,54``, channels by ``|``, or nested lists ``[[45, 45], [54, 54]]``).
    The kind decides what a comma is: in a count it groups thousands, in a list it
    separates values. Raises ``ShapeError`` (theory.shapes) with the reason.

    >>> read_answer("1,199,882", 5), read_answer("1,199,882", [1, 2, 3])
    (1199882, [1, 199, 882])
    >>> read_answer("45,45;54,54", [[0, 0], [0, 0]])
    [[45, 45], [54, 54]]
    """
    if len(text) > MAX_ANSWER_TEXT:
        raise ShapeError(f"it is longer than {MAX_ANSWER_TEXT} characters "
                         "(theory.grade.MAX_ANSWER_TEXT)")
    depth = _depth(expected)
    if depth == 0:
        return parse_count(text)
    if depth == 1:
        return parse_vector(text)
    if text.lstrip()[:1] in "[(":
        value = parse_nested(text, MAX_ANSWER_DEPTH)
    else:
        channels = parse_channels(text)
        value = channels[0] if len(channels) == 1 else stack_channels(channels)
    problem = answer_problem(value)
    if problem:
        raise ShapeError(f"it {problem}")
    return value


def accepted_forms(expected: Any) -> str:
    """The forms an answer like ``expected`` may be written in, with this question's own
    answer as the example (the feedback names expected values already)."""
    depth = _depth(expected)
    if depth == 0:
        value = simplify(Fraction(expected))
        examples = [fmt(value)]
        if isinstance(value, int) and abs(value) >= 1000:
            examples.append(f"{value:,}")
        return (f"one number, e.g. {' or '.join(examples)} (fractions such as 7/2 and "
                "decimals such as 3.5 are read too)")
    if depth == 1:
        values = [fmt(simplify(Fraction(v))) for v in expected]
        return ("the sizes separated by x, × or commas, e.g. " + "x".join(values) + ", "
                + " x ".join(values) + ", (" + ", ".join(values) + ") or " + value_text(
                    [simplify(Fraction(v)) for v in expected]))
    exact = _exact(expected)
    channels = " (one channel each, separated by '|')" if depth >= 3 else ""
    return (f"rows separated by ';' and values by ','{channels}, e.g. {matrix_text(exact)}, "
            f"or nested lists, e.g. {_nested_text(exact)}")


def _exact(value: Any) -> Any:
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return simplify(Fraction(value))


def _nested_text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_nested_text(v) for v in value) + "]"
    return fmt(value)


def _read(got: Any, expected: Any, where: str) -> tuple[Any, str | None]:
    """``got`` as a value to compare: a string is read (``read_answer``); else as given.
    The second item is the problem when a string cannot be read."""
    if not isinstance(got, str):
        return got, None
    try:
        return read_answer(got, expected), None
    except ShapeError as exc:
        shown = got if len(got) <= 60 else got[:57] + "..."
        # Words with no digit ("abc", "twelve"): the parser's reason would list the
        # calculator's generators, which are no answer.
        reason = (str(exc) if any(c.isdigit() for c in got) else
                  "it is not a number" + (" or a matrix" if _depth(expected) else ""))
        return got, f"{where}cannot read {shown!r}: {reason}. Write {accepted_forms(expected)}"


def _size(shape: tuple[int, ...]) -> str:
    return "x".join(str(v) for v in shape) if shape else "single number"


def _describe(value: Any, written: Any = None) -> str:
    """What a student wrote, in words: 'a 1x2 matrix', 'the number 5', "'abc' (not a number)";
    ``written`` is the text ``value`` was read from, if it was."""
    if isinstance(written, str):
        shown = written if len(written) <= 60 else written[:57] + "..."
        return f"{shown!r}, read as {_describe(value)}"
    if isinstance(value, list):
        shape = _shape(value)
        return "a ragged list (rows of different lengths)" if shape is None else \
            f"a {_size(shape)} list"
    if _number(value) is not None:
        return f"the single number {value!r}"
    if isinstance(value, dict):
        return f"an object with keys {list(value)}"
    return f"{value!r}, which is not a number or a matrix"


def _shape(value: Any) -> tuple[int, ...] | None:
    if not isinstance(value, list):
        return ()
    if not value:
        return (0,)
    inner = [_shape(v) for v in value]
    if any(s is None or s != inner[0] for s in inner):
        return None
    return (len(value), *inner[0])


def _squeeze(value: Any) -> Any:
    """Drops length-1 axes, so a 2x2x1 answer matches a 2x2 key."""
    while isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if isinstance(value, list):
        value = [_squeeze(v) for v in value]
        if value and all(isinstance(v, list) and len(v) == 1 and not isinstance(v[0], list)
                         for v in value):
            value = [v[0] for v in value]
    return value


def _flatten(value: Any, path: tuple[int, ...] = ()) -> list[tuple[tuple[int, ...], Any]]:
    if isinstance(value, list):
        return [cell for i, v in enumerate(value) for cell in _flatten(v, (*path, i))]
    return [(path, value)]


def _cells(expected: Any) -> int:
    if isinstance(expected, dict):
        return sum(_cells(v) for v in expected.values())
    return len(_flatten(expected))


def compare(got: Any, expected: Any, answer_type: str, tol: Tolerance = Tolerance(),
            name: str = "") -> Comparison:
    """Cells of ``got`` that match ``expected`` (a reading's exact answer)."""
    where = f"{name}: " if name else ""
    if answer_type == "none":
        ok = isinstance(got, str) and got.strip().lower() in NO_ANSWER_WORDS
        return Comparison(int(ok), 1, [] if ok else [f"{where}expected no output, got {got!r}"])
    if answer_type == "record":
        result = Comparison()
        if not isinstance(got, dict):
            result.total = _cells(expected)
            result.problems.append(f"{where}expected an object with keys {list(expected)}, "
                                   f"got {type(got).__name__}")
            return result
        for key, value in expected.items():
            kind = "tensor" if isinstance(value, list) else "number"
            if key not in got:
                result.total += _cells(value)
                result.problems.append(f"{where}missing {key!r}")
                continue
            part = compare(got[key], value, kind, tol, key)
            result.correct += part.correct
            result.total += part.total
            result.problems += part.problems
        return result
    if answer_type in ("tensor", "shape"):
        total = _cells(expected)
        read, problem = _read(got, expected, where)
        if problem:
            return Comparison(0, total, [problem])
        exp = _squeeze(expected) if answer_type == "tensor" else expected
        val = _squeeze(read) if answer_type == "tensor" else read
        want, have = _shape(exp), _shape(val)
        if have != want:
            wanted = (f"a shape of {want[0]} numbers" if answer_type == "shape" and want
                      else f"a {_size(want or ())} matrix (shape {list(want or ())})")
            return Comparison(0, total, [f"{where}expected {wanted}, got "
                                         f"{_describe(read, got)}"])
        result = Comparison(total=total)
        shown = fmt if isinstance(got, str) else repr     # cells read from text are numbers
        for (index, e), (_, g) in zip(_flatten(exp), _flatten(val), strict=True):
            number = _number(g)
            if number is not None and tol.close(number, Fraction(e)):
                result.correct += 1
            else:
                result.problems.append(f"{where}{list(index)}: expected {fmt(simplify(e))}, "
                                       f"got {shown(g)}")
        return result
    number = _number(got)
    if number is not None and tol.close(number, Fraction(expected)):
        return Comparison(1, 1)
    if number is None and isinstance(got, str):
        return Comparison(0, 1, [_read(got, expected, where)[1] or ""])
    return Comparison(0, 1, [f"{where}expected {fmt(simplify(expected))}, got {got!r}"])


def _best(got: Any, readings: list[Reading], tol: Tolerance) -> tuple[int, Comparison]:
    best_index, best = 0, None
    for k, reading in enumerate(readings):
        result = compare(got, reading.answer, reading.answer_type, tol)
        score = Fraction(result.correct, result.total or 1)
        if best is None or score > Fraction(best.correct, best.total or 1):
            best_index, best = k, result
    assert best is not None
    return best_index, best


def _given(value: Any) -> bool:
    """Whether a value is an answer: null and [] leave the question blank (a reading with
    no output is answered in words, NO_ANSWER_WORDS)."""
    return value is not None and value != []


def _invalid_test(question: Question, source: str, key: str, reason: str) -> dict:
    return {"name": f"{question.qid}: {question.title}", "number": question.qid, "score": 0.0,
            "max_score": _points(question.points), "status": "failed", "visibility": "visible",
            "output": f"{source}: answer {key!r} {reason}",
            "tags": [question.qid, "theory", "numeric"],
            "grader": {"state": "failed", "points": question.points, "check": "theory",
                       "details": {"answered": True, "invalid": reason}}}


def _test(question: Question, params: dict, answered: bool, got: Any,
          tol: Tolerance, seed: int | None = None) -> tuple[dict, Fraction]:
    """The question's test entry, and its score unrounded (the total is rounded once)."""
    solution = solve(question, params)
    readings = [solution.primary, *solution.alternatives]
    name = f"{question.qid}: {question.title}"
    if not answered:
        return {"name": name, "number": question.qid, "score": 0.0,
                "max_score": _points(question.points), "status": "failed",
                "visibility": "visible", "output": "no answer given",
                "tags": [question.qid, "theory", "numeric"],
                "grader": {"state": "failed", "points": question.points, "check": "theory",
                           "details": {"answered": False}}}, Fraction(0)
    k, result = _best(got, readings, tol)
    fraction = Fraction(result.correct, result.total or 1)
    exact = Fraction(str(question.points)) * fraction     # str: 0.1 is 1/10, not its float
    reading = readings[k]
    label = "the reading taken" if k == 0 else f"alternative {k}"
    lines = [f"{result.correct}/{result.total} cells correct under {label}: {reading.label}"]
    if seed is not None:
        lines.insert(0, f"graded against the variant for seed {seed} (its numbers: grader "
                        f"theory variant {question.qid} --seed {seed})")
    shown = result.problems[:8]
    lines += [f"  {p}" for p in shown]
    if len(result.problems) > len(shown):
        lines.append(f"  ... {len(result.problems) - len(shown)} more")
    passed = result.correct == result.total
    return {"name": name, "number": question.qid, "score": _points(exact),
            "max_score": _points(question.points), "status": "passed" if passed else "failed",
            "visibility": "visible", "output": "\n".join(lines),
            "tags": [question.qid, "theory", "numeric"],
            "grader": {"state": "passed" if passed else "failed", "points": question.points,
                       "check": "theory", "details": {
                           "answered": True, "reading": reading.label, "reading_index": k,
                           "cells_correct": result.correct, "cells_total": result.total,
                           "expected": to_json(reading.answer),
                           **({} if seed is None else {"seed": seed})}}}, exact


def _manual_test(question: Question, got: Any) -> dict:
    return {"name": f"{question.qid}: {question.title}", "number": question.qid, "score": 0.0,
            "max_score": 0.0, "status": "passed", "visibility": "visible",
            "output": f"graded by a person. Rubric: {question.rubric}",
            "tags": [question.qid, "theory", "manual"],
            "grader": {"state": "manual", "points": question.points, "check": "theory",
                       "details": {"answer": got, "model_answer": question.model_answer,
                                   "rubric": question.rubric}}}


def grade_answers(data: dict, assignment: str | Assignment, tol: Tolerance = Tolerance(),
                  source: str = "answers", invalid: dict[str, str] | None = None) -> dict:
    """Grades an answers object (``theory_answers_file.schema.json``, already validated)
    and returns the results object (``results.schema.json``). ``assignment`` is an id, the
    path of a spec, or its loaded questions.

    An answer that cannot be one (``answer_problem``, or named in ``invalid`` with the
    reason, as ``decode_answers`` returns them) scores 0 with the reason and the file
    named; the other answers are graded as usual.
    """
    invalid = invalid or {}
    refused: dict[str, tuple[str, str]] = {}     # qid -> (key as written, reason)
    start = time.perf_counter()
    theory = load_assignment(assignment)
    assignment = theory.id
    file_assignment = data.get("assignment")
    if file_assignment and file_assignment != assignment:
        raise GradeError(f"{source} is for {file_assignment!r} but --assignment is "
                         f"{assignment!r}; drop one of them or make them agree")
    answers: dict = data.get("answers", {})
    seed = data.get("seed")
    ids = list(theory.questions)
    resolved: dict[str, Any] = {}
    for key, value in answers.items():
        try:
            question = get_question(key, theory)
        except UnknownQuestion as exc:
            if file_assignment:    # --assignment cannot override the file's own: no such hint
                raise GradeError(f"{source}: its assignment {assignment} has no question "
                                 f"{key!r}; valid ids: {', '.join(ids) or '(none)'}") from None
            raise GradeError(f"{source}: {exc}") from None
        if question.qid in resolved:
            raise GradeError(f"{source}: question {question.qid} is answered twice "
                             f"(as {key!r} and another spelling)")
        resolved[question.qid] = value
        problem = invalid.get(key) or answer_problem(value)
        if problem:
            refused[question.qid] = (key, problem)
    tests = []
    exact = Fraction(0)
    for qid in ids:
        question = theory.questions[qid]
        if question.kind == "manual":
            if qid in refused:     # the text is kept for a person; a refused value is not
                tests.append(_manual_test(question, f"(not kept: the answer {refused[qid][1]})"))
            elif _given(resolved.get(qid)):
                tests.append(_manual_test(question, resolved[qid]))
            continue
        if qid in refused:
            tests.append(_invalid_test(question, source, *refused[qid]))
            continue
        params = question.params if seed is None else variant_params(question, seed)
        test, points = _test(question, params, _given(resolved.get(qid)), resolved.get(qid),
                             tol, seed)
        tests.append(test)
        exact += points
    score = _points(exact)     # the exact sum, rounded once (not a sum of rounded scores)
    max_score = _points(sum(t["max_score"] for t in tests))
    numeric = [t for t in tests if t["grader"]["state"] != "manual"]
    passed = sum(t["status"] == "passed" for t in numeric)
    manual = len(tests) - len(numeric)
    output = (f"{assignment} theory: {points_text(score)}/{points_text(max_score)} points; "
              f"{passed}/{len(numeric)} "
              "numeric questions fully correct"
              + (f"; {manual} answer{' awaits' if manual == 1 else 's await'} a person"
                 if manual else "")
              + (f"; graded against variant seed {seed}" if seed is not None else ""))
    exit_code = 0 if passed == len(numeric) else 1
    return {
        "score": score, "max_score": max_score,
        "execution_time": round(time.perf_counter() - start, 4),
        "output": output, "tests": tests,
        "grader": {"assignment": assignment, "submission": source, "complete": True,
                   "exit_code": exit_code, "errors": [],
                   "theory": {"student": data.get("student"), "seed": seed,
                              "tolerance": {"rel": tol.rel, "abs": tol.abs}}},
    }


def failed_results(assignment: str | Assignment, source: str, reason: str) -> dict:
    """The results of an answers file that cannot be graded: every numeric question scores 0
    with ``reason``, exit code 2. Written like any results, so a batch keeps the student
    in the gradebook."""
    results = grade_answers({"answers": {}}, assignment, source=source)
    for test in results["tests"]:
        test["output"] = f"not graded: {reason}"
    name = results["grader"]["assignment"]
    results["output"] = (f"{name} theory: 0/{points_text(results['max_score'])} points; not "
                         f"graded: {reason}")
    results["grader"].update(complete=False, exit_code=2, errors=[reason])
    return results
