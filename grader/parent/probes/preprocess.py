"""Probe for a preprocessing step: ``preprocess(images, labels) -> (x, y)`` on raw
uint8 images (as Keras' dataset loaders return them).

Params: ``image_shape`` (one raw image, e.g. [28, 28]), ``output_shape`` (one
preprocessed image, e.g. [28, 28, 1]), ``label_forms`` (the label inputs to try,
"flat" (N,) and/or "column" (N, 1) as Keras' CIFAR-10 loader gives; default
["flat"]), ``labels_out`` ("sparse": int64 class indices (N,), the default;
"one_hot": float (N, classes)), ``classes`` (default 10), ``reject_shapes`` (raw
image shapes the function must refuse, with ``raises``, default "ValueError") and
``seed``.

Each label form gets a call on seeded uint8 noise (with a different batch size per
call, so a hard-coded N shows); the images must come back as float bytes / 255 in
the output shape, the labels as the contract says. Scored in parts: the images
(IMAGES_WEIGHT), the labels (1) and, with ``reject_shapes``, the refusal (1). Labels
passed through unchanged earn nothing: the loaders give uint8, the contract int64.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grader import probe_contract as contract
from grader.parent.probes import Call, Prepared, array_arg, raised_problem, verdict
from grader.protocol import CheckResult

RETURNS = contract.RETURNS["preprocess"]
BATCH_SIZES = (8, 5)
IMAGES_WEIGHT = 2


def _shape_text(shape: Any) -> str:
    return "(N, " + ", ".join(map(str, shape)) + ")"


def prepare(folder: Path, params: dict[str, Any]) -> Prepared:
    rng = np.random.default_rng(params.get("seed", 0))
    forms = params.get("label_forms", ["flat"])
    classes = params.get("classes", 10)
    calls, truth = [], []
    for index, n in enumerate(BATCH_SIZES):
        form = forms[index % len(forms)]
        images = rng.integers(0, 256, (n, *params["image_shape"]), dtype=np.uint8)
        images.flat[:2] = (0, 255)  # both ends of the range, so scaling shows
        labels = (np.arange(n) % classes).astype(np.uint8)
        rng.shuffle(labels)
        calls.append(Call(args=[
            array_arg(folder, f"images_{index}", images,
                      f"<uint8 images {_shape_text(params['image_shape'])}>"),
            array_arg(folder, f"labels_{index}", _as_form(labels, form),
                      f"<uint8 labels {_form(form)}>")]))
        truth.append({"images": images, "labels": labels, "form": form})
    for index, shape in enumerate(params.get("reject_shapes", [])):
        images = rng.integers(0, 256, (4, *shape), dtype=np.uint8)
        labels = _as_form(np.arange(4, dtype=np.uint8) % classes, forms[0])
        calls.append(Call(args=[
            array_arg(folder, f"reject_{index}", images, f"<uint8 images {_shape_text(shape)}>"),
            array_arg(folder, f"reject_labels_{index}", labels,
                      f"<uint8 labels {_form(forms[0])}>")],
            raises=params.get("raises", "ValueError")))
    return Prepared(calls=calls, truth=truth)


def judge(outputs: dict[str, np.ndarray], truth: list[dict[str, Any]],
          params: dict[str, Any], where: str) -> CheckResult:
    problems: list[str] = []
    hints: list[str] = []
    parts = {"images": True, "labels": True}
    for index, want in enumerate(truth):
        call = f"call {index + 1} ({len(want['labels'])} images, labels {_form(want['form'])})"
        problem, hint = _images_problem(outputs[f"x_{index}"], want["images"], params)
        if problem:
            parts["images"] = False
            problems.append(f"{call}: x {problem}")
            hints += hint
        problem, hint = _labels_problem(outputs[f"y_{index}"], want["labels"], params)
        if problem:
            parts["labels"] = False
            problems.append(f"{call}: y {problem}")
            hints += hint
    weights = {"images": IMAGES_WEIGHT, "labels": 1}
    expected = params.get("raises", "ValueError")
    for index, shape in enumerate(params.get("reject_shapes", [])):
        weights["refuses"] = 1
        parts.setdefault("refuses", True)
        refused = raised_problem(outputs, len(truth) + index, expected)
        if refused is not None:
            parts["refuses"] = False
            problems.append(f"images of shape {_shape_text(shape)}: the function {refused}; "
                            f"it must raise {expected}")
            hints.append(f"check images.shape[1:] and raise {expected} when it is not "
                         f"{tuple(params['image_shape'])}")
    fraction = sum(w for k, w in weights.items() if parts[k]) / sum(weights.values())
    details = {"parts": parts}
    return verdict(where, problems, hints, fraction, details,
                   f"images scaled to [0, 1] in {_shape_text(params['output_shape'])}, "
                   f"labels {_labels_text(params)}"
                   + (f", other shapes refused with {expected}" if "refuses" in parts else ""))


def _form(form: str) -> str:
    return "(N, 1)" if form == "column" else "(N,)"


def _as_form(labels: np.ndarray, form: str) -> np.ndarray:
    return labels.reshape(-1, 1) if form == "column" else labels


def _labels_text(params: dict[str, Any]) -> str:
    if params.get("labels_out", "sparse") == "one_hot":
        return f"one-hot (N, {params.get('classes', 10)})"
    return "int64 class indices (N,)"


def _images_problem(x: np.ndarray, raw: np.ndarray, params: dict[str, Any]
                    ) -> tuple[str | None, list[str]]:
    shape = (len(raw), *params["output_shape"])
    if not np.issubdtype(x.dtype, np.number) or x.dtype == bool:
        return f"holds {x.dtype} values, expected float numbers", []
    if x.size != raw.size:
        return f"has shape {x.shape} ({x.size} values), expected {shape}", []
    got = x.reshape(raw.shape).astype(np.float64)
    unit = raw.astype(np.float64) / 255.0
    if not np.allclose(got, unit, atol=1e-4):
        span = f"values span [{got.min():.3g}, {got.max():.3g}]"
        if np.allclose(got, raw, atol=1e-4):
            return f"is not scaled ({span}), expected [0, 1]", ["divide the pixels by 255"]
        if np.allclose(got * 255.0, unit, atol=1e-5):
            return f"is divided by 255 twice ({span})", ["divide by 255 once"]
        return (f"differs from the pixels / 255 ({span}); keep the images' order and "
                "layout", ["x = images.astype(\"float32\") / 255, then reshape"])
    if x.shape != shape:
        hint = f"reshape to {_shape_text(params['output_shape'])}"
        if len(params["output_shape"]) > len(params["image_shape"]):
            hint += ": add the channel axis (images[..., None])"
        return f"has shape {x.shape}, expected {shape}", [hint]
    if not np.issubdtype(x.dtype, np.floating):
        return f"is {x.dtype}, expected float32", ["return float32 (astype(\"float32\"))"]
    return None, []


def _labels_problem(y: np.ndarray, labels: np.ndarray, params: dict[str, Any]
                    ) -> tuple[str | None, list[str]]:
    n, classes = len(labels), params.get("classes", 10)
    if params.get("labels_out", "sparse") == "one_hot":
        want = np.eye(classes)[labels]
        if y.shape != want.shape or not np.allclose(y.astype(np.float64), want):
            return (f"has shape {y.shape}, expected one-hot {want.shape} of the labels",
                    [f"one-hot encode the labels: np.eye({classes})[labels]"])
        return None, []
    if y.shape == (n, classes) and np.array_equal(np.argmax(y, axis=1), labels):
        return (f"is one-hot {y.shape}, expected class indices (N,)",
                ["keep the labels as class indices: the loss is the sparse cross-entropy"])
    if y.size != n or not np.issubdtype(y.dtype, np.number) \
            or not np.array_equal(y.reshape(-1).astype(np.float64), labels):
        return (f"(shape {y.shape}, {y.dtype}) differs from the labels passed, in order",
                ["return the labels as given, as int64 class indices"])
    if y.shape != (n,):
        return (f"has shape {y.shape}, expected ({n},)",
                ["flatten the labels: np.asarray(labels).reshape(-1)"])
    if y.dtype != np.int64:
        return (f"is {y.dtype}, expected int64",
                ["cast the labels: np.asarray(labels, dtype=\"int64\")"])
    return None, []
