"""File digests. Compressed files are also checked by the digest of their
decompressed content, because redistributors (Debian among them) recompress
archives, which changes the ``.gz`` bytes but not the data."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

CHUNK = 1 << 20


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def content_digest(path: Path) -> str:
    """sha256 of the file's bytes, after gunzip when it ends in ``.gz``."""
    opener = gzip.open if path.suffix == ".gz" else open
    h = hashlib.sha256()
    with opener(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def bytes_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
