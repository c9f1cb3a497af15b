"""DS-AG-021 Question 6: a small Keras CNN for MNIST, built, compiled, trained and
evaluated (reference solution).

`python q6_mnist_cnn.py DATA_DIR` trains on the MNIST IDX files in DATA_DIR.
Importing this file builds nothing and reads no data.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import keras
import numpy as np
from keras import layers

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def preprocess(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1]; labels stay
    integer class indices (the loss is the sparse cross-entropy, so no one-hot)."""
    x = images.reshape(-1, *INPUT_SHAPE).astype("float32") / 255.0
    return x, np.asarray(labels, dtype="int64")


def build_model() -> keras.Model:
    """Two conv + max-pool stages, Flatten, Dense(128, relu), Dropout(0.5),
    Dense(10, softmax); Adam and sparse categorical cross-entropy."""
    model = keras.Sequential([
        keras.Input(INPUT_SHAPE),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ], name="mnist_cnn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * data[3]).reshape(dims)


def main(argv: list[str]) -> None:
    root = Path(argv[1] if len(argv) > 1 else "mnist")

    def part(stem: str) -> np.ndarray:
        return read_idx(next(p for p in (root / f"{stem}.gz", root / stem) if p.exists()))

    x_train, y_train = preprocess(part("train-images-idx3-ubyte"), part("train-labels-idx1-ubyte"))
    x_test, y_test = preprocess(part("t10k-images-idx3-ubyte"), part("t10k-labels-idx1-ubyte"))
    keras.utils.set_random_seed(0)
    model = build_model()
    model.summary()
    model.fit(x_train, y_train, epochs=5, batch_size=128, validation_split=0.1, verbose=2)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main(sys.argv)
