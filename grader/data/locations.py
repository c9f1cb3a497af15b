"""Where datasets are looked for, in order.

1. ``--data-dir`` (the ``data_dir`` argument),
2. ``$GRADER_DATA``,
3. the Keras cache (``$KERAS_HOME/datasets``, default ``~/.keras/datasets``),
4. system locations (``/usr/share/datasets``, where Debian's
   ``dataset-fashion-mnist`` puts ``fashion-mnist/``).

Each dataset module knows the sub-folder and file names it looks for under
each of these roots. Nothing here downloads anything.
"""

from __future__ import annotations

import os
from pathlib import Path

SYSTEM_ROOTS = (Path("/usr/share/datasets"), Path("/usr/local/share/datasets"))


def keras_cache() -> Path:
    home = os.environ.get("KERAS_HOME")
    base = Path(home) if home else Path.home() / ".keras"
    return base / "datasets"


def search_roots(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The roots to search, most specific first, without duplicates."""
    roots: list[Path] = []
    if data_dir:
        roots.append(Path(data_dir).expanduser())
    env = os.environ.get("GRADER_DATA")
    if env:
        roots.extend(Path(p).expanduser() for p in env.split(os.pathsep) if p)
    roots.append(keras_cache())
    roots.extend(SYSTEM_ROOTS)
    seen: set[str] = set()
    unique = []
    for root in roots:
        key = str(root)
        if key not in seen:
            seen.add(key)
            unique.append(root)
    return unique


def prepare_root(data_dir: str | os.PathLike | None = None) -> Path:
    """Where `grader data prepare` writes: the first writable choice of
    ``--data-dir``, ``$GRADER_DATA`` (its first entry), the Keras cache."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get("GRADER_DATA")
    if env:
        return Path(env.split(os.pathsep)[0]).expanduser()
    return keras_cache()
