"""image_folders, build half: reads the datasets returned and saves, per split, each
image's shape, mean colour, pixel range and label (``<split>_means`` and so on), and
the class names (the parent half, grader/parent/probes/image_folders.py, traces each
image back to its fixture file by its mean colour)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from grader.build_worker.probes import ProbeMismatch, form

# Enough batches for any fixture split even at batch size 1, and a stop for a
# dataset that repeats forever.
MAX_BATCHES = 100


def _shape_words(params: dict[str, Any]) -> str:
    return f"({', '.join(params['returned'])})"


def capture(returned: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    value, names = returned[0], params["returned"]
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        raise ProbeMismatch(f"returned {form(value)}; return {_shape_words(params)}")
    per_split = params.get("per_class", 3) * len(params["classes"])
    out: dict[str, Any] = {}
    for name, item in zip(names, value, strict=True):
        if name == "class_names":
            out["class_names"] = _class_names(item)
        else:
            out.update(_read_split(name, item, limit=2 * per_split + 8))
    return out


def _class_names(item: Any) -> np.ndarray:
    if isinstance(item, (str, bytes)) or not hasattr(item, "__iter__"):
        raise ProbeMismatch(f"returned class_names as {type(item).__name__}; return the list "
                            "of class names (e.g. train.class_names)")
    names = [c.decode(errors="replace") if isinstance(c, bytes) else str(c)
             for c in list(item)[:100]]
    return np.array([n[:100] for n in names], dtype=str)


def _batches(name: str, dataset: Any):
    """The batches of a tf.data.Dataset, a keras PyDataset or any iterable."""
    keras = sys.modules.get("keras")  # a PyDataset exists only if keras is loaded
    if keras is not None and isinstance(dataset, keras.utils.PyDataset):
        for i in range(min(len(dataset), MAX_BATCHES + 1)):
            yield dataset[i]
        return
    try:
        iterator = iter(dataset)
    except TypeError:
        raise ProbeMismatch(f"returned {type(dataset).__name__} as the {name} dataset; "
                            "return a tf.data.Dataset of (images, labels) batches") from None
    yield from iterator


def _read_split(name: str, dataset: Any, limit: int) -> dict[str, Any]:
    shapes, means, lows, highs, labels = [], [], [], [], []
    label_rank, floating, batches = 0, True, 0
    for batch in _batches(name, dataset):
        if batches == MAX_BATCHES or len(means) >= limit:
            break
        batches += 1
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ProbeMismatch(f"the {name} dataset yields {type(batch).__name__}; yield "
                                "(images, labels) batches")
        x, y = np.asarray(batch[0]), np.asarray(batch[1])
        if x.ndim != 4:
            fix = "; batch them (pass batch_size)" if x.ndim == 3 else ""
            raise ProbeMismatch(f"the {name} dataset yields images of shape {x.shape}; yield "
                                f"batches of shape (batch, height, width, 3){fix}")
        if not np.issubdtype(x.dtype, np.number) or len(y) != len(x) \
                or not np.issubdtype(y.dtype, np.number):
            raise ProbeMismatch(f"the {name} dataset yields {len(x)} images ({x.dtype}) with "
                                f"{len(y)} labels ({y.dtype}); yield one number label per "
                                "image")
        if means and x.shape[-1] != means[-1].shape[-1]:
            raise ProbeMismatch(f"the {name} dataset's batches differ in channels")
        values = x.reshape(len(x), -1, x.shape[-1]).astype(np.float64)
        shapes.extend([x.shape[1:]] * len(x))
        means.extend(values.mean(axis=1))
        lows.extend(values.min(axis=(1, 2)))
        highs.extend(values.max(axis=(1, 2)))
        labels.extend(y.reshape(len(y), -1).astype(np.float64))
        label_rank = y.ndim - 1
        floating = floating and np.issubdtype(x.dtype, np.floating)
    if labels and len({row.shape for row in labels}) > 1:
        raise ProbeMismatch(f"the {name} dataset's labels differ in shape between batches")
    return {f"{name}_shape": np.array(shapes, dtype=np.int64).reshape(-1, 3),
            f"{name}_means": np.array(means).reshape(len(means), -1),
            f"{name}_min": np.array(lows), f"{name}_max": np.array(highs),
            f"{name}_labels": np.array(labels).reshape(len(labels), -1),
            f"{name}_label_rank": np.array(label_rank),
            f"{name}_float": np.array(floating),
            f"{name}_capped": np.array(batches == MAX_BATCHES or len(means) >= limit)}
