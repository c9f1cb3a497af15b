"""Probe for a Streamlit app that classifies an uploaded image with a trained binary
model and explains the decision (DS-AG-021 Q10's xray_app.py).

An app is a script, not a function: importing it runs it. So this probe's build half
(grader/build_worker/probes/streamlit_app.py) has a ``run``, which the build worker
calls instead of importing the entry file, that drives the script with Streamlit's
AppTest, once per call, and returns what each page showed. The task's
``entry.function`` names nothing in the file; it is how messages name the page
("xray_app.py: app").

The model the app loads is the grader's, built in the build worker and saved to the
scratch space, its path in the environment variable ``model_env``: a 1x1 Conv2D
averaging the channels, global average pooling and one sigmoid unit with fixed
weights. On a uniform grey image of pixel value v (scaled to [0, 1] by the helper's
load_image) it outputs sigmoid(APP_GAIN * v / 255 + APP_BIAS) at any resize, so the
parent knows the probability the page must show without TensorFlow.

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

import importlib.util
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from grader import probe_contract as contract
from grader.parent.probes import Call, Prepared, ProbeUnavailable, verdict
from grader.protocol import CheckResult

RETURNS = contract.RETURNS["streamlit_app"]
# Uniform grey uploads: (file name, pixel value); one each side of the threshold.
UPLOADS = (("chest-bright.png", 200), ("chest-dark.png", 40))
NOT_IMAGE = ("notes.png", b"these are notes, not a picture\n")
INSTALL = "pip install -e '.[app]'"


def probability(pixel: int) -> float:
    """What the grader's model outputs for a uniform grey image of this pixel value."""
    return 1.0 / (1.0 + math.exp(-(contract.APP_GAIN * pixel / 255.0 + contract.APP_BIAS)))


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


def _page_of(outputs: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    page: dict[str, Any] = {k: [str(t) for t in outputs[f"r{i}_{k}"]] for k in contract.APP_TEXTS}
    page.update({k: int(outputs[f"r{i}_{k}"]) for k in contract.APP_COUNTS})
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
