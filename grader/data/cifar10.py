"""CIFAR-10 in the layout its authors ship: ``cifar-10-python.tar.gz``, which
holds ``cifar-10-batches-py/`` with five training batches ``data_batch_1..5``,
``test_batch`` and ``batches.meta``. Each batch is a Python pickle of a dict
with ``b"data"`` (N x 3072 ``uint8``: the red plane, then green, then blue, each
32 x 32 row-major) and ``b"labels"`` (N ints).

Searched for, in each root: ``cifar-10-batches-py/``, the Keras 3 cache
``cifar-10-batches-py-target/cifar-10-batches-py/``, then the tarball itself
(``cifar-10-python.tar.gz``), which is read without extracting.

The pickles are read with an unpickler that only accepts the few NumPy names a
CIFAR batch needs: a pickle can otherwise run arbitrary code.
"""

from __future__ import annotations

import io
import json
import pickle
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from grader.data.checksums import file_digest
from grader.data.dataset import Dataset, DatasetCorrupt
from grader.data.source import Found, Source, Verification
from grader.data.staging import staged

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
MEMBERS = (*TRAIN_BATCHES, "test_batch", "batches.meta")
FOLDER = "cifar-10-batches-py"
TARBALL = "cifar-10-python.tar.gz"
#: sha256 of the official tarball (the digest Keras checks it against).
TARBALL_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
MANIFEST = "grader-manifest.json"
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck"]

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name}: a CIFAR batch never needs it")


def _batch_arrays(raw: bytes, origin: str) -> tuple[np.ndarray, np.ndarray]:
    """A batch's ``data`` and ``labels`` as stored, or DatasetCorrupt naming ``origin``
    (the file: "pickle data was truncated" alone does not say which batch)."""
    try:
        batch = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as err:  # damaged bytes can fail the unpickler in many ways
        raise DatasetCorrupt(f"{origin}: not a CIFAR-10 python batch ({err})") from err
    if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise DatasetCorrupt(
            f"{origin}: data {data.shape} / labels {labels.shape}; expected N x 3072 and N"
        )
    return data, labels


def parse_batch(raw: bytes, origin: str) -> tuple[np.ndarray, np.ndarray]:
    """Decodes one pickled batch into (N, 32, 32, 3) uint8 images and N labels."""
    data, labels = _batch_arrays(raw, origin)
    # Stored channel planes first (3 x 32 x 32); the grader works channels-last.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels


def parse_meta(raw: bytes) -> list[str]:
    meta = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
    return [n.decode() if isinstance(n, bytes) else str(n) for n in meta[b"label_names"]]


def _folder_complete(folder: Path) -> bool:
    return all((folder / m).is_file() for m in (*TRAIN_BATCHES, "test_batch"))


def _tar_member(tar: tarfile.TarFile, name: str) -> bytes:
    for candidate in (f"{FOLDER}/{name}", name):
        try:
            member = tar.getmember(candidate)
        except KeyError:
            continue
        handle = tar.extractfile(member)
        if handle is not None:
            return handle.read()
    raise DatasetCorrupt(f"{tar.name}: has no {FOLDER}/{name}")


class Cifar10(Source):
    name = "cifar10"
    description = "CIFAR-10, 32x32 colour, 10 classes (cs577-a4, ds-ag-021)"
    expected = f"{FOLDER}/ or {TARBALL}"
    prepare = f"grader data prepare cifar10 --tar {TARBALL}"

    def find(self, roots: list[Path]) -> Found | None:
        for root in roots:
            for folder in (root / FOLDER, root / "cifar10" / FOLDER,
                           root / "cifar-10-batches-py-target" / FOLDER):
                if _folder_complete(folder):
                    files = [folder / m for m in MEMBERS if (folder / m).is_file()]
                    return Found(folder, "pickles", files)
            for tar in (root / TARBALL, root / "cifar10" / TARBALL):
                if tar.is_file():
                    return Found(tar, "tarball", [tar])
        return None

    def verify(self, found: Found) -> Verification:
        if found.layout == "tarball":
            if file_digest(found.path) == TARBALL_SHA256:
                return Verification("verified", "tarball matches the official release")
            return Verification("mismatch", "tarball differs from the official release")
        manifest = found.path / MANIFEST
        if not manifest.is_file():
            return Verification("unchecked", "no manifest (not made by `grader data prepare`)")
        recorded = json.loads(manifest.read_text())
        bad = [name for name, digest in recorded["files"].items()
               if file_digest(found.path / name) != digest]
        if bad:
            return Verification("mismatch", "changed since prepared: " + ", ".join(bad))
        if not recorded.get("source_verified"):
            return Verification("unchecked", "prepared from a tarball that is not the official one")
        return Verification("verified", "matches the manifest of the official tarball")

    def counts(self, found: Found) -> dict[str, int]:
        if found.layout == "pickles":  # the labels, without reshaping the images
            def n(member: str) -> int:
                path = found.path / member
                return len(_batch_arrays(path.read_bytes(), str(path))[1])

            return {"train": sum(n(m) for m in TRAIN_BATCHES), "test": n("test_batch")}
        return self.load(found).sizes()

    def load(self, found: Found, **options: object) -> Dataset:
        if found.layout == "tarball":
            try:
                with tarfile.open(found.path, "r:gz") as tar:
                    raw = {m: _tar_member(tar, m) for m in (*TRAIN_BATCHES, "test_batch")}
            except (tarfile.TarError, OSError, EOFError) as err:
                raise DatasetCorrupt(f"{found.path}: not a readable tar.gz ({err})") from err
        else:
            raw = {m: (found.path / m).read_bytes() for m in (*TRAIN_BATCHES, "test_batch")}
        # A member of the tarball is named tarball:member; a batch file, by its path.
        sep = ":" if found.layout == "tarball" else "/"
        train = [parse_batch(raw[m], f"{found.path}{sep}{m}") for m in TRAIN_BATCHES]
        x_test, y_test = parse_batch(raw["test_batch"], f"{found.path}{sep}test_batch")
        return Dataset(
            name=self.name,
            x_train=np.concatenate([x for x, _ in train]),
            y_train=np.concatenate([y for _, y in train]),
            x_test=x_test,
            y_test=y_test,
            class_names=list(CLASS_NAMES),
            source=str(found.path),
        )


def prepare_cifar10(tar_path: Path, out_root: Path) -> dict:
    """Extracts the batches of ``cifar-10-python.tar.gz`` into
    ``OUT/cifar-10-batches-py/`` and writes a manifest of their digests.

    Only the known member names are extracted, by name, so a crafted archive
    cannot write outside the folder. A tarball whose digest is not the official
    one is still extracted, and the manifest and `grader data status` say so.
    """
    if not tar_path.is_file():
        raise FileNotFoundError(f"{tar_path}: no such file (the CIFAR-10 python tarball)")
    source_digest = file_digest(tar_path)
    folder = out_root / FOLDER
    files = {}
    with staged(folder) as tmp:
        for member, data in _read_members(tar_path):
            if member != "batches.meta":
                parse_batch(data, f"{tar_path}:{member}")  # refuse garbage before writing
            (tmp / member).write_bytes(data)
            files[member] = file_digest(tmp / member)
        manifest = {
            "dataset": "cifar10",
            "source": tar_path.name,
            "source_sha256": source_digest,
            "source_verified": source_digest == TARBALL_SHA256,
            "files": files,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return {**manifest, "path": str(folder)}


def _read_members(tar_path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each member; a damaged archive is DatasetCorrupt, while an
    error writing the output (raised in the caller's loop) stays an OSError."""
    try:
        with tarfile.open(tar_path, "r:gz") as tar:
            for member in MEMBERS:
                yield member, _tar_member(tar, member)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DatasetCorrupt(f"{tar_path}: not a readable tar.gz ({err})") from err
