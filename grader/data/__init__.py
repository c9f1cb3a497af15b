"""Dataset loaders for the real on-disk formats. Nothing here downloads.

Public interface (used by the verify worker, `grader data`, `grader reference`):

``load_dataset(name, data_dir=None, **options) -> Dataset``
    Finds ``name`` (one of `DATASET_NAMES`) under the search roots (see
    `grader.data.locations`) and loads it. Images are ``uint8`` ``(N, H, W, C)``
    channels-last; labels 1-D ``int64``. Raises `DatasetMissing`, whose message
    holds the exact command or system package that would provide the data.
    Image-folder datasets accept ``image_size=(h, w)`` and ``limit=N``.

``locate(name, data_dir=None) -> Found`` finds without loading.
"""

from __future__ import annotations

import os

from grader.data.cats_dogs import CatsDogs
from grader.data.chest_xray import ChestXray
from grader.data.cifar10 import Cifar10
from grader.data.dataset import Dataset, DatasetCorrupt, DatasetMissing
from grader.data.locations import search_roots
from grader.data.mnist_family import FashionMnist, Mnist
from grader.data.source import Found, Source, Verification

SOURCES: dict[str, Source] = {
    s.name: s for s in (FashionMnist(), Mnist(), Cifar10(), CatsDogs(), ChestXray())
}
DATASET_NAMES = tuple(SOURCES)

__all__ = [
    "DATASET_NAMES", "SOURCES", "Dataset", "DatasetCorrupt", "DatasetMissing", "Found",
    "Source", "Verification", "load_dataset", "locate", "source", "search_roots",
]


def source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r}; known: {', '.join(DATASET_NAMES)}"
        ) from None


def locate(name: str, data_dir: str | os.PathLike | None = None) -> Found:
    """Where ``name`` is on disk; raises `DatasetMissing` when it is nowhere."""
    src = source(name)
    roots = search_roots(data_dir)
    found = src.find(roots)
    if found is None:
        raise src.missing(roots)
    return found


def load_dataset(name: str, data_dir: str | os.PathLike | None = None,
                 **options: object) -> Dataset:
    """Loads dataset ``name`` from the first search root that holds it."""
    src = source(name)
    return src.load(locate(name, data_dir), **options)
