"""Probe for PyTorch MNIST loaders: ``mnist_loaders(data_dir, batch_size,
test_batch_size) -> (train_loader, test_loader)`` over the four IDX ``.gz`` files,
batches of (float32 (B, 1, 28, 28) images, int64 (B,) labels), the images
``(pixels / 255 - MEAN) / STD``, the training loader shuffled, the test loader not.

The fixture is 40 training and 20 test noise images (fixtures.idx_dataset), read with
batch sizes 16 and 8, so both loaders end on a short batch. The capture (in
grader/build_worker/probes/torch_loaders.py) iterates one epoch of each (at most its
``MAX_BATCHES`` batches) and saves every batch's shapes and dtypes, its images and its
labels. The parent finds each image's file image by
correlation, which no affine rescaling changes, so it can tell a missing or repeated
image, a label that is not that image's, a wrong normalisation and the order apart.

Scored in four equal parts: batches (shapes, dtypes, the sizes asked for), images
(each file image once per epoch, with its own label), normalisation, order (test in
the files' order, training shuffled). Nothing is earned unless the loaders' images
are the files' images. Params: ``mean``, ``std`` (default MNIST's 0.1307, 0.3081),
``seed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grader import probe_contract as contract
from grader.parent.probes import Call, Prepared, fixtures, path_arg, verdict
from grader.protocol import CheckResult

RETURNS = contract.RETURNS["torch_loaders"]
# The capture reads the loaders in this order and names the image counts in its errors.
LOADERS, N = contract.TORCH_LOADERS, contract.TORCH_LOADER_IMAGES
BATCH = {"train": 16, "test": 8}
MATCH = 0.99  # an image is a file's image when their correlation is at least this


def prepare(folder: Path, params: dict[str, Any]) -> Prepared:
    root = folder / "idx"
    truth = fixtures.idx_dataset(root, n_train=N["train"], n_test=N["test"],
                                 seed=params.get("seed", 0))
    call = Call(args=[path_arg(root, "'<MNIST folder>'")],
                kwargs={"batch_size": BATCH["train"], "test_batch_size": BATCH["test"]})
    return Prepared(calls=[call], truth=truth)


def judge(outputs: dict[str, np.ndarray], truth: dict[str, np.ndarray],
          params: dict[str, Any], where: str) -> CheckResult:
    mean, std = params.get("mean", 0.1307), params.get("std", 0.3081)
    problems: list[str] = []
    hints: list[str] = []
    parts = dict.fromkeys(("batches", "images", "normalisation", "order"), True)
    identified = 0
    for name in LOADERS:
        raw = truth[f"x_{name}"].reshape(-1, 784).astype(np.float64)
        found = _identify(outputs[f"{name}_images"], raw)
        identified += int((found >= 0).sum())
        batch_problem = _batch_problem(outputs, name)
        if batch_problem:
            parts["batches"] = False
            problems.append(batch_problem[0])
            hints.append(batch_problem[1])
        if not bool(outputs[f"{name}_whole"]) or len(found) != len(outputs[f"{name}_labels"]) \
                or sorted(found.tolist()) != list(range(N[name])):
            parts["images"] = False
            seen, hint = _seen(found, N[name])
            problems.append(f"one epoch of the {name} loader should give each of the "
                            f"{N[name]} file images once; {seen}")
            hints.append(hint)
            continue
        if not np.array_equal(outputs[f"{name}_labels"], truth[f"y_{name}"][found]):
            parts["images"] = False
            problems.append(f"the {name} loader pairs images with labels that are not "
                            "theirs")
            hints.append("keep images and labels together: one TensorDataset(images, "
                         "labels), shuffled by the DataLoader")
        got = outputs[f"{name}_images"].astype(np.float64)
        want = (raw[found] / 255.0 - mean) / std
        if not np.allclose(got, want, atol=1e-4):
            parts["normalisation"] = False
            problems.append(f"the {name} images are not (pixels / 255 - {mean}) / {std}: "
                            f"{_scale(got, raw[found])}")
            hints.append(f"scale to [0, 1] (divide by 255), then subtract MNIST_MEAN "
                         f"({mean}) and divide by MNIST_STD ({std})")
        ordered = np.array_equal(found, np.arange(N[name]))
        if name == "test" and not ordered:
            parts["order"] = False
            problems.append("the test loader does not keep the files' order")
            hints.append("do not shuffle the test loader (shuffle=False)")
        if name == "train" and ordered:
            parts["order"] = False
            problems.append("the training loader gives the images in the files' order")
            hints.append("shuffle the training loader: DataLoader(..., shuffle=True, "
                         "generator=torch.Generator().manual_seed(seed))")
    # Not "images": details["images"] lists the PNGs a visual check keeps (keep_images).
    details = {"parts": parts, "identified": identified, "file_images": sum(N.values())}
    # Right shapes of zeros, or of some other data, read no file: nothing earned.
    fraction = sum(parts.values()) / len(parts) if identified >= sum(N.values()) / 2 else 0.0
    return verdict(where, problems, hints, fraction, details,
                   "both loaders give every file image once per epoch with its label, in "
                   "(B, 1, 28, 28) float32 / int64 batches, normalised, the training loader "
                   "shuffled")


def _identify(images: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """For each captured image, the index of the file image it is an affine rescaling
    of (correlation >= MATCH), else -1."""
    if len(images) == 0:
        return np.zeros(0, np.int64)
    z = lambda a: (a - a.mean(1, keepdims=True)) / (a.std(1, keepdims=True) + 1e-12)  # noqa: E731
    corr = z(images.astype(np.float64)) @ z(raw).T / raw.shape[1]
    best = corr.argmax(axis=1)
    return np.where(corr[np.arange(len(best)), best] >= MATCH, best, -1)


def _seen(found: np.ndarray, n: int) -> tuple[str, str]:
    """What an epoch gave instead of each image once, and the fix."""
    counts = np.bincount(found[found >= 0], minlength=n)
    unknown = int((found < 0).sum())
    text = f"{int((counts == 0).sum())} never came, {int((counts > 1).sum())} came more " \
           "than once"
    if unknown:
        return (f"{text}, {unknown} match none of the file's images",
                "read the pixels as the file stores them: skip the 16-byte header, "
                "reshape to (N, 28, 28) row by row, no transposing")
    if (counts > 1).any():
        return text, "let the DataLoader shuffle (shuffle=True), not a sampler with replacement"
    return text, "keep the last, shorter batch (no drop_last) and read every image of the file"


def _batch_problem(outputs: dict[str, np.ndarray], name: str) -> tuple[str, str] | None:
    """What is wrong with a loader's batch shapes or dtypes, and the fix; or None."""
    shapes, dtypes = outputs[f"{name}_shapes"], outputs[f"{name}_dtypes"]
    n, size = N[name], BATCH[name]
    want = [min(size, n - start) for start in range(0, n, size)]
    images = [tuple(int(d) for d in s[0][1:1 + s[0][0]]) for s in shapes]
    labels = [tuple(int(d) for d in s[1][1:1 + s[1][0]]) for s in shapes]
    if images != [(b, 1, 28, 28) for b in want] or labels != [(b,) for b in want]:
        problem = (f"the {name} batches' shapes are images {_short(images)}, labels "
                   f"{_short(labels)}; expected {_short([(b, 1, 28, 28) for b in want])} "
                   f"and {_short([(b,) for b in want])} with {name} batch size {size}")
        if images == [(b, 1, 28, 28) for b in want[:-1]]:
            return problem, "keep the last, shorter batch: no drop_last=True"
        return problem, ("images (B, 1, 28, 28) (unsqueeze(1) adds the channel), labels "
                         "(B,), and the batch_size / test_batch_size arguments as the "
                         "DataLoaders' batch sizes")
    wrong = {str(d) for d in dtypes[:, 0]} - {"torch.float32"} \
        | {str(d) for d in dtypes[:, 1]} - {"torch.int64"}
    if wrong:
        return (f"the {name} batches hold {', '.join(sorted(wrong))}; expected "
                "torch.float32 images and torch.int64 labels",
                "make tensors: images torch.from_numpy(x.astype('float32')), labels "
                "torch.from_numpy(y.astype('int64'))")
    return None


def _short(shapes: list[tuple[int, ...]]) -> str:
    text = ", ".join(map(str, shapes[:4]))
    return f"[{text}{', ...' if len(shapes) > 4 else ''}]"


def _scale(got: np.ndarray, raw: np.ndarray) -> str:
    slope, offset = np.polyfit(raw.reshape(-1), got.reshape(-1), 1)
    return f"they are about pixels / {1 / slope:.4g} {offset + 0.0:+.4f}"
