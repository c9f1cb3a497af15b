"""Pretrained weights files a task needs (VGG16's ImageNet convolution base for
cs577's fine-tuning schedule), found on disk like datasets. Nothing downloads.

A spec names one as ``"$weights:NAME"`` in a student-trained accuracy check's
``builder_kwargs``; the parent resolves it to a copy in the build worker's
scratch space (the data folders themselves are hidden from that process). A
missing file skips the check with the fix in its message, as a missing
dataset does.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from grader.data.locations import keras_cache, search_roots
from grader.data.source import not_found

PLACEHOLDER = "$weights:"

#: Name -> the file name Keras' own applications cache it under.
WEIGHTS = {
    "vgg16-notop": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
}


def _roots(data_dir: str | os.PathLike | None) -> list[Path]:
    # Keras keeps application weights in ~/.keras/models, beside its datasets cache.
    return [*search_roots(data_dir), keras_cache().parent / "models"]


def locate_weights(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The weights file ``name``; raises `grader.data.DatasetMissing` naming the fix."""
    if name not in WEIGHTS:
        raise ValueError(f"unknown weights {name!r}; known: {', '.join(WEIGHTS)}")
    filename = WEIGHTS[name]
    roots = _roots(data_dir)
    for root in roots:
        if (root / filename).is_file():
            return root / filename
    raise not_found("weights", name, filename, roots,
                    f"copy {filename} (Keras' VGG16 notop weights, from the keras-applications "
                    "release your course hands out) into $GRADER_DATA/")


def resolve_weights(kwargs: dict, scratch: str | os.PathLike,
                    data_dir: str | os.PathLike | None = None) -> dict:
    """``kwargs`` with every ``"$weights:NAME"`` value replaced by the path of a
    copy under ``scratch``. A copy, not a hard link: student code runs beside it,
    and writing through a link would change the course's file for every student."""
    resolved = {}
    for key, value in kwargs.items():
        if isinstance(value, str) and value.startswith(PLACEHOLDER):
            source = locate_weights(value[len(PLACEHOLDER):], data_dir)
            target = Path(scratch) / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                shutil.copyfile(source, target)
            value = str(target)
        resolved[key] = value
    return resolved
