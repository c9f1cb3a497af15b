"""CS 577 Assignment 4, programming question 1: cats vs dogs (your solution).

The data is a prepared directory (`grader data prepare cats-dogs --zip ...`
writes one) with one folder per split and one per class inside it:

    DATA_DIR/train/{cat,dog}/*.jpg   DATA_DIR/validation/...   DATA_DIR/test/...

Contract for every model here: input 150x150x3 float images in [0, 1], output
ONE sigmoid probability (a binary task needs one sigmoid unit, not two),
compiled with binary cross-entropy. The datasets rescale to [0, 1] for you.

What the grader does: imports this file (nothing may train or read data at
import time), calls the builders and checks layers, parameter counts and
graph facts (a frozen VGG16 base; part of it trainable after fine-tuning;
augmentation layers present); calls make_datasets on a small directory; runs
activation_maps and filter_pattern on a fixed model and image and checks their
shapes, ranges and that the pattern raises the filter's mean activation.
VGG16 weights come from a file path; the grader passes weights=None.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

IMAGE_SIZE = (150, 150)
INPUT_SHAPE = (*IMAGE_SIZE, 3)
BATCH_SIZE = 32
SPLITS = ("train", "validation", "test")


def make_datasets(data_dir: str | Path, image_size: tuple[int, int] = IMAGE_SIZE,
                  batch_size: int = BATCH_SIZE, seed: int = 0):
    """(b) Returns (train, validation, test) datasets from DATA_DIR/{train,validation,test}/CLASS/.

    Use keras.utils.image_dataset_from_directory (Keras 3 has no
    ImageDataGenerator) with label_mode="binary". Each dataset yields
    (images float32 (batch, H, W, 3) in [0, 1], labels float32 (batch, 1)),
    0 = first class alphabetically. Shuffle only the training set.
    Use the image_size (H, W) and batch_size arguments: the grader passes
    other values than the defaults, and checks that every file of each split
    comes once, at that size, in [0, 1], with its folder's label.
    """
    raise NotImplementedError("cats_dogs.py: make_datasets is not implemented yet: return "
                              "(train, validation, test) datasets as its docstring says")


def build_cnn(learning_rate: float = 1e-3) -> keras.Model:
    """(c) A CNN: several blocks of Conv2D + BatchNormalization + MaxPooling2D,
    Flatten, one or more Dense layers, Dense(1, sigmoid). Name the conv layers
    conv1, conv2, ... so the visualisations can refer to them. Compile with
    Adam(learning_rate), binary_crossentropy, metrics=["accuracy"]."""
    raise NotImplementedError("cats_dogs.py: build_cnn is not implemented yet: return the "
                              "compiled CNN described in its docstring")


def activation_maps(model: keras.Model, image: np.ndarray,
                    layer_names: list[str]) -> dict[str, np.ndarray]:
    """(e) The activations of the named layers for one input image.

    model: a Keras model (e.g. from build_cnn); image: float (H, W, C) in [0, 1]
    at the model's input size, no batch axis; layer_names: names of layers in it.
    Returns {layer_name: float32 array (h, w, channels)}: that layer's output
    for the image with the batch axis removed. Checked against the layer's
    true output on the same model and image.
    """
    raise NotImplementedError("cats_dogs.py: activation_maps is not implemented yet: return "
                              "{layer_name: (h, w, channels) array} as its docstring says")


def filter_pattern(model: keras.Model, layer_name: str, filter_index: int,
                   start_image: np.ndarray, steps: int = 30,
                   step_size: float = 0.05) -> np.ndarray:
    """(f) The input that maximises one filter's response, by gradient ascent.

    Start from start_image (H, W, C) floats in [0, 1]; for `steps` steps, add
    step_size times the (normalised) gradient of the mean activation of filter
    `filter_index` in layer `layer_name` with respect to the image, and clip to
    [0, 1]. Returns float32 (H, W, C) in [0, 1], the start image's shape.
    Checked: shape, range, finite, and the filter's mean activation on the
    result is higher than on the start image.
    Tip: a filter whose ReLU output is zero everywhere has no gradient; climbing
    the conv's pre-activation (layer.convolution_op(x, layer.kernel) + bias)
    avoids getting stuck.
    """
    raise NotImplementedError("cats_dogs.py: filter_pattern is not implemented yet: return the "
                              "gradient-ascent image described in its docstring")


def build_vgg16_frozen(weights: str | None = None, augment: bool = False,
                       learning_rate: float = 1e-4) -> keras.Model:
    """(g) keras.applications.VGG16(include_top=False, weights=weights,
    input_shape=(150, 150, 3)) as a nested model named "vgg16", frozen
    (trainable = False), with a new head: Flatten, Dense(256, relu), Dropout,
    Dense(1, sigmoid). The model's input is [0, 1]; VGG16 expects 0-255 BGR minus
    the ImageNet means, so map it with layers that load with safe_mode (no
    Lambda). weights is a file path or None, never "imagenet" (no downloads).
    augment=True puts augmentation() in front (task i). Only the head trains.
    """
    raise NotImplementedError("cats_dogs.py: build_vgg16_frozen is not implemented yet: return "
                              "VGG16's frozen conv base with a new head, compiled")


def fine_tune(model: keras.Model, learning_rate: float = 1e-5,
              first_trainable: str = "block5_conv1") -> keras.Model:
    """(h) Unfreeze the "vgg16" base from layer `first_trainable` on, keep the
    earlier layers frozen, recompile with the lower learning rate, return model."""
    raise NotImplementedError("cats_dogs.py: fine_tune is not implemented yet: unfreeze the top "
                              "of the VGG16 base and recompile with a lower learning rate")


def build_vgg16_fine_tuned(weights: str | None = None) -> keras.Model:
    """(h) fine_tune(build_vgg16_frozen(weights)): checked for a partly trainable base."""
    raise NotImplementedError("cats_dogs.py: build_vgg16_fine_tuned is not implemented yet: "
                              "return fine_tune(build_vgg16_frozen(weights))")


def augmentation() -> keras.Sequential:
    """(i) A keras.Sequential of random augmentation layers (RandomFlip,
    RandomRotation, RandomZoom, ...): active in training, inactive at evaluation."""
    raise NotImplementedError("cats_dogs.py: augmentation is not implemented yet: return a "
                              "Sequential of Random* preprocessing layers")


def build_vgg16_augmented(weights: str | None = None) -> keras.Model:
    """(i) The frozen-base model of (g) with augmentation() in front."""
    raise NotImplementedError("cats_dogs.py: build_vgg16_augmented is not implemented yet: "
                              "return build_vgg16_frozen(weights, augment=True)")


def train_two_stage(model: keras.Model, train, validation, epochs: int = 10,
                    fine_tune_epochs: int = 10):
    """(g)+(h) Fit the frozen-base `model` of build_vgg16_frozen() on `train` with
    `validation` for `epochs` epochs, then fine_tune(model) and fit it again for
    `fine_tune_epochs`; return the two History objects.

    Graded by training: the grader calls it with tf.data datasets of the cats
    vs dogs training and validation splits (batches of (images in [0, 1],
    labels 0 cat / 1 dog)) and scores the weights it leaves on the test split,
    which it never passes you."""
    raise NotImplementedError("cats_dogs.py: train_two_stage is not implemented yet: train the "
                              "head, then fine_tune(model) and train again")


if __name__ == "__main__":
    print("Write the functions above, then train them here on your prepared directory.")
