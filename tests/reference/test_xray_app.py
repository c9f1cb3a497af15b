"""DS-AG-021 Q10, the Streamlit app, driven by Streamlit's AppTest with a real model file.

Needs the optional `[app]` extra; skipped cleanly without it.
"""

from __future__ import annotations

import numpy as np
import pytest
from reference_helpers import REPO

pytest.importorskip("streamlit")
tf = pytest.importorskip("tensorflow")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = REPO / "reference" / "ds-ag-021" / "xray_app.py"
if not hasattr(AppTest, "file_uploader"):
    pytest.skip("this Streamlit's AppTest cannot upload files; pip install -U streamlit",
                allow_module_level=True)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, reference):
    xray = reference("ds-ag-021", "xray.py")
    path = tmp_path_factory.mktemp("xray") / "model.keras"
    xray.build_model(image_size=(64, 64)).save(path)
    return path


def _png() -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (90, 70, 1), dtype=np.uint8)
    return tf.io.encode_png(pixels).numpy()


def _app(monkeypatch, path) -> AppTest:
    monkeypatch.setenv("XRAY_MODEL", str(path))
    monkeypatch.syspath_prepend(str(APP.parent))
    app = AppTest.from_file(str(APP), default_timeout=120)
    return app.run()


def test_an_upload_shows_probability_decision_and_grad_cam(monkeypatch, model_path):
    app = _app(monkeypatch, model_path)
    assert not app.exception and not app.error
    app.file_uploader[0].set_value(("chest.png", _png(), "image/png")).run()
    assert not app.exception, app.exception
    probability = float(app.metric[0].value)
    assert 0.0 <= probability <= 1.0
    decisions = [e.value for e in app.error] + [s.value for s in app.success]
    expected = "Pneumonia" if probability >= 0.5 else "Normal"
    assert decisions == [f"Prediction: {expected}"]
    images = [column.children[0] for column in app.columns]
    captions = [caption for image in images for caption in image.captions]
    assert captions == ["Uploaded image", f"Grad-CAM: evidence for {expected}"]


def test_a_file_that_is_not_an_image_gets_an_error_not_a_crash(monkeypatch, model_path):
    app = _app(monkeypatch, model_path)
    app.file_uploader[0].set_value(("notes.png", b"not a picture", "image/png")).run()
    assert not app.exception
    assert [e.value for e in app.error] == ["Could not read notes.png as a PNG or JPEG image."]


def test_a_missing_model_says_how_to_make_one(monkeypatch, tmp_path):
    app = _app(monkeypatch, tmp_path / "absent.keras")
    assert not app.exception
    assert "python xray.py" in app.error[0].value
    assert not app.file_uploader
