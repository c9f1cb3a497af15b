"""Stand-ins for downloads: small synthetic data of the real shapes, never real data.

``keras.datasets.{mnist, fashion_mnist, cifar10, cifar100}.load_data()`` (also reached
as ``tensorflow.keras.datasets``) return ``TRAIN_SAMPLES`` training and
``TEST_SAMPLES`` test images of the dataset's own shape and dtype: uint8 images of
28x28 (MNIST, Fashion-MNIST) or 32x32x3 (CIFAR, channels first when Keras is set so),
labels of the real dtype and shape (CIFAR's are (N, 1)). Every class appears, and the
last sample carries the highest class, so ``to_categorical(y)`` finds them all.

The other ``keras.datasets`` loaders (imdb, reuters, boston_housing, ...) and
``keras.utils.get_file`` raise ``NoNetwork``, which the run records as the failure of
the statement that called them. The build worker has no network by design, and the
test data must never be within reach of student code, so nothing is ever fetched.

torchvision's datasets are not stood in for: torchvision is not installed with the
grader (a submission that imports it fails at that import, which is reported).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from grader.build_worker.harness.notes import Notes
from grader.build_worker.harness.patches import Patches

TRAIN_SAMPLES = 64
TEST_SAMPLES = 32

# name: (image shape, label dtype, label shape suffix, classes)
_IMAGES: dict[str, tuple[tuple[int, ...], str, tuple[int, ...], int]] = {
    "mnist": ((28, 28), "uint8", (), 10),
    "fashion_mnist": ((28, 28), "uint8", (), 10),
    "cifar10": ((32, 32, 3), "uint8", (1,), 10),
    "cifar100": ((32, 32, 3), "int64", (1,), 100),
}
_NOT_STOOD_IN = ("imdb", "reuters", "boston_housing", "california_housing")


class NoNetwork(ConnectionError):
    """Raised where student code would download: the grader has no network."""


def synthetic_images(name: str, samples: int, seed: int, classes: int | None = None,
                     channels_first: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` made-up images and labels with dataset ``name``'s shapes and dtypes."""
    shape, label_dtype, label_suffix, default_classes = _IMAGES[name]
    classes = classes or default_classes
    rng = np.random.default_rng(seed)
    labels = np.arange(samples) % classes
    labels[-1] = classes - 1
    x = rng.integers(0, 256, size=(samples, *shape), dtype=np.uint8)
    # A class-dependent brightness, so the images are not pure noise to a plot.
    x = (x // 2 + (labels * (127 // max(1, classes - 1))).reshape(-1, *[1] * len(shape))
         ).astype(np.uint8)
    if channels_first and len(shape) == 3:
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    y = labels.astype(label_dtype).reshape(samples, *label_suffix)
    return x, y


def _modules(keras: Any, name: str) -> list[Any]:
    """The public modules a loader is reached through: keras.datasets.NAME and, with
    TensorFlow, tensorflow.keras.datasets.NAME (another module object)."""
    found = [getattr(keras.datasets, name, None)]
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        try:
            found.append(getattr(tf.keras.datasets, name, None))
        except Exception:
            pass
    unique: dict[int, Any] = {}
    for module in found:
        if module is not None:
            unique[id(module)] = module
    return list(unique.values())


def install(patches: Patches, keras: Any, notes: Notes) -> None:
    channels_first = keras.backend.image_data_format() == "channels_first"

    def loader(name: str) -> Any:
        def load_data(*args: Any, label_mode: str = "fine", **kwargs: Any) -> Any:
            classes = 20 if name == "cifar100" and label_mode == "coarse" else None
            if name == "cifar100" and label_mode not in ("fine", "coarse"):
                raise ValueError('`label_mode` must be one of `"fine"`, `"coarse"`. '
                                 f"Received: label_mode={label_mode}.")
            notes.add(f"dataset {name}",
                      f"keras.datasets.{name}.load_data(): {TRAIN_SAMPLES} synthetic training "
                      f"and {TEST_SAMPLES} test images stood in (the grader has no network)")
            train = synthetic_images(name, TRAIN_SAMPLES, 1, classes, channels_first)
            test = synthetic_images(name, TEST_SAMPLES, 2, classes, channels_first)
            return train, test

        load_data.__name__ = "load_data"
        load_data.__qualname__ = f"{name}.load_data"
        return load_data

    def refuse(what: str) -> Any:
        def no_network(*args: Any, **kwargs: Any) -> Any:
            raise NoNetwork(f"{what}: the grader has no network, so nothing can be "
                            "downloaded; the data a task needs is given to it by the grader")

        return no_network

    for name in _IMAGES:
        for module in _modules(keras, name):
            patches.set(module, "load_data", loader(name))
    for name in _NOT_STOOD_IN:
        for module in _modules(keras, name):
            for attr in ("load_data", "get_word_index", "get_label_names"):
                if hasattr(module, attr):
                    patches.set(module, attr, refuse(f"keras.datasets.{name}.{attr}()"))

    def get_file(fname: Any = None, origin: Any = None, *args: Any, **kwargs: Any) -> Any:
        notes.add("get_file", "keras.utils.get_file(): refused, the grader has no network")
        shown = origin or fname
        raise NoNetwork(f"keras.utils.get_file({shown!r}): the grader has no network, so "
                        "nothing can be downloaded; put the file in the submission")

    owners = [keras.utils]
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        try:
            owners.append(tf.keras.utils)
        except Exception:
            pass
    for owner in {id(o): o for o in owners}.values():  # tf.keras.utils may be keras.utils
        if hasattr(owner, "get_file"):
            patches.set(owner, "get_file", get_file)
