"""The calculator: every computation a worked answer can name, taking its numbers in the
notation `grader theory conv|pool|shape|params` accepts on the command line.

The CLI verbs call ``conv``, ``pool``, ``shape`` and ``params`` with the option values as
typed; an assignment's theory questions name the same computations, and a few more that
compare layers (``output_size``, ``same_padding``, ``kernel_ratio``, ``stacked``,
``stride_effect``), with the same notation in their fields (``theory.section``).
``COMPUTATIONS`` lists each one's fields, so the questions loader and the assignment
schema check the same names.

>>> shape("128x128x32", "3x3", "16", stride="2").answer
[63, 63, 16]
>>> conv("ones:4x4|fill:2:4x4|rows:1,2,3,4", "ones:3x3").answer
[[45, 45], [54, 54]]
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from theory.answer import Reading
from theory.ops import concat_filters, filters_from_2d, stack_channels
from theory.parse import parse_channels, parse_pair, parse_vector
from theory.shapes import ShapeError, conv2d_params, receptive_field
from theory.shapes import output_size as size_along
from theory.shapes import same_padding as same_pads
from theory.worked import conv_reading, params_reading, pool_reading, shape_reading, size_formula

__all__ = ["COMPUTATIONS", "PADDING_FORMS", "check_notation", "parse_padding", "parse_size",
           "conv", "pool", "shape", "params", "output_size", "same_padding", "kernel_ratio",
           "stacked", "stride_effect"]

PADDING_FORMS = "valid, same, P (every side), V,H (top and bottom, left and right) or T,B,L,R"
NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def parse_padding(text: str) -> str | int | tuple[int, ...]:
    """``valid``, ``same``, ``P``, ``V,H`` or ``T,B,L,R``.

    >>> parse_padding("1,0")
    (1, 0)
    """
    value = text.strip().lower()
    if value in ("valid", "same"):
        return value
    try:
        numbers = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise ShapeError(f"--padding must be {PADDING_FORMS}; got {text!r}") from None
    return numbers[0] if len(numbers) == 1 else numbers


def parse_size(text: str, what: str) -> tuple[int, int]:
    """``3`` or ``3x5`` without the 64 cap of matrix sides: shapes may be large.

    >>> parse_size("224", "INPUT")
    (224, 224)
    """
    match = re.fullmatch(r"\s*(\d+)\s*(?:x\s*(\d+))?\s*", text.lower())
    if not match or int(match.group(1)) < 1 or (match.group(2) and int(match.group(2)) < 1):
        raise ShapeError(f"{what} must look like 3 or 3x3 with positive sizes, got {text!r}")
    first = int(match.group(1))
    return first, int(match.group(2)) if match.group(2) else first


def _number(text: str, what: str, minimum: int = 1) -> int:
    value = str(text).strip()
    if not value.isdigit() or int(value) < minimum:
        raise ShapeError(f"{what} must be a whole number of at least {minimum}, got {text!r}")
    return int(value)


def _dims(text: str, what: str) -> list[int]:
    """``N``, ``HxW`` or ``HxWxC`` (also ``(H, W, C)``: ``parse_vector``, the notation
    the grader reads shape answers in), each a positive whole number."""
    try:
        dims = parse_vector(text)
    except ShapeError:
        dims = []
    if not 1 <= len(dims) <= 3 or not all(isinstance(d, int) and d > 0 for d in dims):
        raise ShapeError(f"{what} must be N, HxW or HxWxC with positive sizes, got "
                         f"{text!r}".lstrip())
    return dims


# --- the CLI verbs --------------------------------------------------------------------------

def conv(input: str, filter: str | list[str], padding: str = "valid", stride: str = "1",
         dilation: str = "1", depthwise: bool = False, label: str | None = None) -> Reading:
    """`grader theory conv`: ``input`` and each ``filter`` in the tensor notation
    (``theory.parse``); one filter per output channel, or one applied per channel with
    ``depthwise``. The names are the CLI's options (--input, --filter, ...)."""
    filters = [filter] if isinstance(filter, str) else list(filter)
    channels = parse_channels(input)
    image = stack_channels(channels)
    kernels = [filters_from_2d(parse_channels(f), len(channels)) for f in filters]
    if depthwise and len(kernels) != 1:
        raise ValueError("--depthwise takes exactly one --filter")
    if label is None:
        label = ("depthwise: each channel convolved on its own" if depthwise
                 else f"{len(kernels)} filter(s), each summing over all {len(channels)} channels")
    return conv_reading(label, image, concat_filters(kernels), parse_pair(stride, "--stride"),
                        parse_padding(padding), parse_pair(dilation, "--dilation"),
                        depthwise=depthwise)


def pool(input: str, size: str = "2", stride: str | None = None, padding: str = "valid",
         kind: str = "max", label: str | None = None) -> Reading:
    """`grader theory pool`: max or average pooling; the stride defaults to the window."""
    image = stack_channels(parse_channels(input))
    window = parse_pair(size, "--size")
    step = parse_pair(stride, "--stride") if stride else None
    return pool_reading(f"{kind} pooling" if label is None else label, image, window, step,
                        padding.lower(), kind.lower())


def shape(input: str, kernel: str, filters: str | int | None = None, padding: str = "valid",
          stride: str = "1", dilation: str = "1", label: str | None = None) -> Reading:
    """`grader theory shape`: the output shape of a conv layer on an ``N``, ``HxW`` or
    ``HxWxC`` input; ``filters`` defaults to the input depth."""
    dims = _dims(input, "INPUT")
    h, w = (dims[0], dims[0]) if len(dims) == 1 else (dims[0], dims[1])
    c = dims[2] if len(dims) == 3 else 1
    if isinstance(filters, str):
        filters = _number(filters, "--filters")
    if filters is not None and filters < 1:
        raise ShapeError(f"--filters must be positive, got {filters}")
    k = filters or c
    kh, kw = parse_size(kernel, "KERNEL")
    if label is None:
        label = f"{k} filters of {kh}x{kw}x{c}"
    return shape_reading(label, (h, w, c), (kh, kw), k, parse_size(stride, "--stride"),
                         parse_padding(padding), parse_size(dilation, "--dilation"))


def params(layers: str, label: str = "the layers as listed") -> Reading:
    """`grader theory params`: parameter counts of a layer list (``theory.layers``)."""
    return params_reading(label, layers)


# --- comparisons that theory questions ask for -------------------------------------------------

def output_size(input: str, kernel: str, padding: str = "0", stride: str = "1",
                label: str = "") -> Reading:
    """The output length along one axis, ``floor((N + 2P - F) / S) + 1``, as an integer.

    >>> output_size("28", "3", "1", "2").answer
    14
    """
    n, f = _number(input, "input"), _number(kernel, "kernel")
    p, s = _number(padding, "padding", 0), _number(stride, "stride")
    steps = [{"kind": "formula", "text": size_formula(n, f, (p, p), s, 1)}]
    return Reading(label, size_along(n, f, p, s), "integer", steps)


def same_padding(input: str, kernel: str, label: str = "") -> Reading:
    """The padding that keeps the size at stride 1 with an odd filter, ``P = (F-1)/2``, and
    the output size it gives.

    >>> same_padding("28", "3").answer
    {'padding': 1, 'output': 28}
    """
    n, f = _number(input, "input"), _number(kernel, "kernel")
    p = (f - 1) // 2
    steps = [{"kind": "formula", "text": f"P = (F-1)/2 = ({f}-1)/2 = {p}"},
             {"kind": "formula", "text": size_formula(n, f, (p, p), 1, 1)}]
    return Reading(label, {"padding": p, "output": size_along(n, f, p, 1)}, "record", steps)


def _conv_params_text(f: int, c_in: int, c_out: int) -> str:
    return f"{f}*{f}*{c_in}*{c_out} + {c_out} = {conv2d_params(f, f, c_in, c_out)}"


def kernel_ratio(small: str, large: str, c_in: str, c_out: str, label: str = "") -> Reading:
    """Parameters of a ``small x small`` and a ``large x large`` conv layer with the same
    channels, and the ratio of their weights, ``large^2 / small^2``.

    >>> kernel_ratio("3", "7", "64", "64").answer["weight_ratio"]
    Fraction(49, 9)
    """
    a, b = _number(small, "small"), _number(large, "large")
    c_in_, c_out_ = _number(c_in, "c_in"), _number(c_out, "c_out")
    count_a, count_b = conv2d_params(a, a, c_in_, c_out_), conv2d_params(b, b, c_in_, c_out_)
    ratio = Fraction(b * b, a * a)
    steps = [
        {"kind": "formula", "text": f"{a}x{a}: {_conv_params_text(a, c_in_, c_out_)}"},
        {"kind": "formula", "text": f"{b}x{b}: {_conv_params_text(b, c_in_, c_out_)}"},
        {"kind": "formula", "text": (
            f"weights only: ({b * b}*{c_in_}*{c_out_}) / ({a * a}*{c_in_}*{c_out_}) = {ratio} = "
            f"{float(ratio):.4f}; with biases {count_b}/{count_a} = {count_b / count_a:.4f}")},
    ]
    answer = {f"params_{a}x{a}": count_a, f"params_{b}x{b}": count_b, "weight_ratio": ratio}
    return Reading(label, answer, "record", steps)


def stacked(kernel: str, layers: str, channels: str, label: str = "") -> Reading:
    """``layers`` stacked ``kernel x kernel`` conv layers at stride 1 against the one layer
    that sees the same field, ``1 + layers (K-1)`` wide: receptive field and parameters.

    >>> stacked("3", "3", "64").answer["params_one_7x7"]
    200768
    """
    k, n = _number(kernel, "kernel"), _number(layers, "layers", 2)
    c = _number(channels, "channels")
    if n > len(NUMBER_WORDS):
        raise ShapeError(f"layers must be at most {len(NUMBER_WORDS)}, got {n}")
    rf = receptive_field([(k, 1)] * n)
    big = rf[-1].field
    one = conv2d_params(k, k, c, c)
    word = NUMBER_WORDS[n - 1]
    steps = [
        {"kind": "formula", "text": "receptive field r_out = r_in + (K-1)*j: "
         + " -> ".join(str(step.field) for step in rf)},
        {"kind": "formula", "text": f"{word} {k}x{k} layers: {n} * ({_conv_params_text(k, c, c)})"
                                    f" = {n * one}"},
        {"kind": "formula", "text": f"one {big}x{big} layer: {_conv_params_text(big, c, c)}"},
    ]
    answer = {"receptive_field": big, f"params_{word}_{k}x{k}": n * one,
              f"params_one_{big}x{big}": conv2d_params(big, big, c, c)}
    return Reading(label, answer, "record", steps)


def stride_effect(input: str, kernel: str, c_in: str, c_out: str, strides: str = "1,2",
                  label: str = "") -> Reading:
    """Parameters and output shape of one 'same'-padded conv layer at two strides: the
    weights are the same, the output shrinks.

    >>> stride_effect("32", "3", "64", "64").answer["output_stride_2"]
    [16, 16, 64]
    """
    n, f = _number(input, "input"), _number(kernel, "kernel")
    c_in_, c_out_ = _number(c_in, "c_in"), _number(c_out, "c_out")
    pair = [s.strip() for s in strides.split(",")]
    if len(pair) != 2:
        raise ShapeError(f"strides must be two strides such as 1,2, got {strides!r}")
    count = conv2d_params(f, f, c_in_, c_out_)
    values = [_number(s, "stride") for s in pair]
    answer: dict[str, Any] = {f"params_stride_{s}": count for s in values}
    steps = [{"kind": "formula", "text": f"both strides: {_conv_params_text(f, c_in_, c_out_)}"}]
    for s in values:
        top, bottom = same_pads(n, f, s)
        size = size_along(n, f, (top, bottom), s)
        answer[f"output_stride_{s}"] = [size, size, c_out_]
        steps.append({"kind": "formula", "text": f"stride {s}, 'same': "
                      + size_formula(n, f, (top, bottom), s, 1)})
    return Reading(label, answer, "record", steps)


# What a theory question's reading may name: each computation's fields (named as the
# function's arguments, which are the CLI's option names) with the notation each takes,
# and which are required. ``params`` takes a bare layer list instead of fields.
COMPUTATIONS: dict[str, tuple[Any, dict[str, tuple[str, bool]]]] = {
    "conv": (conv, {"input": ("tensor", True), "filter": ("tensors", True),
                    "padding": ("padding", False), "stride": ("pair", False),
                    "dilation": ("pair", False), "depthwise": ("flag", False)}),
    "pool": (pool, {"input": ("tensor", True), "size": ("pair", False),
                    "stride": ("pair", False), "padding": ("pool_padding", False),
                    "kind": ("pool_kind", False)}),
    "shape": (shape, {"input": ("shape", True), "kernel": ("size", True),
                      "filters": ("count", False), "padding": ("padding", False),
                      "stride": ("size", False), "dilation": ("size", False)}),
    "params": (params, {}),
    "output_size": (output_size, {"input": ("count", True), "kernel": ("count", True),
                                  "padding": ("count0", False), "stride": ("count", False)}),
    "same_padding": (same_padding, {"input": ("count", True), "kernel": ("count", True)}),
    "kernel_ratio": (kernel_ratio, {"small": ("count", True), "large": ("count", True),
                                    "c_in": ("count", True), "c_out": ("count", True)}),
    "stacked": (stacked, {"kernel": ("count", True), "layers": ("count", True),
                          "channels": ("count", True)}),
    "stride_effect": (stride_effect, {"input": ("count", True), "kernel": ("count", True),
                                      "c_in": ("count", True), "c_out": ("count", True),
                                      "strides": ("strides", False)}),
}


def check_notation(kind: str, value: Any) -> None:
    """Raises ``ShapeError`` unless ``value`` is written in the notation ``kind`` names
    (a kind of ``COMPUTATIONS``): what a theory question's fields are checked with when its
    spec is loaded, before anything is computed."""
    if kind == "flag":
        if not isinstance(value, bool):
            raise ShapeError(f"must be true or false, got {value!r}")
        return
    if kind == "tensors" and isinstance(value, list):
        if not value:
            raise ShapeError("needs at least one filter")
        for item in value:
            check_notation("tensor", item)
        return
    if not isinstance(value, str):
        raise ShapeError(f"must be text in the calculator's notation, got {value!r}")
    if kind in ("tensor", "tensors"):
        parse_channels(value)
    elif kind == "layers":
        # theory.layers (dataclasses) is imported only for specs with layer lists
        from theory.layers import parse_layers

        parse_layers(value)
    elif kind == "padding":
        parse_padding(value)
    elif kind == "pool_padding":
        if value.strip().lower() not in ("valid", "same"):
            raise ShapeError(f"pooling padding must be 'valid' or 'same', got {value!r}")
    elif kind == "pool_kind":
        if value.strip().lower() not in ("max", "avg"):
            raise ShapeError(f"kind must be 'max' or 'avg', got {value!r}")
    elif kind == "pair":
        parse_pair(value)
    elif kind == "size":
        parse_size(value, "size")
    elif kind == "shape":
        _dims(value, "")
    elif kind in ("count", "count0"):
        _number(value, "the value", 0 if kind == "count0" else 1)
    elif kind == "strides":
        pair = value.split(",")
        if len(pair) != 2:
            raise ShapeError(f"must be two strides such as 1,2, got {value!r}")
        for s in pair:
            _number(s, "a stride")
    else:
        raise ValueError(f"unknown notation kind {kind!r}")
