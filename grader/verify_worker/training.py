"""Trusted training and evaluation for accuracy checks.

Runs where student code never ran (the verify worker, or `grader reference`).

``train_and_evaluate(model_path, spec)``
    Rebuilds the model from the *config* in a saved ``.keras`` file, with
    fresh weights drawn from the spec's seed: weights shipped in the file,
    trained on anything (the test set included), are never read. Trains with
    the spec's fixed hyper-parameters on the training split, stops early once
    the threshold is met on a validation split (never on the test split) or
    when the time limit is spent, then evaluates once on the held-out test
    split.

``evaluate_saved_model(model_path, spec)``
    For tasks whose training is the student's work: the build worker trained
    on the train/validation splits only (`grader.build_worker.training`); here the
    saved weights are loaded with ``safe_mode`` and evaluated on the test split.

Student-trained tasks prepare their data and run the student's training in
`grader.parent.training_data` (the flow), `grader.build_worker.training` and
`grader.verify_worker.student_scores`.

The spec is the task's ``checks.accuracy`` object of the assignment spec (see
`AccuracySpec` for the keys and their defaults).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader.data import Dataset
from grader.data.training_data import (
    AccuracySpec,
    adapt_images,
    adapt_labels,
    feeds_raw_pixels,
    input_shape,
    load_training_data,
    split_for_training,
)

#: Final-layer activations that already produce probabilities.
PROBABILITY_ACTIVATIONS = {"softmax", "sigmoid"}


@dataclass
class TrainResult:
    """What an accuracy check records. ``value`` is the spec's metric on test."""

    dataset: str
    metric: str
    value: float
    threshold: float
    passed: bool
    accuracy: float
    macro_f1: float
    val_metric: float | None
    epochs_run: int
    epochs_planned: int
    #: ``threshold`` (met on validation), ``time_limit``, ``epochs`` (all run),
    #: ``diverged`` (loss became NaN) or ``not_trained`` (student-trained weights).
    stopped: str
    train_seconds: float
    eval_seconds: float
    device: str
    mixed_precision: bool
    trained_by: str
    samples: dict[str, int]
    num_classes: int = 0
    from_logits: bool = False
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        verdict = "meets" if self.passed else "is below"
        how = (f"after {self.epochs_run}/{self.epochs_planned} epoch(s), "
               f"{self.train_seconds:.1f} s on {self.device}" if self.trained_by == "grader"
               else "with the student's own trained weights")
        text = (f"test {self.metric} {self.value:.4f} {verdict} the threshold {self.threshold:.4f} "
                f"({how}; stopped: {self.stopped})")
        return text + "".join(f"; {n}" for n in self.notes)


# --------------------------------------------------------------------------- metrics


def macro_f1(y_true, y_pred, num_classes: int) -> float:
    """Unweighted mean over classes of F1 = 2PR / (P + R); a class that is
    never predicted and never present is left out, one that is present but
    never predicted scores 0.

    >>> import numpy as np
    >>> round(macro_f1(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 2), 4)
    0.7333
    """
    import numpy as np

    scores = []
    for c in range(num_classes):
        tp = float(np.sum((y_pred == c) & (y_true == c)))
        fp = float(np.sum((y_pred == c) & (y_true != c)))
        fn = float(np.sum((y_pred != c) & (y_true == c)))
        if tp + fp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def _labels_from_output(probs):
    import numpy as np

    probs = np.asarray(probs)
    if probs.ndim == 1 or probs.shape[-1] == 1:  # one sigmoid unit (or logit)
        flat = probs.reshape(-1)
        cut = 0.5 if flat.min() >= 0 and flat.max() <= 1 else 0.0
        return (flat > cut).astype(np.int64)
    return probs.argmax(axis=-1).astype(np.int64)


def score(model, x, y, num_classes: int, batch_size: int) -> tuple[float, float]:
    """(accuracy, macro F1) of ``model`` on ``x``, ``y``."""
    import numpy as np

    predicted = _labels_from_output(model.predict(x, batch_size=batch_size, verbose=0))
    return float(np.mean(predicted == y)), macro_f1(y, predicted, num_classes)


# --------------------------------------------------------------------------- model


def read_model_config(model_path: str | os.PathLike) -> dict[str, Any]:
    """The model's ``config.json`` from a ``.keras`` archive, without its weights."""
    path = Path(model_path)
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable .keras file ({err})") from err


#: More numbers than this in one config value is data, not a layer setting
#: (shapes, kernel sizes and per-channel constants are short): weights could
#: ride in it.
MAX_CONFIG_NUMBERS = 64


def _numbers(value: Any) -> int:
    """Numeric leaves in a config value, through nested lists and serialised
    arrays (``{"class_name": "__numpy__", "config": {"value": [...]}}``)."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, (int, float)):
        return 1
    if isinstance(value, list):
        return sum(_numbers(v) for v in value)
    if isinstance(value, dict) and value.get("class_name") in ("__numpy__", "__tensor__"):
        return _numbers((value.get("config") or {}).get("value"))
    return 0


def carried_data(config: Any, where: str = "model") -> list[str]:
    """Places in a model config that could carry trained weights into a "fresh"
    rebuild: an initializer with an array argument (``Constant(W)``), or any
    value holding many numbers. Seeded initialisation means nothing if the
    config holds W."""
    found: list[str] = []
    if isinstance(config, dict):
        inner = config.get("config")
        here = (f"{where} > {inner['name']}" if isinstance(inner, dict)
                and isinstance(inner.get("name"), str) else where)
        if config.get("class_name") in ("__numpy__", "__tensor__"):
            count = _numbers(config)
            if count > MAX_CONFIG_NUMBERS:
                found.append(f"{here}: an array of {count} numbers")
            return found
        for key, value in config.items():
            if key.endswith("initializer") and isinstance(value, dict) and any(
                    _numbers(v) > 1 for v in (value.get("config") or {}).values()):
                found.append(f"{here}: {key} {value.get('class_name')} holds an array")
            else:
                found += carried_data(value, here)
    elif isinstance(config, list):
        count = _numbers(config)
        if count > MAX_CONFIG_NUMBERS:
            found.append(f"{where}: a list of {count} numbers")
        else:
            for value in config:
                found += carried_data(value, where)
    return found


def rebuild_fresh(model_path: str | os.PathLike, seed: int):
    """A new model from the saved config, weights freshly initialised from ``seed``.

    ``safe_mode=True`` refuses lambda bytecode; the weights file in the archive
    is never opened, and a config that carries arrays (`carried_data`) is refused.
    """
    import keras

    keras.utils.set_random_seed(seed)
    config = read_model_config(model_path)
    carried = carried_data(config)
    if carried:
        raise ValueError(
            f"{model_path}: the model's config carries data that could hold trained weights "
            f"({'; '.join(carried[:3])}); the grader trains every model from fresh seeded "
            "weights, so build it with built-in initializers and no arrays in layer settings")
    config.pop("compile_config", None)  # the spec decides optimiser and loss
    try:
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as err:
        raise ValueError(
            f"{model_path}: cannot rebuild the model from its config with safe_mode "
            f"({type(err).__name__}: {err}). Custom layers and Lambda layers cannot be "
            "trained by the grader; use built-in Keras layers."
        ) from err
    if not model.built:
        shape = config.get("build_config", {}).get("input_shape")
        if shape:
            model.build(tuple(shape))
    return model


def final_activation(model) -> str | None:
    for layer in reversed(model.layers):
        activation = getattr(layer, "activation", None)
        if activation is not None:
            return getattr(activation, "__name__", str(activation))
        if type(layer).__name__ == "Softmax":
            return "softmax"
    return None


def loss_for_head(loss: str, units: int, activation: str | None) -> str:
    """The cross-entropy that fits the model's output, whichever correct head the
    student chose: one unit is binary; two or more softmax (or logit) units are
    categorical over integer labels. Sigmoid units stay binary (multi-label); other
    losses are the spec's."""
    if "crossentropy" not in loss.lower():
        return loss
    if units == 1:
        return "binary_crossentropy"
    if "binary" in loss.lower() and activation != "sigmoid":
        return "sparse_categorical_crossentropy"
    return loss


def make_loss(name: str, from_logits: bool):
    import keras

    if "crossentropy" in name.lower() and from_logits:
        # The config only reaches a loss *class*; the snake_case names are functions.
        class_name = "".join(part.capitalize() for part in name.split("_")) if "_" in name else name
        return keras.losses.get({"class_name": class_name, "config": {"from_logits": True}})
    return keras.losses.get(name)


def make_optimizer(name: str, learning_rate: float):
    import keras

    optimizer = keras.optimizers.get(name)
    optimizer.learning_rate = learning_rate
    return optimizer


#: Training images larger than this as float32 are streamed (see `_streamed`).
STREAM_ABOVE_BYTES = 1 << 30


def _streamed(x_uint8, y, model_shape: tuple, raw: bool, spec: AccuracySpec):
    """A tf.data pipeline over uint8 images: shuffled indices (seeded, reshuffled
    each epoch, so no shuffle buffer copies the images), gathered per batch and
    scaled like `adapt_images`."""
    import tensorflow as tf

    images, labels = tf.constant(x_uint8), tf.constant(y)
    repeat = len(model_shape) == 3 and x_uint8.shape[-1] == 1 and model_shape[-1] == 3

    def batch(index):
        x = tf.cast(tf.gather(images, index), tf.float32)
        if not raw:
            x = x / 255.0
        if repeat:
            x = tf.repeat(x, 3, axis=-1)
        if None not in model_shape:
            x = tf.reshape(x, (-1, *model_shape))
        return x, tf.gather(labels, index)

    order = tf.data.Dataset.range(len(y)).shuffle(len(y), seed=spec.seed,
                                                    reshuffle_each_iteration=True)
    return (order.batch(spec.batch_size).map(batch, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


# --------------------------------------------------------------------------- callbacks


def _callbacks(spec: AccuracySpec, x_val, y_val, num_classes: int, state: dict, progress: bool,
               steps_per_epoch: int):
    import keras
    import numpy as np

    class Guard(keras.callbacks.Callback):
        """Stops on the time limit (checked every batch), on a NaN loss, and
        once the validation metric reaches the threshold (checked per epoch)."""

        def on_train_batch_end(self, batch, logs=None):
            if time.monotonic() > state["deadline"]:
                state["stopped"] = "time_limit"
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            state["epochs_run"] = epoch + 1
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                state["stopped"] = "diverged"
                self.model.stop_training = True
                return
            if state["stopped"] == "time_limit" or epoch + 1 >= spec.epochs:
                return  # the validation pass could not change anything now
            predicted = _labels_from_output(
                self.model.predict(x_val, batch_size=max(spec.batch_size, 256), verbose=0))
            value = (float(np.mean(predicted == y_val)) if spec.metric == "accuracy"
                     else macro_f1(y_val, predicted, num_classes))
            state["val_metric"] = value
            if spec.early_stop and value >= spec.threshold:
                state["stopped"] = "threshold"
                self.model.stop_training = True

    callbacks = [Guard()]
    if callable(progress):
        callbacks.append(_EventProgress(progress, spec.epochs, steps_per_epoch))
    elif progress:
        callbacks.append(_rich_progress_class()(spec.epochs, steps_per_epoch))
    return callbacks


def _EventProgress(send, epochs: int, steps: int):  # noqa: N802 (builds a Callback)
    """Reports progress as small dicts to ``send`` (the verify worker forwards
    them to the parent, which draws the bar), at most four times a second."""
    import keras

    class EventProgress(keras.callbacks.Callback):
        last = 0.0
        epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            now = time.monotonic()
            if now - self.last > 0.25 or batch + 1 == steps:
                self.last = now
                loss = (logs or {}).get("loss")
                send({"epoch": self.epoch + 1, "epochs": epochs, "batch": batch + 1,
                      "steps": steps, "loss": None if loss is None else float(loss)})

    return EventProgress()


def _rich_progress_class():
    import keras
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    class RichProgress(keras.callbacks.Callback):
        """An epoch bar over a batch bar on stderr. Updates are throttled to a
        few per second, so the bar costs nothing measurable per batch."""

        def __init__(self, epochs: int, steps: int):
            super().__init__()
            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(stderr=True), transient=False, refresh_per_second=4)
            self.epochs, self.steps, self.last = epochs, steps, 0.0

        def on_train_begin(self, logs=None):
            self.progress.start()
            self.epoch_task = self.progress.add_task("epochs", total=self.epochs, info="")
            self.batch_task = self.progress.add_task("batches", total=self.steps, info="")

        def on_epoch_begin(self, epoch, logs=None):
            self.progress.reset(self.batch_task, total=self.steps, info="")

        def on_train_batch_end(self, batch, logs=None):
            now = time.monotonic()
            if now - self.last > 0.25 or batch + 1 == self.steps:
                self.last = now
                loss = (logs or {}).get("loss")
                info = f"loss {float(loss):.4f}" if loss is not None else ""
                self.progress.update(self.batch_task, completed=batch + 1, info=info)

        def on_epoch_end(self, epoch, logs=None):
            self.progress.update(self.epoch_task, completed=epoch + 1)

        def on_train_end(self, logs=None):
            self.progress.stop()

    return RichProgress


# --------------------------------------------------------------------------- entry points


def _setup_device(spec: AccuracySpec, require_gpu: bool, notes: list[str]):
    from grader import device as devices

    dev = devices.describe()
    if require_gpu:
        devices.require_gpu(dev)
    mixed = False
    if spec.mixed_precision:
        import keras

        if dev.kind == "GPU":
            keras.mixed_precision.set_global_policy("mixed_float16")
            mixed = True
        else:
            notes.append("mixed precision asked for but ignored on CPU")
    return dev, mixed


def train_and_evaluate(model_path: str | os.PathLike, spec: AccuracySpec | dict,
                       data_dir: str | os.PathLike | None = None, *,
                       data: Dataset | None = None, progress: Any = None,
                       require_gpu: bool = False) -> TrainResult:
    """Rebuilds ``model_path``'s model with fresh seeded weights, trains it with
    the spec's hyper-parameters and evaluates it on the test split.

    Raises `grader.data.DatasetMissing` when the data is not on disk (the caller
    reports the check as skipped), `grader.device.GpuRequired` when
    ``require_gpu`` is set and there is no GPU, and `ValueError` with the fix
    when the model cannot be rebuilt or does not fit the data.

    ``progress``: True draws a rich progress bar on stderr, a callable receives
    ``{"epoch", "epochs", "batch", "steps", "loss"}`` dicts a few times a second,
    None draws the bar only when stderr is a terminal.
    """
    spec = spec if isinstance(spec, AccuracySpec) else AccuracySpec.from_dict(spec)
    if spec.trained_by == "student":
        return evaluate_saved_model(model_path, spec, data_dir, data=data, progress=progress,
                                    require_gpu=require_gpu)
    notes: list[str] = []
    dev, mixed = _setup_device(spec, require_gpu, notes)
    try:
        return _train(model_path, spec, data_dir, data, progress, dev, mixed, notes)
    finally:
        if mixed:  # the worker goes on to other models: leave the policy as found
            import keras

            keras.mixed_precision.set_global_policy("float32")


def _train(model_path, spec: AccuracySpec, data_dir, data: Dataset | None, progress: Any,
           dev, mixed: bool, notes: list[str]) -> TrainResult:
    model = rebuild_fresh(model_path, spec.seed)
    data = data if data is not None else load_training_data(spec, data_dir, model)
    splits = split_for_training(data, spec)
    shape = input_shape(model)
    raw = feeds_raw_pixels(spec, model)
    units = int(model.output_shape[-1])
    activation = final_activation(model)
    from_logits = activation not in PROBABILITY_ACTIVATIONS
    loss = loss_for_head(spec.loss, units, activation)
    if loss != spec.loss:
        notes.append(f"trained with {loss}, the loss that fits the model's output "
                     f"({units} unit(s), {activation}); the spec's default is {spec.loss}")
    if from_logits and "crossentropy" in loss:
        notes.append(f"the output layer's activation is {activation!r}: trained as logits")
    y_train = adapt_labels(splits["train"][1], loss, units)
    n_train = len(y_train)
    if splits["train"][0].size * 4 > STREAM_ABOVE_BYTES:
        # As float32 the training images would not fit the worker's memory limit
        # (chest X-rays at 224 x 224): keep them uint8 and scale batch by batch.
        adapt_images(splits["train"][0][:1], shape, raw)  # a shape mismatch fails here, named
        x_train = _streamed(splits["train"][0], y_train, shape, raw, spec)
        fit_args: dict[str, Any] = {}
        notes.append("training images streamed in batches (uint8 in memory)")
    else:
        x_train = adapt_images(splits["train"][0], shape, raw)
        fit_args = {"y": y_train, "batch_size": spec.batch_size, "shuffle": True}
    x_val, y_val = adapt_images(splits["validation"][0], shape, raw), splits["validation"][1]
    x_test, y_test = adapt_images(splits["test"][0], shape, raw), splits["test"][1]

    model.compile(optimizer=make_optimizer(spec.optimizer, spec.learning_rate),
                  loss=make_loss(loss, from_logits))
    steps = math.ceil(n_train / spec.batch_size)
    start = time.monotonic()
    state = {"deadline": start + spec.time_limit_s, "stopped": "epochs", "epochs_run": 0,
             "val_metric": None}
    if progress is None:
        progress = sys.stderr.isatty()
    model.fit(x_train, epochs=spec.epochs, verbose=0, **fit_args,
              callbacks=_callbacks(spec, x_val, y_val, data.num_classes, state, progress, steps))
    train_seconds = time.monotonic() - start
    start = time.monotonic()
    accuracy, f1 = score(model, x_test, y_test, data.num_classes, max(spec.batch_size, 256))
    eval_seconds = time.monotonic() - start
    value = accuracy if spec.metric == "accuracy" else f1
    if state["stopped"] == "time_limit":
        notes.append(f"training stopped at the time limit of {spec.time_limit_s:g} s")
    return TrainResult(
        dataset=spec.dataset, metric=spec.metric, value=value, threshold=spec.threshold,
        passed=value >= spec.threshold, accuracy=accuracy, macro_f1=f1,
        val_metric=state["val_metric"], epochs_run=state["epochs_run"],
        epochs_planned=spec.epochs, stopped=state["stopped"], train_seconds=train_seconds,
        eval_seconds=eval_seconds, device=str(dev), mixed_precision=mixed, trained_by="grader",
        samples={"train": n_train, "validation": len(x_val), "test": len(x_test)},
        num_classes=data.num_classes, from_logits=from_logits, notes=notes,
    )


def evaluate_saved_model(model_path: str | os.PathLike, spec: AccuracySpec | dict,
                         data_dir: str | os.PathLike | None = None, *,
                         data: Dataset | None = None, progress: Any = None,
                         require_gpu: bool = False, model: Any = None) -> TrainResult:
    """Evaluates the weights a student's own training saved, on the test split
    the build worker never had. Loads with ``safe_mode=True`` (or takes the
    ``model`` the verify worker already loaded that way)."""
    import keras

    spec = spec if isinstance(spec, AccuracySpec) else AccuracySpec.from_dict(spec)
    notes: list[str] = []
    dev, mixed = _setup_device(spec, require_gpu, notes)
    if model is None:
        try:
            model = keras.models.load_model(model_path, safe_mode=True, compile=False)
        except Exception as err:
            raise ValueError(f"{model_path}: cannot load the trained model with safe_mode "
                             f"({type(err).__name__}: {err})") from err
    data = data if data is not None else load_training_data(spec, data_dir, model)
    splits = split_for_training(data, spec)
    shape = input_shape(model)
    raw = feeds_raw_pixels(spec, model)
    x_test, y_test = adapt_images(splits["test"][0], shape, raw), splits["test"][1]
    start = time.monotonic()
    accuracy, f1 = score(model, x_test, y_test, data.num_classes, max(spec.batch_size, 256))
    value = accuracy if spec.metric == "accuracy" else f1
    return TrainResult(
        dataset=spec.dataset, metric=spec.metric, value=value, threshold=spec.threshold,
        passed=value >= spec.threshold, accuracy=accuracy, macro_f1=f1, val_metric=None,
        epochs_run=0, epochs_planned=0, stopped="not_trained", train_seconds=0.0,
        eval_seconds=time.monotonic() - start, device=str(dev), mixed_precision=mixed,
        trained_by="student", samples={"test": len(x_test)}, num_classes=data.num_classes,
        notes=notes,
    )
