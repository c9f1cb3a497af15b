"""Homework 2: MNIST DNN, ConvNet and ResNet, learning-rate sweep (your solution).

What the grader does: it imports this file (nothing may train at import time)
and calls each builder with a learning rate, e.g. `build_convnet(0.001)`. Each
must return a COMPILED keras.Model with Adam at that learning rate, input
28x28x1 floats in [0, 1] and output 10 softmax probabilities. It checks the
layers, the parameter counts, two mistakes the homework's own code makes
(a softmax output compiled with `from_logits=True`; Dense layers before
Flatten), and trains the models on MNIST for accuracy and macro F1. It also
calls `macro_f1` and `accuracy` on label arrays whose answers it knows (some
with imbalanced classes), checks the callback `early_stopping()` returns, and
calls `load_mnist` on a folder of small IDX files of its own.

`python models.py DATA_DIR [EPOCHS]` runs the whole sweep yourself.
"""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path  # noqa: F401 (for your load_mnist)

import keras
import numpy as np

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
LEARNING_RATES = (0.1, 0.01, 0.001, 0.0001)
BATCH_SIZE = 128
VALIDATION_SPLIT = 0.1


def build_dnn(learning_rate: float, hidden_units: tuple[int, ...] = (256, 128)) -> keras.Model:
    """Fully connected network: Flatten FIRST, then one Dense(units, relu) per
    entry of `hidden_units`, then Dense(10, softmax). Compile with
    Adam(learning_rate), SparseCategoricalCrossentropy(from_logits=False) (the
    output is already a softmax) and metrics=["accuracy"].
    Default sizes: 235,146 parameters."""
    raise NotImplementedError("models.py: build_dnn is not implemented yet: return the compiled "
                              "DNN described in its docstring")


def build_convnet(learning_rate: float, filters: tuple[int, ...] = (32, 64, 64)) -> keras.Model:
    """For every entry of `filters` but the last: Conv2D(f, 3x3, relu) then
    MaxPooling2D(2); then Conv2D(filters[-1], 3x3, relu), Flatten,
    Dense(64, relu), Dense(10, softmax). Compile as build_dnn does.
    Default sizes: 93,322 parameters."""
    raise NotImplementedError("models.py: build_convnet is not implemented yet: return the "
                              "compiled ConvNet described in its docstring")


def build_resnet(learning_rate: float, num_blocks: int = 1,
                 filters: tuple[int, int, int] = (64, 64, 256)) -> keras.Model:
    """Functional ResNet: stem Conv2D(64, 3x3, valid), BatchNormalization, ReLU,
    MaxPooling2D(3, strides 2); then per stage i (0-based, num_blocks stages)
    with widths = filters * (i + 1): a conv block (bottleneck 1x1 -> 3x3 same ->
    1x1, BN after each conv, ReLU between, plus a 1x1 conv + BN projection on
    the shortcut, Add, ReLU; strides 1 for stage 0, 2 later) then an identity
    block (same bottleneck, shortcut = the block input unchanged);
    GlobalAveragePooling2D, Dense(10, softmax). Compile as build_dnn does.
    Default sizes: 151,946 parameters. The graph check looks for Add layers
    whose inputs include an earlier tensor (residual connections)."""
    raise NotImplementedError("models.py: build_resnet is not implemented yet: return the "
                              "compiled ResNet described in its docstring")


BUILDERS = {"DNN": build_dnn, "ConvNet": build_convnet, "ResNet": build_resnet}


def macro_f1(y_true, y_pred, num_classes: int = NUM_CLASSES) -> float:
    """Unweighted mean over classes of F1 = 2 TP / (2 TP + FP + FN).

    y_true, y_pred: integer class labels (0..num_classes-1) of equal length. A
    class that never occurs and is never predicted is left out of the mean.
    Returns a float in [0, 1] (not a percentage); e.g.
    macro_f1([0, 1, 2, 2], [0, 1, 1, 2]) == 0.7777...
    Every class counts the same however rare it is: this is not the accuracy
    (micro F1) nor sklearn's average='weighted'. Graded to 1e-6 on label arrays
    with imbalanced classes.
    """
    raise NotImplementedError("models.py: macro_f1 is not implemented yet: return the "
                              "macro-averaged F1 score described in its docstring")


def accuracy(y_true, y_pred) -> float:
    """The share of positions where y_pred equals y_true: a float in [0, 1], not a
    percentage. y_true, y_pred: integer class labels of equal length."""
    raise NotImplementedError("models.py: accuracy is not implemented yet: return the share "
                              "of equal labels as a float")


def early_stopping(patience: int = 2) -> keras.callbacks.EarlyStopping:
    """A keras.callbacks.EarlyStopping that watches a validation quantity
    (monitor="val_loss", or "val_accuracy"; mode "auto" or that quantity's
    direction), waits `patience` epochs without improvement (pass the argument
    through) and restores the best epoch's weights (restore_best_weights=True).
    Graded by calling early_stopping() and early_stopping(patience=4)."""
    raise NotImplementedError("models.py: early_stopping is not implemented yet: return a "
                              "keras.callbacks.EarlyStopping on val_loss restoring best weights")


def fit_with_early_stopping(model: keras.Model, x_train, y_train, x_val, y_val,
                            epochs: int = 20) -> dict:
    """Fit the compiled `model` on (x_train, y_train) for up to `epochs` epochs with
    batch size BATCH_SIZE, validation_data=(x_val, y_val) and the callback of
    early_stopping(); return the History's `.history` dict.

    Graded by training: the grader calls it with MNIST's training and validation
    splits only (images float32 (N, 28, 28, 1) in [0, 1], integer labels) and
    scores the weights it leaves on the test split, which it never passes you.
    """
    raise NotImplementedError("models.py: fit_with_early_stopping is not implemented yet: fit "
                              "with validation_data and early_stopping(), return the history")


def train_and_score(model: keras.Model, x_train, y_train, x_test, y_test,
                    epochs: int = 20) -> dict:
    """Holds out a validation split, fits with early stopping on it, and returns
    {"accuracy": float, "macro_f1": float, "epochs": int} on the test data."""
    cut = int(len(x_train) * (1 - VALIDATION_SPLIT))
    history = fit_with_early_stopping(model, x_train[:cut], y_train[:cut], x_train[cut:],
                                      y_train[cut:], epochs)
    predicted = np.argmax(model.predict(x_test, batch_size=1024, verbose=0), axis=1)
    return {"accuracy": accuracy(y_test, predicted), "macro_f1": macro_f1(y_test, predicted),
            "epochs": len(history["loss"])}


def sweep(x_train, y_train, x_test, y_test, epochs: int = 20,
          learning_rates=LEARNING_RATES) -> dict[str, dict[float, dict]]:
    """Trains every model at every learning rate: {model: {lr: scores}}."""
    table: dict[str, dict[float, dict]] = {}
    for name, build in BUILDERS.items():
        for lr in learning_rates:
            keras.utils.set_random_seed(0)
            table.setdefault(name, {})[lr] = train_and_score(build(lr), x_train, y_train,
                                                             x_test, y_test, epochs)
            print(f"{name:8s} lr={lr:<7g} {table[name][lr]}")
    return table


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (optionally gzip-compressed) into a NumPy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        data = handle.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(data_dir: str | os.PathLike):
    """MNIST from its four IDX files in `data_dir` (train-images-idx3-ubyte.gz,
    train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz;
    read_idx reads one). Returns ((x_train, y_train), (x_test, y_test)): images
    float32 of shape (N, 28, 28, 1), the file's bytes / 255 so in [0, 1], in the
    file's order; labels (N,) integers in the same order.
    Graded on a folder of small IDX files of random pixels."""
    raise NotImplementedError("models.py: load_mnist is not implemented yet: read the four "
                              "IDX files into ((x_train, y_train), (x_test, y_test))")


if __name__ == "__main__":
    (xtr, ytr), (xte, yte) = load_mnist(sys.argv[1] if len(sys.argv) > 1 else "mnist")
    sweep(xtr, ytr, xte, yte, epochs=int(sys.argv[2]) if len(sys.argv) > 2 else 20)
