"""DS-AG-021 Question 6: a small Keras CNN for MNIST (your solution).

What the grader does: imports this file (nothing may train at import time),
calls build_model() and checks its layers and parameter count, calls
preprocess() on a few raw images, and trains the model on MNIST when present.
"""

from __future__ import annotations

import keras
import numpy as np

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def preprocess(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns (x, y): x = the uint8 images (N, 28, 28) as float32 pixels / 255, in
    [0, 1], shaped (N, 28, 28, 1); y = the labels as int64 (N,) class indices (use the
    sparse cross-entropy; no one-hot)."""
    raise NotImplementedError("q6_mnist_cnn.py: preprocess is not implemented yet: scale and "
                              "reshape the images as its docstring says")


def build_model() -> keras.Model:
    """Conv2D(32, 3x3, relu), MaxPooling2D(2), Conv2D(64, 3x3, relu),
    MaxPooling2D(2), Flatten, Dense(128, relu), Dropout(0.5), Dense(10, softmax);
    compiled with Adam, sparse_categorical_crossentropy, metrics=["accuracy"].
    225,034 parameters."""
    raise NotImplementedError("q6_mnist_cnn.py: build_model is not implemented yet: return the "
                              "compiled CNN described in its docstring")


if __name__ == "__main__":
    print("Write the functions above, then load MNIST, train and evaluate here.")
