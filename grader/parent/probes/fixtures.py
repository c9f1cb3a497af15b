"""Small datasets in the real on-disk formats, written for probes.

Every writer takes a seed and returns the arrays it wrote, which are the truth a
probe judges against. The images are small noise, so that a loader which reorders,
transposes or rescales them is caught by an exact comparison.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

IDX_STEMS = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


def _labels(rng: np.random.Generator, n: int, classes: int) -> np.ndarray:
    """Every class at least once (when n allows), in a seeded random order."""
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    return labels.astype(np.uint8)


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX of unsigned bytes: 0, 0, type 0x08, ndim, big-endian uint32 dims, data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.tobytes()


def write_idx(path: Path, array: np.ndarray) -> None:
    """One gzip-compressed IDX file, as MNIST ships."""
    with gzip.open(path, "wb") as handle:
        handle.write(idx_bytes(array))


def idx_dataset(folder: Path, n_train: int = 12, n_test: int = 6, seed: int = 0
                ) -> dict[str, np.ndarray]:
    """MNIST's (and Fashion-MNIST's) four ``.gz`` files: 28x28 images, 10 classes."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "y_train": _labels(rng, n_train, 10),
              "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "y_test": _labels(rng, n_test, 10)}
    for key, stem in IDX_STEMS.items():
        write_idx(folder / f"{stem}.gz", arrays[key])
    return arrays


def cifar_batch_bytes(images: np.ndarray, labels: Any, name: str) -> bytes:
    """One pickled batch as the CIFAR-10 authors wrote them: a dict with bytes keys,
    ``data`` N x 3072 uint8 (red plane, green, blue; each 32x32 row-major)."""
    batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in labels],
             b"data": images.transpose(0, 3, 1, 2).reshape(len(images), -1),
             b"filenames": [f"{name}_{i}.png".encode() for i in range(len(images))]}
    return pickle.dumps(batch, protocol=2)


def cifar10_batches(folder: Path, per_batch: int = 4, n_test: int = 6, seed: int = 0
                    ) -> dict[str, np.ndarray]:
    """``cifar-10-batches-py/`` in ``folder``: data_batch_1..5, test_batch, batches.meta."""
    from grader.data.cifar10 import CLASS_NAMES, TRAIN_BATCHES

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    x_train = rng.integers(0, 256, (per_batch * len(TRAIN_BATCHES), 32, 32, 3), dtype=np.uint8)
    y_train = _labels(rng, len(x_train), 10)
    for i, name in enumerate(TRAIN_BATCHES):
        part = slice(i * per_batch, (i + 1) * per_batch)
        (folder / name).write_bytes(cifar_batch_bytes(x_train[part], y_train[part], name))
    x_test = rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8)
    y_test = _labels(rng, n_test, 10)
    (folder / "test_batch").write_bytes(cifar_batch_bytes(x_test, y_test, "test_batch"))
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({b"label_names": [c.encode() for c in CLASS_NAMES],
                     b"num_cases_per_batch": per_batch, b"num_vis": 3072}, handle, protocol=2)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


# Red/blue levels of each class's colour (alphabetical index); green tells the files of
# a class apart. A class is thus readable from an image's mean colour after any resize.
CLASS_COLOURS = ((200, 50), (50, 200), (200, 200), (50, 50))


def image_folders(root: Path, splits: list[str], classes: list[str], per_class: int = 3,
                  size: tuple[int, int] = (40, 56), seed: int = 0) -> dict[str, np.ndarray]:
    """``root/SPLIT/CLASS/CLASS.I.jpg``: small JPEGs (``size`` = height, width), each a
    solid colour with a little noise. Class k (in alphabetical order) has the red and
    blue of ``CLASS_COLOURS[k]``; the green level is different for every file of a
    class across all splits, so each image's mean colour names its file.

    Returns every file's mean colour as Pillow decodes it (``means``, float, F x 3),
    its split index (``split``) and class index (``cls``)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    order = sorted(classes)
    count = len(splits) * per_class
    greens = np.linspace(20, 235, count).round().astype(int)
    means, split_of, class_of = [], [], []
    for s, split in enumerate(splits):
        for name in classes:
            k = order.index(name)
            red, blue = CLASS_COLOURS[k]
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                colour = np.array([red, greens[s * per_class + i], blue])
                noise = rng.integers(-10, 11, (*size, 3))
                pixels = np.clip(colour + noise, 0, 255).astype(np.uint8)
                path = root / split / name / f"{name}.{i}.jpg"
                Image.fromarray(pixels).save(path, quality=95)
                with Image.open(path) as decoded:
                    means.append(np.asarray(decoded.convert("RGB"), float).mean(axis=(0, 1)))
                split_of.append(s)
                class_of.append(k)
    return {"means": np.array(means), "split": np.array(split_of), "cls": np.array(class_of)}


def picture(height: int, width: int) -> np.ndarray:
    """A smooth, asymmetric RGB picture, uint8 (height, width, 3): red rises left to
    right, green top to bottom, blue is a bright disc near the top-left corner. Smooth,
    so that any resizing filter agrees closely; asymmetric and different per channel,
    so that a flip, a transpose or a BGR channel order does not."""
    y, x = np.mgrid[0:height, 0:width]
    u, v = x / (width - 1), y / (height - 1)
    disc = np.exp(-(((u - 0.3) / 0.18) ** 2 + ((v - 0.25) / 0.18) ** 2))
    rgb = np.stack([0.1 + 0.8 * u, 0.1 + 0.8 * v ** 1.5, 0.05 + 0.9 * disc], axis=-1)
    return np.round(rgb * 255).astype(np.uint8)


def image_files(folder: Path) -> dict[str, Path]:
    """A grey PNG (mode "L", 280 high, 320 wide) and a colour JPEG (RGB, 150 high,
    200 wide) of ``picture``, as a scanner or a phone writes them."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = {"png": folder / "grey.png", "jpeg": folder / "colour.jpg"}
    Image.fromarray(picture(280, 320)).convert("L").save(paths["png"])
    Image.fromarray(picture(150, 200)).save(paths["jpeg"], quality=95)
    return paths
