"""The streamlit_app probe: a Streamlit app (a script, not a function) run by the build
worker with AppTest on the grader's model, and judged in the parent from what each
page showed. Unit tests of prepare/capture/judge need no TensorFlow and no Streamlit;
one module-scoped `grader check` runs a correct app and typical mistakes."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from conftest import function_task, grade_functions, write_spec

from grader.build_worker.probes import streamlit_app as build
from grader.parent.probes import ProbeUnavailable
from grader.parent.probes import streamlit_app as probe

PARAMS = {"model_env": "XRAY_MODEL", "image_size": [32, 32], "classes": ["Normal", "Pneumonia"]}
BRIGHT, DARK = (probe.probability(pixel) for _, pixel in probe.UPLOADS)


def _page(**shown) -> dict:
    """A page as the runner records it; by default what a correct app shows for an
    upload of the bright image."""
    page = {"exception": [], "errors": ["Prediction: Pneumonia"], "successes": [],
            "metrics": [f"{BRIGHT:.3f}"], "captions": ["Uploaded image", "Grad-CAM"],
            "raised": [], "uploaded": 1, "images": 2, "uploaders_before": 1,
            "errors_before": 0}
    return {**page, **shown}


def _pages(missing=None, bright=None, dark=None, not_image=None) -> list[dict]:
    return [missing or _page(errors=["No model at /x/model.keras"], metrics=[], images=0,
                             uploaded=0, uploaders_before=0, errors_before=1),
            bright or _page(),
            dark or _page(errors=[], successes=["Prediction: Normal"], metrics=[f"{DARK:.3f}"]),
            not_image or _page(errors=["Could not read notes.png"], metrics=[], images=0)]


def _app_task(task_id: str, file: str, **params) -> dict:
    return function_task(task_id, "app", "streamlit_app", {**PARAMS, **params}, file=file,
                         points=4)


def _judge(pages: list[dict]) -> dict:
    truth = [{"name": name, "pixel": pixel, "probability": probe.probability(pixel)}
             for name, pixel in probe.UPLOADS]
    return probe.judge(build.capture(pages, PARAMS), truth, PARAMS, "app.py: app")


def test_prepare_writes_uniform_pngs_and_a_file_that_is_not_an_image(tmp_path):
    from PIL import Image

    prepared = probe.prepare(tmp_path, PARAMS)
    assert [c.kwargs["model"] for c in prepared.calls] == [False, True, True, True]
    bright = prepared.calls[1].kwargs["upload"]
    assert bright["label"] == "chest-bright.png"
    assert np.all(np.asarray(Image.open(bright["$bytes"])) == 200)
    assert [t["probability"] > 0.5 for t in prepared.truth] == [True, False]
    assert BRIGHT == pytest.approx(1 / (1 + np.exp(-(8 * 200 / 255 - 4))))


def test_without_streamlit_the_check_is_skipped_for_0_of_0_points(tmp_path, monkeypatch):
    from grader.parent import pipeline, report

    monkeypatch.setattr(probe, "installed", lambda: False)
    with pytest.raises(ProbeUnavailable, match=r"pip install -e '\.\[app\]'"):
        probe.prepare(tmp_path, PARAMS)
    # Through the pipeline: prepared in the parent, so no worker starts at all.
    spec = write_spec(tmp_path / "apps.json", [_app_task("app", "app.py")])
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "app.py").write_text("import streamlit as st\n")
    graded = report.results(pipeline.grade(sub, str(spec), static=True))
    (test,) = graded["tests"]
    assert test["grader"]["state"] == "skipped" and test["max_score"] == 0
    assert "pip install -e '.[app]'" in test["output"]


def test_capture_keeps_texts_as_unicode_arrays_and_counts_as_ints():
    out = build.capture(_pages(), PARAMS)
    assert out["r1_metrics"].dtype.kind == "U" and out["r0_exception"].dtype.kind == "U"
    assert out["r0_exception"].shape == (0,) and out["r1_images"] == 2
    assert not any(v.dtype == object for v in out.values())


def test_a_correct_app_passes():
    result = _judge(_pages())
    assert result["state"] == "passed" and result["fraction"] == 1.0, result["message"]


@pytest.mark.parametrize("text, value", [("0.907", 0.907), ("90.7%", 0.907),
                                         ("p = 0.060", 0.06), ("n/a", None)])
def test_a_metric_is_read_as_a_fraction_or_a_percentage(text, value):
    assert probe.shown_probability(text) == (pytest.approx(value) if value else None)


def test_a_wrong_probability_loses_that_third_of_the_uploads():
    result = _judge(_pages(bright=_page(metrics=["1.000"])))
    assert result["fraction"] == pytest.approx((1 + 2 * 2 / 3 + 1) / 4)
    assert "expected an st.metric with the probability 0.907" in result["message"]
    assert "metrics ['1.000']" in result["message"]


def test_the_same_decision_for_both_images_earns_no_decision_credit():
    always = _page(metrics=[f"{DARK:.3f}"])  # the dark image called Pneumonia too
    result = _judge(_pages(dark=always))
    assert result["details"]["parts"]["uploads"]["decision"] is False
    assert "the decision 'Normal' in an st.success" in result["message"]


def test_a_page_that_always_shows_an_error_earns_nothing():
    error = _page(errors=["something went wrong"], metrics=[], images=0, errors_before=1)
    result = _judge(_pages(bright=error, dark=error, not_image=error))
    assert result["fraction"] == 0.0


def test_a_crash_for_a_missing_model_is_named():
    crash = _page(exception=["FileNotFoundError: no file"], errors=[], metrics=[], images=0,
                  uploaded=0, uploaders_before=0)
    result = _judge(_pages(missing=crash))
    assert result["fraction"] == pytest.approx(3 / 4)
    assert "with no model at XRAY_MODEL the page raised 'FileNotFoundError" in result["message"]
    assert any("st.stop()" in h for h in result["hints"])


def test_a_helper_not_implemented_is_said_first():
    todo = _page(errors=["Could not read chest.png"], metrics=[], images=0,
                 raised=["xray.py: load_image raised NotImplementedError: not yet"])
    result = _judge(_pages(bright=todo, dark=todo, not_image=todo))
    assert result["message"].startswith("app.py: app: the app calls helpers that are not "
                                         "implemented yet (xray.py: load_image raised")
    assert result["hints"][0].startswith("implement xray.py first")
    assert result["fraction"] == pytest.approx(1 / 4)  # the missing-model part only


def test_a_template_page_is_not_implemented():
    stub = _page(errors=["app.py is not implemented yet"], metrics=[], images=0, uploaded=0,
                 uploaders_before=0, errors_before=1)
    result = _judge([stub] * 4)
    assert result["state"] == "not_implemented" and result["fraction"] == 0.0


# --- through `grader check` ---------------------------------------------------------------

HELPER = textwrap.dedent('''
    import io

    import numpy as np
    from PIL import Image

    CLASS_NAMES = ("Normal", "Pneumonia")


    def load_image(data, image_size=(224, 224)):
        image = Image.open(io.BytesIO(data)).convert("RGB").resize(image_size[::-1])
        return np.asarray(image, dtype="float32") / 255.0


    def predict(model, image):
        return float(np.asarray(model(image[None])).ravel()[0])


    def grad_cam(model, image, class_index=1):
        return np.ones(image.shape[:2], "float32")


    def overlay(image, cam):
        return (np.clip(image * 0.6 + cam[..., None] * 0.4, 0, 1) * 255).astype("uint8")
''')

TODO = 'def load_image(data, image_size=(224, 224)):\n    raise NotImplementedError("todo")\n'

# One app, with a switch per mistake a student makes (the default is right).
APP = textwrap.dedent('''
    import os
    import time
    from pathlib import Path

    import keras
    import streamlit as st
    import {helper} as helper

    path = Path(os.environ.get("XRAY_MODEL", "model.keras"))
    if {check_model} and not path.exists():
        st.error(f"No model at {{path}}")
        st.stop()
    model = keras.saving.load_model(path)
    uploaded = st.file_uploader("X-ray", type=["png", "jpg", "jpeg"])
    if uploaded is not None:
        time.sleep({sleep})
        try:
            image = helper.load_image(uploaded.getvalue(), model.input_shape[1:3])
        except Exception:
            if {catch}:
                st.error(f"Could not read {{uploaded.name}}")
                st.stop()
            raise
        p = helper.predict(model, {scaled})
        st.metric("Pneumonia probability", f"{{p:.3f}}")
        if p >= 0.5 or {always}:
            st.error("Prediction: Pneumonia")
        else:
            st.success("Prediction: Normal")
        st.image((image * 255).astype("uint8"), caption="Uploaded image")
        if {both_images}:
            st.image(helper.overlay(image, helper.grad_cam(model, image)), caption="Grad-CAM")
''')
RIGHT = {"helper": "helper", "check_model": True, "catch": True, "scaled": "image",
         "always": False, "both_images": True, "sleep": 0}
MISTAKES = {
    "ok": {},
    "crash_missing": {"check_model": False},
    "no_catch": {"catch": False},
    "unscaled": {"scaled": "image * 255"},
    "always_pneumonia": {"always": True},
    "one_image": {"both_images": False},
    "helper_todo": {"helper": "helper_todo"},
    "slow": {"sleep": 6},  # graded with a 2 s limit per page
}


@pytest.fixture(scope="module")
def app_run(tmp_path_factory):
    files = {"helper.py": HELPER, "helper_todo.py": TODO,
             "app_stub.py": 'import streamlit as st\n'
                            'st.error("app_stub.py is not implemented yet")\n'}
    files.update({f"app_{name}.py": APP.format(**{**RIGHT, **change})
                  for name, change in MISTAKES.items()})
    tasks = [_app_task(name, f"app_{name}.py", timeout_s=2 if name == "slow" else 60)
             for name in [*MISTAKES, "stub"]]
    return grade_functions(tmp_path_factory.mktemp("streamlit-app"), tasks, files)


def test_a_correct_app_gets_full_marks_and_the_parent_imports_no_tensorflow(app_run):
    test = app_run.test("ok", "outputs")
    assert test["grader"]["state"] == "passed" and test["score"] == 4, test["output"]
    assert app_run.modules["imported"] == []


def test_a_stub_app_is_not_implemented(app_run):
    assert app_run.state("stub", "outputs") == "not_implemented"


def test_loading_a_missing_model_without_a_check_loses_that_part(app_run):
    test = app_run.test("crash_missing", "outputs")
    assert test["score"] == 3, test["output"]
    raised = "with no model at XRAY_MODEL the page raised 'ValueError: File not found"
    assert raised in test["output"]
    assert "<no file>" in test["output"] and "/tmp" not in test["output"]


def test_an_uncaught_unreadable_upload_loses_that_part(app_run):
    test = app_run.test("no_catch", "outputs")
    assert test["score"] == 3, test["output"]
    assert "for notes.png (bytes that are not an image) the page showed exception" \
        in test["output"]


def test_unscaled_pixels_show_the_wrong_probability_and_decision(app_run):
    test = app_run.test("unscaled", "outputs")
    assert test["score"] == pytest.approx(4 * (1 + 2 / 3 + 1) / 4, abs=0.005), test["output"]
    assert "expected an st.metric with the probability 0.060" in test["output"]


def test_one_decision_for_every_image_and_one_image_lose_their_parts(app_run):
    always = app_run.test("always_pneumonia", "outputs")
    assert always["score"] == pytest.approx(4 * (1 + 2 * 2 / 3 + 1) / 4, abs=0.005), \
        always["output"]
    assert "the decision 'Normal' in an st.success" in always["output"]
    one = app_run.test("one_image", "outputs")
    assert one["score"] == pytest.approx(4 * (1 + 2 * 2 / 3 + 1) / 4, abs=0.005), one["output"]
    assert "two st.image" in one["output"]


def test_a_helper_that_is_not_implemented_is_named(app_run):
    test = app_run.test("helper_todo", "outputs")
    assert test["grader"]["state"] == "failed", test["output"]
    assert "helper_todo.py: load_image raised NotImplementedError: todo" in test["output"]
    assert test["score"] == 1  # the missing-model part, which the app did right


def test_a_page_that_does_not_finish_is_cut_short_and_the_rest_not_run(app_run):
    test = app_run.test("slow", "outputs")
    assert test["score"] == 1, test["output"]  # the missing-model page needed no upload
    assert "did not finish within 2 s" in test["output"]
    assert "not run: the page before did not finish" in test["output"]
