"""DS-AG-021 Question 10: the chest X-ray classifier behind the Streamlit app
(your solution): model, preprocessing, Grad-CAM and overlay.

What the grader does: imports this file (nothing may train at import time),
calls build_model() and checks it (one sigmoid output unit for the binary
task), scores the model your train() trains, runs grad_cam on a fixed model
and image and compares it with a reference Grad-CAM, and runs xray_app.py
with Streamlit's AppTest on an uploaded image and a model path given in
XRAY_MODEL.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

IMAGE_SIZE = (224, 224)
CLASS_NAMES = ("Normal", "Pneumonia")  # label 0, label 1


def load_image(data: bytes, image_size: tuple[int, int] = IMAGE_SIZE) -> np.ndarray:
    """Decodes PNG/JPEG bytes (grey or colour) to float32 (H, W, 3) in [0, 1]:
    pixels / 255, resized to image_size = (height, width) (PIL's resize takes (width,
    height)), RGB channel order, a grey image repeated over the three channels.
    Raise an exception for bytes that are not an image."""
    raise NotImplementedError("xray.py: load_image is not implemented yet")


def build_model(image_size: tuple[int, int] = IMAGE_SIZE, learning_rate: float = 1e-3) -> keras.Model:
    """A CNN for float (H, W, 3) inputs in [0, 1] with Conv2D layers and ONE
    Dense(1, sigmoid) output (the pneumonia probability), compiled with
    binary_crossentropy."""
    raise NotImplementedError("xray.py: build_model is not implemented yet")


def predict(model: keras.Model, image: np.ndarray) -> float:
    """Pneumonia probability (0-1) for one image (H, W, 3) in [0, 1]."""
    raise NotImplementedError("xray.py: predict is not implemented yet")


def grad_cam(model: keras.Model, image: np.ndarray, class_index: int = 1,
             layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM map, float32 (H, W) in [0, 1] at the image's size (all zeros if
    nothing supports the class). class_index 1 explains "Pneumonia" (the output
    logit), 0 explains "Normal" (the negated logit); layer_name defaults to the
    last Conv2D layer."""
    raise NotImplementedError("xray.py: grad_cam is not implemented yet")


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.4) -> np.ndarray:
    """The image (H, W, 3) in [0, 1] with the map (H, W) blended over it; uint8 (H, W, 3)."""
    raise NotImplementedError("xray.py: overlay is not implemented yet")


def train(train_dir: str | Path, val_dir: str | Path, out: str | Path,
          epochs: int = 10) -> keras.Model:
    """Fit build_model() on the class-per-folder directories (NORMAL/, PNEUMONIA/:
    label 0 and 1) with the validation set, save the model to `out` (.keras) and
    return it.

    Graded by training: the grader writes the training and validation splits as
    PNG folders and calls this; the model is scored on a test split it never
    passes you."""
    raise NotImplementedError("xray.py: train is not implemented yet")
