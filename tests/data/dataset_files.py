"""Writers for tiny datasets in the real on-disk formats, for the loader tests.

Each writer produces exactly the bytes layout the real release uses, so the
loaders are tested against the format, not against a mock of it.
"""

from __future__ import annotations

import errno
import gzip
import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np

# The format writers are the grader's own (its probes write these formats for students'
# loaders); the tests use the same bytes.
from grader.parent.probes.fixtures import cifar_batch_bytes, idx_bytes


def write_idx_dataset(folder: Path, x_train, y_train, x_test, y_test, gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for stem, array in (("train-images-idx3-ubyte", x_train), ("train-labels-idx1-ubyte", y_train),
                        ("t10k-images-idx3-ubyte", x_test), ("t10k-labels-idx1-ubyte", y_test)):
        raw = idx_bytes(array)
        (folder / f"{stem}{suffix}").write_bytes(gzip.compress(raw) if gz else raw)
    return folder


def write_cifar_folder(folder: Path, per_batch: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """``cifar-10-batches-py/`` with five training batches, the test batch and
    batches.meta. Returns the images and labels written, for comparison."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    xs, ys = [], []
    for i in range(1, 7):
        x = rng.integers(0, 256, size=(per_batch, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, size=per_batch).tolist()
        name = "test_batch" if i == 6 else f"data_batch_{i}"
        (folder / name).write_bytes(cifar_batch_bytes(x, y, name))
        xs.append(x)
        ys.append(np.array(y))
    meta = {b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog",
                             b"frog", b"horse", b"ship", b"truck"], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return {"x_train": np.concatenate(xs[:5]), "y_train": np.concatenate(ys[:5]),
            "x_test": xs[5], "y_test": ys[5]}


def tar_folder(folder: Path, tar_path: Path) -> Path:
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return tar_path


def jpeg_bytes(seed: int, size: tuple[int, int] = (40, 30)) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def png_bytes(seed: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), seed % 256, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def write_petimages_zip(path: Path, per_class: int) -> dict[str, int]:
    """A miniature ``kagglecatsanddogs_3367a.zip``: ``PetImages/Cat/N.jpg`` and
    ``PetImages/Dog/N.jpg``, plus the kinds of bad file the real archive has:
    an empty JPEG, a truncated JPEG, a PNG named .jpg, and Thumbs.db."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme[1].txt", "Cats and dogs.\n")
        for folder, offset in (("Cat", 0), ("Dog", 10_000)):
            for i in range(per_class):
                zf.writestr(f"PetImages/{folder}/{i}.jpg", jpeg_bytes(offset + i))
            zf.writestr(f"PetImages/{folder}/Thumbs.db", b"\xd0\xcf\x11\xe0 not an image")
        zf.writestr("PetImages/Cat/666.jpg", b"")  # empty, as in the real archive
        zf.writestr("PetImages/Dog/11702.jpg", jpeg_bytes(99)[:200])  # truncated
        zf.writestr("PetImages/Dog/9999.jpg", png_bytes(3))  # a PNG wearing .jpg
    return {"corrupt": 2, "non-jpeg": 3}


def full_disk_after(monkeypatch, writes: int) -> None:
    """Path.write_bytes fails like a full disk after ``writes`` successful calls."""
    real, done = Path.write_bytes, []

    def write_bytes(self, data):
        if len(done) >= writes:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        done.append(self)
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
