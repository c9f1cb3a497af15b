"""Practical 2, Unraveling CNNs: Fashion-MNIST models 1-4 (your solution).

What the grader does: it imports this file (nothing may train at import time:
keep training under `if __name__ == "__main__":`), sets MODEL_NUMBER and calls
`build_model(n)` for n = 1, 2, 3, 4. Each call must return a COMPILED
`keras.Model` that takes 28x28x1 float images in [0, 1] and outputs 10 softmax
probabilities. The grader checks each model's layers against the text, its
trainable and total parameter counts, common mistakes (softmax with
`from_logits=True`, Dense before Flatten, no 10-way output), and trains it with
the fixed hyper-parameters below on Fashion-MNIST to check its test accuracy.
It also calls `trainable_parameter_count` on small models with frozen layers
and `load_fashion_mnist` on a folder of small IDX files of its own.

Run `python cnn.py [DATA_DIR]` to train MODEL_NUMBER yourself.
"""

from __future__ import annotations

import gzip
import os
import sys
import time
from pathlib import Path  # noqa: F401 (for your load_fashion_mnist)

import keras
import numpy as np

# Which model `python cnn.py` trains (1-4). The grader builds all four itself.
MODEL_NUMBER = 1

# The fixed training hyper-parameters. Do NOT change them: every model is
# compiled and trained with exactly these.
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


def compile_model(model: keras.Model) -> keras.Model:
    """Compiles `model` with the fixed hyper-parameters in TRAINING and returns it."""
    optimizer = keras.optimizers.get({
        "class_name": TRAINING["optimizer"],
        "config": {"learning_rate": TRAINING["learning_rate"]},
    })
    model.compile(optimizer=optimizer, loss=TRAINING["loss"], metrics=list(TRAINING["metrics"]))
    return model


def build_model(model_number: int) -> keras.Model:
    """Returns model `model_number`, compiled with compile_model().

    Every model: input keras.Input((28, 28, 1)), output Dense(10, softmax).

    1: the fully connected baseline: Flatten, Dense(128, relu), Dense(10, softmax)
       (101,770 parameters). The text says the starter script has it; this is
       the course's design of it.
    2: Experiment 1's CNN: Conv2D(16, 7x7, same, relu), MaxPooling2D(2),
       Conv2D(32, 3x3, same, relu), MaxPooling2D(2), Conv2D(64, 3x3, same, relu),
       MaxPooling2D(2), Flatten, Dense(64, relu), Dense(10, softmax).
    3: Experiment 2's dense network: Flatten, Dense(74, relu), Dense(50, relu),
       Dense(10, softmax).
    4: Experiment 3's CNN with batch normalisation, exactly the 18 layers of the
       text, PLUS a final Dense(10, softmax): the text's list ends at
       Dense(64, relu), which cannot output 10 class probabilities.

    Raise ValueError for any other number.
    """
    raise NotImplementedError(
        f"cnn.py: build_model({model_number}) is not implemented yet: build model "
        f"{model_number}, compile it with compile_model() and return it")


def trainable_parameter_count(model: keras.Model) -> int:
    """The number of TRAINABLE parameters of a built `model`, as a Python int:
    the weights gradients update. Frozen layers (layer.trainable = False) and
    BatchNormalization's moving mean and variance do not count, so this is not
    model.count_params() when the model has either."""
    raise NotImplementedError("cnn.py: trainable_parameter_count is not implemented yet: "
                              "add up the sizes of model.trainable_weights")


# --- data -------------------------------------------------------------------

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (optionally gzip-compressed) into a NumPy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        data = handle.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(data_dir: str | os.PathLike = DEFAULT_DATA_DIR):
    """Fashion-MNIST from its four IDX files in `data_dir` (train-images-idx3-ubyte.gz,
    train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz;
    read_idx reads one). Returns ((x_train, y_train), (x_test, y_test)): images
    float32 of shape (N, 28, 28, 1), the file's bytes / 255 so in [0, 1], in the
    file's order; labels (N,) integers in the same order.
    Graded on a folder of small IDX files of random pixels."""
    raise NotImplementedError("cnn.py: load_fashion_mnist is not implemented yet: read the "
                              "four IDX files into ((x_train, y_train), (x_test, y_test))")


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
