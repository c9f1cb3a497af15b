"""Probe for a function that builds datasets from class-per-folder image directories
(``keras.utils.image_dataset_from_directory`` and the like), e.g.
``make_datasets(data_dir) -> (train, validation, test)``.

Params:
- ``layout``: "root" (one folder argument with a subfolder per split) or "per_split"
  (one folder argument per split, in the order of ``splits``);
- ``splits``: the split folder names; ``classes``: the class folder names (label k is
  the k-th name in alphabetical order);
- ``returned``: what the function returns, in order: split names (that split's
  dataset) and ``"class_names"`` (the list of class names);
- ``image_size``: [height, width] every image must have; ``kwargs``: keyword
  arguments of the call (e.g. {"image_size": [64, 48], "batch_size": 4}), so a
  function that ignores its arguments shows;
- ``scale``: "unit" (pixels in [0, 1]) or "bytes" (0-255);
- ``labels``: the label forms accepted, the contract's first: "binary" (batch, 1)
  0/1, "sparse" (batch,) integers, "categorical" (batch, classes) one-hot;
- ``per_class`` (files per class and split, default 3), ``seed``.

The fixture is small JPEGs of another size than ``image_size``, one solid colour per
class plus noise, with a different green level per file: each image a dataset yields
is traced back to its file by its mean colour, whatever the order or batching. Each
split earns four equal parts (every file once, image size, pixel scale, labels that
agree with the image's folder), and returned class names one more. A split none of
whose images is a fixture file earns nothing, and class names count only where
some file was read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grader import probe_contract as contract
from grader.parent.probes import Call, Prepared, fixtures, path_arg, verdict
from grader.protocol import CheckResult

RETURNS = contract.RETURNS["image_folders"]
# A mean colour within this many levels (0-255) of a file's is that file: JPEG
# decoding and resizing move a mean by about 1, files of a class differ by 18 or more.
TOLERANCE = 8.0
# How pixel values map back to 0-255 under each scale a student may have used.
SCALES = {"unit": 255.0, "bytes": 1.0, "twice": 255.0 * 255.0}
PARTS = ("files", "size", "scale", "labels")


def prepare(folder: Path, params: dict[str, Any]) -> Prepared:
    root = folder / "images"
    truth = fixtures.image_folders(root, params["splits"], params["classes"],
                                   per_class=params.get("per_class", 3),
                                   seed=params.get("seed", 0))
    if params["layout"] == "root":
        args = [path_arg(root, "'<data folder>'")]
    else:
        args = [path_arg(root / s, f"'<{s} folder>'") for s in params["splits"]]
    return Prepared(calls=[Call(args=args, kwargs=dict(params.get("kwargs", {})))],
                    truth=truth)


def _identify(means: np.ndarray, truth: dict[str, np.ndarray], prefer: str
              ) -> tuple[str, np.ndarray]:
    """(the scale the pixels are in, each image's file index or -1): the scale under
    which most images are some fixture file, the contracted one on a tie."""
    best = (prefer, np.full(len(means), -1))
    if means.ndim != 2 or means.shape[1] != 3 or not len(means):
        return best
    for scale in (prefer, *[s for s in SCALES if s != prefer]):
        distance = np.abs(means[:, None, :] * SCALES[scale] - truth["means"][None]).max(-1)
        ids = np.where(distance.min(1) < TOLERANCE, distance.argmin(1), -1)
        if (ids >= 0).sum() > (best[1] >= 0).sum():
            best = (scale, ids)
    return best


def _decode_labels(labels: np.ndarray, rank: int, n_classes: int) -> tuple[str, np.ndarray]:
    """(the labels' form, one class index per image; -1 where none reads)."""
    if rank == 0 or labels.shape[1] == 1:
        values = labels.reshape(-1)
        whole = np.where(values == np.round(values), values, -1).astype(np.int64)
        form = "sparse" if rank == 0 else "binary"
        return form, whole
    if labels.shape[1] == n_classes:
        one_hot = np.isin(labels, (0, 1)).all(1) & (labels.sum(1) == 1)
        return "categorical", np.where(one_hot, labels.argmax(1), -1)
    return f"width {labels.shape[1]}", np.full(len(labels), -1)


LABEL_FORMS = {"binary": "(batch, 1) floats 0/1", "sparse": "(batch,) integers",
               "categorical": "(batch, classes) one-hot"}
LABEL_HINTS = {"binary": "label_mode='binary' gives (batch, 1) float labels for a sigmoid "
                         "output",
               "sparse": "label_mode='int' (the default) gives (batch,) integer labels for "
                         "sparse_categorical_crossentropy",
               "categorical": "label_mode='categorical' gives one-hot labels"}


def judge(outputs: dict[str, np.ndarray], truth: dict[str, np.ndarray],
          params: dict[str, Any], where: str) -> CheckResult:
    splits, scale = params["splits"], params.get("scale", "unit")
    order = sorted(params["classes"])
    size = (*params["image_size"], 3)
    hints: list[str] = []
    parts: dict[str, dict[str, float]] = {}
    by_problem: dict[str, list[str]] = {}  # the same problem in several splits, said once
    for s, split in enumerate(splits):
        if split not in params["returned"]:
            continue
        if f"{split}_means" not in outputs:
            found, split_problems, split_hints = dict.fromkeys(PARTS, 0.0), ["no images"], []
        else:
            found, split_problems, split_hints = _judge_split(
                outputs, truth, params, split, s, scale, order, size)
        parts[split] = found
        if split_problems:
            by_problem.setdefault(", ".join(split_problems), []).append(split)
        hints.extend(split_hints)
    problems = [f"{', '.join(names)}: {problem}" for problem, names in by_problem.items()]
    read_any = any(any(p.values()) for p in parts.values())
    earned = sum(sum(p.values()) for p in parts.values())
    total = len(PARTS) * len(parts)
    if "class_names" in params["returned"]:
        total += 1
        names = [str(n) for n in outputs.get("class_names", np.array([], str))]
        if names == order and read_any:
            earned += 1
        elif names != order:
            problems.append(f"class_names is {names}, expected {order}")
            hints.append("return the class names in label order (alphabetical folder names), "
                         "e.g. train.class_names")
    details = {"parts": parts, "files_per_split": int(params.get("per_class", 3) * len(order))}
    pixels = "[0, 1]" if scale == "unit" else "0-255"
    return verdict(where, problems, hints, earned / max(total, 1), details,
                   f"{', '.join(splits)} each yield every file once, as {size[0]}x{size[1]}x3 "
                   f"images in {pixels} with labels matching their folders "
                   f"({', '.join(order)})")


def _judge_split(outputs: dict[str, np.ndarray], truth: dict[str, np.ndarray],
                 params: dict[str, Any], split: str, s: int, scale: str,
                 order: list[str], size: tuple[int, ...]
                 ) -> tuple[dict[str, float], list[str], list[str]]:
    """One split's parts (files, size, scale, labels), problems and hints."""
    means = outputs[f"{split}_means"]
    shapes = outputs[f"{split}_shape"]
    found = dict.fromkeys(PARTS, 0.0)
    problems: list[str] = []
    hints: list[str] = []
    if shapes.size and (shapes[:, -1] != 3).any():
        shape = next(tuple(int(d) for d in row) for row in shapes if row[-1] != 3)
        return found, [f"images of shape {shape}, expected {size} (RGB), so none could be "
                       "matched to its file"], ["use color_mode='rgb' (the default)"]
    used, ids = _identify(means, truth, scale)
    if not (ids >= 0).any():
        if not len(means):
            return found, ["the dataset yields no images"], []
        low, high = outputs[f"{split}_min"].min(), outputs[f"{split}_max"].max()
        return found, [f"none of its {len(means)} images is one of the folder's files "
                       f"(pixel values span [{low:.3g}, {high:.3g}])"], \
            ["yield each split's images as read from its folder, changed only by "
             "resizing and scaling"]
    mine = np.flatnonzero(truth["split"] == s)
    counts = np.bincount(ids[ids >= 0], minlength=len(truth["means"]))
    missing = int((counts[mine] == 0).sum())
    twice = int((counts[mine] > 1).sum())
    others = sorted({params["splits"][truth["split"][i]] for i in ids[ids >= 0]} - {split})
    unknown = int((ids < 0).sum())
    if missing:
        problems.append(f"{missing} of its {len(mine)} files never appear")
    if twice:
        problems.append(f"{twice} files appear more than once")
        if outputs[f"{split}_capped"]:
            hints.append("iterate each dataset once: no .repeat() (Keras repeats per epoch)")
    if others:
        problems.append(f"it yields images of the {', '.join(others)} folder")
        hints.append("read each split from its own folder")
    if unknown:
        problems.append(f"{unknown} images match none of its files")
    found["files"] = float(not (missing or twice or others or unknown))
    bad = {tuple(int(d) for d in row) for row in shapes} - {size}
    if bad:
        problems.append(f"images of shape {sorted(bad)[0]}, expected {size}")
        hints.append(f"pass image_size to image_dataset_from_directory: the function's "
                     f"image_size argument, here {list(size[:2])}")
    else:
        found["size"] = 1.0
    found["scale"] = _judge_scale(outputs, split, scale, used, problems, hints)
    found["labels"] = _judge_labels(outputs, truth, params, split, ids, order, problems, hints)
    return found, problems, hints


def _judge_scale(outputs: dict[str, np.ndarray], split: str, scale: str, used: str,
                 problems: list[str], hints: list[str]) -> float:
    low, high = outputs[f"{split}_min"].min(), outputs[f"{split}_max"].max()
    top = 1.0 if scale == "unit" else 255.0
    if used == scale and low >= -1e-3 and high <= top + 1e-3:
        return 1.0
    pixels = "[0, 1]" if scale == "unit" else "0-255"
    problems.append(f"pixel values span [{low:.3g}, {high:.3g}], expected {pixels}")
    if used == "twice":
        hints.append("divide the pixels by 255 once: image_dataset_from_directory yields "
                     "0-255, and nothing else may rescale them")
    elif scale == "unit":
        hints.append("divide the pixels by 255, e.g. dataset.map(lambda x, y: (x / 255.0, y))")
    else:
        hints.append("do not rescale the pixels: keep them 0-255 (the model's Rescaling "
                     "layer divides by 255)")
    return 0.0


def _judge_labels(outputs: dict[str, np.ndarray], truth: dict[str, np.ndarray],
                  params: dict[str, Any], split: str, ids: np.ndarray, order: list[str],
                  problems: list[str], hints: list[str]) -> float:
    accepted = params.get("labels", ["sparse"])
    form, values = _decode_labels(outputs[f"{split}_labels"],
                                  int(outputs[f"{split}_label_rank"]), len(order))
    known = ids >= 0
    want = truth["cls"][ids[known]]
    got = values[known]
    if not np.array_equal(got, want):
        wrong = int((got != want).sum())
        problems.append(f"{wrong} of {len(want)} labels disagree with the image's folder")
        if len(order) == 2 and np.array_equal(got, 1 - want):
            hints.append(f"number the classes in alphabetical order of their folders "
                         f"({order[0]} = 0, {order[1]} = 1)")
        else:
            hints.append("keep each label with its image (shuffle images and labels "
                         "together); class k is the k-th folder name alphabetically")
        return 0.0
    if form not in accepted:
        problems.append(f"labels are {form}, expected {LABEL_FORMS[accepted[0]]}")
        hints.append(LABEL_HINTS[accepted[0]])
        return 0.5
    return 1.0
