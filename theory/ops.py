"""Convolution and pooling on nested lists, exactly, with every output cell's sum kept.

Tensors are channels-last nested lists: an image is ``H x W x C`` and a bank of
filters is ``Fh x Fw x C x M`` (TensorFlow's layout). Values are ``int`` or
``fractions.Fraction``; nothing is rounded.

Convolution here is what deep-learning libraries compute (cross-correlation:
the filter is not flipped)::

    out[i, j, m] = sum over a, b, c of  xpad[i*S + a*D, j*S + b*D, c] * k[a, b, c, m]

>>> image = stack_channels([[[1, 2], [3, 4]]])
>>> kernel = filters_from_2d([[[1, 0], [0, 1]]], channels=1)
>>> conv2d(image, kernel).output
[[[5]]]
"""

from __future__ import annotations

from fractions import Fraction
from numbers import Rational

from theory.shapes import ShapeError, effective_kernel, output_size, resolve_padding

Number = int | Fraction
Tensor = list  # nested list, channels-last

# Limits on the work one call may do. Everything here is exact Python arithmetic
# on nested lists, kept cell by cell for the worked answer: about a million
# Fraction products a second and a few hundred bytes each. Beyond these a user
# wants NumPy, not a worked answer, and an unbounded call could eat the machine.
MAX_PADDING = 64               # zero rows/columns added on any one side
MAX_MULTIPLY_ADDS = 250_000    # conv: out cells x filter cells x channels; pool: window reads

__all__ = [
    "Number", "ConvResult", "PoolResult", "shape_of", "simplify", "stack_channels",
    "channel", "filters_from_2d", "pad", "conv2d", "depthwise_conv2d", "pool2d",
]


def simplify(value: Number) -> Number:
    """An integer-valued Fraction becomes an ``int``, so answers print as 45, not 45/1."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value


def shape_of(tensor: object) -> tuple[int, ...]:
    """Shape of a rectangular nested list; raises ``ShapeError`` on ragged input.

    >>> shape_of([[1, 2, 3], [4, 5, 6]])
    (2, 3)
    """
    if not isinstance(tensor, list):
        return ()
    if not tensor:
        return (0,)
    inner = [shape_of(item) for item in tensor]
    if any(s != inner[0] for s in inner):
        raise ShapeError(f"rows of different lengths: {[list(s) for s in inner]}")
    return (len(tensor), *inner[0])


def stack_channels(channels: list[list[list[Number]]]) -> Tensor:
    """``C`` matrices of ``H x W`` become one ``H x W x C`` tensor.

    >>> stack_channels([[[1, 1]], [[2, 2]]])
    [[[1, 2], [1, 2]]]
    """
    shapes = {shape_of(ch) for ch in channels}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ShapeError(f"channels must all be matrices of one size, got "
                         f"{sorted(list(s) for s in shapes)}")
    h, w = next(iter(shapes))
    return [[[ch[i][j] for ch in channels] for j in range(w)] for i in range(h)]


def channel(tensor: Tensor, c: int) -> list[list[Number]]:
    """Channel ``c`` of an ``H x W x C`` tensor, as a matrix."""
    return [[cell[c] for cell in row] for row in tensor]


def filters_from_2d(slices: list[list[list[Number]]], channels: int) -> Tensor:
    """One filter (``Fh x Fw x C x 1``) from one 2-D slice per channel, or one slice
    repeated over all ``channels``: "a 3x3 filter of ones" on an RGB image is a
    3x3x3 filter of ones."""
    if len(slices) == 1:
        slices = slices * channels
    if len(slices) != channels:
        raise ShapeError(f"the filter has {len(slices)} channel slices but the input has "
                         f"{channels} channels; give one slice or {channels}")
    return [[[[v] for v in cell] for cell in row] for row in stack_channels(slices)]


def concat_filters(filters: list[Tensor]) -> Tensor:
    """Several ``Fh x Fw x C x 1`` filters side by side: ``Fh x Fw x C x M``."""
    shapes = {shape_of(f)[:3] for f in filters}
    if len(shapes) != 1:
        raise ShapeError(f"all filters must have one size, got {sorted(list(s) for s in shapes)}")
    fh, fw, c = next(iter(shapes))
    return [[[[f[a][b][ch][0] for f in filters] for ch in range(c)] for b in range(fw)]
            for a in range(fh)]


def pad(tensor: Tensor, pads: tuple[int, int, int, int], value: Number = 0) -> Tensor:
    """Zero padding of an ``H x W x C`` tensor by ``(top, bottom, left, right)``.

    >>> pad([[[1]]], (1, 0, 0, 1))
    [[[0], [0]], [[1], [0]]]
    """
    h, w, c = shape_of(tensor)
    top, bottom, left, right = pads
    blank = [value] * c
    width = left + w + right
    rows = [[list(blank) for _ in range(width)] for _ in range(top)]
    for row in tensor:
        rows.append([list(blank) for _ in range(left)] + [list(cell) for cell in row]
                    + [list(blank) for _ in range(right)])
    rows += [[list(blank) for _ in range(width)] for _ in range(bottom)]
    return rows


def _exact(value: object) -> Number:
    if isinstance(value, bool) or not isinstance(value, (int, Rational)):
        raise ShapeError(f"values must be integers or fractions, got {value!r}")
    return simplify(Fraction(value))


def _exact_tensor(tensor: object) -> Tensor:
    if isinstance(tensor, list):
        return [_exact_tensor(t) for t in tensor]
    return _exact(tensor)


class ConvResult:
    """A convolution with everything a worked answer shows.

    ``terms[i][j][m]`` lists, per input channel, the ``(input, weight)`` pairs
    that output cell ``(i, j, m)`` sums; ``padded`` is the input after padding.
    (A plain class: dataclasses cost import time that `grader theory` cannot spare.)
    """

    def __init__(self, output: Tensor, padded: Tensor, pads: tuple[int, int, int, int],
                 stride: tuple[int, int], dilation: tuple[int, int],
                 kernel_shape: tuple[int, int, int, int], input_shape: tuple[int, int, int],
                 terms: list, depthwise: bool = False) -> None:
        self.output = output
        self.padded = padded
        self.pads = pads
        self.stride = stride
        self.dilation = dilation
        self.kernel_shape = kernel_shape
        self.input_shape = input_shape
        self.terms = terms
        self.depthwise = depthwise

    @property
    def output_shape(self) -> tuple[int, int, int]:
        m = self.input_shape[2] if self.depthwise else self.kernel_shape[3]
        return (len(self.output), len(self.output[0]) if self.output else 0, m)


def _windows(size: tuple[int, int], kernel: tuple[int, int], pads: tuple[int, int, int, int],
             stride: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    oh = output_size(size[0], kernel[0], (pads[0], pads[1]), stride[0], dilation[0])
    ow = output_size(size[1], kernel[1], (pads[2], pads[3]), stride[1], dilation[1])
    return oh, ow


def conv2d(image: Tensor, kernel: Tensor, stride: tuple[int, int] = (1, 1),
           padding: str | int | tuple[int, ...] = "valid",
           dilation: tuple[int, int] = (1, 1)) -> ConvResult:
    """Standard convolution: each of the ``M`` filters sums over all ``C`` input channels.

    ``padding`` is ``"valid"``, ``"same"`` (TensorFlow's split), ``P`` or
    ``(top, bottom, left, right)``. When the dilated filter is wider than the
    padded input the output is empty (``0 x 0 x M``), which callers explain.

    >>> ones = [[[1] for _ in range(4)] for _ in range(4)]
    >>> k = filters_from_2d([[[1] * 3] * 3], channels=1)
    >>> conv2d(ones, k).output
    [[[9], [9]], [[9], [9]]]
    >>> conv2d(ones, k, padding="same").output[0]
    [[4], [6], [6], [4]]
    """
    image, kernel = _exact_tensor(image), _exact_tensor(kernel)
    h, w, c = _image_shape(image)
    kshape = shape_of(kernel)
    if len(kshape) != 4:
        raise ShapeError(f"filters must be Fh x Fw x C x M, got shape {list(kshape)}")
    fh, fw, kc, m = kshape
    if kc != c:
        raise ShapeError(f"the filters have {kc} channels but the input has {c}")
    pads = resolve_padding(padding, (h, w), (fh, fw), stride, dilation)
    check_work(pads, (h, w), (fh, fw), stride, dilation, per_cell=fh * fw * c * m)
    padded = pad(image, pads)
    oh, ow = _windows((h, w), (fh, fw), pads, stride, dilation)
    output, terms = [], []
    for i in range(oh):
        out_row, term_row = [], []
        for j in range(ow):
            cell, term_cell = [], []
            for f in range(m):
                per_channel = [[(padded[i * stride[0] + a * dilation[0]]
                                 [j * stride[1] + b * dilation[1]][ch], kernel[a][b][ch][f])
                                for a in range(fh) for b in range(fw)] for ch in range(c)]
                cell.append(simplify(sum((x * k for pc in per_channel for x, k in pc),
                                         Fraction(0))))
                term_cell.append(per_channel)
            out_row.append(cell)
            term_row.append(term_cell)
        output.append(out_row)
        terms.append(term_row)
    return ConvResult(output, padded, pads, stride, dilation, (fh, fw, c, m), (h, w, c), terms)


def depthwise_conv2d(image: Tensor, kernel: Tensor, stride: tuple[int, int] = (1, 1),
                     padding: str | int | tuple[int, ...] = "valid",
                     dilation: tuple[int, int] = (1, 1)) -> ConvResult:
    """Per-channel convolution: filter slice ``c`` sees only input channel ``c`` and
    the channels are not summed (``DepthwiseConv2D`` with multiplier 1).

    ``kernel`` is ``Fh x Fw x C x 1``; the output is ``H' x W' x C``.

    >>> img = stack_channels([[[1, 1], [1, 1]], [[2, 2], [2, 2]]])
    >>> k = filters_from_2d([[[1, 1], [1, 1]]], channels=2)
    >>> depthwise_conv2d(img, k).output
    [[[4, 8]]]
    """
    image, kernel = _exact_tensor(image), _exact_tensor(kernel)
    h, w, c = _image_shape(image)
    kshape = shape_of(kernel)
    if len(kshape) != 4 or kshape[2] != c or kshape[3] != 1:
        raise ShapeError(f"a depthwise filter must be Fh x Fw x {c} x 1, got {list(kshape)}")
    fh, fw = kshape[:2]
    pads = resolve_padding(padding, (h, w), (fh, fw), stride, dilation)
    check_work(pads, (h, w), (fh, fw), stride, dilation, per_cell=fh * fw * c)
    padded = pad(image, pads)
    oh, ow = _windows((h, w), (fh, fw), pads, stride, dilation)
    output, terms = [], []
    for i in range(oh):
        out_row, term_row = [], []
        for j in range(ow):
            cell, term_cell = [], []
            for ch in range(c):
                pairs = [(padded[i * stride[0] + a * dilation[0]][j * stride[1] + b * dilation[1]]
                          [ch], kernel[a][b][ch][0]) for a in range(fh) for b in range(fw)]
                cell.append(simplify(sum((x * k for x, k in pairs), Fraction(0))))
                term_cell.append([pairs])
            out_row.append(cell)
            term_row.append(term_cell)
        output.append(out_row)
        terms.append(term_row)
    return ConvResult(output, padded, pads, stride, dilation, (fh, fw, c, 1), (h, w, c), terms,
                      depthwise=True)


class PoolResult:
    """Pooling with each output cell's window (in-bounds values only) kept;
    ``windows[i][j][c]`` holds the values pooled into output cell ``(i, j, c)``."""

    def __init__(self, output: Tensor, pads: tuple[int, int, int, int], size: tuple[int, int],
                 stride: tuple[int, int], kind: str, windows: list) -> None:
        self.output = output
        self.pads = pads
        self.size = size
        self.stride = stride
        self.kind = kind
        self.windows = windows

    @property
    def output_shape(self) -> tuple[int, int, int]:
        c = len(self.output[0][0]) if self.output and self.output[0] else 0
        return (len(self.output), len(self.output[0]) if self.output else 0, c)


def pool2d(image: Tensor, size: tuple[int, int] = (2, 2), stride: tuple[int, int] | None = None,
           padding: str = "valid", kind: str = "max") -> PoolResult:
    """Max or average pooling, channel by channel; ``stride`` defaults to ``size``.

    With ``"same"`` padding the padded positions take no part (TensorFlow's rule):
    a max ignores them and an average divides by the in-bounds count only.

    >>> img = stack_channels([[[1, 2, 3, 4]] * 2])
    >>> pool2d(img, (2, 2)).output
    [[[2], [4]]]
    >>> pool2d(img, (2, 2), kind="avg").output
    [[[Fraction(3, 2)], [Fraction(7, 2)]]]
    """
    if kind not in ("max", "avg"):
        raise ShapeError(f"pooling is 'max' or 'avg', got {kind!r}")
    if padding not in ("valid", "same"):
        raise ShapeError(f"pooling padding is 'valid' or 'same', got {padding!r}")
    image = _exact_tensor(image)
    h, w, c = _image_shape(image)
    stride = stride or size
    pads = resolve_padding(padding, (h, w), size, stride)
    check_work(pads, (h, w), size, stride, (1, 1), per_cell=size[0] * size[1] * c)
    oh, ow = _windows((h, w), size, pads, stride, (1, 1))
    output, windows = [], []
    for i in range(oh):
        out_row, win_row = [], []
        for j in range(ow):
            cell, win_cell = [], []
            for ch in range(c):
                values = [image[r][q][ch]
                          for r in range(i * stride[0] - pads[0], i * stride[0] - pads[0] + size[0])
                          for q in range(j * stride[1] - pads[2], j * stride[1] - pads[2] + size[1])
                          if 0 <= r < h and 0 <= q < w]
                if kind == "max":
                    cell.append(max(values))
                else:
                    cell.append(simplify(Fraction(sum(values)) / len(values)))
                win_cell.append(values)
            out_row.append(cell)
            win_row.append(win_cell)
        output.append(out_row)
        windows.append(win_row)
    return PoolResult(output, pads, size, stride, kind, windows)


def check_work(pads: tuple[int, int, int, int], size: tuple[int, int],
               kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
               per_cell: int) -> None:
    """Refuses, before any work, padding over ``MAX_PADDING`` and a call needing more than
    ``MAX_MULTIPLY_ADDS`` products (output cells times ``per_cell``)."""
    if max(pads) > MAX_PADDING:
        raise ShapeError(f"padding {max(pads)} is over the limit of {MAX_PADDING} per side "
                         "(theory.ops.MAX_PADDING); worked answers are for small examples")
    oh, ow = _windows(size, kernel, pads, stride, dilation)
    work = oh * ow * per_cell
    if work > MAX_MULTIPLY_ADDS:
        raise ShapeError(f"this needs {work:,} multiply-adds ({oh}x{ow} output cells x "
                         f"{per_cell} each), over the limit of {MAX_MULTIPLY_ADDS:,} "
                         "(theory.ops.MAX_MULTIPLY_ADDS); use a smaller input, filter or "
                         "fewer channels")


def _image_shape(image: Tensor) -> tuple[int, int, int]:
    shape = shape_of(image)
    if len(shape) != 3 or 0 in shape:
        raise ShapeError(f"the input must be a non-empty H x W x C tensor, got shape {list(shape)}")
    return shape  # type: ignore[return-value]


def dilated_span(kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    """The window a dilated kernel covers, ``D(F-1)+1`` on each axis."""
    return effective_kernel(kernel[0], dilation[0]), effective_kernel(kernel[1], dilation[1])
