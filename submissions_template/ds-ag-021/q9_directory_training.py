"""DS-AG-021 Question 9: train a CNN from a class-per-folder image directory with
augmentation (your solution).

Keras 3 removed ImageDataGenerator: use keras.utils.image_dataset_from_directory
for the folders and preprocessing layers (Rescaling, RandomFlip, ...) for
rescaling and augmentation. Layout: TRAIN_DIR/class_a/*.jpg, TRAIN_DIR/class_b/...

What the grader does: imports this file (nothing may train at import time),
calls make_datasets on a small directory, and build_model(2), whose layers,
augmentation layers and parameter count it checks.
"""

from __future__ import annotations

from pathlib import Path

import keras

IMAGE_SIZE = (150, 150)
BATCH_SIZE = 32


def make_datasets(train_dir: str | Path, val_dir: str | Path,
                  image_size: tuple[int, int] = IMAGE_SIZE, batch_size: int = BATCH_SIZE,
                  seed: int = 0):
    """Returns (train, val, class_names): the training set shuffled (seeded), the
    validation set not, using the training set's class names for both. Batches
    are (float32 images (B, H, W, 3) in [0, 255], int labels (B,)): label k is
    the k-th class folder in alphabetical order, and the pixels are not rescaled
    (the model's Rescaling layer does that). Use the image_size (H, W) and
    batch_size arguments: the grader passes other values than the defaults."""
    raise NotImplementedError("q9_directory_training.py: make_datasets is not implemented yet")


def augmentation() -> keras.Sequential:
    """A Sequential of random layers: rotation, translation, shear, zoom, horizontal flip.
    The model must load with keras.saving.load_model(safe_mode=True): in Keras 3.15
    give RandomShear explicit ranges, e.g. x_factor=(0.0, 0.1), since a scalar
    factor does not survive saving."""
    raise NotImplementedError("q9_directory_training.py: augmentation is not implemented yet")


def build_model(num_classes: int = 2, image_size: tuple[int, int] = IMAGE_SIZE) -> keras.Model:
    """Input raw 0-255 images (H, W, 3): Rescaling(1/255), augmentation(),
    Conv2D(32, 3x3, relu), MaxPooling2D(2), Conv2D(64, 3x3, relu),
    MaxPooling2D(2), Flatten, Dense(128, relu), Dense(num_classes, softmax);
    compiled with Adam and sparse_categorical_crossentropy."""
    raise NotImplementedError("q9_directory_training.py: build_model is not implemented yet")


def train(train_dir: str | Path, val_dir: str | Path, epochs: int = 20) -> keras.Model:
    """Read both class-per-folder directories with make_datasets, build a model for
    their classes with build_model, fit it for `epochs` epochs with the validation
    set, and return the trained model.

    Graded by training: the grader writes the training and validation splits of
    a dataset (PNGs, one folder per class) and calls this; the model you return
    is scored on a test split it never passes you."""
    raise NotImplementedError("q9_directory_training.py: train is not implemented yet")


if __name__ == "__main__":
    print("Write the functions above, then train on your directories here.")
