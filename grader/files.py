"""Atomic file writes: a reader (a Slurm task, `grader collect`, an LMS import) sees the
old file or the whole new one, never half of one, and a failed write leaves no litter.

Each write goes to a uniquely named temporary file in the target's own folder (so
two processes writing the same path on a shared filesystem never share a temporary
file, and the final rename stays on one filesystem), then replaces the target.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def write_atomic(path: str | os.PathLike, content: str | bytes | Callable[[IO], Any],
                 mode: int = 0o644) -> Path:
    """Writes ``content`` (text, bytes, or a function that writes to an open text
    file) to ``path`` atomically, creating its folder, with permissions ``mode``
    (results are for everyone; mkstemp alone would make them private)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        binary = isinstance(content, bytes)
        with os.fdopen(fd, "wb" if binary else "w",
                       **({} if binary else {"encoding": "utf-8", "newline": ""})) as handle:
            if callable(content):
                content(handle)
            else:
                handle.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """``data`` as indented JSON (anything JSON cannot hold written as its str)."""
    return write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")
