"""Worked answers: turns the exact results of ``ops`` and ``shapes`` into ``Reading``s
whose steps show the padded input, each output cell's sum and the size formula
with the numbers substituted."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from theory.answer import Reading, fmt
from theory.ops import ConvResult, PoolResult, conv2d, depthwise_conv2d, pool2d
from theory.shapes import effective_kernel, output_size, resolve_padding

if TYPE_CHECKING:
    from theory.layers import LayerRow

__all__ = ["conv_reading", "pool_reading", "size_formula", "shape_reading", "params_reading"]

MAX_CELLS_WRITTEN = 64     # output cells whose sums are written out in full
MAX_TERMS_WRITTEN = 81     # products per channel before a sum is summarised
MAX_SIDE_SHOWN = 16        # a padded input wider or taller than this is described, not printed


def channel_names(c: int) -> list[str]:
    return ["R", "G", "B"] if c == 3 else [f"c{i}" for i in range(c)]


def size_formula(n: int, f: int, pads: tuple[int, int], s: int, d: int, axis: str = "") -> str:
    """The output-size formula with numbers in it, e.g.
    ``floor((4 + 1 + 1 - 2*(3-1) - 1) / 1) + 1 = 2``."""
    before, after = pads
    pad_text = f"2*{before}" if before == after else f"{before} + {after}"
    span = n + before + after - effective_kernel(f, d)
    result = span // s + 1 if span >= 0 else 0
    prefix = f"{axis}: " if axis else ""
    text = (f"{prefix}floor((N + 2P - D(F-1) - 1) / S) + 1 = floor(({n} + {pad_text} - "
            f"{d}*({f}-1) - 1) / {s}) + 1 = floor({span}/{s}) + 1 = {result}")
    if span < 0:
        text = (f"{prefix}N + 2P = {n + before + after} is smaller than the dilated kernel "
                f"D(F-1)+1 = {effective_kernel(f, d)}: no position fits, the output is empty")
    return text


def _product(x: Fraction | int, w: Fraction | int) -> str:
    xs = fmt(x) if x >= 0 else f"({fmt(x)})"
    if w == 1:
        return xs
    ws = fmt(w) if w >= 0 else f"({fmt(w)})"
    return f"{xs}*{ws}"


def _sum_text(pairs: list[tuple]) -> tuple[str, Fraction | int]:
    total = sum((x * w for x, w in pairs), Fraction(0))
    if len(pairs) > MAX_TERMS_WRITTEN:
        return f"sum of {len(pairs)} products", total
    return " + ".join(_product(x, w) for x, w in pairs), total


def conv_steps(result: ConvResult, names: list[str]) -> list[dict]:
    """Padding, the size formula per axis, the padded input and every cell's sum."""
    h, w, c = result.input_shape
    fh, fw, _, m = result.kernel_shape
    top, bottom, left, right = result.pads
    steps: list[dict] = []
    steps.append({"kind": "text", "text": (
        f"Input {h}x{w}x{c}; filter {fh}x{fw}"
        + ("" if result.depthwise else f"x{c}") + (f", {m} filters" if m > 1 else "")
        + f"; stride {result.stride[0]}x{result.stride[1]}; dilation "
          f"{result.dilation[0]}x{result.dilation[1]}; padding top {top}, bottom {bottom}, "
          f"left {left}, right {right}.")})
    steps.append({"kind": "formula", "text": size_formula(
        h, fh, (top, bottom), result.stride[0], result.dilation[0], "rows")})
    steps.append({"kind": "formula", "text": size_formula(
        w, fw, (left, right), result.stride[1], result.dilation[1], "cols")})
    if any(result.pads) and max(h + top + bottom, w + left + right) <= MAX_SIDE_SHOWN:
        steps.append({"kind": "tensor", "title": "padded input", "value": result.padded,
                      "channels": names})
    elif any(result.pads):
        steps.append({"kind": "text", "text": (
            f"The padded input is {h + top + bottom}x{w + left + right}x{c} (zeros around the "
            f"input); it is printed only up to {MAX_SIDE_SHOWN}x{MAX_SIDE_SHOWN}.")})
    lines, omitted = [], 0
    for i, row in enumerate(result.terms):
        for j, cell in enumerate(row):
            for f, per_channel in enumerate(cell):
                if len(lines) >= MAX_CELLS_WRITTEN:
                    omitted += 1
                    continue
                parts, totals = [], []
                for ch, pairs in enumerate(per_channel):
                    text, total = _sum_text(pairs)
                    label = names[f] if result.depthwise else names[ch]
                    parts.append(f"{label}: {text} = {fmt(total)}")
                    totals.append(total)
                if len(parts) == 1:
                    expr = parts[0].rsplit(" = ", 1)[0]
                else:
                    expr = "; ".join(parts) + f"; total {' + '.join(fmt(t) for t in totals)}"
                index = [i, j] if m == 1 and not result.depthwise else [i, j, f]
                lines.append({"index": index, "expr": expr,
                              "value": result.output[i][j][f]})
    axes = "row, col" if m == 1 and not result.depthwise else (
        "row, col, " + ("channel" if result.depthwise else "filter"))
    steps.append({"kind": "sums", "title": f"each output cell (indices from 0: {axes})",
                  "lines": lines, "omitted": omitted})
    return steps


def conv_reading(label: str, image: list, kernel: list, stride: tuple[int, int] = (1, 1),
                 padding: str | int | tuple = "valid", dilation: tuple[int, int] = (1, 1),
                 depthwise: bool = False, squeeze: bool = True) -> Reading:
    """A convolution as a worked ``Reading``.

    ``squeeze`` drops the filter axis of a single-filter standard convolution,
    so its answer is the ``H x W`` matrix a student writes.
    """
    op = depthwise_conv2d if depthwise else conv2d
    result = op(image, kernel, stride, padding, dilation)
    names = channel_names(result.input_shape[2])
    steps = conv_steps(result, names)
    oh, ow, m = result.output_shape
    if oh == 0 or ow == 0:
        kh = effective_kernel(result.kernel_shape[0], dilation[0])
        kw = effective_kernel(result.kernel_shape[1], dilation[1])
        ph = result.input_shape[0] + result.pads[0] + result.pads[1]
        pw = result.input_shape[1] + result.pads[2] + result.pads[3]
        note = (f"no output: the dilated filter spans {kh}x{kw} pixels but the "
                f"{'padded ' if any(result.pads) else ''}input is only {ph}x{pw}, so no "
                "position fits (the output is empty, 0x0)")
        return Reading(label, None, "none", steps, note)
    output = result.output
    if squeeze and not depthwise and m == 1:
        output = [[cell[0] for cell in row] for row in output]
    return Reading(label, output, "tensor", steps)


def pool_reading(label: str, image: list, size: tuple[int, int], stride: tuple[int, int] | None,
                 padding: str = "valid", kind: str = "max") -> Reading:
    """Pooling as a worked ``Reading``: each window's values and its max or mean."""
    result: PoolResult = pool2d(image, size, stride, padding, kind)
    h, w = len(image), len(image[0])
    c = len(image[0][0])
    names = channel_names(c)
    steps: list[dict] = [{"kind": "text", "text": (
        f"{'Max' if kind == 'max' else 'Average'} pooling, window {size[0]}x{size[1]}, stride "
        f"{result.stride[0]}x{result.stride[1]}, padding {padding}; each channel on its own.")}]
    steps.append({"kind": "formula", "text": size_formula(
        h, size[0], result.pads[:2], result.stride[0], 1, "rows")})
    steps.append({"kind": "formula", "text": size_formula(
        w, size[1], result.pads[2:], result.stride[1], 1, "cols")})
    lines, omitted = [], 0
    op = "max" if kind == "max" else "mean"
    for i, row in enumerate(result.windows):
        for j, cell in enumerate(row):
            for ch, values in enumerate(cell):
                if len(lines) >= MAX_CELLS_WRITTEN:
                    omitted += 1
                    continue
                lines.append({"index": [i, j, ch],
                              "expr": f"{names[ch]}: {op}({', '.join(fmt(v) for v in values)})",
                              "value": result.output[i][j][ch]})
    steps.append({"kind": "sums", "title": "each output cell (indices from 0: row, col, channel)",
                  "lines": lines, "omitted": omitted})
    oh, ow, _ = result.output_shape
    if oh == 0 or ow == 0:
        ph = h + result.pads[0] + result.pads[1]
        pw = w + result.pads[2] + result.pads[3]
        note = (f"no output: the {size[0]}x{size[1]} window does not fit the "
                f"{'padded ' if any(result.pads) else ''}{ph}x{pw} input, so no position fits "
                "(the output is empty, 0x0)")
        return Reading(label, None, "none", steps, note)
    return Reading(label, result.output, "tensor", steps)


def shape_reading(label: str, shape: tuple[int, int, int], kernel: tuple[int, int],
                  filters: int, stride: tuple[int, int] = (1, 1),
                  padding: str | int = "valid", dilation: tuple[int, int] = (1, 1)) -> Reading:
    """The output shape of a convolution layer, with the formula per axis."""
    pads = resolve_padding(padding, shape[:2], kernel, stride, dilation)
    steps = [{"kind": "text", "text": (
        f"Each of the {filters} filters is {kernel[0]}x{kernel[1]}x{shape[2]}: it spans all "
        f"{shape[2]} input channels and gives one output channel, so depth becomes {filters}.")}]
    steps.append({"kind": "formula", "text": size_formula(
        shape[0], kernel[0], pads[:2], stride[0], dilation[0], "rows")})
    steps.append({"kind": "formula", "text": size_formula(
        shape[1], kernel[1], pads[2:], stride[1], dilation[1], "cols")})
    oh = output_size(shape[0], kernel[0], pads[:2], stride[0], dilation[0])
    ow = output_size(shape[1], kernel[1], pads[2:], stride[1], dilation[1])
    if oh == 0 or ow == 0:
        return Reading(label, None, "none", steps, "the filter does not fit the input")
    return Reading(label, [oh, ow, filters], "shape", steps)


def layer_table(rows: list[LayerRow]) -> dict:
    """A per-layer table: output shape, trainable and frozen weights, the formula, and
    the receptive field of spatial layers."""
    table_rows = []
    for row in rows:
        rf = "" if row.receptive_field is None else str(row.receptive_field)
        table_rows.append([row.layer.source, "x".join(str(v) for v in row.output_shape),
                           row.trainable, row.non_trainable, row.formula, rf])
    return {"kind": "table", "title": "layers",
            "columns": ["layer", "output", "trainable", "non-trainable", "how", "RF"],
            "rows": table_rows}


def params_reading(label: str, spec: str) -> Reading:
    """Parameter counts of a layer list (``theory.layers`` syntax), per layer and in total."""
    from theory.layers import parse_layers, propagate

    rows = propagate(parse_layers(spec))
    trainable = sum(r.trainable for r in rows)
    frozen = sum(r.non_trainable for r in rows)
    steps = [{"kind": "text", "text": f"Layers: {spec}"}, layer_table(rows),
             {"kind": "formula", "text": (
                 f"trainable {' + '.join(str(r.trainable) for r in rows if r.trainable)} = "
                 f"{trainable}")}]
    if frozen:
        steps.append({"kind": "formula", "text": (
            f"non-trainable (BatchNormalization moving statistics) "
            f"{' + '.join(str(r.non_trainable) for r in rows if r.non_trainable)} = {frozen}; "
            f"total {trainable} + {frozen} = {trainable + frozen}")})
    answer = {"total": trainable + frozen, "trainable": trainable, "non_trainable": frozen}
    return Reading(label, answer, "record", steps)
