"""The data side of an accuracy check, shared by the three processes: the check's
settings (`AccuracySpec`), the seeded train/validation/test selection, and how
images are fed to a model. The parent writes a student-trained task's train and
validation splits with these; the build worker feeds them to the student's
training function; the verify worker trains and scores. NumPy only: no
TensorFlow is imported here (a model is only asked for its ``input_shape`` and
``layers``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from grader.data import Dataset, load_dataset

#: How a student's training function may be called (see `grader.parent.training_data`).
TRAIN_CALLS = ("arrays", "datasets", "directories")


@dataclass
class AccuracySpec:
    """The ``checks.accuracy`` section of a task, with documented defaults."""

    dataset: str
    threshold: float
    #: ``accuracy`` or ``macro_f1`` (the unweighted mean of per-class F1).
    metric: str = "accuracy"
    epochs: int = 1
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    #: A Keras loss name. ``from_logits`` follows the model's output layer: a
    #: model that ends without softmax/sigmoid is trained as producing logits.
    loss: str = "sparse_categorical_crossentropy"
    seed: int = 0
    #: Wall clock for training (not evaluation); training stops when it is spent
    #: and the model is evaluated as it stands, with the stop reason reported.
    time_limit_s: float = 600.0
    #: Train on a seeded random subset of this many training images.
    train_subset: int | None = None
    #: Evaluate on a seeded subset of the test split (quick checks only).
    test_subset: int | None = None
    #: Fraction of the training split held out for early stopping when the
    #: dataset has no validation split of its own.
    validation_split: float = 0.1
    #: Stop as soon as the validation metric reaches ``threshold``.
    early_stop: bool = True
    #: ``mixed_float16`` on a GPU; ignored (and said so) on CPU.
    mixed_precision: bool = False
    #: (height, width) for image-folder datasets; default: the model's input size.
    image_size: list[int] | None = None
    #: ``unit`` scales pixels to [0, 1]; ``raw`` feeds 0..255; ``auto`` feeds raw
    #: pixels to a model that starts with its own Rescaling layer, else unit.
    input_scale: str = "auto"
    #: ``grader``: rebuild and train here. ``student``: the build worker ran the
    #: student's training on train/validation only; only evaluate here.
    trained_by: str = "grader"
    #: For ``trained_by: "student"``: the student's function in the task's entry
    #: file, run in the build worker (see `grader.parent.training_data`), called in
    #: the form ``train_call`` names: ``arrays`` (default), ``datasets`` or
    #: ``directories``. Any score it computes is the student's claim, never read.
    train_function: str | None = None
    train_kwargs: dict[str, Any] = field(default_factory=dict)
    train_call: str = "arrays"
    #: Builder argument lists (a learning-rate sweep): one build, student
    #: training and test score per list; the best run is scored.
    sweep: list[list[Any]] | None = None
    #: Keywords for the builder, called again before the student's training
    #: (``"$weights:NAME"``: a pretrained weights file, see `grader.data.weights`).
    builder_kwargs: dict[str, Any] = field(default_factory=dict)

    #: Keys of the spec's check that are not training settings.
    NOT_SETTINGS = ("points", "derived_from", "notes", "train", "train_skipped", "train_error")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccuracySpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - set(cls.NOT_SETTINGS))
        if unknown:  # a misspelt key would silently train with the default
            raise ValueError(f"accuracy check: unknown key(s) {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(known))}")
        spec = cls(**{k: v for k, v in data.items() if k in known})
        from grader.data import DATASET_NAMES

        if spec.dataset not in DATASET_NAMES:
            raise ValueError(f"accuracy check: dataset {spec.dataset!r}; known: "
                             f"{', '.join(DATASET_NAMES)}")
        if spec.metric not in ("accuracy", "macro_f1"):
            raise ValueError(f"accuracy check: metric {spec.metric!r}; use accuracy or macro_f1")
        if spec.trained_by not in ("grader", "student"):
            raise ValueError(f"accuracy check: trained_by {spec.trained_by!r}; grader or student")
        if spec.trained_by == "student" and not spec.train_function:
            raise ValueError("accuracy check: trained_by 'student' needs train_function")
        if spec.train_call not in TRAIN_CALLS:
            raise ValueError(f"accuracy check: train_call {spec.train_call!r}; use arrays, "
                             "datasets or directories")
        if (spec.sweep or spec.builder_kwargs or spec.train_call != "arrays") and \
                spec.trained_by != "student":
            raise ValueError("accuracy check: sweep, builder_kwargs and train_call need "
                             "trained_by 'student'")
        if spec.sweep is not None and (not spec.sweep or not all(
                isinstance(args, list) for args in spec.sweep)):
            raise ValueError("accuracy check: sweep is a non-empty list of builder argument "
                             "lists, e.g. [[0.1], [0.01]]")
        return spec


def starts_with_rescaling(model) -> bool:
    for layer in model.layers:
        name = type(layer).__name__
        if name == "InputLayer":
            continue
        return name == "Rescaling"
    return False


def feeds_raw_pixels(spec: AccuracySpec, model) -> bool:
    if spec.input_scale == "auto":
        return starts_with_rescaling(model)
    return spec.input_scale == "raw"


def _subset(rng, n: int, k: int | None):
    import numpy as np

    if k is None or k >= n:
        return np.arange(n)
    return np.sort(rng.permutation(n)[:k])


def split_for_training(data: Dataset, spec: AccuracySpec) -> dict[str, tuple[Any, Any]]:
    """Train / validation / test index selections, seeded: the training subset
    first, then (when the dataset has no validation split) a validation slice
    carved from the remaining training images."""
    import numpy as np

    rng = np.random.default_rng(spec.seed)
    idx = _subset(rng, len(data.y_train), spec.train_subset)
    x_train, y_train = data.x_train[idx], data.y_train[idx]
    if data.x_val is not None and data.y_val is not None:
        x_val, y_val = data.x_val, data.y_val
    else:
        n_val = max(1, int(round(len(y_train) * spec.validation_split)))
        order = rng.permutation(len(y_train))
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
        x_val, y_val = x_train[val_idx], y_train[val_idx]
        x_train, y_train = x_train[train_idx], y_train[train_idx]
    test_idx = _subset(rng, len(data.y_test), spec.test_subset)
    return {
        "train": (x_train, y_train),
        "validation": (x_val, y_val),
        "test": (data.x_test[test_idx], data.y_test[test_idx]),
    }


def input_shape(model) -> tuple:
    shape = model.input_shape
    if isinstance(shape, list):
        raise ValueError("the model has several inputs; accuracy checks need one image input")
    return tuple(shape[1:])


def adapt_images(x, model_shape: tuple, raw: bool):
    """uint8 ``(N, H, W, C)`` images to float32 in the shape the model takes:
    ``(H, W, C)``, ``(H, W)`` or flat ``(H*W*C,)``; grey is repeated to three
    channels for a colour model."""
    import numpy as np

    x = x.astype(np.float32)
    if not raw:
        x /= 255.0
    if None in model_shape:
        return x
    if len(model_shape) == 3 and x.shape[-1] == 1 and model_shape[-1] == 3:
        x = np.repeat(x, 3, axis=-1)
    if tuple(x.shape[1:]) != model_shape:
        if int(np.prod(x.shape[1:])) != int(np.prod(model_shape)):
            raise ValueError(
                f"the model takes inputs of shape {model_shape}, the dataset's images are "
                f"{tuple(x.shape[1:])}; build the model for the dataset's image size"
            )
        x = x.reshape((len(x), *model_shape))
    return x


def adapt_labels(y, loss: str, output_units: int):
    import numpy as np

    if loss in ("categorical_crossentropy", "CategoricalCrossentropy") or (
        "binary" in loss.lower() and output_units > 1
    ):
        return np.eye(output_units, dtype=np.float32)[y]
    if "binary" in loss.lower():
        return y.astype(np.float32).reshape(-1, 1)
    return y


def load_training_data(spec: AccuracySpec, data_dir, model=None) -> Dataset:
    """The spec's dataset; image-folder datasets are read at the spec's
    ``image_size``, else at the model's input size."""
    options: dict[str, Any] = {}
    if spec.dataset in ("cats-dogs", "chest-xray"):
        size = spec.image_size
        if size is None and model is not None:
            shape = input_shape(model)
            if len(shape) == 3 and None not in shape[:2]:
                size = shape[:2]
        if size:
            options["image_size"] = tuple(size)
    return load_dataset(spec.dataset, data_dir, **options)





def builder_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The builder a sweep or ``builder_kwargs`` calls again: a task's entry point."""
    return {"function": entry["function"], "args": entry.get("args", []),
            "kwargs": entry.get("kwargs", {})}


def _folder_name(index: int, name: str, names: list[str]) -> str:
    """A class's folder: its own name where every name is a plain file name that
    sorts in class order (Keras reads folders in sorted order), else ``NN-name``."""
    plain = all(n and "/" not in n and n not in (".", "..") for n in names)
    if plain and sorted(names) == list(names):
        return name
    return f"{index:02d}-{name.replace('/', '-')}"


def write_class_folders(x, y, class_names: list[str], root: str | os.PathLike) -> str:
    """``root/CLASS/NNNNN.png`` for uint8 images ``x`` (N x H x W x C, C 1 or 3) and
    integer labels ``y``: the layout `keras.utils.image_dataset_from_directory`
    and `torchvision.datasets.ImageFolder` read. PNG, so no pixel changes."""
    from PIL import Image

    root = Path(root)
    folders = [root / _folder_name(i, n, class_names) for i, n in enumerate(class_names)]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        pixels = image[..., 0] if image.shape[-1] == 1 else image
        Image.fromarray(pixels).save(folders[int(label)] / f"{i:05d}.png")
    return str(root)


def prepare_student_training(check: dict[str, Any], folder: str | os.PathLike,
                             data_dir: str | os.PathLike | None = None,
                             builder: dict[str, Any] | None = None) -> dict[str, Any]:
    """Writes the train and validation splits (never the test split) into
    ``folder`` and returns the build job's ``train`` entry. ``builder`` (the
    task's entry ``function``, ``args`` and ``kwargs``) is needed for a sweep
    or ``builder_kwargs``: the build worker then builds each model to train
    itself (``train["sweep"]``: the argument lists, one run each). Raises
    `grader.data.DatasetMissing` when the data is absent, `ValueError` for an
    unusable spec."""
    import numpy as np

    from grader.data.weights import resolve_weights

    spec = AccuracySpec.from_dict(check)
    if (spec.sweep or spec.builder_kwargs) and not builder:
        raise ValueError("accuracy check: sweep and builder_kwargs need the task's builder")
    # Weights first: a missing file skips the check before any data is written.
    builder_kwargs = resolve_weights(spec.builder_kwargs, folder, data_dir)
    data = load_training_data(spec, data_dir)
    splits = split_for_training(data, spec)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # The directories form reads only its PNG folders; the others only the arrays.
    written, directories = {}, {}
    for name in ("train", "validation"):
        x, y = splits[name]
        if spec.train_call == "directories":
            directories[name] = write_class_folders(x, y, data.class_names, folder / name)
        else:
            written[name] = str(folder / f"{name}.npz")
            np.savez(written[name], x=x, y=y, class_names=np.array(data.class_names))
    train = {"function": spec.train_function, "kwargs": dict(spec.train_kwargs),
             "call": spec.train_call, "splits": written, "input_scale": spec.input_scale,
             "batch_size": spec.batch_size, "seed": spec.seed}
    if directories:
        train["directories"] = directories
    if spec.sweep or builder_kwargs:
        train["builder"] = {**builder, "kwargs": {**builder.get("kwargs", {}), **builder_kwargs}}
        train["sweep"] = [list(args) for args in spec.sweep or [builder.get("args", [])]]
    return train

def corrupt_message(dataset: str, err: Exception) -> str:
    """A damaged dataset is the grader's problem, never the student's: the fix."""
    return (f"the grader's copy of dataset {dataset!r} is damaged ({err}); this is not the "
            "student's doing: run `grader data status`, then re-install or re-prepare it "
            "and grade again")
