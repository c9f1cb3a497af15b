"""The build worker's half of a visual check (grader/verify_worker/visual.py has the
spec's keys and scores it): calls the student's visual function(s) on the model the
builder just returned and the plan's probe image, and stores the raw outputs in
``<task>.visual/outputs.npz`` (plus the student's own figure, when the spec names a
figure function). Student code runs here, so nothing recorded is trusted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from grader.verify_worker.visual_plan import META, OUTPUTS, plan, probe_image, start_image

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
        image = probe_image(calls["image_shape"], calls["seed"])
        if calls["kind"] == "grad_cam":
            for c in calls["classes"]:
                job["args"] = [model_arg, image_arg, c]
                arrays[f"cam_{c}"] = np.asarray(function(model, image.copy(), c), dtype=np.float32)
        elif calls["kind"] == "activation_maps":
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
            images = np.stack([probe_image(calls["image_shape"], calls["seed"] + i)
                               for i in range(len(calls["classes"]))])
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
