"""Practical 2, section 0.4: Grad-CAM for your convolutional models (your solution).

What the grader does: it builds a conv model from your cnn.py, picks a fixed
image and class, calls `grad_cam(model, image, class_index)` and checks that
the map has the image's height and width, is finite, lies in [0, 1], and agrees
(by correlation) with a reference Grad-CAM of the same model, image and class.
It also calls `grad_cam_figure` with images of at least three classes and
checks that a PNG was written.

`python gradcam.py [DATA_DIR] [OUT.png]` trains MODEL_NUMBER (2 or 4) and
writes your figure.
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np


def grad_cam(model: keras.Model, image: np.ndarray, class_index: int,
             layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM heat map of `class_index` for one image.

    model: a Keras model whose input is one image batch (N, H, W, C).
    image: float array (H, W, C) in [0, 1], without the batch axis.
    class_index: the class to explain, 0 <= class_index < number of outputs.
    layer_name: the conv layer to explain; default: the last Conv2D layer.
    Returns: float32 array (H, W) in [0, 1], the image's own height and width
    (resize the conv layer's map up to it); 1 marks the strongest evidence;
    all zeros when no location supports the class.

    Recipe: take the class score (the output layer's logit, i.e. before softmax,
    where you can), its gradient with respect to the conv layer's feature maps,
    average the gradient over height and width (one weight per channel), weight
    the feature maps by it, sum over channels, ReLU, resize, divide by the max.
    Tip: a Sequential model grown with add() keeps stale tensors in
    layer.output; running model.layers one by one under a GradientTape is safe.
    """
    raise NotImplementedError("gradcam.py: grad_cam is not implemented yet: return the "
                              "(H, W) Grad-CAM map in [0, 1] described in its docstring")


def grad_cam_figure(model: keras.Model, images: np.ndarray, class_indices: list[int],
                    path: str | Path, scale: int = 4) -> Path:
    """Writes a PNG with one row per image: the image, its Grad-CAM map, the overlay.

    images: (N, H, W, C) floats in [0, 1]; class_indices: the class explained in
    each row (N of them, at least three different ones for the practical).
    Returns the path written. (tf.io.encode_png writes PNGs without matplotlib.)
    """
    raise NotImplementedError("gradcam.py: grad_cam_figure is not implemented yet: write a PNG "
                              "of each image, its grad_cam map and the overlay, return its path")


def one_example_per_class(x: np.ndarray, y: np.ndarray, classes) -> tuple[np.ndarray, list[int]]:
    """The first image of each class in `classes`, in that order (given)."""
    picks = [int(np.flatnonzero(y == c)[0]) for c in classes]
    return x[picks], [int(c) for c in classes]


def main(argv: list[str]) -> None:
    import cnn

    data_dir = argv[1] if len(argv) > 1 else cnn.DEFAULT_DATA_DIR
    out = argv[2] if len(argv) > 2 else "gradcam.png"
    (x_train, y_train), (x_test, y_test) = cnn.load_fashion_mnist(data_dir)
    keras.utils.set_random_seed(0)
    model = cnn.build_model(cnn.MODEL_NUMBER)
    model.fit(x_train, y_train, batch_size=cnn.TRAINING["batch_size"],
              epochs=cnn.TRAINING["epochs"], verbose=2)
    images, classes = one_example_per_class(x_test, y_test, range(cnn.NUM_CLASSES))
    print("wrote", grad_cam_figure(model, images, classes, out))


if __name__ == "__main__":
    main(sys.argv)
