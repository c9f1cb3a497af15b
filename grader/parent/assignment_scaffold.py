"""`grader assignment new ID`: a starting spec, reference and template that already agree.

The spec has one model task (a small CNN for 28x28 grey images, 10 classes) with the
four kinds of model check an instructor uses most, so that each can be copied and
edited: the layers, the parameter counts (computed from the reference, as
scripts/update_spec_params.py does for the shipped specs), the lints, and
Fashion-MNIST accuracy. `grader assignment validate` passes on it as written.

The parent never imports Keras: the reference is written here as text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from grader.parent.spec import MARKER_FILE, shipped_assignments_dir

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]*")  # the schema's identifier

# Conv2D(8, 3x3) on 1 channel: 3*3*1*8 + 8 = 80; Conv2D(16, 3x3) on 8: 3*3*8*16 + 16
# = 1,168; 28 -> 26 -> 13 -> 11 -> 5, so Flatten gives 5*5*16 = 400 and Dense(10)
# 400*10 + 10 = 4,010. All trainable: 5,258.
REFERENCE_PARAMS = 5258

REFERENCE = '''"""{id}: the reference solution (written by `grader assignment new`).

`build_model()` returns a compiled Keras model for 28x28x1 images in [0, 1] and 10
classes. Importing this file builds nothing; the grader calls build_model() itself.
"""

from __future__ import annotations

import keras
from keras import layers


def build_model() -> keras.Model:
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(8, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(16, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ], name="small_cnn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
'''

TEMPLATE = '''"""{id}: what students start from (written by `grader assignment new`).

Write build_model() so that it returns a compiled keras.Model for 28x28x1 images
in [0, 1] and 10 classes, as the assignment text describes.
"""

from __future__ import annotations

import keras


def build_model() -> keras.Model:
    raise NotImplementedError("build_model: build and compile the CNN")
'''


def spec(assignment_id: str) -> dict:
    """The starting spec of ``assignment_id``; its numbers fit REFERENCE."""
    return {
        # The installed schema, so that an editor completes and checks the spec as it is typed.
        "$schema": shipped_assignments_dir().parent.joinpath(
            "schemas", "assignment.schema.json").resolve().as_uri(),
        "id": assignment_id,
        "title": f"{assignment_id}: a small CNN for Fashion-MNIST",
        "marker": assignment_id,
        "notes": "Started by `grader assignment new`; edit the tasks to fit the assignment "
                 "text, then run `grader assignment validate` with --reference and "
                 "--template.",
        "tasks": [{
            "id": "cnn",
            "title": "A small CNN: two convolution blocks and a 10-way softmax",
            "entry": {"file": ["cnn.py", "cnn.ipynb"], "function": "build_model"},
            "input_shape": [28, 28, 1],
            "num_classes": 10,
            "checks": {
                "architecture": {"points": 3, "layers": [
                    {"type": "Conv2D", "filters": 8, "kernel_size": 3, "activation": "relu"},
                    {"type": ["MaxPooling2D", "AveragePooling2D"], "pool_size": 2},
                    {"type": "Conv2D", "filters": 16, "kernel_size": 3, "activation": "relu"},
                    {"type": ["MaxPooling2D", "AveragePooling2D"], "pool_size": 2},
                    {"type": "Flatten"},
                    {"type": "Dense", "units": 10, "activation": "softmax"},
                ]},
                "params": {"points": 1, "trainable": REFERENCE_PARAMS,
                           "total": REFERENCE_PARAMS},
                "lints": {"points": 1, "rules": ["softmax_from_logits",
                                                 "dense_before_flatten", "output_classes"]},
                "accuracy": {
                    "points": 2, "dataset": "fashion-mnist", "threshold": 0.75,
                    "epochs": 1, "batch_size": 32, "optimizer": "adam",
                    "learning_rate": 0.001, "loss": "sparse_categorical_crossentropy",
                    "seed": 0, "time_limit_s": 300,
                    "derived_from": "provisional: this reference scored 0.8193 test accuracy "
                                    "after 1 epoch (Keras 3.15, CPU); once the model is "
                                    "yours, grade the reference without --static and set "
                                    "the threshold a margin below its score",
                },
            },
        }],
    }


def files(assignment_id: str, folder: Path) -> dict[Path, str]:
    """Every file `grader assignment new` writes, and its text."""
    marker = assignment_id + "\n"
    return {
        folder / f"{assignment_id}.json": json.dumps(spec(assignment_id), indent=2) + "\n",
        folder / "reference" / assignment_id / MARKER_FILE: marker,
        folder / "reference" / assignment_id / "cnn.py": REFERENCE.format(id=assignment_id),
        folder / "submissions_template" / assignment_id / MARKER_FILE: marker,
        folder / "submissions_template" / assignment_id / "cnn.py":
            TEMPLATE.format(id=assignment_id),
    }


def write(assignment_id: str, folder: Path) -> list[Path]:
    """Writes the files; refuses (FileExistsError naming them all) before writing any
    if one is there already, so an instructor's work is never overwritten."""
    planned = files(assignment_id, folder)
    existing = [path for path in planned if path.exists()]
    if existing:
        raise FileExistsError(", ".join(map(str, existing)))
    for path, text in planned.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        # "x": a file that appeared since the check above is still not overwritten.
        with path.open("x", encoding="utf-8") as fh:
            fh.write(text)
    return list(planned)
