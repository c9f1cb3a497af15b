"""The reference visual functions: Grad-CAM, activation maps, filter patterns.

Checked by properties a correct answer must have, on small models whose right
answer is known, not against their own output.
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402


def _summing_model(sign: float, grown_with_add: bool) -> keras.Model:
    """Identity 1x1 conv, then one Dense whose class-0 logit is sign * sum of the map.

    Grad-CAM's channel weight is then sign * constant, so for sign > 0 the map is
    the image itself (normalised) and for sign < 0 nothing supports class 0.
    """
    conv = layers.Conv2D(1, 1, activation="relu", name="conv")
    dense = layers.Dense(2, activation="softmax", name="head")
    if grown_with_add:
        model = keras.Sequential([keras.Input((8, 8, 1))])
        for layer in (conv, layers.Flatten(), dense):
            model.add(layer)
    else:
        model = keras.Sequential([keras.Input((8, 8, 1)), conv, layers.Flatten(), dense])
    conv.set_weights([np.ones((1, 1, 1, 1), "float32"), np.zeros(1, "float32")])
    kernel = np.zeros((64, 2), "float32")
    kernel[:, 0] = sign
    dense.set_weights([kernel, np.zeros(2, "float32")])
    return model


def _blob_image() -> np.ndarray:
    image = np.zeros((8, 8, 1), "float32")
    image[1:3, 5:7] = 1.0  # the evidence: a bright square at the top right
    image[6, 1] = 0.25
    return image


@pytest.mark.parametrize("grown_with_add", [False, True])
def test_practical2_grad_cam_finds_the_evidence_for_the_class(reference, grown_with_add):
    gradcam = reference("practical2", "gradcam.py")
    cam = gradcam.grad_cam(_summing_model(1.0, grown_with_add), _blob_image(), 0)
    assert cam.shape == (8, 8) and cam.dtype == np.float32
    assert cam.min() >= 0.0 and cam.max() == pytest.approx(1.0)
    # The map is the image, scaled: strongest on the square, weak on the dot, 0 elsewhere.
    np.testing.assert_allclose(cam, _blob_image()[..., 0], atol=1e-5)


def test_practical2_grad_cam_is_all_zero_when_nothing_supports_the_class(reference):
    gradcam = reference("practical2", "gradcam.py")
    cam = gradcam.grad_cam(_summing_model(-1.0, False), _blob_image(), 0)
    assert not cam.any()


def test_practical2_grad_cam_works_on_models_2_and_4_at_the_image_size(reference):
    cnn, gradcam = reference("practical2", "cnn.py"), reference("practical2", "gradcam.py")
    image = np.random.default_rng(0).random((28, 28, 1)).astype("float32")
    for number in (2, 4):
        cam = gradcam.grad_cam(cnn.build_model(number), image, 3)
        assert cam.shape == (28, 28) and np.isfinite(cam).all()
        assert 0.0 <= cam.min() and cam.max() <= 1.0
    with pytest.raises(ValueError, match="no Conv2D layer"):
        gradcam.grad_cam(cnn.build_model(3), image, 3)


def test_practical2_grad_cam_figure_is_a_png_with_a_row_per_class(reference, tmp_path):
    tf = pytest.importorskip("tensorflow")
    cnn, gradcam = reference("practical2", "cnn.py"), reference("practical2", "gradcam.py")
    images = np.random.default_rng(1).random((3, 28, 28, 1)).astype("float32")
    path = gradcam.grad_cam_figure(cnn.build_model(2), images, [0, 1, 7], tmp_path / "f.png",
                                   scale=2)
    picture = tf.io.decode_png(path.read_bytes()).numpy()
    # Three rows of 28 pixels; three panels of 28 plus two 2-pixel gaps; doubled.
    assert picture.shape == (3 * 28 * 2, (3 * 28 + 4) * 2, 3)


def test_xray_grad_cam_explains_pneumonia_with_the_logit_and_normal_with_its_negation(
        reference):
    xray = reference("ds-ag-021", "xray.py")
    conv = layers.Conv2D(1, 1, activation="relu", name="conv")
    head = layers.Dense(1, activation="sigmoid", name="pneumonia")
    model = keras.Sequential([keras.Input((8, 8, 3)), conv, layers.GlobalAveragePooling2D(),
                              head])
    conv.set_weights([np.ones((1, 1, 3, 1), "float32") / 3, np.zeros(1, "float32")])
    head.set_weights([np.full((1, 1), 50.0, "float32"), np.zeros(1, "float32")])
    image = np.repeat(_blob_image(), 3, axis=-1)
    pneumonia = xray.grad_cam(model, image, class_index=1)
    normal = xray.grad_cam(model, image, class_index=0)
    # A saturated sigmoid (50 * mean) still gives a map: the score is the logit.
    np.testing.assert_allclose(pneumonia, _blob_image()[..., 0], atol=1e-5)
    assert not normal.any()
    overlay = xray.overlay(image, pneumonia)
    assert overlay.shape == (8, 8, 3) and overlay.dtype == np.uint8


def test_activation_maps_are_the_named_layers_outputs(reference):
    cats = reference("cs577-a4", "cats_dogs.py")
    model = cats.build_cnn()
    image = np.random.default_rng(2).random((150, 150, 3)).astype("float32")
    maps = cats.activation_maps(model, image, ["conv1", "conv3"])
    assert {k: v.shape for k, v in maps.items()} == {"conv1": (148, 148, 32),
                                                     "conv3": (34, 34, 128)}
    # What the layer computes, layer by layer, independently of the function.
    x = image[None]
    for layer in model.layers:
        x = layer(x, training=False)
        if layer.name == "conv1":
            np.testing.assert_allclose(maps["conv1"], np.asarray(x)[0], rtol=1e-5, atol=1e-5)
            break


def _filter_responses(model, image, layer_name: str, index: int) -> tuple[float, float]:
    """The filter's mean response (before its ReLU, after it), from the layer's own
    weights and input, independently of the functions under test."""
    x = np.asarray(image, "float32")[None]
    for layer in model.layers:
        if layer.name == layer_name:
            before = keras.ops.conv(x, layer.kernel, padding=layer.padding) + layer.bias
            after = layer(x, training=False)
            return (float(np.asarray(before)[..., index].mean()),
                    float(np.asarray(after)[..., index].mean()))
        x = layer(x, training=False)
    raise ValueError(layer_name)


# The filter's bias: as built (seeded), very negative (ReLU output 0 everywhere on the
# start image, so only the pre-activation can show the climb), or positive (live).
@pytest.mark.parametrize("bias", [None, -100.0, 1.0], ids=["as-built", "silent", "live"])
def test_filter_pattern_climbs_the_filters_response_and_stays_an_image(reference, bias):
    cats = reference("cs577-a4", "cats_dogs.py")
    keras.utils.set_random_seed(0)
    model = cats.build_cnn()
    if bias is not None:
        kernel, biases = model.get_layer("conv2").get_weights()
        biases[5] = bias
        model.get_layer("conv2").set_weights([kernel, biases])
    start = np.random.default_rng(3).uniform(0.4, 0.6, (150, 150, 3)).astype("float32")
    pattern = cats.filter_pattern(model, "conv2", 5, start, steps=10)
    assert pattern.shape == start.shape and np.isfinite(pattern).all()
    assert pattern.min() >= 0.0 and pattern.max() <= 1.0

    pre_start, post_start = _filter_responses(model, start, "conv2", 5)
    pre_pattern, post_pattern = _filter_responses(model, pattern, "conv2", 5)
    # True for any weights: ascent raises what it climbs, and a ReLU never undoes that.
    assert pre_pattern > pre_start + 1e-2
    assert post_pattern >= post_start - 1e-6
    if post_start > 0:
        assert post_pattern > post_start + 1e-3
    # The measure tells ascent from descent (a wrong sign in the step).
    descent = cats.filter_pattern(model, "conv2", 5, start, steps=10, step_size=-0.05)
    assert _filter_responses(model, descent, "conv2", 5)[0] < pre_start - 1e-2
