"""Sizes, padding, parameter counts and receptive fields, in exact integers.

Every function states its formula and carries a doctest, so the docstring is
also the worked example a student reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

__all__ = [
    "ShapeError",
    "effective_kernel",
    "output_size",
    "same_padding",
    "resolve_padding",
    "conv2d_params",
    "dense_params",
    "batchnorm_params",
    "depthwise_conv2d_params",
    "separable_conv2d_params",
    "RFStep",
    "receptive_field",
]


class ShapeError(ValueError):
    """A size or layer configuration that has no valid output (named in the message)."""


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise ShapeError(f"{name} must be a positive integer, got {value!r}")


def effective_kernel(f: int, d: int = 1) -> int:
    """Span of a dilated kernel: ``D(F-1) + 1``.

    >>> effective_kernel(3, 2)
    5
    """
    _check_positive(F=f, D=d)
    return d * (f - 1) + 1


def output_size(n: int, f: int, p: int | tuple[int, int] = 0, s: int = 1, d: int = 1) -> int:
    """Output length along one axis: ``floor((N + 2P - D(F-1) - 1) / S) + 1``.

    ``p`` is the padding on each side, or a pair ``(before, after)`` when the two
    sides differ (then ``2P`` reads ``before + after``). When the dilated kernel
    is wider than the padded input there is no valid position and the answer
    is 0; callers that must explain this check ``effective_kernel`` first.

    >>> output_size(128, 3)            # 128 - 3 + 1
    126
    >>> output_size(128, 3, s=2)       # floor(125 / 2) + 1
    63
    >>> output_size(4, 3, p=1, d=2)    # floor((4 + 2 - 4 - 1) / 1) + 1
    2
    >>> output_size(4, 3, d=2)         # a 5-wide kernel does not fit in 4
    0
    """
    _check_positive(N=n, F=f, S=s, D=d)
    before, after = (p, p) if isinstance(p, int) else p
    if before < 0 or after < 0:
        raise ShapeError(f"padding must be >= 0, got {p!r}")
    span = n + before + after - effective_kernel(f, d)
    if span < 0:
        return 0
    return span // s + 1


def same_padding(n: int, f: int, s: int = 1, d: int = 1) -> tuple[int, int]:
    """Padding ``(before, after)`` that TensorFlow and Keras use for ``padding="same"``.

    The output has ``ceil(N / S)`` positions; the total padding is what the last
    position needs, ``max((ceil(N/S) - 1) S + D(F-1) + 1 - N, 0)``, and the extra
    pixel of an odd total goes after (bottom/right).

    >>> same_padding(4, 3)
    (1, 1)
    >>> same_padding(4, 3, d=2)
    (2, 2)
    >>> same_padding(28, 2, s=2)
    (0, 0)
    >>> same_padding(5, 2)
    (0, 1)
    """
    _check_positive(N=n, F=f, S=s, D=d)
    out = -(-n // s)
    total = max((out - 1) * s + effective_kernel(f, d) - n, 0)
    return total // 2, total - total // 2


def resolve_padding(
    padding: str | int | Sequence[int], size: tuple[int, int], kernel: tuple[int, int],
    stride: tuple[int, int] = (1, 1), dilation: tuple[int, int] = (1, 1),
) -> tuple[int, int, int, int]:
    """Turns ``"valid"``, ``"same"``, ``P`` or ``(top, bottom, left, right)`` into four pads.

    >>> resolve_padding("same", (4, 4), (3, 3))
    (1, 1, 1, 1)
    >>> resolve_padding(2, (4, 4), (3, 3))
    (2, 2, 2, 2)
    """
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return (0, 0, 0, 0)
        if mode == "same":
            top, bottom = same_padding(size[0], kernel[0], stride[0], dilation[0])
            left, right = same_padding(size[1], kernel[1], stride[1], dilation[1])
            return (top, bottom, left, right)
        raise ShapeError(f"padding must be 'valid', 'same' or a number, got {padding!r}")
    if isinstance(padding, int):
        pads: tuple[int, ...] = (padding,) * 4
    else:
        pads = tuple(padding)
        if len(pads) == 2:
            pads = (pads[0], pads[0], pads[1], pads[1])
        if len(pads) != 4:
            raise ShapeError(f"explicit padding takes 1, 2 or 4 numbers, got {padding!r}")
    if any(not isinstance(v, int) or v < 0 for v in pads):
        raise ShapeError(f"padding must be non-negative integers, got {padding!r}")
    return pads  # type: ignore[return-value]


def conv2d_params(fh: int, fw: int, c_in: int, c_out: int, use_bias: bool = True) -> int:
    """Weights of a ``Conv2D``: ``Fh * Fw * C_in * C_out + C_out`` (the last term is the bias).

    Stride, padding and dilation change the output size, never this count.

    >>> conv2d_params(3, 3, 32, 16)
    4624
    """
    _check_positive(Fh=fh, Fw=fw, C_in=c_in, C_out=c_out)
    return fh * fw * c_in * c_out + (c_out if use_bias else 0)


def dense_params(n_in: int, n_out: int, use_bias: bool = True) -> int:
    """Weights of a ``Dense`` layer: ``N_in * N_out + N_out``.

    >>> dense_params(784, 128)
    100480
    """
    _check_positive(N_in=n_in, N_out=n_out)
    return n_in * n_out + (n_out if use_bias else 0)


def batchnorm_params(channels: int) -> tuple[int, int]:
    """``(trainable, non_trainable)`` of ``BatchNormalization`` over ``C`` channels.

    gamma and beta are learned (``2C``); the moving mean and variance are
    updated by running averages, not by gradients (another ``2C``).

    >>> batchnorm_params(64)
    (128, 128)
    """
    _check_positive(C=channels)
    return 2 * channels, 2 * channels


def depthwise_conv2d_params(fh: int, fw: int, c_in: int, multiplier: int = 1,
                            use_bias: bool = True) -> int:
    """``DepthwiseConv2D``: one ``Fh x Fw`` filter per input channel and multiplier,
    ``Fh * Fw * C_in * M + C_in * M``.

    >>> depthwise_conv2d_params(3, 3, 32)
    320
    """
    _check_positive(Fh=fh, Fw=fw, C_in=c_in, M=multiplier)
    return fh * fw * c_in * multiplier + (c_in * multiplier if use_bias else 0)


def separable_conv2d_params(fh: int, fw: int, c_in: int, c_out: int, multiplier: int = 1,
                            use_bias: bool = True) -> int:
    """``SeparableConv2D``: a depthwise step without bias, then a 1x1 pointwise conv,
    ``Fh * Fw * C_in * M + C_in * M * C_out + C_out``.

    >>> separable_conv2d_params(3, 3, 32, 64)
    2400
    """
    _check_positive(Fh=fh, Fw=fw, C_in=c_in, C_out=c_out, M=multiplier)
    return fh * fw * c_in * multiplier + c_in * multiplier * c_out + (c_out if use_bias else 0)


class RFStep(NamedTuple):
    """One layer of a receptive-field computation, after that layer."""

    kernel: int
    stride: int
    dilation: int
    field: int
    jump: int


def receptive_field(stack: Iterable[tuple[int, int] | tuple[int, int, int]]) -> list[RFStep]:
    """Receptive field after each layer of a stack of ``(kernel, stride[, dilation])``.

    ``r_out = r_in + D(K-1) * j_in`` and ``j_out = j_in * S``, starting from
    ``r = 1, j = 1`` (one input pixel, one pixel apart).

    >>> [step.field for step in receptive_field([(3, 1), (3, 1), (3, 1)])]
    [3, 5, 7]
    >>> receptive_field([(3, 1), (2, 2), (3, 1)])[-1].field
    8
    """
    field, jump, steps = 1, 1, []
    for layer in stack:
        k, s, d = (*layer, 1) if len(layer) == 2 else layer
        _check_positive(K=k, S=s, D=d)
        field += (effective_kernel(k, d) - 1) * jump
        jump *= s
        steps.append(RFStep(k, s, d, field, jump))
    return steps
