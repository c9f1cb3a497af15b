"""Property tests: the exact solver agrees with TensorFlow and Keras on random inputs.

TensorFlow is imported once for the whole module; inputs are small integers, so
float32 results are exact and compared for equality.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from theory.layers import Layer, parse_layers, propagate
from theory.ops import conv2d, depthwise_conv2d, pool2d
from theory.questions import get_question
from theory.shapes import ShapeError, effective_kernel

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
small = st.integers(-3, 3)


def tensor(draw, shape: tuple[int, ...]) -> np.ndarray:
    values = draw(st.lists(small, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return np.array(values, dtype=np.float32).reshape(shape)


def ours(array: np.ndarray) -> list:
    return array.astype(int).tolist()


@st.composite
def conv_case(draw):
    h, w, c, m = (draw(st.integers(1, 7)), draw(st.integers(1, 7)), draw(st.integers(1, 3)),
                  draw(st.integers(1, 3)))
    fh, fw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.one_of(st.sampled_from(["valid", "same"]),
                             st.tuples(*[st.integers(0, 2)] * 4)))
    return (tensor(draw, (h, w, c)), tensor(draw, (fh, fw, c, m)), stride, dilation, padding)


def tf_padding(padding):
    if isinstance(padding, str):
        return padding.upper()
    top, bottom, left, right = padding
    return [[0, 0], [top, bottom], [left, right], [0, 0]]


def fits(image: np.ndarray, kernel_hw: tuple[int, int], dilation, padding) -> bool:
    pads = (0, 0, 0, 0) if isinstance(padding, str) else padding
    if padding == "same":
        return True
    return (image.shape[0] + pads[0] + pads[1] >= effective_kernel(kernel_hw[0], dilation[0])
            and image.shape[1] + pads[2] + pads[3] >= effective_kernel(kernel_hw[1], dilation[1]))


@SETTINGS
@given(conv_case())
def test_conv2d_matches_tf_nn_conv2d(case) -> None:
    image, kernel, stride, dilation, padding = case
    assume(fits(image, kernel.shape[:2], dilation, padding))
    expected = tf.nn.conv2d(image[None], kernel, strides=[1, *stride, 1],
                            padding=tf_padding(padding), dilations=[1, *dilation, 1])
    result = conv2d(ours(image), ours(kernel), stride, padding, dilation)
    assert result.output == ours(expected.numpy()[0])


@SETTINGS
@given(conv_case())
def test_depthwise_conv2d_matches_tf_nn_depthwise_conv2d(case) -> None:
    image, kernel, stride, dilation, padding = case
    kernel = kernel[:, :, :, :1]
    assume(isinstance(padding, str))
    if max(dilation) > 1:
        stride = (1, 1)   # TensorFlow's depthwise op takes a rate only with stride 1
    assume(fits(image, kernel.shape[:2], dilation, padding))
    expected = tf.nn.depthwise_conv2d(image[None], kernel, strides=[1, *stride, 1],
                                      padding=padding.upper(), dilations=list(dilation))
    result = depthwise_conv2d(ours(image), ours(kernel), stride, padding, dilation)
    assert result.output == ours(expected.numpy()[0])


@st.composite
def pool_case(draw):
    h, w, c = draw(st.integers(1, 7)), draw(st.integers(1, 7)), draw(st.integers(1, 3))
    size = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "same"]))
    return tensor(draw, (h, w, c)), size, stride, padding


@SETTINGS
@given(pool_case())
def test_max_pool_matches_tf_nn_max_pool2d(case) -> None:
    image, size, stride, padding = case
    assume(padding == "same" or (image.shape[0] >= size[0] and image.shape[1] >= size[1]))
    expected = tf.nn.max_pool2d(image[None], size, stride, padding.upper())
    assert pool2d(ours(image), size, stride, padding, "max").output == ours(expected.numpy()[0])


@SETTINGS
@given(pool_case())
def test_average_pool_matches_tf_nn_avg_pool2d(case) -> None:
    image, size, stride, padding = case
    assume(padding == "same" or (image.shape[0] >= size[0] and image.shape[1] >= size[1]))
    expected = tf.nn.avg_pool2d(image[None], size, stride, padding.upper()).numpy()[0]
    result = np.array(pool2d(ours(image), size, stride, padding, "avg").output, dtype=float)
    np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-6)


def to_keras(layers: list[Layer]):
    """The Keras model a layer list describes (what a student would write)."""
    L = keras.layers
    built = []
    for layer in layers:
        kind = layer.kind
        if kind == "input":
            built.append(keras.Input(shape=layer.shape))
        elif kind == "conv":
            built.append(L.Conv2D(layer.filters, layer.kernel, strides=layer.stride,
                                  padding=layer.padding, dilation_rate=layer.dilation,
                                  use_bias=layer.use_bias, activation=layer.activation or None))
        elif kind == "dwconv":
            built.append(L.DepthwiseConv2D(layer.kernel, strides=layer.stride,
                                           padding=layer.padding, dilation_rate=layer.dilation,
                                           depth_multiplier=layer.multiplier,
                                           use_bias=layer.use_bias))
        elif kind == "sepconv":
            built.append(L.SeparableConv2D(layer.filters, layer.kernel, strides=layer.stride,
                                           padding=layer.padding, dilation_rate=layer.dilation,
                                           depth_multiplier=layer.multiplier,
                                           use_bias=layer.use_bias))
        elif kind == "maxpool":
            built.append(L.MaxPooling2D(layer.kernel, strides=layer.stride, padding=layer.padding))
        elif kind == "avgpool":
            built.append(L.AveragePooling2D(layer.kernel, strides=layer.stride,
                                            padding=layer.padding))
        elif kind == "gap":
            built.append(L.GlobalAveragePooling2D())
        elif kind == "bn":
            built.append(L.BatchNormalization())
        elif kind == "flatten":
            built.append(L.Flatten())
        elif kind == "dropout":
            built.append(L.Dropout(layer.rate or 0.5))
        elif kind == "dense":
            built.append(L.Dense(layer.units, activation=layer.activation or None,
                                 use_bias=layer.use_bias))
    return keras.Sequential(built)


def keras_counts(model) -> tuple[int, int]:
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return model.count_params(), trainable


@st.composite
def layer_list(draw) -> str:
    h = draw(st.integers(6, 16))
    parts = [f"input:{h}x{draw(st.integers(6, 16))}x{draw(st.integers(1, 4))}"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "dwconv", "sepconv", "maxpool", "avgpool", "bn"]))
        k = draw(st.integers(1, 3))
        options = [draw(st.sampled_from(["same", "valid"]))]
        if kind in ("conv", "dwconv", "sepconv"):
            options.append(draw(st.sampled_from(["s1", "s2", "d2"])))
            if draw(st.booleans()):
                options.append("nobias")
        if kind in ("dwconv", "sepconv") and draw(st.booleans()):
            options.append("m2")
        head = {"conv": f"conv:{draw(st.integers(1, 8))}:{k}x{k}",
                "sepconv": f"sepconv:{draw(st.integers(1, 8))}:{k}x{k}",
                "dwconv": f"dwconv:{k}x{k}", "maxpool": f"maxpool:{max(k, 2)}",
                "avgpool": f"avgpool:{max(k, 2)}", "bn": "bn"}[kind]
        parts.append(head if kind == "bn" else ":".join([head, *options]))
    parts.append(draw(st.sampled_from(["flatten", "gap"])))
    parts += [f"dense:{draw(st.integers(1, 12))}", draw(st.sampled_from(["bn", "dropout"])),
              "dense:3"]
    return ", ".join(parts)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_list())
def test_parameter_counts_and_shapes_match_keras(spec: str) -> None:
    layers = parse_layers(spec)
    try:
        rows = propagate(layers)
    except ShapeError:
        assume(False)
    model = to_keras(layers)
    total, trainable = keras_counts(model)
    assert sum(r.params for r in rows) == total, spec
    assert sum(r.trainable for r in rows) == trainable, spec
    assert list(rows[-1].output_shape) == list(model.output_shape[1:]), spec
    for row, keras_layer in zip(rows[1:], model.layers, strict=True):
        assert list(row.output_shape) == list(keras_layer.output.shape[1:]), (spec, row.layer)


def practical2_layer_lists(model: str) -> list[str]:
    """The layer list of each reading of practical2's question (model 4: with the output
    layer the text omits, then as listed), with the assignment's numbers."""
    return [layers for _, layers in get_question(model, "practical2").computations()]


@pytest.mark.parametrize("model", ["model1", "model2", "model3", "model4"])
def test_practical2_counts_match_keras_count_params(model: str) -> None:
    for spec in practical2_layer_lists(model):
        rows = propagate(parse_layers(spec))
        keras_model = to_keras(parse_layers(spec))
        assert (sum(r.params for r in rows), sum(r.trainable for r in rows)) == \
            keras_counts(keras_model)
    if model == "model4":
        assert keras_counts(keras_model) == (1549002 - 650, 1546954 - 650)
