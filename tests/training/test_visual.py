"""Visual tasks are checked by properties and against the grader's own
computation on the same saved model and probe image."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from grader.build_worker.visual import produce  # noqa: E402
from grader.verify_worker import visual  # noqa: E402
from grader.verify_worker.worker import VerifyContext  # noqa: E402

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
GRADCAM_CHECK = {"points": 6, "kind": "grad_cam", "file": "gradcam.py", "function": "grad_cam",
                 "figure_function": "grad_cam_figure", "image_shape": [28, 28, 1],
                 "class_indices": [0, 1, 7]}
ACT_CHECK = {"points": 3, "kind": "activation_maps", "file": "cats_dogs.py",
             "function": "activation_maps", "image_shape": [150, 150, 3]}
FILTER_CHECK = {"points": 3, "kind": "filter_pattern", "file": "cats_dogs.py",
                "function": "filter_pattern", "image_shape": [150, 150, 3], "steps": 10}


def _import(path: Path, name: str):
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(path.parent))


@pytest.fixture(scope="module")
def practical2():
    return (_import(REPO / "reference/practical2/cnn.py", "cnn"),
            _import(REPO / "reference/practical2/gradcam.py", "ref_gradcam"))


@pytest.fixture(scope="module")
def cats_dogs():
    return _import(REPO / "reference/cs577-a4/cats_dogs.py", "ref_cats_dogs")


class Student:
    """A submission's functions: the reference's, with some replaced."""

    def __init__(self, base, **replaced):
        self.base, self.replaced = base, replaced

    def __call__(self, name):
        return self.replaced.get(name) or getattr(self.base, name)


def grade(tmp_path, model, check, student, task="t"):
    """produce() as the build worker runs it, then run() as the verify worker does."""
    model.save(tmp_path / f"{task}.keras")
    record = produce(model, check, student, tmp_path, task)
    loaded = keras.saving.load_model(tmp_path / f"{task}.keras", safe_mode=True, compile=False)
    ctx = VerifyContext(model=loaded, model_path=tmp_path / f"{task}.keras", task={"id": task},
                        check=check, data_dir=None)
    ctx.notes["visual"] = record
    return visual.run(ctx)


def test_reference_grad_cam_passes_and_images_are_saved_for_a_person(tmp_path, practical2):
    cnn, gradcam = practical2
    keras.utils.set_random_seed(0)
    out = grade(tmp_path, cnn.build_model(2), GRADCAM_CHECK, Student(gradcam))
    assert out["state"] == "passed", out["message"]
    assert all(v["correlation"] >= 0.9 for v in out["details"]["classes"].values())
    names = {Path(p).name for p in out["details"]["images"]}
    assert "student_figure.png" in names
    assert "grad_cam_class7_student_vs_reference.png" in names


def test_grad_cam_that_inverts_the_map_fails_on_correlation(tmp_path, practical2):
    cnn, gradcam = practical2

    def inverted(model, image, class_index, layer_name=None):
        return 1.0 - gradcam.grad_cam(model, image, class_index, layer_name)

    keras.utils.set_random_seed(0)
    out = grade(tmp_path, cnn.build_model(2), GRADCAM_CHECK, Student(gradcam, grad_cam=inverted))
    assert out["state"] == "failed" and "correlation with the reference" in out["message"]


def test_all_zero_grad_cam_scores_nothing_on_any_class(tmp_path, practical2):
    """On the untrained model the probability-based reference can be all zeros
    too: a flat map must not earn a class by agreeing with a flat reference."""
    cnn, gradcam = practical2

    def zeros(model, image, class_index, layer_name=None):
        return np.zeros(image.shape[:2])

    keras.utils.set_random_seed(0)
    out = grade(tmp_path, cnn.build_model(2), GRADCAM_CHECK, Student(gradcam, grad_cam=zeros))
    assert out["state"] == "failed" and out["fraction"] == 0.0
    assert "class 0, 1, 7: the map is flat" in out["message"]


def _flat_references(monkeypatch, which):
    real = visual.reference_grad_cam

    def reference(model, image, class_index, layer_name=None, use_logit=True):
        cam = real(model, image, class_index, layer_name, use_logit)
        return np.zeros_like(cam) if ("logit" if use_logit else "output") in which else cam

    monkeypatch.setattr(visual, "reference_grad_cam", reference)


def test_a_flat_reference_is_not_used_and_a_correct_map_still_passes(
        tmp_path, practical2, monkeypatch):
    cnn, gradcam = practical2
    _flat_references(monkeypatch, {"output"})
    keras.utils.set_random_seed(0)
    out = grade(tmp_path, cnn.build_model(2), GRADCAM_CHECK, Student(gradcam))
    assert out["state"] == "passed", out["message"]
    assert {v["score"] for v in out["details"]["classes"].values()} == {"logit"}


def test_classes_with_no_usable_reference_are_not_scored(tmp_path, practical2, monkeypatch):
    cnn, gradcam = practical2
    _flat_references(monkeypatch, {"logit", "output"})
    keras.utils.set_random_seed(0)
    out = grade(tmp_path, cnn.build_model(2), GRADCAM_CHECK, Student(gradcam))
    assert out["state"] == "unverified" and out["fraction"] == 0.0
    assert out["details"]["unjudged_classes"] == [0, 1, 7]
    assert "reference Grad-CAM is flat" in out["message"]


def test_grad_cam_left_at_the_conv_layers_size_fails_on_shape(tmp_path, practical2):
    cnn, gradcam = practical2

    def unresized(model, image, class_index, layer_name=None):
        return gradcam.grad_cam(model, image, class_index, layer_name)[::8, ::8]

    keras.utils.set_random_seed(0)
    out = grade(tmp_path, cnn.build_model(2), GRADCAM_CHECK,
                Student(gradcam, grad_cam=unresized))
    assert out["state"] == "failed" and "expected (28, 28)" in out["message"]


def test_template_grad_cam_is_not_implemented(tmp_path, practical2):
    cnn, _ = practical2
    template = _import(REPO / "submissions_template/practical2/gradcam.py", "tpl_gradcam")
    keras.utils.set_random_seed(0)
    out = grade(tmp_path, cnn.build_model(2), GRADCAM_CHECK, Student(template))
    assert out["state"] == "not_implemented"


def test_activation_maps_match_the_layers_true_outputs(tmp_path, cats_dogs):
    keras.utils.set_random_seed(0)
    out = grade(tmp_path, cats_dogs.build_cnn(), ACT_CHECK, Student(cats_dogs))
    assert out["state"] == "passed", out["message"]
    assert set(out["details"]["layers"]) == {"conv1", "conv2"}


def test_activation_maps_in_training_mode_are_caught(tmp_path, cats_dogs):
    """BatchNormalization in training mode normalises with the batch's own
    statistics: a common slip (calling the probe with training=True)."""

    def training_mode(model, image, layer_names):
        x, found = image[None], {}
        for layer in model.layers:
            x = layer(x, training=True)
            found[layer.name] = np.asarray(x)[0]
        return {n: found[n] for n in layer_names}

    keras.utils.set_random_seed(0)
    out = grade(tmp_path, cats_dogs.build_cnn(), {**ACT_CHECK, "layer_names": ["conv2"]},
                Student(cats_dogs, activation_maps=training_mode))
    assert out["state"] == "failed" and "differs from its true output" in out["message"]


def test_filter_pattern_raises_the_filters_activation(tmp_path, cats_dogs):
    keras.utils.set_random_seed(0)
    out = grade(tmp_path, cats_dogs.build_cnn(), FILTER_CHECK, Student(cats_dogs))
    assert out["state"] == "passed", out["message"]
    d = out["details"]
    assert d["mean_activation_pattern"] > d["mean_activation_start"]


def test_gradient_descent_instead_of_ascent_is_caught(tmp_path, cats_dogs):
    import tensorflow as tf

    def descent(model, layer_name, filter_index, start_image, steps=30, step_size=0.05):
        image = tf.Variable(start_image[None])
        for _ in range(steps):
            with tf.GradientTape() as tape:
                (maps,), _, _ = cats_dogs.trace_layers(model, image, [layer_name])
                loss = tf.reduce_mean(maps[..., filter_index])
            grads = tape.gradient(loss, image)
            grads /= tf.sqrt(tf.reduce_mean(tf.square(grads))) + 1e-8
            image.assign(tf.clip_by_value(image - step_size * grads, 0.0, 1.0))
        return image.numpy()[0]

    keras.utils.set_random_seed(0)
    out = grade(tmp_path, cats_dogs.build_cnn(), FILTER_CHECK,
                Student(cats_dogs, filter_pattern=descent))
    assert out["state"] == "failed" and "does not raise filter 0" in out["message"]


def _silent_filter_model(cats_dogs):
    """The cats CNN with conv1's filter 0 biased far below anything its 3x3x3 kernel
    can sum from pixels in [0, 1]: its ReLU output is 0 on every image, so no
    gradient flows back from it, and only its pre-activation can rise."""
    keras.utils.set_random_seed(0)
    model = cats_dogs.build_cnn()
    kernel, bias = model.get_layer("conv1").get_weights()
    bias[0] = -50.0
    model.get_layer("conv1").set_weights([kernel, bias])
    return model


def test_filter_silent_on_the_start_image_is_judged_before_its_activation(tmp_path, cats_dogs):
    out = grade(tmp_path, _silent_filter_model(cats_dogs), FILTER_CHECK, Student(cats_dogs))
    assert out["state"] == "passed", out["message"]
    d = out["details"]
    # The activation cannot show a correct ascent here; the pre-activation does.
    assert d["mean_activation_start"] == d["mean_activation_pattern"] == 0.0
    assert d["judged_on"] == "pre_activation"
    assert d["pre_activation_pattern"] > d["pre_activation_start"]
    assert "silent on the start image" in out["message"]


@pytest.mark.parametrize("wrong", ["descent", "unchanged"])
def test_silent_filter_still_fails_descent_and_a_pattern_that_does_not_move(
        tmp_path, cats_dogs, wrong):
    def descent(model, layer_name, filter_index, start_image, steps=30):
        return cats_dogs.filter_pattern(model, layer_name, filter_index, start_image, steps,
                                        step_size=-0.05)

    def unchanged(model, layer_name, filter_index, start_image, steps=30):
        return start_image  # what an ascent on the ReLU's output makes of a silent filter

    student = Student(cats_dogs, filter_pattern={"descent": descent, "unchanged": unchanged}[wrong])
    out = grade(tmp_path, _silent_filter_model(cats_dogs), FILTER_CHECK, student)
    assert out["state"] == "failed", out["message"]
    assert "does not raise filter 0 of 'conv1', which is silent" in out["message"]
    assert any("pre-activation" in hint for hint in out["hints"])


def test_pre_activation_of_a_functional_model_leaves_the_layer_as_it_was():
    inputs = keras.Input((6, 6, 1))
    conv = keras.layers.Conv2D(2, 3, activation="relu", name="conv")
    model = keras.Model(inputs, keras.layers.Flatten()(conv(inputs)))
    conv.set_weights([np.ones((3, 3, 1, 2), "float32"), np.array([-20.0, 0.0], "float32")])
    image = np.full((6, 6, 1), 0.5, "float32")
    # Each 3x3 window sums to 4.5, so filter 0's response is 4.5 - 20 before its ReLU.
    assert visual.filter_pre_activation(model, image, "conv", 0) == pytest.approx(-15.5)
    assert visual.filter_mean_activation(model, image, "conv", 0) == 0.0
    assert conv.activation is keras.activations.relu
    dense = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="linear")])
    assert visual.filter_pre_activation(dense, np.ones(3, "float32"), "linear", 0) is None


def test_correlation_is_pearsons():
    a = np.arange(12.0).reshape(3, 4)
    assert visual.correlation(a, 2 * a + 1) == pytest.approx(1.0)
    assert visual.correlation(a, -a) == pytest.approx(-1.0)
    # A flat map has no pattern: two all-zero maps do not agree, they say nothing.
    assert visual.correlation(np.zeros((3, 3)), np.zeros((3, 3))) == 0.0
