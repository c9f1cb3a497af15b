"""The build worker's half of a visual check (grader/verify_worker/visual.py has the
spec's keys and scores it): calls the student's visual function(s) and stores the raw
outputs in ``<task>.visual/outputs.npz`` (plus the student's own figure, when the spec
names a figure function). Student code runs here, so nothing recorded is trusted.

The model and images are the ones the grader trained and chose (``check["_model"]``
and ``check["_inputs"]``, set by the parent after the trusted training stage) or, when
there are none, the untrained model and the synthetic probe image.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from grader.verify_worker.visual_plan import (
    META,
    OUTPUTS,
    class_images,
    figure_images,
    plan,
    read_inputs,
    single_image,
    start_image,
)

#: What each kind's student function returns, for the messages when it raises.
_RETURNS = {"grad_cam": "the Grad-CAM map as an (H, W) array in [0, 1]",
            "activation_maps": "a dict from layer name to that layer's output",
            "filter_pattern": "the pattern as an (H, W, C) image in [0, 1]"}



def produce(model, check: dict[str, Any], load_function: Callable[[str], Callable],
            out_dir: str | Path, task_id: str) -> dict[str, Any]:
    """Runs the student's visual function(s) in the build worker and stores
    what they return. Never raises: an error is recorded for the verify side."""
    from grader.build_worker.student_errors import Named, hook_failure

    folder = Path(out_dir) / f"{task_id}.visual"
    folder.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"folder": str(folder.resolve()), "error": None, "figure": None}
    inputs = None
    # Set by the parent for a staged check: the model to draw (the grader's trained one,
    # or the untrained one the build saved) and the real images, if any.
    if check.get("_model"):
        import keras

        try:  # the grader's own files: a failure here is the grader's, said so
            model = keras.saving.load_model(check["_model"], compile=False)
            inputs = read_inputs(check["_inputs"]) if check.get("_inputs") else None
        except Exception as err:
            if check.get("_inputs"):
                record["error"] = (f"the grader could not load the model it trained for this "
                                   f"check ({type(err).__name__}: {err}); report this to the "
                                   "course staff")
                (folder / META).write_text(json.dumps(record))
                return record
            # The untrained model as saved would not load here: the builder's is the same.
    try:
        calls = plan(model, check)
    except Exception as err:
        record["error"] = f"cannot plan the visual check: {err}"
        return record
    arrays: dict[str, np.ndarray] = {}
    model_arg, image_arg = Named("model"), Named("image")
    # The call as made, for the message when student code raises.
    job: dict[str, Any] = {"file": check.get("file"), "function": check["function"],
                           "args": [], "kwargs": {}}
    function = None
    try:
        function = load_function(check["function"])
        if calls["kind"] == "grad_cam":
            images = class_images(calls, inputs)
            for c in calls["classes"]:
                job["args"] = [model_arg, image_arg, c]
                arrays[f"cam_{c}"] = np.asarray(function(model, images[c].copy(), c),
                                                dtype=np.float32)
        elif calls["kind"] == "activation_maps":
            image = single_image(calls, inputs)
            job["args"] = [model_arg, image_arg, list(calls["layer_names"])]
            maps = function(model, image.copy(), list(calls["layer_names"]))
            if not isinstance(maps, dict):
                raise TypeError(f"returned {type(maps).__name__}, not a dict of layer name -> "
                                "array")
            for name, value in maps.items():
                arrays[f"act_{name}"] = np.asarray(value, dtype=np.float32)
        else:
            job.update(args=[model_arg, calls["layer_name"], calls["filter_index"],
                             Named("start_image")], kwargs={"steps": calls["steps"]})
            start = start_image(calls["image_shape"], calls["seed"])
            arrays["pattern"] = np.asarray(
                function(model, calls["layer_name"], calls["filter_index"], start.copy(),
                         steps=calls["steps"]), dtype=np.float32)
    except BaseException as err:
        record.update(hook_failure(err, job, function, _RETURNS[calls["kind"]],
                                   "the visual function"))
    if arrays:
        np.savez(folder / OUTPUTS, **arrays)
        record["outputs"] = str((folder / OUTPUTS).resolve())
    figure_fn = check.get("figure_function")
    if figure_fn and calls["kind"] == "grad_cam" and record["error"] is None:
        target = folder / "student_figure.png"
        job = {"file": check.get("file"), "function": figure_fn, "kwargs": {},
               "args": [model_arg, Named("images"), list(calls["classes"]), Named("path")]}
        function = None
        try:
            images = figure_images(calls, inputs)
            function = load_function(figure_fn)
            function(model, images, list(calls["classes"]), str(target))
            record["figure"] = str(target.resolve()) if target.is_file() else None
            if record["figure"] is None:
                record["figure_error"] = f"{check['file']}: {figure_fn} wrote no file at {target}"
        except BaseException as err:
            record["figure_error"] = hook_failure(
                err, job, function, "once it has saved the figure as a PNG at the path given",
                "the figure function")["error"]
    (folder / META).write_text(json.dumps(record))
    return record
