"""The small language in which users type matrices on the command line.

A tensor is one or more channels separated by ``|``; each channel is a literal
matrix or a generator:

==================  ==========================================================
``1,2;3,4``          rows separated by ``;``, values by ``,`` (or spaces)
``ones:3x3``         all ones (``zeros:HxW`` likewise)
``fill:2:4x4``       every value 2
``rows:1,2,3,4``     row i holds the i-th value; square unless a width follows,
                     as in ``rows:1,2,3,4:6``
``cols:1,2,3``       column j holds the j-th value (``cols:1,2,3:5`` for 5 rows)
``range:3x3``        1, 2, 3, ... row by row
``eye:3``            the identity matrix
==================  ==========================================================

Values may be integers, decimals (``0.5``) or fractions (``1/3``); all are
kept exact.

>>> parse_channels("ones:2x2 | rows:1,2")
[[[1, 1], [1, 1]], [[1, 1], [2, 2]]]
>>> parse_channels("1/2, 0.25; -1 3")
[[[Fraction(1, 2), Fraction(1, 4)], [-1, 3]]]
"""

from __future__ import annotations

import re
from fractions import Fraction

from theory.answer import fmt
from theory.ops import Number, simplify
from theory.shapes import ShapeError

__all__ = ["MATRIX_GRAMMAR", "parse_number", "parse_count", "parse_vector", "parse_nested",
           "parse_matrix", "parse_channels", "parse_pair", "describe_matrix"]

GENERATORS = ("ones", "zeros", "fill", "rows", "cols", "range", "eye")
GENERATOR_FORMS = ("ones:HxW, zeros:HxW, fill:VALUE:HxW, rows:V1,V2,..[:W], cols:V1,V2,..[:H], "
                   "range:HxW, eye:N")
MATRIX_GRAMMAR = (
    "channels separated by '|'; each is a literal '1,2;3,4' (rows by ';') or a generator: "
    f"{GENERATOR_FORMS}; values are integers, decimals or fractions like 1/3"
)
MAX_SIDE = 64  # worked answers print every cell; larger inputs belong in NumPy, not here
# A value is typed by hand, so 15 significant digits and a magnitude of 10**12
# cover every exercise; the caps are checked on the text, before Fraction(),
# because Fraction("1e1000000000") computes a billion-digit integer.
MAX_NUMBER_CHARS = 40
MAX_EXPONENT = 12
MAX_MAGNITUDE = 10 ** 12
_EXPONENT = re.compile(r"[eE]([+-]?\d+)\s*$")


def parse_number(text: str) -> Number:
    """An exact number from ``3``, ``-0.25`` or ``2/3``.

    >>> parse_number("2/4")
    Fraction(1, 2)
    """
    text = text.strip()
    exponent = _EXPONENT.search(text)
    if len(text) > MAX_NUMBER_CHARS or (exponent and abs(int(exponent.group(1))) > MAX_EXPONENT):
        shown = text if len(text) <= MAX_NUMBER_CHARS else text[:20] + "..."
        raise ShapeError(f"{shown!r} is out of range: values are at most {MAX_NUMBER_CHARS} "
                         f"characters with an exponent of at most {MAX_EXPONENT} "
                         "(theory.parse.MAX_NUMBER_CHARS, MAX_EXPONENT)")
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ShapeError(f"{text!r} is not a number (write 3, 0.5 or 1/3)") from None
    if abs(value) > MAX_MAGNITUDE or value.denominator > MAX_MAGNITUDE:
        raise ShapeError(f"{text!r} is out of range: values lie within +-10^{MAX_EXPONENT} "
                         "with a denominator of at most 10^12 (theory.parse.MAX_MAGNITUDE)")
    return simplify(value)


# "1,199,882": how the tool prints counts (f"{n:,}"). Only groups of exactly three digits,
# so "1,5" is not silently read as 15.
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def parse_count(text: str) -> Number:
    """``parse_number`` that also takes thousands separators, as counts are printed. Only
    for a place that holds one number: in a list the commas separate values.

    >>> parse_count("1,199,882"), parse_count("49/9")
    (1199882, Fraction(49, 9))
    """
    text = text.strip()
    return parse_number(text.replace(",", "") if _GROUPED.fullmatch(text) else text)


# Separators between the sizes of a shape, as people write it: 63x63x16, 63 × 63 × 16,
# 63*63*16, (63, 63, 16), [63, 63, 16] or 63 63 16.
_VECTOR_SPLIT = re.compile(r"\s*[xX\u00d7*,]\s*|\s+")
_BRACKETS = {"[": "]", "(": ")"}


def parse_vector(text: str) -> list[Number]:
    """A flat list of numbers: a shape such as ``63x63x16`` or ``(63, 63, 16)``.

    >>> parse_vector("63 × 63 × 16"), parse_vector("[63, 63, 16]"), parse_vector("28")
    ([63, 63, 16], [63, 63, 16], [28])
    """
    inner = text.strip()
    if inner[:1] in _BRACKETS and inner[-1:] == _BRACKETS[inner[:1]]:
        inner = inner[1:-1].strip()
    if not inner:
        raise ShapeError(f"{text!r} holds no numbers")
    pieces = _VECTOR_SPLIT.split(inner)
    if any(not p for p in pieces):     # 12x, 1,,2: a size left out
        raise ShapeError(f"{text!r} has an empty value between separators")
    return [parse_number(p) for p in pieces]


_NESTED_TOKEN = re.compile(r"[\[\]()]|,|[^\[\](),\s]+")


def parse_nested(text: str, max_depth: int = 8) -> list:
    """Nested lists as Python or NumPy print them: ``[[45, 45], [54, 54]]``,
    ``[[45 45] [54 54]]`` or with parentheses. A stack, not recursion, so deep nesting
    is refused by ``max_depth`` rather than by Python.

    >>> parse_nested("[[45, 45], [54, 1/2]]")
    [[45, 45], [54, Fraction(1, 2)]]
    """
    root: list = []
    stack = [root]
    closers: list[str] = []
    previous = "["       # what came before: an opening, a value/closing, or a comma
    for token in _NESTED_TOKEN.findall(text):
        if token in _BRACKETS:     # no comma needed before it: NumPy prints "] ["
            if len(stack) > max_depth:
                raise ShapeError(f"{text!r} is nested more than {max_depth} levels deep")
            inner: list = []
            stack[-1].append(inner)
            stack.append(inner)
            closers.append(_BRACKETS[token])
            previous = "["
        elif token in ")]":
            if previous == ",":
                raise ShapeError(f"{text!r}: a value is missing after a ','")
            if not closers or token != closers.pop():
                raise ShapeError(f"{text!r}: the brackets do not match")
            stack.pop()
            previous = "value"
        elif token == ",":
            if previous != "value":
                raise ShapeError(f"{text!r} has an empty value between commas")
            previous = ","
        else:
            stack[-1].append(parse_number(token))
            previous = "value"
    if closers:
        raise ShapeError(f"{text!r}: a bracket is not closed")
    if len(root) != 1 or not isinstance(root[0], list):
        raise ShapeError(f"{text!r} is not one bracketed list such as [[1, 2], [3, 4]]")
    return root[0]


def parse_pair(text: str, what: str = "size") -> tuple[int, int]:
    """``4x5`` -> ``(4, 5)``; ``4`` -> ``(4, 4)``."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX*]\s*(\d+))?\s*", text)
    if not match:
        raise ShapeError(f"{what} must look like 3 or 3x3, got {text!r}")
    h = int(match.group(1))
    w = int(match.group(2)) if match.group(2) else h
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise ShapeError(f"{what} {text!r} is out of range: each side must be 1..{MAX_SIDE}")
    return h, w


def _values(text: str) -> list[Number]:
    pieces = text.strip().split(",")
    if len(pieces) > 1 and any(not p.strip() for p in pieces):
        raise ShapeError(f"{text!r} has an empty value between commas; write e.g. 1,2,3")
    items = [v for piece in pieces for v in piece.split()]
    if not items:
        raise ShapeError(f"expected a list of numbers, got {text!r}")
    return [parse_number(v) for v in items]


_EXAMPLES = {"fill": "fill:2:3x3", "rows": "rows:1,2,3", "cols": "cols:1,2,3", "eye": "eye:3"}


def parse_matrix(text: str) -> list[list[Number]]:
    """One channel: a literal matrix or a generator (see the module docstring)."""
    text = text.strip()
    if not text:
        raise ShapeError("an empty matrix; write e.g. 1,2;3,4 or ones:3x3")
    head, _, rest = text.partition(":")
    head = head.strip().lower()
    if not rest:
        if head in GENERATORS:
            example = _EXAMPLES.get(head, f"{head}:3x3")
            raise ShapeError(f"{text!r}: a generator needs its size or values, e.g. {example}")
        if re.fullmatch(r"[a-z]+", head):     # a word such as abc, nan or inf
            raise ShapeError(f"{text!r} is not a number or a known generator; the generators "
                             f"are {GENERATOR_FORMS}")
        rows = [_values(r) for r in text.split(";") if r.strip()]
        if len({len(r) for r in rows}) != 1:
            raise ShapeError(f"{text!r}: every row needs the same number of values")
        return rows
    if head in ("ones", "zeros"):
        h, w = parse_pair(rest)
        return [[1 if head == "ones" else 0] * w for _ in range(h)]
    if head == "fill":
        value, _, size = rest.rpartition(":")
        if not value:
            raise ShapeError(f"{text!r}: write fill:VALUE:HxW, e.g. fill:2:4x4")
        h, w = parse_pair(size)
        return [[parse_number(value)] * w for _ in range(h)]
    if head in ("rows", "cols"):
        values_text, _, other = rest.partition(":")
        values = _values(values_text)
        length = int(other) if other.strip().isdigit() else len(values)
        if other.strip() and not other.strip().isdigit():
            raise ShapeError(f"{text!r}: the size after the values must be a number")
        if not (1 <= length <= MAX_SIDE and len(values) <= MAX_SIDE):
            raise ShapeError(f"{text!r}: each side must be 1..{MAX_SIDE}")
        if head == "rows":
            return [[v] * length for v in values]
        return [list(values) for _ in range(length)]
    if head == "range":
        h, w = parse_pair(rest)
        return [[i * w + j + 1 for j in range(w)] for i in range(h)]
    if head == "eye":
        n, _ = parse_pair(rest)
        return [[1 if i == j else 0 for j in range(n)] for i in range(n)]
    raise ShapeError(f"unknown generator {head!r} in {text!r}; use one of: {MATRIX_GRAMMAR}")


def parse_channels(text: str) -> list[list[list[Number]]]:
    """Channels separated by ``|``, each one a matrix; all must have one size."""
    channels = [parse_matrix(part) for part in text.split("|")]
    sizes = {(len(ch), len(ch[0])) for ch in channels}
    if len(sizes) != 1:
        raise ShapeError(f"{text!r}: the channels have different sizes "
                         f"{sorted(f'{h}x{w}' for h, w in sizes)}")
    return channels


_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]


def describe_matrix(spec: str) -> str:
    """A channel in words, as a question states it.

    >>> describe_matrix("fill:2:4x4"), describe_matrix("ones:3x3")
    ('all 2-s', 'all ones')
    >>> describe_matrix("rows:1,2")
    '1 in its first row, 2 in its second row'
    >>> describe_matrix("1,0;0,-1")
    '[1 0; 0 -1]'
    """
    head, _, rest = spec.partition(":")
    if head in ("ones", "zeros"):
        return f"all {head}"
    if head == "fill":
        return f"all {rest.rpartition(':')[0]}-s"
    if head in ("rows", "cols"):
        values = rest.partition(":")[0].split(",")
        if len(values) > len(_ORDINALS):
            return f"{', '.join(values)} in its {'rows' if head == 'rows' else 'columns'}"
        axis = "row" if head == "rows" else "column"
        return ", ".join(f"{v} in its {_ORDINALS[i]} {axis}" for i, v in enumerate(values))
    matrix = parse_matrix(spec)
    return "[" + "; ".join(" ".join(fmt(v) for v in row) for row in matrix) + "]"
