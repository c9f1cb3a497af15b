"""CS 577 Assignment 4, programming question 1: cats vs dogs (reference solution).

The data is a prepared directory (`grader data prepare cats-dogs --zip ...`
writes one) with one folder per split and one folder per class inside it:

    DATA_DIR/train/{cat,dog}/*.jpg   DATA_DIR/validation/...   DATA_DIR/test/...

Every model here takes a 150x150x3 float image in [0, 1] and outputs one
sigmoid probability (dog = 1, classes in alphabetical order). The datasets
rescale to [0, 1], so the models and the visualisation functions agree on input.
Importing this file builds nothing and reads no data.
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

IMAGE_SIZE = (150, 150)
INPUT_SHAPE = (*IMAGE_SIZE, 3)
BATCH_SIZE = 32
SPLITS = ("train", "validation", "test")


# --- (b) data generators ----------------------------------------------------

def make_datasets(data_dir: str | Path, image_size: tuple[int, int] = IMAGE_SIZE,
                  batch_size: int = BATCH_SIZE, seed: int = 0):
    """(b) Training, validation and test datasets from DATA_DIR/{train,validation,test}/CLASS/.

    Keras 3 has no ImageDataGenerator; `image_dataset_from_directory` is today's
    generator. Each yields (images, labels): images float32 (batch, H, W, 3) in
    [0, 1], labels float32 (batch, 1) with 0 = first class alphabetically.
    Only the training set is shuffled, so evaluation order is reproducible.
    """
    root = Path(data_dir)
    datasets = []
    for split in SPLITS:
        if not (root / split).is_dir():
            raise FileNotFoundError(f"cats_dogs.py: make_datasets: {root / split} is missing; "
                                    "prepare the data with `grader data prepare cats-dogs`")
        ds = keras.utils.image_dataset_from_directory(
            root / split, label_mode="binary", image_size=image_size, batch_size=batch_size,
            shuffle=split == "train", seed=seed, verbose=False)
        datasets.append(ds.map(lambda x, y: (x / 255.0, y)).prefetch(tf.data.AUTOTUNE))
    return tuple(datasets)


# --- (c) a CNN with convolution, pooling and normalisation ------------------

def build_cnn(learning_rate: float = 1e-3) -> keras.Model:
    """(c) Four conv blocks (Conv2D 3x3 relu, BatchNormalization, MaxPooling2D),
    Flatten, Dropout, Dense(256, relu), Dense(1, sigmoid). The conv layers are
    named conv1..conv4 so the visualisations can refer to them."""
    model = keras.Sequential([keras.Input(INPUT_SHAPE)], name="cats_dogs_cnn")
    for i, filters in enumerate((32, 64, 128, 128), start=1):
        model.add(layers.Conv2D(filters, 3, activation="relu", name=f"conv{i}"))
        model.add(layers.BatchNormalization(name=f"bn{i}"))
        model.add(layers.MaxPooling2D(2, name=f"pool{i}"))
    model.add(layers.Flatten())
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(256, activation="relu"))
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def trace_layers(model: keras.Model, batch, layer_names: list[str]) -> tuple[list, object, object]:
    """Runs `model` on `batch` in inference mode and returns (the outputs of the
    named layers, the input of the last layer, the model's output).

    A Sequential model grown with `add()` keeps stale symbolic tensors in
    `layer.output` (one per rebuild), so a probe model cut from them can be
    disconnected from the head; running its layers one by one avoids that.
    """
    if isinstance(model, keras.Sequential):
        found: dict = {}
        x = batch
        head_input = None
        for i, layer in enumerate(model.layers):
            if i == len(model.layers) - 1:
                head_input = x
            x = layer(x, training=False)
            found[layer.name] = x
        missing = [n for n in layer_names if n not in found]
        if missing:
            raise ValueError(f"model {model.name!r} has no layer named {missing[0]!r}")
        return [found[n] for n in layer_names], head_input, x
    probe = keras.Model(model.inputs[0], [model.get_layer(n).output for n in layer_names]
                        + [model.layers[-1].input, model.outputs[0]])
    *outputs, head_input, output = probe(batch, training=False)
    return outputs, head_input, output


# --- (e) activation maps ------------------------------------------------------

def activation_maps(model: keras.Model, image: np.ndarray,
                    layer_names: list[str]) -> dict[str, np.ndarray]:
    """(e) The activations of the named layers for one input image.

    image: float array (H, W, C) in [0, 1], the model's input size, no batch axis.
    Returns {layer_name: float32 array (h, w, channels)}: that layer's output for
    the image, batch axis removed, one channel per filter.
    """
    outputs, _, _ = trace_layers(model, np.asarray(image, dtype="float32")[None], layer_names)
    return {name: np.asarray(out)[0] for name, out in zip(layer_names, outputs, strict=True)}


# --- (f) filter visualisation by gradient ascent ------------------------------

def _layer_input(model: keras.Model, batch, layer: layers.Layer):
    """What `layer` receives when `model` runs on `batch` (inference mode)."""
    if isinstance(model, keras.Sequential):
        x = batch
        for current in model.layers:
            if current is layer:
                return x
            x = current(x, training=False)
        raise ValueError(f"cats_dogs.py: {layer.name!r} is not a layer of {model.name!r}")
    return keras.Model(model.inputs[0], layer.input)(batch, training=False)


def filter_pattern(model: keras.Model, layer_name: str, filter_index: int,
                   start_image: np.ndarray, steps: int = 30,
                   step_size: float = 0.05) -> np.ndarray:
    """(f) The input that maximises one filter's response, by gradient ascent.

    Starting from start_image (H, W, C) floats in [0, 1], repeatedly moves the
    image along the normalised gradient of the filter's mean response in layer
    `layer_name` and clips it to [0, 1].
    Returns float32 (H, W, C) in [0, 1], same shape as start_image, whose mean
    activation of that filter is higher than the start image's.

    For a Conv2D layer the response climbed is the filter's pre-activation (the
    ReLU's input): a filter silent everywhere on the start image has a zero
    gradient after its ReLU, and would never move.
    """
    layer = model.get_layer(layer_name)
    convolution = isinstance(layer, layers.Conv2D)
    image = tf.Variable(np.asarray(start_image, dtype="float32")[None])
    for _ in range(steps):
        with tf.GradientTape() as tape:
            if convolution:
                response = layer.convolution_op(_layer_input(model, image, layer), layer.kernel)
                if layer.use_bias:
                    response = response + layer.bias
            else:
                (response,), _, _ = trace_layers(model, image, [layer_name])
            activation = tf.reduce_mean(response[..., filter_index])
        grads = tape.gradient(activation, image)
        # Normalising the gradient makes the step size mean the same at every layer.
        grads = grads / (tf.sqrt(tf.reduce_mean(tf.square(grads))) + 1e-8)
        image.assign(tf.clip_by_value(image + step_size * grads, 0.0, 1.0))
    return image.numpy()[0]


# --- (g) VGG16 convolution base, frozen -------------------------------------

def _vgg16_preprocessing() -> layers.Layer:
    """Maps [0, 1] RGB to what VGG16's ImageNet weights expect (0-255 BGR minus
    the ImageNet channel means) as a frozen 1x1 convolution: unlike a Lambda
    around `preprocess_input`, it loads with safe_mode, so the grader can verify it."""
    mean_bgr = np.array([103.939, 116.779, 123.68], dtype="float32")
    kernel = np.zeros((1, 1, 3, 3), dtype="float32")
    for out_channel, in_channel in enumerate((2, 1, 0)):  # RGB -> BGR
        kernel[0, 0, in_channel, out_channel] = 255.0
    conv = layers.Conv2D(3, 1, name="vgg16_preprocess", trainable=False)
    conv.build((None, None, None, 3))
    conv.set_weights([kernel, -mean_bgr])
    return conv


def _vgg16_base(weights: str | None) -> keras.Model:
    # `weights` is a file path (the course hands out the notop .h5) or None for
    # random weights; never "imagenet", which would download at run time.
    if weights == "imagenet":
        raise ValueError("cats_dogs.py: pass the path of the VGG16 notop weights file, "
                         "not 'imagenet': nothing may download while grading")
    return keras.applications.VGG16(include_top=False, weights=weights, input_shape=INPUT_SHAPE)


def build_vgg16_frozen(weights: str | None = None, augment: bool = False,
                       learning_rate: float = 1e-4) -> keras.Model:
    """(g) VGG16's convolution base, frozen, with a new head:
    Flatten, Dense(256, relu), Dropout(0.5), Dense(1, sigmoid).

    weights: path of the VGG16 notop weights file, or None (random; tests).
    augment: put the augmentation layers of `augmentation()` in front (task i).
    Only the head is trainable: 2,097,665 parameters.
    """
    base = _vgg16_base(weights)
    base.trainable = False
    inputs = keras.Input(INPUT_SHAPE)
    x = augmentation()(inputs) if augment else inputs
    x = _vgg16_preprocessing()(x)
    # training=False keeps the base in inference mode even once unfrozen.
    x = base(x, training=False)
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs, name="vgg16_frozen" + ("_augmented" if augment else ""))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


# --- (h) fine-tuning -------------------------------------------------------

def fine_tune(model: keras.Model, learning_rate: float = 1e-5,
              first_trainable: str = "block5_conv1") -> keras.Model:
    """(h) Unfreezes the VGG16 base from layer `first_trainable` on (the last
    block by default: the most task-specific features) and recompiles with a
    lower learning rate, so training continues without wrecking the weights."""
    base = model.get_layer("vgg16")
    base.trainable = True
    trainable = False
    for layer in base.layers:
        trainable = trainable or layer.name == first_trainable
        layer.trainable = trainable
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def build_vgg16_fine_tuned(weights: str | None = None) -> keras.Model:
    """(h) The model of (g) after fine_tune(): block 5 of the base trainable, lr 1e-5.
    Use it after training build_vgg16_frozen(); see train_two_stage()."""
    return fine_tune(build_vgg16_frozen(weights))


# --- (i) data augmentation --------------------------------------------------

def augmentation() -> keras.Sequential:
    """(i) Random flips, rotations and zooms. As layers they run on the device with
    the model and are inactive at evaluation: Keras 3's replacement for an
    augmenting ImageDataGenerator."""
    return keras.Sequential([
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(0.1),
        layers.RandomZoom(0.2),
    ], name="augmentation")


def build_vgg16_augmented(weights: str | None = None) -> keras.Model:
    """(i) The frozen-base model of (g) with augmentation layers in front."""
    return build_vgg16_frozen(weights, augment=True)


def train_two_stage(model: keras.Model, train, validation, epochs: int = 10,
                    fine_tune_epochs: int = 10):
    """(g)+(h): trains the head with the base frozen, then fine-tunes block 5."""
    frozen = model.fit(train, validation_data=validation, epochs=epochs, verbose=2)
    fine_tune(model)
    tuned = model.fit(train, validation_data=validation, epochs=fine_tune_epochs, verbose=2)
    return frozen, tuned


def main(argv: list[str]) -> None:
    data_dir = argv[1] if len(argv) > 1 else "cats_vs_dogs_small"
    weights = argv[2] if len(argv) > 2 else None
    train, validation, test = make_datasets(data_dir)
    keras.utils.set_random_seed(0)
    cnn = build_cnn()
    cnn.fit(train, validation_data=validation, epochs=20, verbose=2)
    print("CNN test accuracy:", cnn.evaluate(test, verbose=0)[1])
    vgg = build_vgg16_frozen(weights)
    train_two_stage(vgg, train, validation)
    print("VGG16 fine-tuned test accuracy:", vgg.evaluate(test, verbose=0)[1])
    augmented = build_vgg16_augmented(weights)
    augmented.fit(train, validation_data=validation, epochs=20, verbose=2)
    print("VGG16 + augmentation test accuracy:", augmented.evaluate(test, verbose=0)[1])


if __name__ == "__main__":
    main(sys.argv)
