"""Practical 2, Unraveling CNNs: Fashion-MNIST models 1-4 (reference solution).

Set MODEL_NUMBER and run `python cnn.py [DATA_DIR]` to train that model with the
fixed hyper-parameters in TRAINING and print its trainable-parameter count, its
test score and its training time. Importing this file builds nothing and loads
no data; the grader calls `build_model(n)` itself.

Every model takes a 28x28x1 float image in [0, 1] and ends in a 10-way softmax,
so all four are trained and scored identically.
"""

from __future__ import annotations

import gzip
import os
import sys
import time
from pathlib import Path

import keras
import numpy as np
from keras import layers

# Which model `python cnn.py` trains (1-4). The grader builds all four itself.
MODEL_NUMBER = 2

# The fixed training hyper-parameters, in one place: the text forbids changing
# them between models, so every model is compiled and fitted from this dict.
TRAINING: dict = {
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "loss": "sparse_categorical_crossentropy",
    "metrics": ["accuracy"],
    # 32 (Keras' default) rather than 128: model 4's batch normalisation needs
    # the extra steps for its moving averages to settle (see the practical2 spec).
    "batch_size": 32,
    "epochs": 5,
}

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def _model_1() -> keras.Model:
    # The text calls this dense baseline "pre-implemented" in a starter script
    # that it does not include. This is our design of it: the smallest sensible
    # fully connected network, one hidden layer of 128 ReLU units.
    return keras.Sequential([
        keras.Input(INPUT_SHAPE),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ], name="model_1")


def _model_2() -> keras.Model:
    return keras.Sequential([
        keras.Input(INPUT_SHAPE),
        layers.Conv2D(16, 7, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ], name="model_2")


def _model_3() -> keras.Model:
    return keras.Sequential([
        keras.Input(INPUT_SHAPE),
        layers.Flatten(),
        layers.Dense(74, activation="relu"),
        layers.Dense(50, activation="relu"),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ], name="model_3")


def _model_4() -> keras.Model:
    return keras.Sequential([
        keras.Input(INPUT_SHAPE),
        layers.Conv2D(64, 7, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(2),
        layers.BatchNormalization(),
        layers.Conv2D(128, 5, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.Conv2D(128, 3, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(2),
        layers.BatchNormalization(),
        layers.Conv2D(256, 3, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.Conv2D(256, 3, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(64, activation="relu"),
        # The text's list stops at Dense(64, relu), which cannot classify ten
        # classes with a softmax cross-entropy. The 10-way softmax output that
        # every other model has is added here, so all four are comparable.
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ], name="model_4")


_BUILDERS = {1: _model_1, 2: _model_2, 3: _model_3, 4: _model_4}


def compile_model(model: keras.Model) -> keras.Model:
    """Compiles `model` with the fixed hyper-parameters in TRAINING and returns it."""
    optimizer = keras.optimizers.get({
        "class_name": TRAINING["optimizer"],
        "config": {"learning_rate": TRAINING["learning_rate"]},
    })
    model.compile(optimizer=optimizer, loss=TRAINING["loss"], metrics=list(TRAINING["metrics"]))
    return model


def build_model(model_number: int) -> keras.Model:
    """Returns model `model_number` (1-4), compiled with TRAINING.

    1: dense baseline (our design; the text calls it pre-implemented),
    2: CNN of Experiment 1, 3: dense network of Experiment 2,
    4: deep CNN with batch normalisation of Experiment 3, plus its output layer.
    Input 28x28x1 floats in [0, 1]; output 10 softmax probabilities.
    """
    if model_number not in _BUILDERS:
        raise ValueError(f"cnn.py: build_model({model_number!r}): "
                         "MODEL_NUMBER must be 1, 2, 3 or 4")
    return compile_model(_BUILDERS[model_number]())


def trainable_parameter_count(model: keras.Model) -> int:
    """The sizes of model.trainable_weights added up: frozen layers and
    BatchNormalization's moving statistics are left out."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


# --- data -------------------------------------------------------------------

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (optionally gzip-compressed) into a NumPy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(data_dir: str | os.PathLike = DEFAULT_DATA_DIR):
    """Returns (x_train, y_train), (x_test, y_test): images 28x28x1 float32 in [0, 1]."""
    root = Path(data_dir)

    def find(stem: str) -> Path:
        for name in (f"{stem}.gz", stem):
            if (root / name).exists():
                return root / name
        raise FileNotFoundError(f"cnn.py: {root / stem}[.gz] is missing; pass the Fashion-MNIST "
                                "directory as the first argument")

    def images(stem: str) -> np.ndarray:
        return (read_idx(find(stem)).astype("float32") / 255.0)[..., None]

    return ((images("train-images-idx3-ubyte"), read_idx(find("train-labels-idx1-ubyte"))),
            (images("t10k-images-idx3-ubyte"), read_idx(find("t10k-labels-idx1-ubyte"))))


def main(argv: list[str]) -> None:
    data_dir = argv[1] if len(argv) > 1 else DEFAULT_DATA_DIR
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(data_dir)
    keras.utils.set_random_seed(0)
    model = build_model(MODEL_NUMBER)
    model.summary()
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=TRAINING["batch_size"], epochs=TRAINING["epochs"],
              validation_split=0.1, verbose=2)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"MODEL_NUMBER = {MODEL_NUMBER}")
    print(f"trainable parameters: {trainable_parameter_count(model):,}")
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")
    print(f"training time {seconds:.1f} s")


if __name__ == "__main__":
    main(sys.argv)
