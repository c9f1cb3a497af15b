"""A small layer-list language and its shape and parameter propagation.

One spec string describes a Keras ``Sequential`` model closely enough to count
its parameters by hand, e.g. practical2's model 3::

    input:28x28x1, flatten, dense:74:relu, dense:50:relu, dense:10:softmax

Layers (separated by commas or new lines; options after ``:`` in any order):

- ``input:HxWxC`` or ``input:N``           the input shape (first, once)
- ``conv:FILTERS:KxK``                     ``Conv2D``; options ``same``/``valid``,
  ``s2`` or ``s2x1`` (stride), ``d2`` (dilation), ``nobias``, an activation
- ``dwconv:KxK``                           ``DepthwiseConv2D``; option ``m2`` (multiplier)
- ``sepconv:FILTERS:KxK``                  ``SeparableConv2D``
- ``maxpool:2`` / ``avgpool:2x2``          pooling; stride defaults to the pool size
- ``gap``                                  ``GlobalAveragePooling2D``
- ``bn``                                   ``BatchNormalization`` (over the last axis)
- ``flatten``, ``dropout``, ``dropout:0.5``
- ``dense:UNITS``                          ``Dense``; options ``nobias``, an activation

>>> rows = propagate(parse_layers("input:28x28x1, flatten, dense:74, dense:50, dense:10"))
>>> [row.trainable for row in rows]
[0, 0, 58090, 3750, 510]
>>> sum(row.trainable for row in rows)
62350
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from theory.shapes import (
    ShapeError,
    batchnorm_params,
    conv2d_params,
    dense_params,
    depthwise_conv2d_params,
    effective_kernel,
    output_size,
    resolve_padding,
    separable_conv2d_params,
)

__all__ = ["Layer", "LayerRow", "parse_layers", "propagate", "LAYER_GRAMMAR"]

ACTIVATIONS = {"relu", "softmax", "sigmoid", "tanh", "linear", "elu", "selu", "gelu", "swish"}
KINDS = {"input", "conv", "dwconv", "sepconv", "maxpool", "avgpool", "gap", "bn", "flatten",
         "dropout", "dense"}
LAYER_GRAMMAR = (
    "input:HxWxC | conv:FILTERS:KxK[:same|valid][:sN][:dN][:nobias][:ACT] | dwconv:KxK[:mN] | "
    "sepconv:FILTERS:KxK | maxpool:P[:sN][:same] | avgpool:P | gap | bn | flatten | "
    "dropout[:RATE] | dense:UNITS[:ACT][:nobias]; separate layers with commas"
)


@dataclass(frozen=True)
class Layer:
    """One layer as the spec names it; only the fields its kind uses are set."""

    kind: str
    shape: tuple[int, ...] = ()
    filters: int = 0
    kernel: tuple[int, int] = (1, 1)
    strides: tuple[int, int] | None = None
    dilation: tuple[int, int] = (1, 1)
    padding: str = "valid"
    multiplier: int = 1
    units: int = 0
    use_bias: bool = True
    activation: str = ""
    rate: float = 0.0
    source: str = ""

    @property
    def stride(self) -> tuple[int, int]:
        if self.strides is not None:
            return self.strides
        return self.kernel if self.kind in ("maxpool", "avgpool") else (1, 1)


@dataclass(frozen=True)
class LayerRow:
    """A layer after propagation: its output shape, parameters and receptive field."""

    layer: Layer
    output_shape: tuple[int, ...]
    trainable: int
    non_trainable: int
    formula: str
    receptive_field: int | None = None
    jump: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable


def _pair(text: str, what: str, source: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)(?:x(\d+))?", text)
    if not match:
        raise ShapeError(f"layer {source!r}: {what} must look like 3 or 3x3, got {text!r}")
    first = int(match.group(1))
    second = int(match.group(2)) if match.group(2) else first
    if first < 1 or second < 1:
        raise ShapeError(f"layer {source!r}: {what} must be positive, got {text!r}")
    return first, second


def _int(text: str, what: str, source: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ShapeError(f"layer {source!r}: {what} must be a positive integer, got {text!r}")
    return int(text)


def _parse_one(source: str) -> Layer:
    parts = [p.strip().lower() for p in source.split(":")]
    kind, args = parts[0], parts[1:]
    if kind not in KINDS:
        raise ShapeError(f"unknown layer {kind!r} in {source!r}; layers are: {LAYER_GRAMMAR}")
    fields: dict = {"kind": kind, "source": source}
    if kind == "input":
        if len(args) != 1 or not re.fullmatch(r"\d+(x\d+)*", args[0]):
            raise ShapeError(f"layer {source!r}: write the input shape as input:28x28x1")
        fields["shape"] = tuple(_int(v, "input size", source) for v in args[0].split("x"))
        return Layer(**fields)
    positional: list[str] = []
    if kind in ("conv", "sepconv"):
        positional = ["filters", "kernel"]
    elif kind == "dwconv":
        positional = ["kernel"]
    elif kind in ("maxpool", "avgpool"):
        positional = ["kernel"]
    elif kind == "dense":
        positional = ["units"]
    if len(args) < len(positional):
        raise ShapeError(f"layer {source!r} needs {':'.join(positional)}; see: {LAYER_GRAMMAR}")
    for name, text in zip(positional, args[: len(positional)], strict=True):
        if name == "kernel":
            fields["kernel"] = _pair(text, "kernel size", source)
        else:
            fields[name] = _int(text, name, source)
    for option in args[len(positional):]:
        if option in ("same", "valid"):
            fields["padding"] = option
        elif option == "nobias":
            fields["use_bias"] = False
        elif option in ACTIVATIONS:
            fields["activation"] = option
        elif re.fullmatch(r"s\d+(x\d+)?", option):
            fields["strides"] = _pair(option[1:], "stride", source)
        elif re.fullmatch(r"d\d+(x\d+)?", option):
            fields["dilation"] = _pair(option[1:], "dilation", source)
        elif re.fullmatch(r"m\d+", option) and kind in ("dwconv", "sepconv"):
            fields["multiplier"] = _int(option[1:], "depth multiplier", source)
        elif kind == "dropout" and re.fullmatch(r"0?\.\d+|0|1", option):
            fields["rate"] = float(option)
        elif kind == "dropout" and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", option):
            raise ShapeError(f"layer {source!r}: the dropout rate {option} is out of range; "
                             "it is a fraction from 0 to 1, e.g. dropout:0.5")
        else:
            raise ShapeError(f"layer {source!r}: option {option!r} is not understood; "
                             f"see: {LAYER_GRAMMAR}")
    return Layer(**fields)


def parse_layers(spec: str) -> list[Layer]:
    """Parses a comma- or newline-separated layer list (see the module docstring)."""
    pieces = [p.strip() for p in re.split(r"[,\n;]", spec) if p.strip()]
    if not pieces:
        raise ShapeError("the layer list is empty; start with input:HxWxC")
    return [_parse_one(p) for p in pieces]


def propagate(layers: list[Layer], input_shape: tuple[int, ...] | None = None) -> list[LayerRow]:
    """Walks the layers from the input shape, giving each one's output shape and parameters.

    Raises ``ShapeError`` naming the layer when a shape stops making sense (a
    window wider than its padded input, a conv on a flat vector). A Dense on an
    unflattened tensor is allowed, as in Keras: it acts on the last axis.
    """
    rows: list[LayerRow] = []
    shape = input_shape
    field_, jump = 1, 1
    for layer in layers:
        if layer.kind == "input":
            if shape is not None:
                raise ShapeError(f"{layer.source!r}: the input shape is given twice")
            shape = layer.shape
            rows.append(LayerRow(layer, shape, 0, 0, "input", 1, 1))
            continue
        if shape is None:
            raise ShapeError(f"{layer.source!r}: the list must start with input:HxWxC")
        row = _propagate_one(layer, shape, field_, jump)
        if row.receptive_field is not None:
            field_, jump = row.receptive_field, row.jump or jump
        rows.append(row)
        shape = row.output_shape
    return rows


def _spatial(layer: Layer, shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeError(f"{layer.source!r} needs an H x W x C input, got {list(shape)}")
    return shape  # type: ignore[return-value]


def _window(layer: Layer, h: int, w: int) -> tuple[int, int]:
    pads = resolve_padding(layer.padding, (h, w), layer.kernel, layer.stride, layer.dilation)
    oh = output_size(h, layer.kernel[0], (pads[0], pads[1]), layer.stride[0], layer.dilation[0])
    ow = output_size(w, layer.kernel[1], (pads[2], pads[3]), layer.stride[1], layer.dilation[1])
    if oh == 0 or ow == 0:
        kh = effective_kernel(layer.kernel[0], layer.dilation[0])
        kw = effective_kernel(layer.kernel[1], layer.dilation[1])
        raise ShapeError(f"{layer.source!r}: the {kh}x{kw} window does not fit the {h}x{w} input "
                         "(use 'same' padding or a smaller kernel)")
    return oh, ow


def _propagate_one(layer: Layer, shape: tuple[int, ...], field_: int, jump: int) -> LayerRow:
    kind = layer.kind
    if kind in ("conv", "dwconv", "sepconv", "maxpool", "avgpool"):
        h, w, c = _spatial(layer, shape)
        oh, ow = _window(layer, h, w)
        kh, kw = layer.kernel
        rf = field_ + (effective_kernel(kh, layer.dilation[0]) - 1) * jump
        new_jump = jump * layer.stride[0]
        if kind == "conv":
            n = conv2d_params(kh, kw, c, layer.filters, layer.use_bias)
            bias = f" + {layer.filters}" if layer.use_bias else ""
            formula = f"{kh}*{kw}*{c}*{layer.filters}{bias} = {n}"
            return LayerRow(layer, (oh, ow, layer.filters), n, 0, formula, rf, new_jump)
        if kind == "dwconv":
            m = layer.multiplier
            n = depthwise_conv2d_params(kh, kw, c, m, layer.use_bias)
            bias = f" + {c * m}" if layer.use_bias else ""
            formula = f"{kh}*{kw}*{c}*{m}{bias} = {n}"
            return LayerRow(layer, (oh, ow, c * m), n, 0, formula, rf, new_jump)
        if kind == "sepconv":
            m = layer.multiplier
            n = separable_conv2d_params(kh, kw, c, layer.filters, m, layer.use_bias)
            bias = f" + {layer.filters}" if layer.use_bias else ""
            formula = f"{kh}*{kw}*{c}*{m} + {c}*{m}*{layer.filters}{bias} = {n}"
            return LayerRow(layer, (oh, ow, layer.filters), n, 0, formula, rf, new_jump)
        return LayerRow(layer, (oh, ow, c), 0, 0, "-", rf, new_jump)
    if kind == "gap":
        _spatial(layer, shape)
        return LayerRow(layer, (shape[-1],), 0, 0, "-")
    if kind == "bn":
        c = shape[-1]
        trainable, frozen = batchnorm_params(c)
        formula = f"gamma+beta 2*{c}; mean+var 2*{c}"
        return LayerRow(layer, shape, trainable, frozen, formula)
    if kind == "flatten":
        size = 1
        for v in shape:
            size *= v
        dims = "*".join(str(v) for v in shape)
        return LayerRow(layer, (size,), 0, 0, f"{dims} = {size}")
    if kind == "dropout":
        return LayerRow(layer, shape, 0, 0, "-")
    if kind == "dense":
        n_in = shape[-1]
        n = dense_params(n_in, layer.units, layer.use_bias)
        bias = f" + {layer.units}" if layer.use_bias else ""
        formula = f"{n_in}*{layer.units}{bias} = {n}"
        return LayerRow(layer, (*shape[:-1], layer.units), n, 0, formula)
    raise ShapeError(f"{layer.source!r}: no propagation rule for {kind!r}")
