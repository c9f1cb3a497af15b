"""CS 577 Assignment 4, programming question 2: CIFAR-10 (your solution).

Contract for every model: input 32x32x3 float images in [0, 1]; the conv part
ends in Flatten and ONE Dense(10, softmax); compiled with Adam and sparse
categorical cross-entropy (integer labels).

What the grader does: imports this file (nothing may train or read data at
import time), calls load_cifar10 on small files in the real pickle format,
calls each builder and checks layers, parameter ranges and graph facts
(a Concatenate over parallel branches of different kernel sizes for an
inception block; an Add whose inputs include an earlier tensor for a residual
block), and trains them on CIFAR-10 when the data is present.
"""

from __future__ import annotations

from pathlib import Path

import keras


def load_cifar10(data_dir: str | Path):
    """(a) Returns (x_train, y_train), (x_test, y_test) from the python pickle batches.

    data_dir holds data_batch_1..data_batch_5 and test_batch (or holds
    cifar-10-batches-py/ with them). Each is a pickle (load with
    encoding="bytes") of a dict with b"data": uint8 (N, 3072), each row 1024
    red, 1024 green, 1024 blue values in row-major order, and b"labels".
    Returns x float32 (N, 32, 32, 3) in [0, 1] channels last, y int64 (N,).
    """
    raise NotImplementedError("cifar10.py: load_cifar10 is not implemented yet: read the "
                              "pickled batches as its docstring says")


def build_basic_cnn(learning_rate: float = 1e-3) -> keras.Model:
    """(b) Several Conv2D, BatchNormalization and MaxPooling2D layers, then
    Flatten and a single Dense(10, softmax)."""
    raise NotImplementedError("cifar10.py: build_basic_cnn is not implemented yet: return the "
                              "compiled basic CNN described in its docstring")


def build_inception_cnn(num_blocks: int = 2, learning_rate: float = 1e-3) -> keras.Model:
    """(d) The basic CNN with one or two inception blocks: parallel branches
    (1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max-pool then 1x1) over the same
    input, joined with layers.Concatenate. Use the functional API."""
    raise NotImplementedError("cifar10.py: build_inception_cnn is not implemented yet: return "
                              "the basic CNN with inception blocks, compiled")


def build_residual_cnn(num_blocks: int = 2, learning_rate: float = 1e-3) -> keras.Model:
    """(e) The basic CNN with one or two residual blocks instead of inception
    blocks: two 3x3 conv + BN layers whose output is added (layers.Add) to the
    block's input (through a 1x1 conv when the channel count changes), then ReLU."""
    raise NotImplementedError("cifar10.py: build_residual_cnn is not implemented yet: return "
                              "the basic CNN with residual blocks, compiled")


if __name__ == "__main__":
    print("Write the functions above, then train them here on the unpacked CIFAR-10 batches.")
