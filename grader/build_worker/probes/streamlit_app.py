"""streamlit_app, build half: runs the student's app with Streamlit's AppTest, once per
call, and saves what each page showed (the parent half,
grader/parent/probes/streamlit_app.py, says what the runs are and judges the pages).

The app is a script, so the build worker calls ``run`` instead of importing it. The
model the app loads is the grader's, built and saved here into the scratch space, its
path in the environment variable ``params["model_env"]``: a 1x1 Conv2D averaging the
channels, global average pooling and one sigmoid unit with fixed weights
(grader.probe_contract.APP_GAIN, APP_BIAS), so the parent knows its output.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from grader.probe_contract import APP_BIAS, APP_COUNTS, APP_GAIN, APP_TEXTS

MAX_ITEMS, MAX_CHARS = 10, 300  # texts per page element kind, characters per text


def _model(path: Path, image_size: list[int]) -> None:
    """The grader's model: known output on a uniform image, and a Conv2D for Grad-CAM."""
    import keras

    inputs = keras.Input((*image_size, 3))
    x = keras.layers.Conv2D(1, 1, activation="relu", name="conv",
                            kernel_initializer=keras.initializers.Constant(1 / 3))(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="output",
                                 kernel_initializer=keras.initializers.Constant(APP_GAIN),
                                 bias_initializer=keras.initializers.Constant(APP_BIAS))(x)
    keras.Model(inputs, outputs, name="grader_app_model").save(path)


@contextlib.contextmanager
def _watch(root: Path, raised: list[str]):
    """Records the exceptions raised by the functions of the student's own modules
    (xray.py beside the app) while the app runs: an app that catches them still
    leaves a trace for the message ("xray.py: load_image raised NotImplementedError")."""
    restore = []
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not file or not Path(file).resolve().is_relative_to(root):
            continue
        for name, fn in list(vars(module).items()):
            if inspect.isfunction(fn) and fn.__module__ == module.__name__:
                restore.append((module, name, fn))
                setattr(module, name, _recording(fn, f"{Path(file).name}: {name}", raised))
    try:
        yield
    finally:
        for module, name, fn in restore:
            setattr(module, name, fn)


def _recording(fn: Any, where: str, raised: list[str]) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raised.append(f"{where} raised {type(exc).__name__}: {exc}")
            raise
    return wrapper


def _page(app: Any) -> dict[str, Any]:
    images = app.get("image") or app.get("imgs")  # the element's name before Streamlit 1.4x
    captions = [str(c) for img in images for c in (getattr(img, "captions", None) or [])]
    # The element's proto names the exception's class ("FileNotFoundError").
    return {"exception": [f"{e.proto.type}: {e.value}" for e in app.exception],
            "errors": [str(e.value) for e in app.error],
            "successes": [str(e.value) for e in app.success],
            "metrics": [str(m.value) for m in app.metric],
            "images": len(images), "captions": captions}


def _app_run(app: Any, timeout: float) -> str | None:
    try:
        app.run(timeout=timeout)
    except RuntimeError as exc:  # AppTest's time limit
        return f"the page did not finish within {timeout:g} s ({exc})"
    return None


def run(script: str, calls: list[dict[str, Any]], params: dict[str, Any],
        scratch: Path) -> list[dict[str, Any]]:
    """Runs the app once per call with AppTest and returns what each page showed."""
    from streamlit.testing.v1 import AppTest

    scratch.mkdir(parents=True, exist_ok=True)
    model, absent = scratch / "model.keras", scratch / "absent" / "model.keras"
    timeout = float(params.get("timeout_s", 30))
    env = params["model_env"]
    script = str(Path(script).resolve())
    root = Path(script).parent
    pages = []
    saved = os.environ.get(env)
    try:
        for call in calls:
            if pages and any("did not finish" in t for t in pages[-1]["exception"]):
                # Its script still runs in AppTest's thread: a next run would only wait too.
                pages.append({**pages[-1], "exception": ["not run: the page before did not "
                                                         "finish"], "uploaded": 0})
                continue
            if call["model"] and not model.exists():
                _model(model, params["image_size"])
            os.environ[env] = str(model if call["model"] else absent)
            app = AppTest.from_file(script, default_timeout=timeout)
            stalled = _app_run(app, timeout)
            page = _page(app)
            page.update(uploaders_before=len(app.file_uploader), uploaded=0,
                        errors_before=len(page["errors"]), raised=[])
            if "upload" in call and app.file_uploader and stalled is None:
                app.file_uploader[0].set_value((call["name"], call["upload"], "image/png"))
                with _watch(root, page["raised"]):
                    stalled = _app_run(app, timeout)
                page.update(_page(app), uploaded=1)
            if stalled:
                page["exception"].append(stalled)
            pages.append(_unscratched(page, {str(model): "<the grader's model.keras>",
                                             str(absent): "<no file>"}))
    finally:
        if saved is None:
            os.environ.pop(env, None)
        else:
            os.environ[env] = saved
    return pages


def _unscratched(page: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """Messages name the model files as the student knows them, not by scratch path."""
    def clean(text: str) -> str:
        for path, name in names.items():
            text = text.replace(path, name)
        return text
    return {k: [clean(t) for t in v] if isinstance(v, list) else v for k, v in page.items()}


def capture(returned: list[Any], params: dict[str, Any]) -> dict[str, Any]:
    """Each page (one per call) as arrays: texts as unicode arrays (a few, cut short),
    counts as ints."""
    out: dict[str, Any] = {}
    for i, page in enumerate(returned):
        for key in APP_TEXTS:
            texts = [str(t)[:MAX_CHARS] for t in page[key][:MAX_ITEMS]]
            out[f"r{i}_{key}"] = np.array(texts, dtype=str) if texts else np.zeros(0, "<U1")
        for key in APP_COUNTS:
            out[f"r{i}_{key}"] = np.array(int(page[key]))
    return out
