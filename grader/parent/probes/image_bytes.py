"""Probe for a function that decodes an image file's bytes for a model:
``load_image(data: bytes, image_size=(H, W)) -> float (H, W, 3) in [0, 1]``.

Params: ``image_size`` (the function's default size, [height, width]),
``other_size`` (optional: one more call passes ``image_size=`` this size; make it
not square, so that a (width, height) mix-up shows) and ``raises`` (what bytes that
are not an image must raise; default "Exception", i.e. anything).

The fixture is a grey PNG (mode "L") and a colour JPEG, neither at the target size.
The truth is Pillow's bilinear resize of the decoded file. Resizing filters differ
between libraries, so an image passes on its shape (H, W, 3), a float dtype, values in
[0, 1] and agreement with the truth (correlation above MIN_CORRELATION, mean absolute
difference below MAX_MEAN_DIFF): lenient on the filter, strict on orientation, channel
order, grey replicated to three channels, and scale.

Scored per image (IMAGES_SHARE, shared equally), plus the rest for raising on bytes
that are not an image; that part counts only when some image is right, since a
function that decodes nothing at all also raises there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grader import probe_contract as contract
from grader.parent.probes import Call, Prepared, fixtures, raised_problem, verdict
from grader.protocol import CheckResult

RETURNS = contract.RETURNS["image_bytes"]
MIN_CORRELATION = 0.95
MAX_MEAN_DIFF = 0.05
IMAGES_SHARE = 0.75


def prepare(folder: Path, params: dict[str, Any]) -> Prepared:
    from PIL import Image

    paths = fixtures.image_files(folder)
    (folder / "notes.txt").write_bytes(b"not an image: a text file someone uploaded\n" * 8)
    size = tuple(params["image_size"])
    plan = [("png", "<grey PNG bytes>", size, {}), ("jpeg", "<colour JPEG bytes>", size, {})]
    if params.get("other_size"):
        other = list(params["other_size"])
        plan.append(("jpeg", "<colour JPEG bytes>", tuple(other), {"image_size": other}))
    calls, truth = [], []
    for kind, text, (height, width), kwargs in plan:
        calls.append(Call(args=[{"$bytes": str(paths[kind].resolve()), "label": text}],
                          kwargs=kwargs))
        with Image.open(paths[kind]) as image:
            resized = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
        truth.append({"label": text, "image": np.asarray(resized, np.float64) / 255.0})
    calls.append(Call(args=[{"$bytes": str((folder / "notes.txt").resolve()),
                             "label": "<bytes of a text file>"}],
                      raises=params.get("raises", "Exception")))
    return Prepared(calls=calls, truth=truth)


def judge(outputs: dict[str, np.ndarray], truth: list[dict[str, Any]],
          params: dict[str, Any], where: str) -> CheckResult:
    problems: list[str] = []
    hints: list[str] = []
    right = 0
    name = where.rsplit(": ", 1)[-1]  # where is "<file>: <function>"
    for index, want in enumerate(truth):
        problem, hint = _image_problem(outputs[f"image_{index}"], want["image"])
        if problem is None:
            right += 1
            continue
        call = f"{name}({want['label']})" if index < 2 else \
            f"{name}({want['label']}, image_size={list(want['image'].shape[:2])})"
        problems.append(f"{call}: {problem}")
        hints += hint
    fraction = IMAGES_SHARE * right / len(truth)
    expected = params.get("raises", "Exception")
    refused = raised_problem(outputs, len(truth), expected)
    if refused is not None:
        problems.append(f"{name}(<bytes of a text file>) {refused}; it must raise "
                        + ("an exception" if expected == "Exception" else expected))
        hints.append("let the decoder's error propagate (or raise one yourself) for "
                     "bytes that are not an image; never return a blank image")
    elif right:
        fraction += 1 - IMAGES_SHARE
    # Not "images": that detail lists image files to keep (grader.parent.images).
    details = {"images_right": right, "images_called": len(truth), "raises": refused is None}
    return verdict(where, problems, hints, fraction, details,
                   "a grey PNG and a colour JPEG decode to (H, W, 3) in [0, 1] matching "
                   "Pillow's resize; bytes that are not an image raise")


def _agrees(got: np.ndarray, want: np.ndarray) -> tuple[bool, float, float]:
    """(agrees, correlation, mean absolute difference) of two same-shaped images."""
    a, b = got.ravel(), want.ravel()
    corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 else 0.0
    diff = float(np.mean(np.abs(a - b)))
    return corr > MIN_CORRELATION and diff < MAX_MEAN_DIFF, corr, diff


def _image_problem(got: np.ndarray, want: np.ndarray) -> tuple[str | None, list[str]]:
    """What is wrong with one returned image, and the fixes; (None, []) when right."""
    height, width = want.shape[:2]
    if not np.issubdtype(got.dtype, np.number) or got.dtype == bool:
        return f"returned {got.dtype} values, expected float numbers", []
    if got.shape != want.shape:
        return _shape_problem(got, want)
    if not np.issubdtype(got.dtype, np.floating):
        hint = "convert to float32 and divide by 255"
        return f"returned {got.dtype} values, expected float in [0, 1]", [hint]
    values = got.astype(np.float64)
    if not np.isfinite(values).all():
        return "contains NaN or infinite values", []
    low, high = float(values.min()), float(values.max())
    values_span = f"values span [{low:.3g}, {high:.3g}]"
    span = f"{values_span}, expected [0, 1]"
    if _agrees(values / 255.0, want)[0]:
        return span, ["divide the bytes by 255"]
    if low < -1e-3 or high > 1 + 1e-3:
        return span, ["scale the bytes by 1/255 only (no centring or standardising)"]
    ok, corr, diff = _agrees(values, want)
    if ok:
        return None, []
    if _agrees(values * 255.0, want)[0]:
        return f"{values_span}, about 255 times too small", ["divide by 255 once, not twice"]
    measured = f"(correlation {corr:.2f}, mean absolute difference {diff:.3f})"
    for variant, fault, hint in (
            (values[..., ::-1], "has its channels in BGR order",
             "OpenCV decodes to BGR: convert with cv2.cvtColor(image, cv2.COLOR_BGR2RGB)"),
            (values[::-1], "is upside down", "do not flip the image"),
            (values[:, ::-1], "is mirrored left to right", "do not flip the image")):
        if _agrees(variant, want)[0]:
            return f"{fault} {measured}", [hint]
    if values.max() - values.min() < 1e-6:
        return "is one flat colour, not the picture", []
    return (f"does not match the picture resized to {height}x{width} {measured}",
            ["decode the bytes (PIL.Image.open(io.BytesIO(data)) or tf.io.decode_image), "
             "convert to RGB, resize to image_size and divide by 255"])


def _shape_problem(got: np.ndarray, want: np.ndarray) -> tuple[str, list[str]]:
    height, width = want.shape[:2]
    text = f"has shape {got.shape}, expected {want.shape}"
    if got.shape in ((height, width), (height, width, 1)):
        return text, ["a grey image has one channel: convert it to RGB "
                      "(Image.convert(\"RGB\"), or tf.io.decode_image(data, channels=3))"]
    if got.shape == (height, width, 4):
        return text, ["drop the alpha channel: convert to RGB"]
    if got.shape == (1, height, width, 3):
        return text, ["return one image (H, W, 3), without a batch axis"]
    if got.shape[:2] == (width, height):
        return text, ["image_size is (height, width), but PIL's resize takes (width, "
                      "height): resize to (image_size[1], image_size[0])"]
    if got.shape[:2] != (height, width):
        return text, ["resize the decoded image to image_size"]
    return text, []

