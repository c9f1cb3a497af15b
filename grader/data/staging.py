"""Writing a prepared dataset so that it appears whole or not at all."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged(folder: Path) -> Iterator[Path]:
    """A fresh ``FOLDER.partial`` beside ``folder`` to write into. When the block
    ends normally it replaces ``folder``; on any error (a full disk, a damaged
    archive, Ctrl-C) it is removed, so a reader never finds half a dataset.

    The folder is made before the block runs: an unwritable ``--data-dir``
    fails at once, not after minutes of screening an archive."""
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
