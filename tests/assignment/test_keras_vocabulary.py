"""The parent's declared Keras names are Keras' own: held to the installed Keras, so
the list cannot drift from the library the verify worker loads models with."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from grader.parent.keras_vocabulary import (
    ACTIVATION_ALIASES,
    ACTIVATIONS,
    LAYER_ALIASES,
    LAYER_TYPES,
    activation_problem,
    layer_type_problem,
)

# Run in a child, as the grader's workers do: the test process keeps TensorFlow out.
_INTROSPECT = """
import inspect, json, keras
layers, aliases = set(), {}
for name in dir(keras.layers):
    obj = getattr(keras.layers, name)
    if inspect.isclass(obj) and issubclass(obj, keras.layers.Layer):
        layers.add(obj.__name__)
        if name != obj.__name__:
            aliases[name] = obj.__name__
functions = [name for name in dir(keras.activations) if not name.startswith("_")
             and name not in ("get", "serialize", "deserialize")]
saved = {}
for name in functions:
    # What a layer's saved config says for this activation: the name the spec must use.
    saved[name] = keras.layers.Dense(1, activation=name).get_config()["activation"]
print(json.dumps({"layers": sorted(layers), "aliases": aliases, "saved": saved}))
"""


def _keras_names() -> dict:
    done = subprocess.run([sys.executable, "-c", _INTROSPECT], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_declared_layer_types_and_activations_are_exactly_those_of_keras():
    real = _keras_names()
    assert sorted(LAYER_TYPES) == real["layers"], (
        f"add {sorted(set(real['layers']) - LAYER_TYPES)}, remove "
        f"{sorted(LAYER_TYPES - set(real['layers']))} in grader/parent/keras_vocabulary.py")
    assert LAYER_ALIASES == real["aliases"]
    saved = real["saved"]
    assert ACTIVATIONS == {v for k, v in saved.items() if k == v}
    assert ACTIVATION_ALIASES == {k: v for k, v in saved.items() if k != v}


def test_a_misspelt_layer_type_is_named_with_the_closest_keras_class():
    assert layer_type_problem("Dense") is None
    assert "did you mean 'Dense'?" in layer_type_problem("Dens")
    assert "did you mean 'Conv2D'?" in layer_type_problem("conv2d")
    assert "did you mean 'BatchNormalization'?" in layer_type_problem("BatchNorm")
    assert "nothing of that name" in layer_type_problem("Xyzzy")


def test_an_alias_that_keras_saves_under_another_name_is_refused_with_that_name():
    assert "write 'MaxPooling2D'" in layer_type_problem("MaxPool2D")
    assert "write 'silu'" in activation_problem("swish")


def test_nested_model_types_are_known():
    assert all(layer_type_problem(t) is None for t in ("Model", "Functional", "Sequential"))


def test_activations_are_compared_without_case_as_the_architecture_check_does():
    assert activation_problem("ReLU") is None
    assert "did you mean 'relu'?" in activation_problem("rellu")
