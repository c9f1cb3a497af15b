"""torch_loaders, build half: one epoch of each DataLoader returned, its batches'
shapes and dtypes, its images and its labels (``<loader>_shapes`` and so on; the
parent half, grader/parent/probes/torch_loaders.py, finds each image's file image)."""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.build_worker.probes import ProbeMismatch
from grader.probe_contract import TORCH_LOADER_IMAGES, TORCH_LOADERS

MAX_BATCHES = 100  # a loader that never ends (a sampler with replacement) stops here


def capture(returned: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    value = returned[0]
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ProbeMismatch(f"returned {type(value).__name__}; return (train_loader, "
                            "test_loader)")
    out: dict[str, Any] = {}
    for name, loader in zip(TORCH_LOADERS, value, strict=True):
        out.update({f"{name}_{k}": v for k, v in _epoch(name, loader).items()})
    return out


def _epoch(name: str, loader: Any) -> dict[str, Any]:
    """One pass over a loader: per batch, the shapes (-1 padded to 5 numbers, the
    first the number of dimensions) and dtypes; all images as rows of 784 where the
    batch holds whole images, and all labels."""
    shapes, dtypes, images, labels = [], [], [], []
    try:
        batches = iter(loader)
    except TypeError:
        raise ProbeMismatch(f"returned a {type(loader).__name__} as the {name} loader, "
                            "which cannot be iterated; return a DataLoader") from None
    for index, batch in enumerate(batches):
        if index == MAX_BATCHES:
            raise ProbeMismatch(f"gave more than {MAX_BATCHES} batches for "
                                f"{TORCH_LOADER_IMAGES[name]} images from its {name} loader; "
                                "batch them with the batch size passed in")
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ProbeMismatch(f"gave a {type(batch).__name__} as a {name} batch; "
                                "each batch must be a pair (images, labels)")
        x, y = (_numbers(part) for part in batch)
        shapes.append([[a.ndim, *a.shape, -1, -1, -1, -1][:5] for a in (x, y)])
        dtypes.append([str(getattr(part, "dtype", type(part).__name__)) for part in batch])
        if x.size % 784 == 0 and np.issubdtype(x.dtype, np.number):
            images.append(x.reshape(-1, 784).astype(np.float32))
        if np.issubdtype(y.dtype, np.number):
            labels.append(y.reshape(-1).astype(np.int64))
    return {"shapes": np.array(shapes, np.int64).reshape(-1, 2, 5),
            "dtypes": np.array(dtypes, str).reshape(-1, 2),
            "images": np.concatenate(images) if images else np.zeros((0, 784), np.float32),
            "labels": np.concatenate(labels) if labels else np.zeros(0, np.int64),
            "whole": np.array(len(images) == len(shapes) and len(labels) == len(shapes))}


def _numbers(part: Any) -> np.ndarray:
    if hasattr(part, "detach"):  # a tensor: NumPy reads it only off the graph, on the CPU
        part = part.detach().cpu()
    return np.asarray(part)
