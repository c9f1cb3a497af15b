"""Keeps the visual checks' images before the scratch space is removed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any


def _plain_png(path: Path) -> bool:
    """A regular file (not a link: the folder is one the build worker could write, and a
    link there could name any file of the grader's user) that is a PNG."""
    import stat

    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return False
        with path.open("rb") as fh:
            return fh.read(8) == b"\x89PNG\r\n\x1a\n"
    except OSError:
        return False


def keep_images(tasks: list[Any], dest: str | Path) -> None:
    """Parent side, before the scratch space is removed: copies the PNGs that
    the visual checks list in ``details["images"]`` to ``dest/<task id>/`` and
    points the details at the copies. ``tasks`` are the pipeline's outcomes
    (each with ``.task`` and ``.checks``)."""
    for outcome in tasks:
        # Only the visual check's details list image files; other checks may use the
        # same key for a count (a probe's "images" seen).
        result = (outcome.checks or {}).get("visual")
        images = ((result or {}).get("details") or {}).get("images")
        if not isinstance(images, list) or not images:
            continue
        target = Path(dest) / outcome.task["id"]
        target.mkdir(parents=True, exist_ok=True)
        kept = []
        for image in images:
            source = Path(image)
            if _plain_png(source):
                shutil.copyfile(source, target / source.name, follow_symlinks=False)
                kept.append(str((target / source.name).resolve()))
        result["details"]["images"] = kept
        if kept:
            result["message"] = result.get("message", "") + f"; images in {target}"
