"""Probe for a loader that reads a dataset's files into arrays:
``load(data_dir) -> ((x_train, y_train), (x_test, y_test))``.

Params: ``format`` ("idx": MNIST / Fashion-MNIST ``.gz`` files; "cifar10_pickles":
``cifar-10-batches-py``), ``image_shape`` (one image as the contract states it, e.g.
[28, 28, 1]) and ``scale`` ("unit": pixels / 255 as float, the default; "bytes":
0-255). The fixture is noise, so any reordering, transposition or rescaling shows.

Scored in two equal parts: the images (shape and pixel values) and the labels. A
right shape alone earns nothing: zeros of that shape read no file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grader import probe_contract as contract
from grader.parent.probes import Call, Prepared, fixtures, path_arg, verdict
from grader.protocol import CheckResult

SPLITS = ("train", "test")
RETURNS = contract.RETURNS["dataset_arrays"]


def prepare(folder: Path, params: dict[str, Any]) -> Prepared:
    if params["format"] == "cifar10_pickles":
        root = folder / "cifar-10-batches-py"
        truth = fixtures.cifar10_batches(root, seed=params.get("seed", 0))
    else:
        root = folder / "idx"
        truth = fixtures.idx_dataset(root, seed=params.get("seed", 0))
    return Prepared(calls=[Call(args=[path_arg(root, f"'<{root.name} folder>'")])],
                    truth=truth)


def judge(outputs: dict[str, np.ndarray], truth: dict[str, np.ndarray],
          params: dict[str, Any], where: str) -> CheckResult:
    shape = tuple(params["image_shape"])
    unit = params.get("scale", "unit") == "unit"
    problems: list[str] = []
    hints: list[str] = []
    parts = {"images": True, "labels": True}
    for split in SPLITS:
        x, y = outputs[f"x_{split}"], outputs[f"y_{split}"]
        want_x, want_y = truth[f"x_{split}"], truth[f"y_{split}"]
        n = len(want_y)
        if x.shape != (n, *shape):
            parts["images"] = False
            problems.append(f"x_{split} has shape {x.shape}, expected {(n, *shape)}")
            if x.size == want_x.size:
                hints.append(f"reshape the images to (N, {', '.join(map(str, shape))}); "
                             "channels last")
        if x.size == want_x.size and np.issubdtype(x.dtype, np.number):
            got = x.reshape(want_x.shape).astype(np.float64)
            expected = want_x.astype(np.float64) / (255.0 if unit else 1.0)
            if not np.allclose(got, expected, atol=1e-4):
                parts["images"] = False
                problems.append(f"x_{split}: {_pixel_problem(got, want_x, unit)}")
                if unit and np.allclose(got, want_x, atol=1e-4):
                    hints.append("divide the pixels by 255 (as float32)")
                elif params["format"] == "cifar10_pickles":
                    hints.append("each row of b'data' is the red plane, then green, then "
                                 "blue: reshape to (N, 3, 32, 32), then transpose to "
                                 "(N, 32, 32, 3)")
            elif unit and not np.issubdtype(x.dtype, np.floating):
                parts["images"] = False
                problems.append(f"x_{split} is {x.dtype}, expected float")
        else:
            parts["images"] = False
            problems.append(f"x_{split} has {x.size} values ({x.dtype}), expected "
                            f"{want_x.size} numbers")
        if y.size != n or not np.issubdtype(y.dtype, np.number) \
                or not np.array_equal(y.reshape(-1), want_y):
            parts["labels"] = False
            problems.append(f"y_{split}: expected the {n} labels of the file, in order, "
                            f"as integers (got shape {y.shape}, {y.dtype})")
    fraction = sum(parts.values()) / len(parts)
    details = {"parts": parts, "samples": {s: int(len(truth[f'y_{s}'])) for s in SPLITS}}
    return verdict(where, problems, hints, fraction, details,
                   f"shapes, pixel values and labels match the files "
                   f"({details['samples']['train']} training and "
                   f"{details['samples']['test']} test images)")


def _pixel_problem(got: np.ndarray, raw: np.ndarray, unit: bool) -> str:
    span = f"values span [{got.min():.3g}, {got.max():.3g}]"
    want = "the file's bytes / 255, in [0, 1]" if unit else "the file's bytes, 0-255"
    return f"pixel values differ from {want} ({span})"
