"""DS-AG-021 Question 7: CIFAR-10 preprocessing and a CNN for RGB images (your solution).

What the grader does: imports this file (nothing may train at import time),
calls build_model() and checks its layers and parameter count, calls
preprocess() on a few raw images, and trains the model on CIFAR-10 when present.
"""

from __future__ import annotations

import keras
import numpy as np

INPUT_SHAPE = (32, 32, 3)
NUM_CLASSES = 10


def preprocess(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns (x, y): x = the uint8 images (N, 32, 32, 3) as float32 pixels / 255,
    in [0, 1], same shape; y = the labels, (N,) or (N, 1) as cifar10.load_data() gives
    them, as int64 (N,) class indices (no one-hot). Raise ValueError for images of
    another shape (e.g. channels-first (N, 3, 32, 32) or grey (N, 32, 32))."""
    raise NotImplementedError("q7_cifar10_cnn.py: preprocess is not implemented yet: scale the "
                              "images and flatten the labels as its docstring says")


def build_model() -> keras.Model:
    """Two stages of Conv2D(f, 3x3, same, relu), Conv2D(f, 3x3, relu),
    MaxPooling2D(2), Dropout(0.25) with f = 32 then 64; Flatten, Dense(512, relu),
    Dropout(0.5), Dense(10, softmax); compiled with Adam and
    sparse_categorical_crossentropy. 1,250,858 parameters."""
    raise NotImplementedError("q7_cifar10_cnn.py: build_model is not implemented yet: return the "
                              "compiled CNN described in its docstring")


if __name__ == "__main__":
    print("Write the functions above, then load CIFAR-10, train and evaluate here.")
