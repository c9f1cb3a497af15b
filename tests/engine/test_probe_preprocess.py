"""The preprocess probe (uint8 images and labels -> model inputs) and the image_bytes
probe (image file bytes -> one float image), with Call.raises for a contract that says
"raise for bad input"; ds-ag-021's Q6, Q7 and Q10 use them."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import function_task, grade_functions

from grader.build_worker.probes import raised_record
from grader.parent.probes import Call, image_bytes, preprocess, raised_problem

Q6 = {"image_shape": [28, 28], "output_shape": [28, 28, 1]}
Q7 = {"image_shape": [32, 32, 3], "output_shape": [32, 32, 3],
      "label_forms": ["flat", "column"], "reject_shapes": [[3, 32, 32], [32, 32]]}
XRAY = {"image_size": [224, 224], "other_size": [96, 128]}


# --- Call.raises, both sides ------------------------------------------------------

def test_a_raise_is_judged_by_class_name_and_a_subclass_counts():
    class Shape(ValueError):
        pass

    outputs = {"raised_1": np.asarray(raised_record(Shape("bad shape"))),
               "raised_2": np.asarray(raised_record(TypeError("nope"))),
               "raised_3": np.asarray(raised_record(None))}
    assert raised_problem(outputs, 1, "ValueError") is None
    assert raised_problem(outputs, 1, "Exception") is None
    assert raised_problem(outputs, 2, "ValueError") == "raised TypeError: nope"
    assert raised_problem(outputs, 3, "ValueError") == "returned normally"
    assert Call().raises is None  # an ordinary call must return


# --- preprocess: prepare and judge, without TensorFlow ---------------------------

@pytest.fixture(scope="module")
def q7(tmp_path_factory):
    return preprocess.prepare(tmp_path_factory.mktemp("q7"), Q7)


def _load(marker: dict) -> np.ndarray:
    return np.load(marker["$npy"])


def test_prepare_calls_each_label_form_then_the_shapes_to_refuse(q7):
    assert [c.raises for c in q7.calls] == [None, None, "ValueError", "ValueError"]
    (x0, y0), (x1, y1) = ([_load(a) for a in c.args] for c in q7.calls[:2])
    assert x0.shape == (8, 32, 32, 3) and x0.dtype == np.uint8 and y0.shape == (8,)
    assert x1.shape == (5, 32, 32, 3) and y1.shape == (5, 1)  # Keras' CIFAR loader's form
    assert x0.min() == 0 and x0.max() == 255
    assert _load(q7.calls[2].args[0]).shape == (4, 3, 32, 32)
    assert q7.calls[1].args[1]["label"] == "<uint8 labels (N, 1)>"


def _correct(truth: list, params: dict, **raised) -> dict:
    """What a correct preprocess's capture and refusals hold."""
    out = {}
    for i, want in enumerate(truth):
        x = want["images"].astype("float32") / 255
        out[f"x_{i}"] = x.reshape(len(x), *params["output_shape"])
        out[f"y_{i}"] = want["labels"].astype("int64")
    for i, _ in enumerate(params.get("reject_shapes", [])):
        out[f"raised_{len(truth) + i}"] = np.asarray(raised_record(ValueError("shape")))
    return {**out, **raised}


def test_correct_outputs_pass(q7):
    result = preprocess.judge(_correct(q7.truth, Q7), q7.truth, Q7, "q7.py: preprocess")
    assert result["state"] == "passed" and result["fraction"] == 1.0
    assert "refused with ValueError" in result["message"]


@pytest.mark.parametrize(("change", "fraction", "text", "hint"), [
    (lambda x: x * 255, 0.5, "is not scaled", "divide the pixels by 255"),
    (lambda x: x / 255, 0.5, "is divided by 255 twice", "divide by 255 once"),
    (lambda x: x.transpose(0, 3, 1, 2), 0.5, "differs from the pixels / 255", "reshape"),
    (lambda x: (x * 255).astype("uint8"), 0.5, "is not scaled", "divide the pixels"),
    (lambda x: np.zeros_like(x), 0.5, "differs from the pixels / 255", "/ 255"),
])
def test_wrong_images_lose_the_image_part_with_a_fix(q7, change, fraction, text, hint):
    out = _correct(q7.truth, Q7)
    out["x_1"] = change(out["x_1"])
    result = preprocess.judge(out, q7.truth, Q7, "q7.py: preprocess")
    assert result["state"] == "failed" and result["fraction"] == fraction
    assert "call 2 (5 images, labels (N, 1)): x " + text in result["message"]
    assert any(hint in h for h in result["hints"])


@pytest.mark.parametrize(("change", "text", "hint"), [
    (lambda y: y.reshape(-1, 1), "has shape (5, 1), expected (5,)", "flatten the labels"),
    (lambda y: y.astype("uint8"), "is uint8, expected int64", "dtype=\"int64\""),
    (lambda y: np.eye(10)[y], "is one-hot (5, 10)", "class indices"),
    (lambda y: np.sort(y), "(shape (5,), int64) differs from the labels passed", "as given"),
])
def test_wrong_labels_lose_the_label_part_with_a_fix(q7, change, text, hint):
    out = _correct(q7.truth, Q7)
    out["y_1"] = change(out["y_1"])
    result = preprocess.judge(out, q7.truth, Q7, "q7.py: preprocess")
    assert result["fraction"] == 0.75 and "y " + text in result["message"]
    assert any(hint in h for h in result["hints"])


def test_a_missing_or_wrong_refusal_loses_its_quarter(q7):
    returned = _correct(q7.truth, Q7, raised_2=np.asarray(raised_record(None)))
    result = preprocess.judge(returned, q7.truth, Q7, "q7.py: preprocess")
    assert result["fraction"] == 0.75
    assert "images of shape (N, 3, 32, 32): the function returned normally; it must " \
           "raise ValueError" in result["message"]
    other = _correct(q7.truth, Q7, raised_3=np.asarray(raised_record(IndexError("x"))))
    result = preprocess.judge(other, q7.truth, Q7, "q7.py: preprocess")
    assert result["fraction"] == 0.75 and "raised IndexError: x" in result["message"]


def test_a_missing_channel_axis_is_named(tmp_path):
    prepared = preprocess.prepare(tmp_path, Q6)
    assert all(c.raises is None for c in prepared.calls)
    out = _correct(prepared.truth, Q6)
    out["x_0"] = out["x_0"][..., 0]
    result = preprocess.judge(out, prepared.truth, Q6, "q6.py: preprocess")
    assert result["fraction"] == pytest.approx(1 / 3, abs=1e-3)  # the labels part only
    assert "has shape (8, 28, 28), expected (8, 28, 28, 1)" in result["message"]
    assert any("add the channel axis" in h for h in result["hints"])


# --- image_bytes: prepare and judge, without TensorFlow ---------------------------

@pytest.fixture(scope="module")
def xray(tmp_path_factory):
    return image_bytes.prepare(tmp_path_factory.mktemp("xray"), XRAY)


def test_prepare_passes_a_grey_png_and_a_colour_jpeg_of_other_sizes(xray):
    from PIL import Image

    labels = [c.args[0]["label"] for c in xray.calls]
    assert labels == ["<grey PNG bytes>", "<colour JPEG bytes>", "<colour JPEG bytes>",
                      "<bytes of a text file>"]
    assert [c.raises for c in xray.calls] == [None, None, None, "Exception"]
    assert xray.calls[2].kwargs == {"image_size": [96, 128]}
    with Image.open(xray.calls[0].args[0]["$bytes"]) as grey:
        assert grey.mode == "L" and grey.size == (320, 280)
    with Image.open(xray.calls[1].args[0]["$bytes"]) as colour:
        assert colour.mode == "RGB" and colour.format == "JPEG"
    assert [t["image"].shape for t in xray.truth] == [(224, 224, 3)] * 2 + [(96, 128, 3)]


def _images(truth: list, change=lambda image: image, refuses: bool = True) -> dict:
    out = {f"image_{i}": change(t["image"].astype("float32")) for i, t in enumerate(truth)}
    out[f"raised_{len(truth)}"] = np.asarray(raised_record(OSError("cannot identify") if
                                                           refuses else None))
    return out


def test_correct_images_pass_and_another_resize_filter_is_tolerated(xray):
    result = image_bytes.judge(_images(xray.truth), xray.truth, XRAY, "xray.py: load_image")
    assert result["state"] == "passed"
    assert "images" not in result["details"]  # reserved for image files to keep
    # Nearest-neighbour from a 4x larger grid: a different filter, the same picture.
    coarse = _images(xray.truth, lambda im: np.repeat(np.repeat(im[::4, ::4], 4, 0), 4, 1))
    assert image_bytes.judge(coarse, xray.truth, XRAY, "x")["state"] == "passed"


@pytest.mark.parametrize(("change", "fraction", "text", "hint"), [
    # A grey image reads the same in BGR: only the two colour calls fail.
    (lambda im: im[..., ::-1], 0.5, "has its channels in BGR order", "COLOR_BGR2RGB"),
    (lambda im: im[::-1], 0, "is upside down", "do not flip"),
    (lambda im: im * 255, 0, "values span", "divide the bytes by 255"),
    (lambda im: im / 255, 0, "about 255 times too small", "once, not twice"),
    (lambda im: (im - 0.5) / 0.25, 0, "expected [0, 1]", "1/255 only"),
    (lambda im: np.zeros_like(im), 0, "is one flat colour", ""),
    (lambda im: im.transpose(1, 0, 2), 0, "(128, 96, 3), expected (96, 128, 3)",
     "(width, height)"),
    (lambda im: im[None], 0, "has shape (1, 96, 128, 3)", "without a batch axis"),
])
def test_wrong_images_fail_with_the_fix(xray, change, fraction, text, hint):
    result = image_bytes.judge(_images(xray.truth, change), xray.truth, XRAY, "x")
    assert result["state"] == "failed" and text in result["message"]
    assert any(hint in h for h in result["hints"]) or not hint
    # With every image wrong, raising on a text file (any decoder does) earns nothing.
    assert result["fraction"] == pytest.approx(fraction)


def test_a_grey_image_left_with_one_channel_loses_its_share(xray):
    out = _images(xray.truth)
    out["image_0"] = out["image_0"][..., 0]
    result = image_bytes.judge(out, xray.truth, XRAY, "xray.py: load_image")
    assert result["fraction"] == pytest.approx(0.5 + 0.25)
    assert "load_image(<grey PNG bytes>): has shape (224, 224)" in result["message"]
    assert any("convert it to RGB" in h for h in result["hints"])


def test_returning_an_image_for_text_bytes_loses_the_last_quarter(xray):
    result = image_bytes.judge(_images(xray.truth, refuses=False), xray.truth, XRAY,
                               "xray.py: load_image")
    assert result["fraction"] == 0.75
    assert "load_image(<bytes of a text file>) returned normally; it must raise an " \
           "exception" in result["message"]


# --- through the real CLI ---------------------------------------------------------

STUDENT = textwrap.dedent('''
    import io

    import numpy as np
    from PIL import Image


    def prep(images, labels):
        x = np.asarray(images, dtype="float32") / 255.0
        if x.shape[1:] != (32, 32, 3):
            raise ValueError(f"expected (N, 32, 32, 3) images, got {x.shape}")
        return x, np.asarray(labels, dtype="int64").reshape(-1)


    def prep_no_check(images, labels):
        return np.asarray(images, "float32") / 255.0, np.asarray(labels, "int64").reshape(-1)


    def prep_unscaled(images, labels):
        return prep(images, labels)[0] * 255, prep(images, labels)[1]


    def prep_keeps_column(images, labels):
        return prep(images, labels)[0], np.asarray(labels, "int64")


    def prep_wrong_error(images, labels):
        if images.shape[1:] != (32, 32, 3):
            raise TypeError("bad images")
        return prep(images, labels)


    def prep_mnist(images, labels):
        return (images.reshape(-1, 28, 28, 1).astype("float32") / 255.0,
                np.asarray(labels, "int64"))


    def prep_mnist_no_channel(images, labels):
        return images.astype("float32") / 255.0, np.asarray(labels, "int64")


    def prep_x_only(images, labels):
        return images / 255.0


    def load(data, image_size=(224, 224)):
        image = Image.open(io.BytesIO(data)).convert("RGB")
        image = image.resize((image_size[1], image_size[0]), Image.Resampling.BILINEAR)
        return np.asarray(image, "float32") / 255.0


    def load_bgr(data, image_size=(224, 224)):
        return load(data, image_size)[..., ::-1]


    def load_pil_order(data, image_size=(224, 224)):
        image = Image.open(io.BytesIO(data)).convert("RGB").resize(tuple(image_size))
        return np.asarray(image, "float32") / 255.0


    def load_no_rgb(data, image_size=(224, 224)):
        image = Image.open(io.BytesIO(data))
        return np.asarray(image.resize((image_size[1], image_size[0])), "float32") / 255.0


    def load_never_fails(data, image_size=(224, 224)):
        try:
            return load(data, image_size)
        except Exception:
            return np.zeros((*image_size, 3), "float32")
''')


def _task(task_id: str, function: str, probe: str, params: dict) -> dict:
    return function_task(task_id, function, probe, params, file=["prep.py", "prep.ipynb"],
                         points=4)


@pytest.fixture(scope="module")
def prep_run(tmp_path_factory):
    tasks = [_task(t, f, "preprocess", Q7) for t, f in (
        ("q7", "prep"), ("no_check", "prep_no_check"), ("unscaled", "prep_unscaled"),
        ("column", "prep_keeps_column"), ("wrong_error", "prep_wrong_error"),
        ("x_only", "prep_x_only"))]
    tasks += [_task("q6", "prep_mnist", "preprocess", Q6),
              _task("no_channel", "prep_mnist_no_channel", "preprocess", Q6)]
    tasks += [_task(t, f, "image_bytes", XRAY) for t, f in (
        ("load", "load"), ("bgr", "load_bgr"), ("pil_order", "load_pil_order"),
        ("no_rgb", "load_no_rgb"), ("never_fails", "load_never_fails"))]
    return grade_functions(tmp_path_factory.mktemp("preprocess"), tasks, {"prep.py": STUDENT})


def test_correct_functions_pass(prep_run):
    for task in ("q7", "q6", "load"):
        test = prep_run.test(task, "outputs")
        assert test["grader"]["state"] == "passed", test
        assert test["score"] == 4
    assert prep_run.modules["imported"] == []  # the parent imported no TF, no student code


@pytest.mark.parametrize(("task", "score", "text"), [
    ("no_check", 3, "images of shape (N, 3, 32, 32): the function returned normally"),
    ("wrong_error", 3, "raised TypeError: bad images; it must raise ValueError"),
    ("unscaled", 2, "x is not scaled"),
    ("column", 3, "y has shape (5, 1), expected (5,)"),
    ("no_channel", 4 / 3, "has shape (8, 28, 28), expected (8, 28, 28, 1)"),
    ("bgr", 2, "load_bgr(<colour JPEG bytes>): has its channels in BGR order"),
    ("pil_order", 3, "has shape (128, 96, 3), expected (96, 128, 3)"),
    ("no_rgb", 3, "load_no_rgb(<grey PNG bytes>): has shape (224, 224)"),
    ("never_fails", 3, "load_never_fails(<bytes of a text file>) returned normally"),
])
def test_typical_mistakes_lose_points_with_the_reason(prep_run, task, score, text):
    test = prep_run.test(task, "outputs")
    assert test["grader"]["state"] == "failed", test
    assert test["score"] == pytest.approx(score, abs=0.01)
    assert text in test["output"]


def test_a_bare_array_is_refused_with_the_contract(prep_run):
    test = prep_run.test("x_only", "outputs")
    assert test["grader"]["state"] == "failed" and test["score"] == 0
    assert "returned ndarray; return a tuple (x, y)" in test["output"]


def test_the_probes_are_in_the_schema():
    schema = json.loads(Path("grader/schemas/assignment.schema.json").read_text())
    enum = schema["$defs"]["check_outputs"]["properties"]["probe"]["enum"]
    assert {"preprocess", "image_bytes"} <= set(enum)
