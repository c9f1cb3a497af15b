"""A small slice of the real Fashion-MNIST, written as the IDX files the grader reads,
for tests that train for real in seconds."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest


def small_fashion_mnist(folder: Path, train: int = 600, test: int = 100) -> None:
    """The first ``train`` training and ``test`` test images of the real Fashion-MNIST
    (Debian's dataset-fashion-mnist), as IDX files in ``folder/fashion-mnist``; skips
    the test when the package is not installed."""
    from grader.data import DatasetMissing, load_dataset
    from grader.parent.probes.fixtures import idx_bytes  # the IDX writer tests/data uses

    try:
        real = load_dataset("fashion-mnist", folder / "none")
    except DatasetMissing:
        pytest.skip("Debian's dataset-fashion-mnist is not installed (scripts/setup.sh)")
    (folder / "fashion-mnist").mkdir(parents=True)
    for stem, array in (("train-images-idx3-ubyte", real.x_train[:train, ..., 0]),
                        ("train-labels-idx1-ubyte", real.y_train[:train].astype(np.uint8)),
                        ("t10k-images-idx3-ubyte", real.x_test[:test, ..., 0]),
                        ("t10k-labels-idx1-ubyte", real.y_test[:test].astype(np.uint8))):
        (folder / "fashion-mnist" / f"{stem}.gz").write_bytes(gzip.compress(idx_bytes(array)))
