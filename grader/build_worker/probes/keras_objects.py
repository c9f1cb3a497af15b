"""Factories for ``$make`` markers: the Keras objects probes pass to a student's
function (grader.probe_contract.KERAS_OBJECTS).

Build-worker side only (this module imports keras); the parent names these functions
in markers and never imports them. Each object is made from the JSON arguments the
parent chose, so the parent knows its parameter counts without TensorFlow.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers


def frozen_model(input_shape: list[int], filters: int, kernel: int, units: int,
                 classes: int, freeze_dense: bool) -> Any:
    """Conv2D (frozen), BatchNormalization, ReLU, MaxPooling2D(2), Flatten,
    Dense(units, relu) (frozen if ``freeze_dense``), Dense(classes, softmax): the
    model of the param_count probe, whose parent half counts it in ``counts``."""
    model = keras.Sequential([
        keras.Input(tuple(input_shape)),
        layers.Conv2D(filters, kernel, name="frozen_conv", trainable=False),
        layers.BatchNormalization(name="bn"),
        layers.Activation("relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(units, activation="relu", name="hidden", trainable=not freeze_dense),
        layers.Dense(classes, activation="softmax", name="out"),
    ], name="probe_model")
    return model
