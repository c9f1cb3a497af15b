"""MNIST-style datasets in their two real on-disk layouts.

* IDX files, gzipped or not: ``train-images-idx3-ubyte.gz``,
  ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
  ``t10k-labels-idx1-ubyte.gz``, in a folder named after the dataset (the Keras
  cache ``~/.keras/datasets/fashion-mnist/`` and Debian's
  ``/usr/share/datasets/fashion-mnist/`` both look like this).
* Keras' ``mnist.npz``: arrays ``x_train``, ``y_train``, ``x_test``, ``y_test``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from grader.data.checksums import content_digest, file_digest
from grader.data.dataset import Dataset, DatasetCorrupt
from grader.data.idx import READ_ERRORS, idx_header, read_idx
from grader.data.source import Found, Source, Verification

IDX_STEMS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _idx_files(folder: Path) -> dict[str, Path] | None:
    files = {}
    for key, stem in IDX_STEMS.items():
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                files[key] = candidate
                break
        else:
            return None
    return files


class IdxSource(Source):
    """A dataset stored as the four IDX files."""

    #: Folder names under a search root (the first is the canonical one).
    folders: tuple[str, ...] = ()
    #: md5 of the official ``.gz`` files, by stem.
    official_gz_md5: dict[str, str] = {}
    #: sha256 of the decompressed IDX content, by stem.
    content_sha256: dict[str, str] = {}
    class_names: list[str] = []

    def find(self, roots: list[Path]) -> Found | None:
        for root in roots:
            for folder in (root / f for f in self.folders):
                files = _idx_files(folder)
                if files:
                    return Found(folder, "idx", list(files.values()))
        return None

    def verify(self, found: Found) -> Verification:
        results = []
        for path in found.files:
            stem = path.name.removesuffix(".gz")
            if path.suffix == ".gz" and self.official_gz_md5.get(stem) == file_digest(path, "md5"):
                results.append(True)
                continue
            expected = self.content_sha256.get(stem)
            if expected is None:
                return Verification("unchecked", f"no reference digest for {path.name}")
            try:  # gunzipping a damaged file fails without naming it
                results.append(content_digest(path) == expected)
            except READ_ERRORS as err:
                raise DatasetCorrupt(f"{path}: cannot read ({err})") from err
        if all(results):
            return Verification("verified", "IDX content matches the official release")
        bad = [p.name for p, ok in zip(found.files, results, strict=True) if not ok]
        return Verification("mismatch", "differs from the official release: " + ", ".join(bad))

    def counts(self, found: Found) -> dict[str, int]:
        by_key = dict(zip(IDX_STEMS, found.files, strict=True))
        return {"train": idx_header(by_key["y_train"])[0], "test": idx_header(by_key["y_test"])[0]}

    def load(self, found: Found, **options: object) -> Dataset:
        arrays = {key: read_idx(path) for key, path in zip(IDX_STEMS, found.files, strict=True)}
        return _assemble(self, arrays, str(found.path))


def _assemble(source: Source, arrays: dict[str, np.ndarray], origin: str) -> Dataset:
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DatasetCorrupt(
                f"{origin}: {split} images {x.shape} and labels {y.shape} do not pair up "
                "(expected N x 28 x 28 images and N labels)"
            )
    return Dataset(
        name=source.name,
        x_train=arrays["x_train"][..., None].astype(np.uint8, copy=False),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=arrays["x_test"][..., None].astype(np.uint8, copy=False),
        y_test=arrays["y_test"].astype(np.int64),
        class_names=list(source.class_names),
        source=origin,
    )


class FashionMnist(IdxSource):
    name = "fashion-mnist"
    description = "Zalando Fashion-MNIST, 28x28 grey, 10 classes (practical2)"
    folders = ("fashion-mnist", "fashion_mnist")
    expected = "fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz"
    prepare = (
        "apt-get install dataset-fashion-mnist (installs the IDX files in "
        "/usr/share/datasets/fashion-mnist/), or copy the four IDX .gz files into "
        "$GRADER_DATA/fashion-mnist/"
    )
    class_names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    # The md5s are those Zalando publishes for the .gz files; the sha256s are of
    # the decompressed data, which stays the same when a distribution recompresses.
    official_gz_md5 = {
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    content_sha256 = {
        "train-images-idx3-ubyte":
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte":
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte":
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte":
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    }


class Mnist(IdxSource):
    name = "mnist"
    description = "LeCun MNIST digits, 28x28 grey, 10 classes (hw2-mnist, ds-ag-021)"
    folders = ("mnist",)
    expected = "mnist.npz (Keras cache) or mnist/{train,t10k}-*-ubyte.gz"
    prepare = (
        "copy Keras' mnist.npz into $GRADER_DATA/ (or ~/.keras/datasets/), or the four "
        "MNIST IDX .gz files into $GRADER_DATA/mnist/"
    )
    class_names = [str(d) for d in range(10)]
    # md5s of the .gz files as published with the original MNIST release.
    official_gz_md5 = {
        "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    #: sha256 of the ``mnist.npz`` that Keras fetches.
    npz_sha256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

    def find(self, roots: list[Path]) -> Found | None:
        for root in roots:
            for npz in (root / "mnist.npz", root / "mnist" / "mnist.npz"):
                if npz.is_file():
                    return Found(npz, "npz", [npz])
            folder = root / "mnist"
            files = _idx_files(folder)
            if files:
                return Found(folder, "idx", list(files.values()))
        return None

    def verify(self, found: Found) -> Verification:
        if found.layout == "npz":
            if file_digest(found.path) == self.npz_sha256:
                return Verification("verified", "mnist.npz matches the Keras release")
            return Verification("mismatch", "mnist.npz differs from the Keras release")
        return super().verify(found)

    def counts(self, found: Found) -> dict[str, int]:
        if found.layout == "npz":
            labels = _read_npz(found.path, ("y_train", "y_test"))
            return {"train": len(labels["y_train"]), "test": len(labels["y_test"])}
        return super().counts(found)

    def load(self, found: Found, **options: object) -> Dataset:
        if found.layout != "npz":
            return super().load(found, **options)
        return _assemble(self, _read_npz(found.path, IDX_STEMS), str(found.path))


def _read_npz(path: Path, keys) -> dict[str, np.ndarray]:
    try:
        # allow_pickle=False: an .npz is a zip of arrays, and nothing in it may run code.
        with np.load(path, allow_pickle=False) as f:
            return {key: f[key] for key in keys}
    except (*READ_ERRORS, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise DatasetCorrupt(
            f"{path}: not a Keras mnist.npz with x_train, y_train, x_test, y_test ({err})"
        ) from err
