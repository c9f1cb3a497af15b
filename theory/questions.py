"""The question bank: every theory question of the shipped assignments.

A numeric question is a parameterised form: ``params`` holds the numbers the
assignment uses, ``text(params)`` states the question, ``solve(params)``
works it out, and ``vary(rng)`` draws other numbers for a per-student variant
(same form, same seed -> same numbers). A manual question carries a model
answer and a rubric line and is graded by a person.

The model answers and question statements are written for this project; the
question statements paraphrase the assignments (``../shared/assignments/``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from theory.answer import Reading, Solution, fmt, to_json
from theory.ops import filters_from_2d, stack_channels
from theory.parse import parse_channels, parse_matrix
from theory.shapes import conv2d_params, output_size, receptive_field, same_padding
from theory.worked import conv_reading, params_reading, pool_reading, shape_reading, size_formula

__all__ = ["Question", "ASSIGNMENTS", "BANK", "UnknownQuestion", "get_question", "solve",
           "variant_params", "question_ids", "solution_json", "reading_json"]

ASSIGNMENTS = ("cs577-a4", "ds-ag-021", "practical2", "hw2-mnist")


class Question:
    """One theory question; ``kind`` is ``numeric`` (solved) or ``manual`` (a person grades).

    A plain class rather than a dataclass, for start-up time (see theory/answer.py).
    """

    __slots__ = ("assignment", "qid", "title", "kind", "text", "params", "solver", "vary",
                 "model_answer", "rubric", "points")

    def __init__(self, assignment: str, qid: str, title: str, kind: str,
                 text: Callable[[dict], str], params: dict | None = None,
                 solver: Callable[[dict], Solution] | None = None,
                 vary: Callable[[random.Random], dict] | None = None,
                 model_answer: str = "", rubric: str = "", points: float = 1.0) -> None:
        self.assignment = assignment
        self.qid = qid
        self.title = title
        self.kind = kind
        self.text = text
        self.params = params if params is not None else {}
        self.solver = solver
        self.vary = vary
        self.model_answer = model_answer
        self.rubric = rubric
        self.points = points

    def __repr__(self) -> str:
        return f"Question({self.assignment!r}, {self.qid!r}, {self.kind!r})"


class UnknownQuestion(KeyError):
    """An assignment or question id that the bank does not hold; the message lists valid ids."""

    def __str__(self) -> str:
        return str(self.args[0])


# --- describing the inputs in words -----------------------------------------------------------

_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]


def describe_matrix(spec: str) -> str:
    """Words for a channel spec: ``fill:2:4x4`` -> ``all 2-s``."""
    head, _, rest = spec.partition(":")
    if head in ("fill", "ones", "zeros"):
        value = {"ones": "1", "zeros": "0"}.get(head) or rest.rpartition(":")[0]
        return f"all {value}-s"
    if head in ("rows", "cols"):
        values = rest.partition(":")[0].split(",")
        axis = "row" if head == "rows" else "column"
        return ", ".join(f"{v} in its {_ORDINALS[i]} {axis}" for i, v in enumerate(values))
    matrix = parse_matrix(spec)
    return "[" + "; ".join(" ".join(fmt(v) for v in row) for row in matrix) + "]"


def _image(params: dict) -> list:
    return stack_channels([parse_matrix(spec) for spec in params["channels"]])


def _filter(params: dict, channels: int) -> list:
    return filters_from_2d(parse_channels(params["filter"]), channels)


def _filter_words(spec: str) -> str:
    words = describe_matrix(spec)
    return "all ones" if words == "all 1-s" else words


def _image_text(params: dict) -> str:
    n = params["size"]
    r, g, b = (describe_matrix(s) for s in params["channels"])
    fh = len(parse_matrix(params["filter"]))
    return (f"I is a {n}x{n} RGB image: R is {r}; G is {g}; B is {b}. "
            f"The filter is {fh}x{fh}, {_filter_words(params['filter'])}")


def _vary_channel(rng: random.Random, n: int) -> str:
    kind = rng.choice(["fill", "rows", "cols", "literal"])
    if kind == "fill":
        return f"fill:{rng.randint(1, 5)}:{n}x{n}"
    if kind in ("rows", "cols"):
        return f"{kind}:" + ",".join(str(rng.randint(0, 5)) for _ in range(n))
    return ";".join(",".join(str(rng.randint(0, 4)) for _ in range(n)) for _ in range(n))


def _vary_image(rng: random.Random) -> dict:
    n = rng.choice([4, 5])
    channels = [_vary_channel(rng, n) for _ in range(3)]
    if rng.random() < 0.5:
        filt = "ones:3x3"
    else:
        filt = ";".join(",".join(str(rng.choice([-1, 0, 1, 2])) for _ in range(3))
                        for _ in range(3))
    return {"size": n, "channels": channels, "filter": filt}


CS577_IMAGE = {"size": 4, "channels": ["fill:1:4x4", "fill:2:4x4", "rows:1,2,3,4"],
               "filter": "ones:3x3"}

SUM_READING = ("one {f}x{f}x3 filter (the {f}x{f} filter, {words}, in every channel) whose sum "
               "runs over the three channels, as Conv2D with one filter computes: {result}")
DEPTHWISE_READING = ("the {f}x{f} filter applied to each channel separately, channels not "
                     "summed (a depthwise convolution): {result}")


def _conv_pair(params: dict, padding: Any, dilation: int, note: str) -> tuple[Reading, Reading]:
    image = _image(params)
    kernel = _filter(params, 3)
    f = len(kernel)
    d = (dilation, dilation)
    main = conv_reading("", image, kernel, padding=padding, dilation=d)
    alt = conv_reading("", image, kernel, padding=padding, dilation=d, depthwise=True)
    for reading, template, shape in ((main, SUM_READING, "a single {h}x{w} map"),
                                     (alt, DEPTHWISE_READING, "a {h}x{w}x3 result")):
        if reading.answer_type == "tensor":
            result = shape.format(h=len(reading.answer), w=len(reading.answer[0]))
        else:
            result = "no output (the filter does not fit the input)"
        reading.label = template.format(f=f, words=_filter_words(params["filter"]),
                                        result=result) + note
    return main, alt


def solve_cs577_q1(params: dict) -> Solution:
    main, alt = _conv_pair(params, "valid", 1, "; no padding")
    return Solution(main, [alt])


def solve_cs577_q2(params: dict) -> Solution:
    f = len(parse_matrix(params["filter"]))
    p = (f - 1) // 2
    main, alt = _conv_pair(params, p, 1, f"; zero padding P={p} on every side ('same')")
    return Solution(main, [alt])


def solve_cs577_q3(params: dict) -> Solution:
    n = params["size"]
    f = len(parse_matrix(params["filter"]))
    p = (f - 1) // 2
    main, per_channel = _conv_pair(
        params, p, 2, f"; dilation 2 on question 2's zero-padded input (P={p} on every side)")
    top, bottom = same_padding(n, f, 1, 2)
    same, _ = _conv_pair(params, (top, bottom, top, bottom), 2, (
        f"; dilation 2 with the padding re-chosen so the output keeps the input size "
        f"(P={top}, what Keras padding='same' does)"))
    bare, _ = _conv_pair(params, "valid", 2, "; dilation 2 without any zero padding")
    return Solution(main, [same, bare, per_channel])


def solve_cs577_q11(params: dict) -> Solution:
    image = _image(params)
    s = params["pool"]
    main = pool_reading(f"max pooling of each channel of I ({s}x{s} window, stride {s})",
                        image, (s, s), (s, s), "valid", "max")
    return Solution(main)


def _tensor_shape_text(params: dict, stride_note: str = "") -> str:
    n, c, k, f = params["n"], params["c"], params["filters"], params["f"]
    return (f"A {n}x{n}x{c} tensor is convolved with {k} filters of size {f}x{f}x{c} without "
            f"zero padding{stride_note}. What is the size of the result?")


def solve_tensor_shape(params: dict) -> Solution:
    s = params.get("stride", 1)
    reading = shape_reading(
        f"{params['filters']} filters of {params['f']}x{params['f']}x{params['c']}, "
        f"stride {s}, no padding", (params["n"], params["n"], params["c"]),
        (params["f"], params["f"]), params["filters"], (s, s), "valid")
    return Solution(reading)


def _vary_tensor(rng: random.Random, strided: bool) -> dict:
    params = {"n": rng.choice([32, 48, 64, 96, 100, 128, 224, 227]),
              "c": rng.choice([3, 8, 16, 32, 64]),
              "filters": rng.choice([8, 16, 24, 32, 64, 128]),
              "f": rng.choice([1, 3, 5, 7])}
    if strided:
        params["stride"] = rng.choice([2, 3, 4])
    return params


# --- ds-ag-021 ---------------------------------------------------------------------------------

def solve_output_size(params: dict) -> Solution:
    n, f, p, s = params["n"], params["f"], params["p"], params["s"]
    size = output_size(n, f, p, s)
    steps = [{"kind": "formula", "text": size_formula(n, f, (p, p), s, 1)}]
    return Solution(Reading(f"N={n}, F={f}, P={p}, S={s}", size, "integer", steps))


def solve_same_padding(params: dict) -> Solution:
    n, f = params["n"], params["f"]
    p = (f - 1) // 2
    size = output_size(n, f, p, 1)
    steps = [{"kind": "formula", "text": f"P = (F-1)/2 = ({f}-1)/2 = {p}"},
             {"kind": "formula", "text": size_formula(n, f, (p, p), 1, 1)},
             {"kind": "text", "text": "With S=1 and odd F, N + 2P - F + 1 = N: the size is kept."}]
    return Solution(Reading(f"'same' padding, odd F={f}, S=1, N={n}",
                            {"padding": p, "output": size}, "record", steps))


def _conv_param_steps(f: int, c_in: int, c_out: int) -> str:
    return f"{f}*{f}*{c_in}*{c_out} + {c_out} = {conv2d_params(f, f, c_in, c_out)}"


def solve_kernel_ratio(params: dict) -> Solution:
    c_in, c_out = params["c_in"], params["c_out"]
    small, large = conv2d_params(3, 3, c_in, c_out), conv2d_params(7, 7, c_in, c_out)
    ratio = Fraction(49, 9)
    steps = [
        {"kind": "text", "text": (f"The text fixes no channel counts; this answer takes "
                                  f"C_in={c_in}, C_out={c_out} for both layers.")},
        {"kind": "formula", "text": f"3x3: {_conv_param_steps(3, c_in, c_out)}"},
        {"kind": "formula", "text": f"7x7: {_conv_param_steps(7, c_in, c_out)}"},
        {"kind": "formula", "text": (
            f"weights only: (49*{c_in}*{c_out}) / (9*{c_in}*{c_out}) = 49/9 = "
            f"{float(ratio):.4f}; with biases {large}/{small} = {large / small:.4f}")},
    ]
    answer = {"params_3x3": small, "params_7x7": large, "weight_ratio": ratio}
    return Solution(Reading(f"one conv layer, C_in={c_in}, C_out={c_out}", answer, "record",
                            steps))


def solve_stacked_3x3(params: dict) -> Solution:
    c = params["c"]
    rf = receptive_field([(3, 1)] * 3)
    one = conv2d_params(3, 3, c, c)
    steps = [
        {"kind": "formula", "text": "receptive field r_out = r_in + (K-1)*j: "
         + " -> ".join(str(step.field) for step in rf)},
        {"kind": "formula", "text": f"three 3x3 layers: 3 * ({_conv_param_steps(3, c, c)}) = "
                                    f"{3 * one}"},
        {"kind": "formula", "text": f"one 7x7 layer: {_conv_param_steps(7, c, c)}"},
        {"kind": "text", "text": "Same 7x7 view of the input, fewer weights, two more "
                                 "non-linearities."},
    ]
    answer = {"receptive_field": rf[-1].field, "params_three_3x3": 3 * one,
              "params_one_7x7": conv2d_params(7, 7, c, c)}
    return Solution(Reading(f"stride 1, {c} channels in and out of every layer", answer,
                            "record", steps))


def solve_stride_params(params: dict) -> Solution:
    n, c_in, c_out, f = params["n"], params["c_in"], params["c_out"], params["f"]
    count = conv2d_params(f, f, c_in, c_out)
    answer: dict = {"params_stride_1": count, "params_stride_2": count}
    steps = [{"kind": "formula", "text": f"both strides: {_conv_param_steps(f, c_in, c_out)}"}]
    for s in (1, 2):
        top, bottom = same_padding(n, f, s)
        size = output_size(n, f, (top, bottom), s)
        answer[f"output_stride_{s}"] = [size, size, c_out]
        steps.append({"kind": "formula", "text": f"stride {s}, 'same': "
                      + size_formula(n, f, (top, bottom), s, 1)})
    steps.append({"kind": "text", "text": "Stride moves the filter further each step: the weights "
                  "are the same, the output (and the work) shrinks."})
    return Solution(Reading(f"{f}x{f} conv, {c_in}->{c_out} channels, 'same' padding, "
                            f"{n}x{n} input", answer, "record", steps))


# --- practical2 --------------------------------------------------------------------------------

PRACTICAL2_MODELS = {
    "model1": "input:28x28x1, flatten, dense:{d1}:relu, dense:10:softmax",
    "model2": ("input:28x28x1, conv:{f1}:{k1}x{k1}:same:relu, maxpool:2, "
               "conv:{f2}:3x3:same:relu, maxpool:2, conv:{f3}:3x3:same:relu, maxpool:2, "
               "flatten, dense:{d1}:relu, dense:10:softmax"),
    "model3": "input:28x28x1, flatten, dense:{d1}:relu, dense:{d2}:relu, dense:10:softmax",
    "model4": ("input:28x28x1, conv:{f1}:7x7:same:relu, bn, maxpool:2, bn, "
               "conv:{f2}:5x5:same:relu, bn, conv:{f2}:3x3:same:relu, bn, maxpool:2, bn, "
               "conv:{f3}:3x3:same:relu, bn, conv:{f3}:3x3:same:relu, bn, maxpool:2, flatten, "
               "dense:{d1}:relu, dense:{d2}:relu{head}"),
}
PRACTICAL2_PARAMS = {
    "model1": {"d1": 128},
    "model2": {"f1": 16, "k1": 7, "f2": 32, "f3": 64, "d1": 64},
    "model3": {"d1": 74, "d2": 50},
    "model4": {"f1": 64, "f2": 128, "f3": 256, "d1": 128, "d2": 64},
}
OUTPUT_HEAD = ", dense:10:softmax"


def practical2_spec(model: str, params: dict, head: bool = True) -> str:
    """The layer list of a practical2 model (``theory.layers`` syntax)."""
    return PRACTICAL2_MODELS[model].format(**params, head=OUTPUT_HEAD if head else "")


def _practical2_solver(model: str) -> Callable[[dict], Solution]:
    def solve_model(params: dict) -> Solution:
        if model == "model1":
            main = params_reading(
                "assumed baseline (the starter script's dense model): Flatten -> "
                f"Dense({params['d1']}, relu) -> Dense(10, softmax)",
                practical2_spec(model, params))
            return Solution(main)
        if model != "model4":
            return Solution(params_reading("the layers as listed",
                                           practical2_spec(model, params)))
        main = params_reading(
            "with a Dense(10, softmax) output layer added: the text lists none, but a 10-class "
            "classifier needs one", practical2_spec(model, params, head=True))
        literal = params_reading(
            "exactly as listed, ending at Dense(64): not a 10-class classifier",
            practical2_spec(model, params, head=False))
        return Solution(main, [literal])
    return solve_model


def _practical2_text(model: str) -> Callable[[dict], str]:
    def text(params: dict) -> str:
        lead = {"model1": "The dense baseline model of the starter script",
                "model2": "Model 2 (CNN)", "model3": "Model 3 (fully connected)",
                "model4": "Model 4 (CNN with batch normalization)"}[model]
        spec = practical2_spec(model, params, head=False)
        return (f"{lead}, on 28x28x1 Fashion-MNIST images: {spec}. How many parameters does "
                "it have in total, and how many are trainable?")
    return text


def _practical2_vary(model: str) -> Callable[[random.Random], dict]:
    def vary(rng: random.Random) -> dict:
        pick = rng.choice
        return {
            "model1": lambda: {"d1": pick([64, 100, 128, 256, 512])},
            "model2": lambda: {"f1": pick([8, 16, 32]), "k1": pick([3, 5, 7]),
                               "f2": pick([16, 32, 48]), "f3": pick([32, 64, 96]),
                               "d1": pick([32, 64, 128])},
            "model3": lambda: {"d1": rng.randint(40, 200), "d2": rng.randint(20, 100)},
            "model4": lambda: {"f1": pick([16, 32, 64]), "f2": pick([32, 64, 128]),
                               "f3": pick([64, 128, 256]), "d1": pick([64, 128, 256]),
                               "d2": pick([32, 64])},
        }[model]()
    return vary


# --- the bank ----------------------------------------------------------------------------------

def _static(text: str) -> Callable[[dict], str]:
    return lambda params: text


def _manual(assignment: str, qid: str, title: str, text: str, answer: str,
            rubric: str) -> Question:
    return Question(assignment, qid, title, "manual", _static(text), model_answer=answer,
                    rubric=rubric)


def _cs577() -> list[Question]:
    a = "cs577-a4"
    img = dict(CS577_IMAGE)
    qs = [
        Question(a, "q1", "convolution of a 4x4 RGB image, no padding", "numeric",
                 lambda p: _image_text(p) + ". Convolve I with the filter without zero padding.",
                 img, solve_cs577_q1, _vary_image),
        Question(a, "q2", "the same convolution with zero padding", "numeric",
                 lambda p: _image_text(p) + ". Convolve I with the filter with zero padding "
                 "(question 1 repeated).", img, solve_cs577_q2, _vary_image),
        Question(a, "q3", "the same convolution dilated by 2", "numeric",
                 lambda p: _image_text(p) + ". Repeat question 2 with a dilated (atrous) "
                 "convolution, dilation rate 2.", img, solve_cs577_q3, _vary_image),
        _manual(a, "q4", "template matching", "Explain convolution as template matching.",
                "A filter is a small template. At each position the convolution takes the dot "
                "product of the template with the patch under it, which is large when the patch "
                "looks like the template (same pattern of signs and magnitudes) and small "
                "otherwise. The output map is therefore a map of where, and how strongly, the "
                "pattern occurs; learned filters are templates the network chose for itself.",
                "Full credit: dot product of filter and patch as a similarity score, and the "
                "output map as 'where the pattern occurs'. Half: sliding window only."),
        _manual(a, "q5", "multi-scale analysis with a pyramid",
                "Explain how a fixed window size can analyse several scales (image pyramid).",
                "Keep the window fixed and shrink the image instead: smooth and downsample it "
                "repeatedly (each level, say, half the size of the last) and run the same window "
                "on every level. On a coarse level the window covers a larger part of the "
                "original scene, so large structures are found there and small ones on the fine "
                "levels. CNNs do the same internally: pooling or strided layers shrink the maps "
                "while kernels stay 3x3.",
                "Full credit: repeated smoothing and downsampling, the same window on every "
                "level, coarse levels = large structures. Half: mentions resizing only."),
        _manual(a, "q6", "trading resolution for depth",
                "Explain how depth (number of channels) compensates for lower spatial "
                "resolution, and why this is done.",
                "As pooling or strides cut height and width, later layers get more filters, so "
                "each position carries more features (e.g. 2x2 pooling followed by doubling the "
                "channels). The information moves from 'where' to 'what': many fine positions "
                "are replaced by a rich description of a larger region. This keeps the "
                "representation's capacity while cutting computation per layer, growing the "
                "receptive field and allowing more complex, more invariant features.",
                "Full credit: channels grow as space shrinks, and a purpose (capacity kept, "
                "cost and receptive field). Half: only one of the two."),
        Question(a, "q7", "output size of a 3x3x32 convolution", "numeric",
                 lambda p: _tensor_shape_text(p),
                 {"n": 128, "c": 32, "filters": 16, "f": 3}, solve_tensor_shape,
                 lambda rng: _vary_tensor(rng, False)),
        Question(a, "q8", "the same with stride 2", "numeric",
                 lambda p: _tensor_shape_text(p, f", stride {p['stride']}"),
                 {"n": 128, "c": 32, "filters": 16, "f": 3, "stride": 2}, solve_tensor_shape,
                 lambda rng: _vary_tensor(rng, True)),
        _manual(a, "q9", "1x1 convolution to reduce channels",
                "Explain how a 1x1 convolution reduces the number of channels.",
                "A 1x1 filter sees one pixel but all C input channels, so it is a weighted sum "
                "across channels at each position: a small dense layer shared over the image. "
                "Using K < C such filters maps each pixel's C values to K, e.g. 256 -> 64, "
                "leaving height and width alone. This cuts the cost of the layers that follow "
                "(bottlenecks in Inception and ResNet) and adds a non-linearity.",
                "Full credit: mixes channels per pixel, K filters give K channels, spatial size "
                "unchanged. Half: 'it reduces channels' without the mechanism."),
        _manual(a, "q10", "early versus deep layers",
                "Explain how to interpret convolution layers, and the difference between early "
                "and deep ones.",
                "Each conv layer is a bank of feature detectors over the previous layer's maps. "
                "Early layers see small regions of the raw image and respond to generic local "
                "patterns (edges, colours, simple textures) that transfer across tasks. Deeper "
                "layers combine those into larger, more abstract and more task-specific "
                "features (parts, shapes, whole objects), with larger receptive fields and "
                "lower spatial resolution.",
                "Full credit: hierarchy of features, generic/local early vs abstract/specific "
                "deep, receptive field grows. Half: hierarchy only."),
        Question(a, "q11", "max pooling of the image of question 1", "numeric",
                 lambda p: _image_text(p).split(". The filter")[0]
                 + f". Max-pool I with a {p['pool']}x{p['pool']} window and stride {p['pool']}.",
                 {**img, "pool": 2}, solve_cs577_q11,
                 lambda rng: {**_vary_image(rng), "pool": 2}),
        _manual(a, "q12", "purpose of pooling", "Explain the purpose of pooling.",
                "Pooling summarises each small neighbourhood by one value (max or mean). It "
                "shrinks the maps, cutting computation and parameters downstream, enlarges the "
                "receptive field of later layers, and makes the response tolerant to small "
                "shifts and distortions of a feature (it matters that an edge is present, less "
                "exactly where).",
                "Full credit: downsampling/cost, larger receptive field, small-translation "
                "invariance (two of three). Half: one of them."),
        _manual(a, "q13", "data augmentation", "Explain the purpose of data augmentation and "
                "when it helps most.",
                "Augmentation applies label-preserving random transformations (flips, small "
                "rotations, shifts, zooms, colour changes) to training images so that every "
                "epoch sees new variants. It acts as a regulariser that teaches invariances the "
                "model should have and reduces overfitting. It is most useful when the training "
                "set is small relative to the model's capacity, and only with transformations "
                "that do not change the class.",
                "Full credit: label-preserving transforms, reduces overfitting, most useful with "
                "little data. Half: lists transforms only."),
        _manual(a, "q14", "transfer learning", "Explain the purpose of transfer learning and "
                "when it helps most.",
                "Transfer learning reuses a network trained on a large dataset (e.g. ImageNet) "
                "as the starting point for a new task: its convolutional base already extracts "
                "general features, and only a new head (and perhaps the top layers) is trained. "
                "It saves data and compute and is most useful when the new dataset is small and "
                "its images resemble the original domain.",
                "Full credit: reuse of pretrained features, new head, most useful with small "
                "data from a similar domain. Half: 'reuse a model' only."),
        _manual(a, "q15", "freezing the pretrained base", "Explain why the pretrained "
                "coefficients are frozen.",
                "The new head starts from random weights, so its first gradients are large and "
                "noisy; if the base were trainable these would flow back and destroy the "
                "pretrained features. Freezing keeps those weights fixed while the head learns, "
                "and also means far fewer parameters to fit, which limits overfitting on a small "
                "dataset and speeds training.",
                "Full credit: random head's large gradients would wreck pretrained features; "
                "fewer trainable weights. Half: 'to keep the features' without the reason."),
        _manual(a, "q16", "fine-tuning", "Explain how a pretrained network's coefficients can be "
                "fine-tuned.",
                "First train the new head with the base frozen until it converges. Then unfreeze "
                "the top block(s) of the base (the more task-specific layers), keep the early "
                "generic layers frozen, recompile, and continue training with a much smaller "
                "learning rate so the pretrained weights move only slightly toward the new "
                "task. Watch validation loss, as few samples make overfitting easy.",
                "Full credit: head first, then unfreeze top layers, recompile, small learning "
                "rate. Half: 'unfreeze and train' only."),
        _manual(a, "q17", "inception blocks", "Explain the purpose of inception blocks.",
                "An inception block runs several branches side by side on the same input - "
                "1x1, 3x3 and 5x5 convolutions and a pooling branch - and concatenates their "
                "outputs along the channels. The network thus looks at several scales at once "
                "and learns which to use. 1x1 convolutions before the larger kernels reduce the "
                "channels first, keeping the cost manageable.",
                "Full credit: parallel branches of different kernel sizes, concatenated, "
                "multi-scale; 1x1 bottlenecks for cost. Half: without the 1x1 role."),
        _manual(a, "q18", "residual blocks", "Explain the advantage of residual blocks.",
                "A residual block adds its input to its output (y = x + F(x)), so the layers only "
                "learn a correction to the identity. The shortcut gives gradients a direct path "
                "back through the network, easing vanishing gradients and the degradation of "
                "very deep plain networks; a block that is not needed can learn F close to 0. "
                "This makes networks of dozens or hundreds of layers trainable.",
                "Full credit: skip connection adding input, easier gradient flow, deep nets "
                "trainable. Half: skip connection only."),
        _manual(a, "q19", "visualising intermediate activations", "Explain how intermediate "
                "activations are visualised for an input, and why.",
                "Build a model that maps the network's input to the outputs of the chosen conv "
                "layers, run one image through it, and plot each channel of each activation map "
                "as a small image. Early maps look like edge and colour detectors of the input; "
                "deeper ones are sparser and more abstract. It shows what each layer responds "
                "to, helps debug (dead filters, wrong preprocessing) and builds intuition.",
                "Full credit: a multi-output model on the layer outputs, per-channel plots, a "
                "purpose. Half: plotting without how the activations are obtained."),
        _manual(a, "q20", "visualising filters by gradient ascent", "Explain how a trained "
                "filter is visualised by gradient ascent, and why.",
                "Start from a noisy grey image and define the loss as the mean activation of one "
                "filter in one layer. Compute the gradient of that loss with respect to the "
                "input image (not the weights), normalise it, and take steps up the gradient "
                "for a number of iterations; the resulting image is the pattern the filter "
                "responds to most. It shows what each filter has learned: simple edges and "
                "colours early, textures and object-like patterns deeper.",
                "Full credit: loss = filter activation, gradient w.r.t. the input, ascent steps "
                "from noise, a purpose. Half: missing 'w.r.t. the input'."),
        _manual(a, "q21", "class activation heatmaps (Grad-CAM)", "Explain how a class "
                "activation heatmap is made for an image and class, how pooled gradients weight "
                "the channels, and why.",
                "Take the last conv layer's output maps A_k and the score of the chosen class. "
                "Compute the gradient of that score with respect to each map, and average it "
                "over the spatial positions: this pooled gradient is the weight of channel k, "
                "i.e. how much the class depends on that channel. The heatmap is the ReLU of the "
                "weighted sum of the maps, upsampled and overlaid on the image. It shows which "
                "regions drove the decision, to check that the model looks at the object rather "
                "than at background cues.",
                "Full credit: last conv maps, class-score gradients pooled per channel as "
                "weights, weighted sum + ReLU + upsampling, a purpose. Half: missing the pooled "
                "weights."),
    ]
    return qs


def _ds_ag() -> list[Question]:
    a = "ds-ag-021"
    return [
        _manual(a, "q1", "filters and feature maps", "What is the role of filters and feature "
                "maps in a CNN?",
                "A filter is a small learned weight tensor slid over the input; at each "
                "position it gives one number saying how strongly its pattern is present. The "
                "grid of those numbers (after the activation) is a feature map: one map per "
                "filter. A layer's maps form the next layer's input, so features are built up "
                "from edges to parts to objects, with the same weights reused everywhere.",
                "Full credit: filter = learned local pattern detector, feature map = its "
                "response over positions, one map per filter, stacked hierarchy. Half: "
                "definitions only."),
        _manual(a, "q2", "padding and stride", "Explain padding and stride in a CNN and how they "
                "affect the size of the output feature maps.",
                "Stride is the step of the filter: S=1 visits every position, S=2 every other "
                "one, dividing the output size by about S. Padding adds a border (usually zeros) "
                "so the filter can be centred on edge pixels: 'valid' adds none and the map "
                "shrinks by F-1, 'same' adds (F-1)/2 per side for odd F so the size is kept at "
                "S=1. Per axis: out = floor((N + 2P - F)/S) + 1 (with dilation D, replace F by "
                "D(F-1)+1). See q2a-q2c for numbers.",
                "Full credit: both definitions and the formula with P and S. Half: definitions "
                "without the size effect."),
        Question(a, "q2a", "output size, no padding (Q2's first example)", "numeric",
                 lambda p: f"Output size of a {p['f']}x{p['f']} filter, padding {p['p']}, stride "
                 f"{p['s']}, on an input of {p['n']} pixels per side.",
                 {"n": 28, "f": 3, "p": 0, "s": 1}, solve_output_size,
                 lambda rng: {"n": rng.choice([28, 32, 64, 100, 224]),
                              "f": rng.choice([1, 3, 5, 7]), "p": rng.randint(0, 3),
                              "s": rng.choice([1, 2, 3])}),
        Question(a, "q2b", "'same' padding with an odd filter (Q2's second example)", "numeric",
                 lambda p: f"With stride 1 and a {p['f']}x{p['f']} filter on a {p['n']}-pixel "
                 "input, which padding keeps the size, and what is the output size?",
                 {"n": 28, "f": 3}, solve_same_padding,
                 lambda rng: {"n": rng.choice([28, 32, 64, 224]), "f": rng.choice([3, 5, 7, 9])}),
        Question(a, "q2c", "output size with stride 2", "numeric",
                 lambda p: f"Output size of a {p['f']}x{p['f']} filter, padding {p['p']}, stride "
                 f"{p['s']}, on an input of {p['n']} pixels per side.",
                 {"n": 28, "f": 3, "p": 1, "s": 2}, solve_output_size,
                 lambda rng: {"n": rng.choice([28, 32, 64, 100, 224]),
                              "f": rng.choice([3, 5, 7]), "p": rng.randint(0, 3),
                              "s": rng.choice([2, 3, 4])}),
        _manual(a, "q3", "receptive field", "Define the receptive field and explain why it "
                "matters in deep architectures.",
                "The receptive field of a unit is the region of the input image that can affect "
                "its value. It equals the kernel size in the first layer and grows with every "
                "further conv layer (by (K-1) times the product of earlier strides), faster with "
                "pooling, strides or dilation. A unit can only recognise what lies inside its "
                "field, so the last layers must see enough of the image to take in whole "
                "objects and their context; downsampling to get there costs localisation "
                "detail, which is the trade-off a design balances.",
                "Full credit: definition, growth with depth/stride, why large fields are needed "
                "and the cost. Half: definition only."),
        _manual(a, "q4", "filter size, stride and parameters", "Discuss how filter size and "
                "stride influence the number of parameters in a CNN.",
                "A conv layer has Fh*Fw*C_in*C_out weights plus C_out biases, so the count grows "
                "with the filter area: a 7x7 has 49/9 (about 5.4) times the weights of a 3x3 "
                "with the same channels. Three stacked 3x3 layers see a 7x7 region with about "
                "27/49 of the weights and more non-linearities. Stride does not appear in the "
                "formula: it changes the output size and the computation, not the weights "
                "(though a smaller map makes a following Dense layer smaller). See q4a-q4c.",
                "Full credit: the formula, area scaling with the 49/9 example, stride changes "
                "activations not weights. Half: one of the two effects."),
        Question(a, "q4a", "parameters of a 7x7 versus a 3x3 conv", "numeric",
                 lambda p: f"How many parameters do a 3x3 and a 7x7 conv layer have with "
                 f"{p['c_in']} input and {p['c_out']} output channels, and what is the ratio of "
                 "their weights?",
                 {"c_in": 64, "c_out": 64}, solve_kernel_ratio,
                 lambda rng: {"c_in": rng.choice([3, 16, 32, 64, 128]),
                              "c_out": rng.choice([16, 32, 64, 128, 256])}),
        Question(a, "q4b", "three 3x3 layers versus one 7x7", "numeric",
                 lambda p: f"Three stacked 3x3 conv layers (stride 1) versus one 7x7, with {p['c']}"
                 " channels throughout: receptive field of the stack, and parameters of each.",
                 {"c": 64}, solve_stacked_3x3,
                 lambda rng: {"c": rng.choice([16, 32, 64, 128, 256])}),
        Question(a, "q4c", "stride does not change the parameter count", "numeric",
                 lambda p: f"A {p['f']}x{p['f']} conv from {p['c_in']} to {p['c_out']} channels "
                 f"with 'same' padding on a {p['n']}x{p['n']} input: parameters and output shape "
                 "at stride 1 and stride 2.",
                 {"n": 32, "c_in": 64, "c_out": 64, "f": 3}, solve_stride_params,
                 lambda rng: {"n": rng.choice([28, 32, 56, 64]), "c_in": rng.choice([3, 32, 64]),
                              "c_out": rng.choice([32, 64, 128]), "f": rng.choice([3, 5])}),
        _manual(a, "q5", "LeNet, AlexNet and VGG", "Compare LeNet, AlexNet and VGG in depth, "
                "filter sizes and performance.",
                "LeNet-5 (1998): two conv layers with 5x5 filters, subsampling, then small dense "
                "layers, about 60k parameters; it works for digits, not for large natural images. "
                "AlexNet (2012): five conv layers, starting with 11x11 stride 4 then 5x5 and 3x3, "
                "three big dense layers (about 60M parameters), ReLU, dropout and GPU training; "
                "it won ImageNet 2012 by a wide margin. VGG (2014): 16-19 layers built only from "
                "3x3 convs in blocks with pooling; more accurate on ImageNet, but about 138M "
                "parameters and heavy compute. The trend: deeper networks with smaller filters, "
                "better accuracy, higher cost.",
                "Full credit: depth, filter sizes and a performance statement for all three, "
                "plus the trend. Half: two of the three networks."),
    ]


def _practical2() -> list[Question]:
    a = "practical2"
    qs = []
    for model in ("model1", "model2", "model3", "model4"):
        qs.append(Question(a, model, f"parameter counts of {model}", "numeric",
                           _practical2_text(model), PRACTICAL2_PARAMS[model],
                           _practical2_solver(model), _practical2_vary(model)))
    # The discussion questions depend on each student's own runs, so the model
    # answers give the expected shape of the argument and the rubric asks for
    # the student's measured numbers.
    discussion = [
        ("dense-vs-cnn", "model 1 (dense) versus model 2 (CNN)", 13,
         "Compare the trainable parameters and scores of model 1 (dense) and model 2 (CNN).",
         "Model 2 has fewer weights (61,514 against 101,770 for the assumed 128-unit dense "
         "baseline) yet usually scores as well or better, because its convolutions share one "
         "small filter across all positions and build in locality: the dense model spends a "
         "separate weight on every pixel for every unit and has no notion that neighbouring "
         "pixels belong together. Parameter count alone does not decide accuracy; how well the "
         "architecture fits the structure of images does.",
         "Full credit: both counts from their own run, both scores, and weight sharing/locality "
         "as the reason. Half: numbers without an explanation."),
        ("cnn-vs-fc", "model 2 (CNN) versus model 3 (dense)", 12,
         "Compare the trainable parameters and scores of model 2 (CNN) and model 3 (dense).",
         "The two are almost the same size (61,514 and 62,350), so the comparison isolates the "
         "architecture. The CNN typically reaches the higher test accuracy once trained for a "
         "few epochs, at a much higher cost per step (convolutions over 28x28 maps against a few "
         "matrix products); the dense model trains fastest but treats every pixel position as "
         "unrelated to its neighbours, so a shifted garment looks new to it.",
         "Full credit: notes the near-equal counts, compares measured scores and time, and "
         "attributes the gap to convolution. Half: one of those."),
        ("best-model", "which model performs best", 10,
         "Ignoring parameter counts, does one model stand out in score? Which one?",
         "Usually model 4: the deepest CNN, with batch normalization and the most filters, "
         "reaches the highest test accuracy when trained long enough. With very short training "
         "its BatchNormalization moving statistics may not have settled and its test score can "
         "be misleadingly low; the answer must rest on the student's measured scores.",
         "Full credit: names the model with the best measured score and supports it with the "
         "numbers; credit a different model if their numbers show it. Half: no numbers."),
        ("params-vs-time", "parameters versus training time", 10,
         "Between the models with the most and fewest parameters, how does the parameter count "
         "relate to training time? Do more parameters always mean longer training?",
         "Not necessarily. Time follows the computation per example, not the number of weights: "
         "a convolution reuses each weight at every position, so a CNN with fewer weights can "
         "take far longer per epoch than a dense net with more (model 2 against model 3 on "
         "Fashion-MNIST), while a dense layer's cost is close to its weight count. Memory "
         "traffic, batch size and hardware also matter.",
         "Full credit: measured times, and computation (FLOPs, weight reuse) rather than "
         "parameters as the driver. Half: a yes/no with times only."),
        ("depth", "depth, memory and accuracy", 15,
         "How does CNN depth relate to memory use and accuracy? Do more layers always help?",
         "Deeper networks store more activations for back-propagation (memory grows with the "
         "sum of all feature-map sizes times the batch), and more weights. They can learn more "
         "abstract features and often classify better, but returns diminish: beyond what the "
         "data needs, extra depth brings overfitting, vanishing gradients and longer training "
         "unless countered by batch normalization, residual connections or regularisation. "
         "Model 4 against model 2 shows both the gain and the cost.",
         "Full credit: activation memory and parameter memory, accuracy gains with diminishing "
         "returns, remedies named. Half: 'deeper is better' or 'deeper is worse' alone."),
        ("fixed-hyperparameters", "one set of hyperparameters for all models", 10,
         "What are the limits of training every architecture with the same hyperparameters, and "
         "how would you tune each one?",
         "Each architecture has its own best learning rate, batch size and number of epochs: a "
         "deep BN network tolerates a larger learning rate and needs more steps for its "
         "statistics to settle, a small dense model may overfit with the same epochs. One fixed "
         "setting can favour some models and handicap others, so the comparison measures the "
         "setting as much as the architecture. Tune per model on a validation split with a "
         "grid or random search (or Bayesian optimisation), use learning-rate schedules and "
         "early stopping, and compare models at their own best settings.",
         "Full credit: why one setting is unfair, a concrete tuning strategy on validation "
         "data. Half: only one of the two."),
        ("gradcam", "Grad-CAM on three classes", 30,
         "Implement Grad-CAM for one of the CNNs, show maps for at least three Fashion-MNIST "
         "classes, and compare its insight with Yosinski-style neuron visualisation.",
         "Grad-CAM takes the gradients of one class score with respect to the last conv layer's "
         "maps, averages them per channel to weight the maps, and shows the ReLU of the "
         "weighted sum, upsampled over the image. For Fashion-MNIST the maps typically light up "
         "the sleeves and collar of shirts, the sole and heel of shoes and the handle of bags. "
         "Unlike neuron visualisation, which shows what a unit responds to in general, "
         "Grad-CAM explains one decision for one image and one class.",
         "Full credit: working maps for three or more classes, commentary per class, and the "
         "class-specific versus unit-centred contrast. Graded with the programming part."),
    ]
    for qid, title, points, text, answer, rubric in discussion:
        qs.append(Question(a, qid, title, "manual", _static(text), model_answer=answer,
                           rubric=rubric, points=points))
    return qs


BANK: dict[str, dict[str, Question]] = {a: {} for a in ASSIGNMENTS}
for _q in _cs577() + _ds_ag() + _practical2():
    BANK[_q.assignment][_q.qid] = _q


def question_ids(assignment: str) -> list[str]:
    return list(_assignment(assignment))


def _assignment(assignment: str) -> dict[str, Question]:
    if assignment not in BANK:
        raise UnknownQuestion(f"unknown assignment {assignment!r}; the assignments are "
                              f"{', '.join(ASSIGNMENTS)}")
    return BANK[assignment]


def get_question(qid: str, assignment: str = "cs577-a4") -> Question:
    """The question ``qid`` (``q1``, ``Q1`` and ``1`` name the same one)."""
    bank = _assignment(assignment)
    key = qid.strip().lower()
    if key.isdigit():
        key = f"q{key}"
    if key not in bank:
        valid = ", ".join(bank) or "(none: this assignment has no theory questions)"
        elsewhere = [a for a in ASSIGNMENTS if a != assignment and key in BANK[a]]
        hint = "".join(f" (it is in {a}: add --assignment {a})" for a in elsewhere[:1])
        raise UnknownQuestion(f"{assignment} has no question {qid!r}{hint}; valid ids: {valid}")
    return bank[key]


def variant_params(question: Question, seed: int) -> dict:
    """The numbers of the seeded variant; the same seed always gives the same numbers."""
    if question.vary is None:
        raise UnknownQuestion(f"{question.assignment} {question.qid} is graded by a person and "
                              "has no numeric variants")
    # The seed is mixed with the question's id so that one student's seed gives
    # unrelated numbers across questions. A draw of the assignment's own numbers is drawn
    # again from the same generator: a variant whose key is the published one is no variant.
    rng = random.Random(f"{question.assignment}/{question.qid}/{seed}")
    for _ in range(100):
        params = question.vary(rng)
        if params != question.params:
            return params
    raise RuntimeError(f"{question.assignment} {question.qid}: its variants keep drawing the "
                       "assignment's own numbers")


def solve(question: Question, params: dict | None = None) -> Solution:
    """Works out ``question`` with ``params`` (the assignment's own numbers by default)."""
    params = question.params if params is None else params
    if question.solver is None:
        return Solution(Reading("model answer (graded by a person)", question.model_answer,
                                "text", [{"kind": "text", "text": f"Rubric: {question.rubric}"}]))
    return question.solver(params)



def reading_json(reading: Reading) -> dict:
    """A reading as JSON: label, answer (nested lists, channels-last), type, steps, note."""
    out = {"label": reading.label, "answer": to_json(reading.answer),
           "answer_type": reading.answer_type, "steps": to_json(reading.steps)}
    if reading.note:
        out["note"] = reading.note
    return out


def solution_json(question: Question, solution: Solution, params: dict | None = None,
                  seed: int | None = None) -> dict:
    """The object ``grader theory QID --json`` prints (``theory_answer.schema.json``)."""
    params = question.params if params is None else params
    primary = reading_json(solution.primary)
    out: dict = {
        "assignment": question.assignment,
        "id": question.qid,
        "kind": question.kind,
        "graded_by": "solver" if question.kind == "numeric" else "person",
        "title": question.title,
        "question": question.text(params),
        "reading": primary["label"],
        "answer": primary["answer"],
        "answer_type": primary["answer_type"],
        "steps": primary["steps"],
        "alternatives": [reading_json(alt) for alt in solution.alternatives],
    }
    if "note" in primary:
        out["note"] = primary["note"]
    if question.kind == "manual":
        out["rubric"] = question.rubric
    if seed is not None:
        out["variant"] = {"seed": seed, "params": params}
    return out
