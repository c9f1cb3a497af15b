"""CS 577 Assignment 4, programming question 2: CIFAR-10 (reference solution).

(a) reads the python pickle batches of `cifar-10-python.tar.gz` once unpacked
(`grader data prepare cifar10 --tar ...` does that); (b) a basic CNN; (d) the
same with inception blocks; (e) the same with residual blocks instead.
Every model takes a 32x32x3 float image in [0, 1] and ends in Flatten and one
Dense(10, softmax). Importing this file builds nothing and reads no data.
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


# --- (a) the pickled batches ------------------------------------------------

def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as handle:
        batch = pickle.load(handle, encoding="bytes")
    # Each row holds 1024 red, then 1024 green, then 1024 blue values of a
    # 32x32 image in row-major order: reshape to NCHW, then move channels last.
    data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    return data.transpose(0, 2, 3, 1), labels


def load_cifar10(data_dir: str | Path):
    """(a) Returns (x_train, y_train), (x_test, y_test) from the python batches.

    data_dir: the folder holding data_batch_1..5 and test_batch (or its parent,
    with them in cifar-10-batches-py/).
    x: float32 (N, 32, 32, 3) in [0, 1], channels last; y: int64 (N,) in 0..9.
    """
    root = Path(data_dir)
    if not (root / "test_batch").exists() and (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    if not (root / "test_batch").exists():
        raise FileNotFoundError(f"cifar10.py: load_cifar10: no test_batch in {root}; unpack "
                                "cifar-10-python.tar.gz there (grader data prepare cifar10)")
    train = [_read_batch(root / f"data_batch_{i}") for i in range(1, 6)
             if (root / f"data_batch_{i}").exists()]
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    x_test, y_test = _read_batch(root / "test_batch")
    scale = np.float32(1 / 255)
    return (x_train * scale, y_train), (x_test * scale, y_test)


# --- building blocks ----------------------------------------------------------

def _conv_bn(x, filters: int, kernel: int = 3, name: str = ""):
    x = layers.Conv2D(filters, kernel, padding="same", activation="relu", name=f"{name}_conv")(x)
    return layers.BatchNormalization(name=f"{name}_bn")(x)


def _stem(inputs):
    """Two conv stages, each conv-BN, conv-BN, max-pool: 32x32 -> 8x8x64."""
    x = _conv_bn(inputs, 32, name="s1a")
    x = _conv_bn(x, 32, name="s1b")
    x = layers.MaxPooling2D(2, name="s1_pool")(x)
    x = _conv_bn(x, 64, name="s2a")
    x = _conv_bn(x, 64, name="s2b")
    return layers.MaxPooling2D(2, name="s2_pool")(x)


def _head(x, inputs, name: str, learning_rate: float) -> keras.Model:
    x = layers.MaxPooling2D(2, name="final_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def inception_block(x, filters: int, name: str):
    """Four parallel branches over the same input, concatenated on channels:
    1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max-pool then 1x1. Each sees a
    different scale; the 1x1 convolutions keep the channel count down."""
    b1 = layers.Conv2D(filters, 1, padding="same", activation="relu", name=f"{name}_1x1")(x)
    b3 = layers.Conv2D(filters // 2, 1, padding="same", activation="relu",
                       name=f"{name}_3x3_reduce")(x)
    b3 = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_3x3")(b3)
    b5 = layers.Conv2D(filters // 4, 1, padding="same", activation="relu",
                       name=f"{name}_5x5_reduce")(x)
    b5 = layers.Conv2D(filters // 2, 5, padding="same", activation="relu", name=f"{name}_5x5")(b5)
    bp = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = layers.Conv2D(filters // 2, 1, padding="same", activation="relu",
                       name=f"{name}_pool_proj")(bp)
    x = layers.Concatenate(name=f"{name}_concat")([b1, b3, b5, bp])
    return layers.BatchNormalization(name=f"{name}_bn")(x)


def residual_block(x, filters: int, name: str):
    """Two 3x3 conv-BN layers whose output is added to the block's input (through
    a 1x1 projection when the channel count changes), then ReLU: the block only
    has to learn a correction to its input, and gradients pass the Add unchanged."""
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, padding="same", name=f"{name}_proj")(x)
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.Activation("relu", name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


# --- (b), (d), (e) the three models ------------------------------------------

def build_basic_cnn(learning_rate: float = 1e-3) -> keras.Model:
    """(b) Conv-BN layers with max-pooling, then Flatten and one Dense(10, softmax)."""
    inputs = keras.Input(INPUT_SHAPE)
    x = _conv_bn(_stem(inputs), 128, name="s3")
    return _head(x, inputs, "basic_cnn", learning_rate)


def build_inception_cnn(num_blocks: int = 2, learning_rate: float = 1e-3) -> keras.Model:
    """(d) The basic CNN with its third stage replaced by `num_blocks` inception blocks."""
    inputs = keras.Input(INPUT_SHAPE)
    x = _stem(inputs)
    for i in range(num_blocks):
        x = inception_block(x, 64, name=f"inception{i + 1}")
    return _head(x, inputs, "inception_cnn", learning_rate)


def build_residual_cnn(num_blocks: int = 2, learning_rate: float = 1e-3) -> keras.Model:
    """(e) The basic CNN with residual blocks where (d) has inception blocks."""
    inputs = keras.Input(INPUT_SHAPE)
    x = _stem(inputs)
    for i in range(num_blocks):
        x = residual_block(x, 128, name=f"residual{i + 1}")
    return _head(x, inputs, "residual_cnn", learning_rate)


def main(argv: list[str]) -> None:
    (x_train, y_train), (x_test, y_test) = load_cifar10(argv[1] if len(argv) > 1 else ".")
    for build in (build_basic_cnn, build_inception_cnn, build_residual_cnn):
        keras.utils.set_random_seed(0)
        model = build()
        model.fit(x_train, y_train, batch_size=64, epochs=15, validation_split=0.1, verbose=2)
        print(model.name, "test accuracy:", model.evaluate(x_test, y_test, verbose=0)[1])


if __name__ == "__main__":
    main(sys.argv)
