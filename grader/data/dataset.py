"""The in-memory form every loader returns, and the errors loaders raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported lazily so `grader --help` stays light.
    import numpy as np


class DatasetMissing(LookupError):
    """A dataset is not on disk. The message says where it was looked for and
    the exact command (or system package) that would put it there; a check
    that needs it is skipped with this message, never failed."""

    def __init__(self, name: str, message: str, prepare: str) -> None:
        super().__init__(message)
        self.name = name
        self.prepare = prepare


class DatasetCorrupt(ValueError):
    """A dataset's files exist but do not parse as the format they claim to be."""


@dataclass
class Dataset:
    """One dataset, split and in memory.

    Images are ``uint8`` arrays shaped ``(N, H, W, C)``, channels-last, even for
    grey-scale data (Fashion-MNIST is ``(60000, 28, 28, 1)``); the trainer scales
    them to ``float32`` in ``[0, 1]``. Labels are 1-D ``int64`` class indices into
    ``class_names`` (CIFAR-10's ``(N, 1)`` Keras shape is flattened).
    ``x_val``/``y_val`` are set only where the dataset ships its own validation
    split (cats-dogs after ``grader data prepare``, chest-xray); otherwise the
    trainer carves one out of the training split with a fixed seed.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def sizes(self) -> dict[str, int]:
        out = {"train": len(self.y_train), "test": len(self.y_test)}
        if self.y_val is not None:
            out["validation"] = len(self.y_val)
        return out
