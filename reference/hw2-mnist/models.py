"""Homework 2: MNIST DNN, ConvNet and ResNet, learning-rate sweep (reference solution).

`python models.py [DATA_DIR] [EPOCHS]` trains each model at each learning rate in
LEARNING_RATES with early stopping on a validation split and prints test
accuracy and macro F1. Importing this file builds nothing and loads no data.

Two defects of the homework's code are fixed here, on purpose:
- its output layers apply softmax while the loss is built with
  `from_logits=True`, which applies softmax a second time and flattens the
  gradients; here the output is a softmax and the loss takes probabilities
  (`from_logits=False`);
- its DNN adds the Dense layers before Flatten, so they act on each image row
  separately; here the image is flattened first.
Every builder takes the learning rate and returns a compiled model whose input
is a 28x28x1 float image in [0, 1] and whose output is 10 softmax probabilities.
"""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path

import keras
import numpy as np
from keras import layers

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
LEARNING_RATES = (0.1, 0.01, 0.001, 0.0001)
BATCH_SIZE = 128
VALIDATION_SPLIT = 0.1


def _compile(model: keras.Model, learning_rate: float) -> keras.Model:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        # The output layer is a softmax, so the loss receives probabilities.
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False),
        metrics=["accuracy"],
    )
    return model


def build_dnn(learning_rate: float, hidden_units: tuple[int, ...] = (256, 128)) -> keras.Model:
    """Fully connected network: Flatten, one ReLU Dense per entry of `hidden_units`, softmax."""
    model = keras.Sequential([keras.Input(INPUT_SHAPE), layers.Flatten()], name="dnn")
    for units in hidden_units:
        model.add(layers.Dense(units, activation="relu"))
    model.add(layers.Dense(NUM_CLASSES, activation="softmax"))
    return _compile(model, learning_rate)


def build_convnet(learning_rate: float, filters: tuple[int, ...] = (32, 64, 64)) -> keras.Model:
    """Conv 3x3 + max-pool for all but the last entry of `filters`, a last conv,
    Flatten, Dense(64, relu), softmax: the homework's ConvNet."""
    model = keras.Sequential([keras.Input(INPUT_SHAPE)], name="convnet")
    for count in filters[:-1]:
        model.add(layers.Conv2D(count, 3, activation="relu"))
        model.add(layers.MaxPooling2D(2))
    model.add(layers.Conv2D(filters[-1], 3, activation="relu"))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(NUM_CLASSES, activation="softmax"))
    return _compile(model, learning_rate)


def _bottleneck(x, filters: tuple[int, int, int], stride: int, project: bool, name: str):
    """ResNet-50 style bottleneck: 1x1 reduce, 3x3, 1x1 expand, added to the shortcut.

    `project` puts a strided 1x1 conv on the shortcut (the "conv block") when the
    shape changes; otherwise the input is added unchanged (the "identity block").
    """
    f1, f2, f3 = filters
    shortcut = x
    y = layers.Conv2D(f1, 1, strides=stride, name=f"{name}_reduce")(x)
    y = layers.BatchNormalization(name=f"{name}_reduce_bn")(y)
    y = layers.Activation("relu", name=f"{name}_reduce_relu")(y)
    y = layers.Conv2D(f2, 3, padding="same", name=f"{name}_conv")(y)
    y = layers.BatchNormalization(name=f"{name}_conv_bn")(y)
    y = layers.Activation("relu", name=f"{name}_conv_relu")(y)
    y = layers.Conv2D(f3, 1, name=f"{name}_expand")(y)
    y = layers.BatchNormalization(name=f"{name}_expand_bn")(y)
    if project:
        shortcut = layers.Conv2D(f3, 1, strides=stride, name=f"{name}_shortcut")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_shortcut_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


def build_resnet(learning_rate: float, num_blocks: int = 1,
                 filters: tuple[int, int, int] = (64, 64, 256)) -> keras.Model:
    """The homework's ResNet: a ResNet-50 style stem, then per stage a conv block
    and an identity block (stage i widens the filters (i+1) times and, after the
    first, halves the resolution), global average pooling and a softmax.

    The homework's loop body only runs for its first stage (an indentation slip);
    here every stage gets its blocks."""
    inputs = keras.Input(INPUT_SHAPE)
    x = layers.Conv2D(64, 3, name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    for stage in range(num_blocks):
        widths = tuple(f * (stage + 1) for f in filters)
        stride = 1 if stage == 0 else 2
        x = _bottleneck(x, widths, stride, project=True, name=f"stage{stage + 1}_a")
        x = _bottleneck(x, widths, 1, project=False, name=f"stage{stage + 1}_b")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="predictions")(x)
    return _compile(keras.Model(inputs, outputs, name="resnet"), learning_rate)


BUILDERS = {"DNN": build_dnn, "ConvNet": build_convnet, "ResNet": build_resnet}


# --- metrics ----------------------------------------------------------------

def macro_f1(y_true, y_pred, num_classes: int = NUM_CLASSES) -> float:
    """Unweighted mean over classes of F1 = 2 TP / (2 TP + FP + FN).

    y_true, y_pred: integer class labels of equal length. A class that never
    occurs and is never predicted has no defined F1 and is left out of the mean.
    """
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"models.py: macro_f1: {y_true.shape} labels vs "
                         f"{y_pred.shape} predictions")
    scores = []
    for c in range(num_classes):
        tp = np.sum((y_pred == c) & (y_true == c))
        fp = np.sum((y_pred == c) & (y_true != c))
        fn = np.sum((y_pred != c) & (y_true == c))
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def accuracy(y_true, y_pred) -> float:
    """The share of equal labels, a float in [0, 1]."""
    return float(np.mean(np.asarray(y_true).ravel() == np.asarray(y_pred).ravel()))


def early_stopping(patience: int = 2) -> keras.callbacks.EarlyStopping:
    """Stops when validation loss has not improved for `patience` epochs and
    restores the weights of the best epoch. (The spec also accepts val_accuracy,
    with mode "auto" or "max".)"""
    return keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                         restore_best_weights=True)


def fit_with_early_stopping(model: keras.Model, x_train, y_train, x_val, y_val,
                            epochs: int = 20) -> dict:
    """Fits the compiled `model` on the training split, watching the validation
    split with early_stopping(), and returns the history dict. The model keeps
    the weights of its best validation epoch."""
    history = model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=epochs,
                        validation_data=(x_val, y_val), callbacks=[early_stopping()],
                        verbose=0)
    return history.history


def train_and_score(model: keras.Model, x_train, y_train, x_test, y_test,
                    epochs: int = 20) -> dict:
    """Holds out a validation split, fits with early stopping on it, and returns
    test accuracy and macro F1."""
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


# --- data -------------------------------------------------------------------

def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (optionally gzip-compressed) into a NumPy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        data = handle.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(data_dir: str | os.PathLike):
    """MNIST from its IDX files in `data_dir`; images 28x28x1 float32 in [0, 1]."""
    root = Path(data_dir)

    def find(stem: str) -> Path:
        for name in (f"{stem}.gz", stem):
            if (root / name).exists():
                return root / name
        raise FileNotFoundError(f"models.py: {root / stem}[.gz] is missing")

    def images(stem: str) -> np.ndarray:
        return (read_idx(find(stem)).astype("float32") / 255.0)[..., None]

    return ((images("train-images-idx3-ubyte"), read_idx(find("train-labels-idx1-ubyte"))),
            (images("t10k-images-idx3-ubyte"), read_idx(find("t10k-labels-idx1-ubyte"))))


if __name__ == "__main__":
    (xtr, ytr), (xte, yte) = load_mnist(sys.argv[1] if len(sys.argv) > 1 else "mnist")
    sweep(xtr, ytr, xte, yte, epochs=int(sys.argv[2]) if len(sys.argv) > 2 else 20)
