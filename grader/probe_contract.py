"""What the two halves of a probe agree on: the parent's ``prepare`` and ``judge``
(grader/parent/probes/) and the build worker's ``capture`` (grader/build_worker/probes/).

The halves run in different processes and must not import each other: the parent
imports no framework, and nothing on the build side may import the parent. So the
markers of a call's arguments, the rule for which factories a ``$make`` marker may
name, the size limit of the outputs and each probe's shared names live here. This
module imports nothing beyond the standard library, so every side may read it.
"""

from __future__ import annotations

from typing import Any

RETURNS: dict[str, str] = {
    "dataset_arrays": "((x_train, y_train), (x_test, y_test)), four arrays",
    "image_folders": "datasets of (images, labels) batches",
    "preprocess": "a tuple (x, y): the images as a float array and the labels",
    "image_bytes": "one image as a float array (H, W, 3) in [0, 1]",
    "metric": "one float, the metric's value in [0, 1]",
    "callback_config": "a keras.callbacks.EarlyStopping",
    "param_count": "the number of trainable parameters, an int",
    "torch_loaders": "(train_loader, test_loader), two DataLoaders",
    "torch_train_epoch": "the epoch's mean loss, a float",
    "torch_evaluate": "the fraction of correct predictions, a float in [0, 1]",
    "streamlit_app": "a page (the script runs top to bottom under Streamlit's AppTest)",
}
"""Probe name (the spec's ``outputs.probe``) -> what the student's function returns, as
messages say it. Every probe has an entry: it is also the list of probe names."""

# What a capture may hand back: enough for every probe's fixture, small enough that a
# function returning a huge array cannot fill the scratch disk or the parent's memory.
MAX_OUTPUT_BYTES = 64 << 20

# --- the markers of a call's arguments (see grader.parent.probes.Call) -----------------

MARKERS = ("$npy", "$bytes", "$path", "$make", "$made")

# The only modules a ``$make`` marker may name: the grader's factories, on the build
# side (they import torch or keras). The parent names them and never imports them.
TORCH_OBJECTS = "grader.build_worker.probes.torch_objects"
KERAS_OBJECTS = "grader.build_worker.probes.keras_objects"
FACTORY_MODULES = (TORCH_OBJECTS, KERAS_OBJECTS)


def factory_target(target: str) -> tuple[str, str]:
    """(module, function) of a ``$make`` target "MODULE:FUNCTION"; refuses any module
    but FACTORY_MODULES and any private or malformed name, so a marker can only ever
    run the grader's own factories. The parent checks what it writes, the build worker
    what it reads."""
    module, _, function = target.partition(":")
    if module not in FACTORY_MODULES or not function.isidentifier() \
            or function.startswith("_"):
        raise ValueError(f"$make {target!r}: only the grader's factories "
                         f"({', '.join(m + ':FUNCTION' for m in FACTORY_MODULES)}) may be named")
    return module, function


def label(value: Any) -> str:
    """How an argument is written in a message: markers by their label. Both sides
    write calls: the parent in its judgements, the build worker in its errors."""
    if isinstance(value, dict) and any(m in value for m in MARKERS):
        return value.get("label", "...")
    return repr(value)


# --- names each probe's halves share (the outputs' keys are in each probe's capture) ---

# callback_config: the capture saves "<field>_<call>" for each: texts as UTF-8 bytes,
# numbers as floats.
EARLY_STOPPING_TEXTS = ("class", "monitor", "mode")
EARLY_STOPPING_NUMBERS = ("patience", "restore_best_weights", "min_delta")

# torch_loaders: the loaders returned, in order, and the file images each reads.
TORCH_LOADERS = ("train", "test")
TORCH_LOADER_IMAGES = {"train": 40, "test": 20}

# torch_train_epoch: the MADE key of the grader's model, whose weights the capture reads.
TRAIN_EPOCH_MODEL_KEY = "torch_train_epoch.model"

# streamlit_app: the grader's model outputs sigmoid(APP_GAIN * v / 255 + APP_BIAS) on a
# uniform grey image of pixel value v; the capture saves "r<call>_<key>" for each page.
APP_GAIN, APP_BIAS = 8.0, -4.0
APP_TEXTS = ("exception", "errors", "successes", "metrics", "captions", "raised")
APP_COUNTS = ("uploaded", "images", "uploaders_before", "errors_before")
