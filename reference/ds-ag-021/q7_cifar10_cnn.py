"""DS-AG-021 Question 7: CIFAR-10 preprocessing and a CNN for RGB images
(reference solution).

`python q7_cifar10_cnn.py DATA_DIR` trains on the unpacked python batches of
cifar-10-python.tar.gz in DATA_DIR. Importing this file builds nothing.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import keras
import numpy as np
from keras import layers

INPUT_SHAPE = (32, 32, 3)
NUM_CLASSES = 10


def preprocess(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 32, 32, 3) -> float32 in [0, 1]; labels (N,) or (N, 1)
    -> int64 (N,) class indices, for the sparse cross-entropy."""
    x = np.asarray(images, dtype="float32") / 255.0
    if x.shape[1:] != INPUT_SHAPE:
        raise ValueError(f"q7_cifar10_cnn.py: preprocess: expected (N, 32, 32, 3) images, "
                         f"got {x.shape}")
    return x, np.asarray(labels, dtype="int64").reshape(-1)


def build_model() -> keras.Model:
    """Two stages of conv(same), conv(valid), max-pool, dropout 0.25 (32 then 64
    filters), Flatten, Dense(512, relu), Dropout(0.5), Dense(10, softmax)."""
    model = keras.Sequential([keras.Input(INPUT_SHAPE)], name="cifar10_cnn")
    for filters in (32, 64):
        model.add(layers.Conv2D(filters, 3, padding="same", activation="relu"))
        model.add(layers.Conv2D(filters, 3, activation="relu"))
        model.add(layers.MaxPooling2D(2))
        model.add(layers.Dropout(0.25))
    model.add(layers.Flatten())
    model.add(layers.Dense(512, activation="relu"))
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(NUM_CLASSES, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def load_batches(data_dir: Path):
    """Raw uint8 images (N, 32, 32, 3) and labels from the python pickle batches."""
    def read(name: str):
        with open(data_dir / name, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        return images.transpose(0, 2, 3, 1), np.asarray(batch[b"labels"])

    parts = [read(f"data_batch_{i}") for i in range(1, 6)]
    train = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    return train, read("test_batch")


def main(argv: list[str]) -> None:
    (x_train, y_train), (x_test, y_test) = load_batches(Path(argv[1] if len(argv) > 1 else "."))
    x_train, y_train = preprocess(x_train, y_train)
    x_test, y_test = preprocess(x_test, y_test)
    keras.utils.set_random_seed(0)
    model = build_model()
    model.summary()
    model.fit(x_train, y_train, batch_size=64, epochs=30, validation_split=0.1, verbose=2)
    print("CIFAR-10 test accuracy:", model.evaluate(x_test, y_test, verbose=0)[1])


if __name__ == "__main__":
    main(sys.argv)
