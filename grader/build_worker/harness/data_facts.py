"""What data a fit/evaluate/predict call was given, as plain facts, and a first batch
of it for the stand-ins (to build a model that is not built yet, to size predict's
answer)."""

from __future__ import annotations

import sys
from typing import Any


class Provenance:
    """Facts about data objects the run made through a stand-in, by object: an
    ``ImageDataGenerator(...).flow(...)`` iterator remembers its generator's
    augmentation settings. Objects are held for the run only."""

    def __init__(self) -> None:
        self._facts: dict[int, tuple[Any, dict[str, Any]]] = {}

    def remember(self, obj: Any, facts: dict[str, Any]) -> None:
        self._facts[id(obj)] = (obj, facts)

    def facts_of(self, obj: Any) -> dict[str, Any] | None:
        found = self._facts.get(id(obj))
        return found[1] if found is not None and found[0] is obj else None


def _shape(value: Any) -> list[int | None] | None:
    shape = getattr(value, "shape", None)
    if shape is None:
        return None
    try:
        return [None if d is None else int(d) for d in tuple(shape)]
    except (TypeError, ValueError):
        return None


def _dtype(value: Any) -> str:
    dtype = getattr(value, "dtype", None)
    return str(getattr(dtype, "name", dtype))


def _is_array(value: Any) -> bool:
    return _shape(value) is not None and hasattr(value, "dtype")


def _is_dataset(value: Any) -> bool:
    tf = sys.modules.get("tensorflow")
    dataset = getattr(getattr(tf, "data", None), "Dataset", None)
    return isinstance(dataset, type) and isinstance(value, dataset)


def describe(value: Any, provenance: Provenance | None = None, depth: int = 0) -> Any:
    """JSON-able facts: ``{"shape": [64, 28, 28], "dtype": "uint8"}`` for an array,
    lists and dicts of those for several inputs, ``{"kind": ...}`` for a dataset, a
    generator or a Keras data iterator (with what made it, when a stand-in saw that)."""
    if value is None:
        return None
    if _is_array(value):
        return {"shape": _shape(value), "dtype": _dtype(value)}
    if isinstance(value, (list, tuple)) and depth < 2 and len(value) <= 16:
        if all(_is_array(v) or isinstance(v, (list, tuple, dict)) for v in value) and value:
            return [describe(v, provenance, depth + 1) for v in value]
    if isinstance(value, dict) and depth < 2 and len(value) <= 16:
        return {str(k): describe(v, provenance, depth + 1) for k, v in value.items()}
    facts: dict[str, Any] = {"kind": type(value).__name__}
    made = provenance.facts_of(value) if provenance is not None else None
    if made:
        facts.update(made)
    if _is_dataset(value):
        try:
            import keras

            facts["element"] = keras.tree.map_structure(
                lambda spec: {"shape": _shape(spec), "dtype": _dtype(spec)}, value.element_spec)
        except Exception:
            pass
    elif isinstance(value, list) and value and isinstance(value[0], (int, float)):
        facts["length"] = len(value)
    for attr in ("batch_size", "n", "samples"):
        got = getattr(value, attr, None)
        if isinstance(got, int) and attr not in facts:
            facts[attr] = got
    return facts


def first_batch(x: Any, y: Any = None) -> tuple[Any, Any] | None:
    """``(inputs, targets)`` of one batch of ``x`` (arrays, a list or dict of arrays;
    targets may be None), or None when ``x`` is not data the harness knows how to look
    into. A Python generator gives up one batch for it; nothing else is consumed."""
    if first_batch_is_all(x):
        return x, y
    if isinstance(x, (list, tuple)):
        return None
    try:
        if _is_dataset(x):
            element = next(iter(x.take(1)))
        elif hasattr(x, "__getitem__") and hasattr(x, "__len__"):
            element = x[0]  # a keras.utils.PyDataset / Sequence, an ImageDataGenerator flow
        elif hasattr(x, "__next__"):
            element = next(x)
        else:
            return None
    except Exception:
        return None
    targets = None
    if isinstance(element, tuple):
        element, targets = (element[0] if element else None,
                            element[1] if len(element) > 1 else None)
    return (element, targets) if first_batch_is_all(element) else None


def leading(batch: Any, n: int = 1) -> Any:
    """The first ``n`` samples of a batch (arrays, lists or dicts of them). An empty
    array gives ``n`` zero samples of its shape instead: the synthetic data is small,
    and a script that slices it by the real dataset's sizes (``x[:-5000]``) may leave
    nothing, which must not make the model's first call fail where real data would
    not."""
    import keras
    import numpy as np

    def first(a: Any) -> Any:
        shape = getattr(a, "shape", None)
        if shape is not None and len(shape) > 0 and shape[0] == 0:
            return np.zeros((n, *shape[1:]), dtype=getattr(a, "dtype", "float32"))
        return a[:n]

    return keras.tree.map_structure(first, batch)


def batch_length(batch: Any) -> int | None:
    """How many samples a batch holds (its first array's first dimension)."""
    import keras

    for leaf in keras.tree.flatten(batch):
        shape = _shape(leaf)
        if shape and shape[0] is not None:
            return shape[0]
    return None


def sample_count(x: Any, steps: int | None, batch: Any) -> int:
    """How many samples predict would go through for ``x`` (whose first batch is
    ``batch``): the array's length, an iterator's ``n``, batches times batch size,
    ``steps`` batches when given."""
    if first_batch_is_all(x):
        return int(batch_length(x) or 1)
    per_batch = (batch_length(batch) or 1) if batch is not None else 1
    if steps:
        return int(steps) * per_batch
    n = getattr(x, "n", None)
    if isinstance(n, int):
        return n
    if _is_dataset(x):
        return _dataset_samples(x, per_batch)
    if hasattr(x, "__len__") and hasattr(x, "__getitem__"):
        try:
            return per_batch * len(x)
        except TypeError:
            pass
    return per_batch


def _dataset_samples(dataset: Any, per_batch: int, most_batches: int = 200) -> int:
    """Samples in a (small) dataset, counted batch by batch; for a longer or endless
    one, its cardinality times the first batch's size, or just that batch."""
    try:
        cardinality = int(dataset.cardinality())
    except Exception:
        cardinality = -1
    if 0 < cardinality <= most_batches:
        try:
            total = 0
            for element in dataset:
                inputs = element[0] if isinstance(element, tuple) else element
                total += batch_length(inputs) or 0
            return total or per_batch
        except Exception:
            pass
    return per_batch * cardinality if 0 < cardinality <= 10_000 else per_batch


def first_batch_is_all(x: Any) -> bool:
    """Whether ``x`` is in-memory data (arrays, lists or dicts of them): all of it is
    one "batch" to the harness."""
    if _is_array(x) or isinstance(x, dict):
        return True
    return isinstance(x, (list, tuple)) and bool(x) and all(_is_array(v) for v in x)
