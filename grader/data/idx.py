"""The IDX format of MNIST and Fashion-MNIST (LeCun et al.).

An IDX file is a 4-byte magic number ``0x00 0x00 TYPE NDIM``, then ``NDIM``
big-endian ``uint32`` dimension sizes, then the data in row-major order. The
datasets use TYPE ``0x08`` (unsigned byte): labels are ``idx1`` (one
dimension, N), images ``idx3`` (N x 28 x 28). Files are usually gzipped.

>>> import io, struct
>>> raw = struct.pack(">BBBBI", 0, 0, 8, 1, 3) + bytes([7, 2, 1])
>>> parse_idx(raw).tolist()
[7, 2, 1]
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from grader.data.dataset import DatasetCorrupt

#: What reading a damaged file raises (a truncated or corrupt .gz among them).
READ_ERRORS = (OSError, EOFError, zlib.error)

_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(raw: bytes, origin: str = "<bytes>") -> np.ndarray:
    """Decodes IDX bytes into an array of the shape the header declares."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DatasetCorrupt(f"{origin}: not an IDX file (bad magic number {raw[:4]!r})")
    dtype, ndim = _DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetCorrupt(f"{origin}: IDX header truncated")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DatasetCorrupt(
            f"{origin}: IDX header declares shape {shape} ({expected} bytes of data) "
            f"but the file holds {len(raw) - header}; the file is truncated or not this format"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def read_idx(path: Path) -> np.ndarray:
    """Reads an IDX file, gunzipping it when its name ends in ``.gz``."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except READ_ERRORS as err:
        raise DatasetCorrupt(f"{path}: cannot read ({err})") from err
    return parse_idx(raw, str(path))


def idx_header(path: Path) -> tuple[int, ...]:
    """The declared shape, read from the first bytes only (for `grader data status`)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[2] not in _DTYPES:
                raise DatasetCorrupt(f"{path}: not an IDX file")
            return struct.unpack(f">{head[3]}I", f.read(4 * head[3]))
    except (*READ_ERRORS, struct.error) as err:
        raise DatasetCorrupt(f"{path}: cannot read the IDX header ({err})") from err
