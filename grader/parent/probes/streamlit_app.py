"""Probe for a Streamlit app that classifies an uploaded image with a trained binary
model and explains the decision (DS-AG-021 Q10's xray_app.py).

An app is a script, not a function: importing it runs it. So this probe has a
``run`` (the build worker calls it instead of importing the entry file; see
grader/build_worker/worker.py) that drives the script with Streamlit's AppTest, once per
call, and returns what each page showed. The task's ``entry.function`` names
nothing in the file; it is how messages name the page ("xray_app.py: app").

The model the app loads is the grader's, built in the build worker and saved to the
scratch space, its path in the environment variable ``model_env``: a 1x1 Conv2D
averaging the channels, global average pooling and one sigmoid unit with fixed
weights. On a uniform grey image of pixel value v (scaled to [0, 1] by the helper's
load_image) it outputs sigmoid(GAIN * v / 255 + BIAS) at any resize, so the parent
knows the probability the page must show without TensorFlow.

Runs (the calls): no model at ``model_env`` (expects an st.error and no uploader);
a bright and a dark PNG upload (expects the probability in an st.metric, the
decision as st.error for the positive class and st.success for the negative one,
and two st.image: the upload and its Grad-CAM overlay); a file that is not an
image (expects an st.error, not an exception). Scored 1 : 2 : 1. A part earns
nothing for what a page that ignores its input shows anyway: the missing-model
error counts only if the page with a model shows an uploader and no error, and the
decision only if both uploads get theirs.

Params: ``model_env`` (e.g. "XRAY_MODEL"), ``image_size`` ([height, width] of the
model's input), ``classes`` ([negative, positive], e.g. ["Normal", "Pneumonia"]),
``threshold`` (default 0.5), ``timeout_s`` (one AppTest run, default 30).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import inspect
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from grader.parent.probes import Call, Prepared, ProbeUnavailable, verdict
from grader.protocol import CheckResult

RETURNS = "a page (the script runs top to bottom under Streamlit's AppTest)"
GAIN, BIAS = 8.0, -4.0
# Uniform grey uploads: (file name, pixel value); one each side of the threshold.
UPLOADS = (("chest-bright.png", 200), ("chest-dark.png", 40))
NOT_IMAGE = ("notes.png", b"these are notes, not a picture\n")
TEXTS = ("exception", "errors", "successes", "metrics", "captions", "raised")
COUNTS = ("uploaded", "images", "uploaders_before", "errors_before")
MAX_ITEMS, MAX_CHARS = 10, 300
INSTALL = "pip install -e '.[app]'"


def probability(pixel: int) -> float:
    """What the grader's model outputs for a uniform grey image of this pixel value."""
    return 1.0 / (1.0 + math.exp(-(GAIN * pixel / 255.0 + BIAS)))


def installed() -> bool:
    # Asked in the parent (nothing imported), so a worker cannot turn a zero into 0 of 0.
    return importlib.util.find_spec("streamlit") is not None


def prepare(folder: Path, params: dict[str, Any]) -> Prepared:
    if not installed():
        raise ProbeUnavailable(f"Streamlit is not installed, so the app cannot be run; "
                               f"{INSTALL} to grade it")
    from PIL import Image

    calls = [Call(kwargs={"model": False})]
    truth = []
    for name, pixel in UPLOADS:
        path = folder / name
        Image.fromarray(np.full((90, 70), pixel, np.uint8), mode="L").save(path)
        calls.append(Call(kwargs={"model": True, "name": name,
                                  "upload": {"$bytes": str(path.resolve()), "label": name}}))
        truth.append({"name": name, "pixel": pixel, "probability": probability(pixel)})
    path = folder / NOT_IMAGE[0]
    path.write_bytes(NOT_IMAGE[1])
    calls.append(Call(kwargs={"model": True, "name": NOT_IMAGE[0],
                              "upload": {"$bytes": str(path.resolve()), "label": NOT_IMAGE[0]}}))
    return Prepared(calls=calls, truth=truth)


# --- build worker ---------------------------------------------------------------------

def _model(path: Path, image_size: list[int]) -> None:
    """The grader's model: known output on a uniform image, and a Conv2D for Grad-CAM."""
    import keras

    inputs = keras.Input((*image_size, 3))
    x = keras.layers.Conv2D(1, 1, activation="relu", name="conv",
                            kernel_initializer=keras.initializers.Constant(1 / 3))(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="output",
                                 kernel_initializer=keras.initializers.Constant(GAIN),
                                 bias_initializer=keras.initializers.Constant(BIAS))(x)
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
        for key in TEXTS:
            texts = [str(t)[:MAX_CHARS] for t in page[key][:MAX_ITEMS]]
            out[f"r{i}_{key}"] = np.array(texts, dtype=str) if texts else np.zeros(0, "<U1")
        for key in COUNTS:
            out[f"r{i}_{key}"] = np.array(int(page[key]))
    return out


# --- parent ---------------------------------------------------------------------------

def _page_of(outputs: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    page: dict[str, Any] = {k: [str(t) for t in outputs[f"r{i}_{k}"]] for k in TEXTS}
    page.update({k: int(outputs[f"r{i}_{k}"]) for k in COUNTS})
    return page


def shown_probability(text: str) -> float | None:
    """The number in a metric's text, as a probability ("0.907", "90.7%", "p = 0.907")."""
    match = re.search(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", text)
    if match is None:
        return None
    value = float(match.group())
    return value / 100 if "%" in text[match.end():] else value


def _decision(page: dict[str, Any], classes: list[str]) -> str | None:
    """The class the page shows as its decision: the positive one in an st.error, the
    negative one in an st.success; None when neither, or both, are shown."""
    positive = any(classes[1].lower() in t.lower() for t in page["errors"])
    negative = any(classes[0].lower() in t.lower() for t in page["successes"])
    return None if positive == negative else classes[1] if positive else classes[0]


def _showed(page: dict[str, Any]) -> str:
    parts = [f"{key} {page[key]}" for key in ("exception", "errors", "successes", "metrics")
             if page[key]]
    parts.append(f"{page['images']} image(s)")
    return ", ".join(parts)


def judge(outputs: dict[str, np.ndarray], truth: list[dict[str, Any]],
          params: dict[str, Any], where: str) -> CheckResult:
    classes = params["classes"]
    threshold = params.get("threshold", 0.5)
    env = params["model_env"]
    pages = [_page_of(outputs, i) for i in range(len(truth) + 2)]
    missing, uploads, not_image = pages[0], pages[1:-1], pages[-1]
    problems: list[str] = []
    hints: list[str] = []
    uploader = all(p["uploaders_before"] for p in pages[1:])
    if not uploader:
        said = [t for p in pages for t in p["errors"] + p["exception"]]
        if any("not implemented" in t.lower() for t in said):
            return {"state": "not_implemented", "fraction": 0.0, "hints": [], "details": {},
                    "message": f"{where}: not implemented yet (the page says {said[0]!r})"}
        problems.append(f"with a model at {env} the page showed no st.file_uploader "
                        f"({_showed(pages[1])})")
        hints.append("offer st.file_uploader(..., type=['png', 'jpg', 'jpeg']) once the "
                     "model is loaded")

    # 1. No model: an error and a stop, and only then (a page that always errors earns nothing).
    ok_missing = False
    if missing["exception"]:
        problems.append(f"with no model at {env} the page raised {missing['exception'][0]!r} "
                        "instead of showing an st.error")
        hints.append(f"check that the file at {env} exists before loading it; if not, "
                     "st.error(...) and st.stop()")
    elif not missing["errors"]:
        problems.append(f"with no model at {env} the page showed no st.error "
                        f"({_showed(missing)})")
        hints.append("say that the model is missing with st.error(...), then st.stop()")
    elif missing["uploaders_before"]:
        problems.append(f"with no model at {env} the page showed an st.error but still "
                        "offered the uploader")
        hints.append("call st.stop() after the st.error for a missing model")
    elif uploader and not any(p["errors_before"] for p in pages[1:]):
        ok_missing = True

    # 2. The uploads: probability, decision and two images, each right for both.
    right = {"probability": True, "decision": True, "images": True}
    for page, want in zip(uploads, truth, strict=True):
        expected = classes[int(want["probability"] >= threshold)]
        what = (f"for {want['name']} (a uniform grey PNG, pixels {want['pixel']}) the page "
                f"showed {_showed(page)}")
        wanted = []
        if page["exception"]:
            right = dict.fromkeys(right, False)
            problems.append(f"{what}: an exception instead of the result")
            continue
        if not page["uploaded"]:
            right = dict.fromkeys(right, False)
            continue
        values = [shown_probability(t) for t in page["metrics"]]
        if not any(v is not None and abs(v - want["probability"]) <= 6e-4 for v in values):
            right["probability"] = False
            wanted.append(f"an st.metric with the probability {want['probability']:.3f}")
        if _decision(page, classes) != expected:
            right["decision"] = False
            kind = "st.error" if expected == classes[1] else "st.success"
            wanted.append(f"the decision {expected!r} in an {kind}")
        if page["images"] < 2:
            right["images"] = False
            wanted.append("two st.image (the upload and its Grad-CAM overlay)")
        if wanted:
            problems.append(f"{what}; expected " + ", ".join(wanted))
    if not right["probability"]:
        hints.append(f"show the model's probability for the uploaded image, e.g. "
                     f"st.metric('{classes[1]} probability', f'{{p:.3f}}'), with the image "
                     "read and scaled to [0, 1] by load_image at the model's input size")
    if not right["decision"]:
        hints.append(f"decide {classes[1]!r} when the probability is >= {threshold}: "
                     f"st.error for {classes[1]!r}, st.success for {classes[0]!r}, the class "
                     "name in the text")

    # 3. Not an image: an error, not a crash; only from a page that shows a result for
    # an image (one that errors on every upload earns nothing here).
    ok_not_image = bool(not_image["uploaded"] and not not_image["exception"]
                        and not_image["errors"] and any(p["metrics"] for p in uploads))
    if (not_image["uploaded"] or not_image["exception"]) and not ok_not_image:
        problems.append(f"for {NOT_IMAGE[0]} (bytes that are not an image) the page showed "
                        f"{_showed(not_image)}; expected an st.error and no exception")
        hints.append("wrap reading the upload in try/except and show st.error(...) for a "
                     "file that is not an image, then st.stop()")
    # What the student's helper functions raised for the images explains the pages.
    raised = list(dict.fromkeys(r for p in uploads for r in p["raised"]))
    if any("NotImplementedError" in r for r in raised):
        problems.insert(0, f"the app calls helpers that are not implemented yet ({raised[0]})")
        hints.insert(0, f"implement {raised[0].split(':')[0]} first: the app calls its "
                        "functions")
    elif raised:
        problems.append(f"(for the images, {'; '.join(raised[:2])})")

    parts = {"missing_model": ok_missing, "uploads": right, "not_image": ok_not_image}
    fraction = (ok_missing + 2 * sum(right.values()) / len(right) + ok_not_image) / 4
    details = {"parts": parts, "pages": pages}
    return verdict(where, problems, hints, fraction, details,
                   "a missing model gives an error; both uploads show the right "
                   "probability, decision and two images; a file that is not an image "
                   "gives an error")
