"""Keras 2 arguments and methods that Keras 3 refuses: wrappers installed on the public
optimizer classes and on keras.Model, each translating to the Keras 3 call.

- optimizers: ``lr=`` becomes ``learning_rate=``; ``decay=`` is dropped (Keras 3 ignores
  it with a warning; the note names the schedule that does what it did);
  ``epsilon=None`` (Keras 2.2's documented default) is dropped, as Keras 3 fails on it
  at the first training step; ``keras.optimizers.legacy.X`` makes ``keras.optimizers.X``;
- keras.Model: ``fit_generator``, ``evaluate_generator``, ``predict_generator``,
  ``predict_classes`` and ``predict_proba`` come back as thin aliases; ``fit(nb_epoch=)``
  and the worker arguments Keras 3 moved to keras.utils.PyDataset are translated.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from grader.build_worker.compat.patches import wraps

if TYPE_CHECKING:
    from grader.build_worker.compat.notes import Compat
    from grader.build_worker.compat.patches import Patches

_OPTIMIZERS = ("Adam", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "AdamW",
               "Ftrl")
_LEGACY_MODULES = ("keras.optimizers.legacy", "tensorflow.keras.optimizers.legacy")
_WORKER_ARGUMENTS = ("workers", "use_multiprocessing", "max_queue_size")

# Keras 2's positional order of the generator methods (tf.keras 2.x), after the generator.
_GENERATOR_METHODS: dict[str, tuple[str, tuple[str, ...]]] = {
    "fit_generator": ("fit", (
        "steps_per_epoch", "epochs", "verbose", "callbacks", "validation_data",
        "validation_steps", "validation_freq", "class_weight", "max_queue_size", "workers",
        "use_multiprocessing", "shuffle", "initial_epoch")),
    "evaluate_generator": ("evaluate", (
        "steps", "callbacks", "max_queue_size", "workers", "use_multiprocessing", "verbose")),
    "predict_generator": ("predict", (
        "steps", "callbacks", "max_queue_size", "workers", "use_multiprocessing", "verbose")),
}


def install(compat: Compat, patches: Patches) -> None:
    import keras

    for name in _OPTIMIZERS:
        cls = getattr(keras.optimizers, name, None)
        if isinstance(cls, type) and "__init__" in vars(cls):
            patches.set(cls, "__init__", _optimizer_init(cls, compat))
    for module_name in _LEGACY_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in _OPTIMIZERS:
            if hasattr(module, name) and hasattr(keras.optimizers, name):
                patches.set(module, name, _legacy_optimizer(module_name, name, compat))
    for method in ("fit", "evaluate", "predict"):
        patches.set(keras.Model, method, _keras3_call(method, getattr(keras.Model, method),
                                                      compat))
    for old, (new, order) in _GENERATOR_METHODS.items():
        patches.set(keras.Model, old, _generator_method(old, new, order, compat))
    patches.set(keras.Model, "predict_classes", _predict_classes(compat))
    patches.set(keras.Model, "predict_proba", _predict_proba(compat))


def _optimizer_init(cls: type, compat: Compat) -> Callable[..., None]:
    init = vars(cls)["__init__"]
    default_rate = inspect.signature(init).parameters["learning_rate"].default
    name = cls.__name__

    @wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if "lr" in kwargs:
            rate = kwargs.pop("lr")
            if not args:  # a positional learning rate wins, as it did in Keras 2
                kwargs.setdefault("learning_rate", rate)
            compat.note((name, "lr"), f"{name}(lr={rate!r}): `lr` is Keras 2; Keras 3 spells "
                                      f"it learning_rate={rate!r}")
        if "decay" in kwargs:
            decay = kwargs.pop("decay")
            rate = args[0] if args else kwargs.get("learning_rate", default_rate)
            compat.note((name, "decay"), f"{name}(decay={decay!r}): `decay` is Keras 2 and "
                        "Keras 3 ignores it; to lower the learning rate as it did, pass a "
                        "LearningRateSchedule: learning_rate=keras.optimizers.schedules."
                        f"InverseTimeDecay({rate!r}, decay_steps=1, decay_rate={decay!r})")
        if "epsilon" in kwargs and kwargs["epsilon"] is None:
            del kwargs["epsilon"]
            compat.note((name, "epsilon"), f"{name}(epsilon=None) is Keras 2 (it meant the "
                        "default, 1e-07); Keras 3 needs a number: leave epsilon out")
        init(self, *args, **kwargs)

    return __init__


def _legacy_optimizer(module_name: str, name: str, compat: Compat) -> Callable[..., Any]:
    import keras

    # Keras 3 keeps these names only to raise ImportError; make the Keras 3 optimizer.
    @wraps(getattr(keras.optimizers, name))
    def make(*args: Any, **kwargs: Any) -> Any:
        compat.note((module_name, name), f"{module_name}.{name} is Keras 2 (tf.keras 2.11+); "
                    f"Keras 3 spells it keras.optimizers.{name}")
        return getattr(keras.optimizers, name)(*args, **kwargs)

    return make


def _keras3_call(method: str, original: Callable[..., Any], compat: Compat
                 ) -> Callable[..., Any]:
    @wraps(original)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if method == "fit" and "nb_epoch" in kwargs:
            epochs = kwargs.pop("nb_epoch")
            kwargs.setdefault("epochs", epochs)
            compat.note(("fit", "nb_epoch"), f"model.fit(nb_epoch={epochs!r}): `nb_epoch` is "
                        f"Keras 1; Keras 3 spells it epochs={epochs!r}")
        _drop_worker_arguments(method, kwargs, compat)
        return original(self, *args, **kwargs)

    return call


def _drop_worker_arguments(method: str, kwargs: dict[str, Any], compat: Compat) -> None:
    dropped = [k for k in _WORKER_ARGUMENTS if k in kwargs]
    if not dropped:
        return
    for k in dropped:
        del kwargs[k]
    given = ", ".join(f"{k}=..." for k in dropped)
    compat.note(("workers", method), f"model.{method}({given}) is Keras 2; Keras 3 takes "
                "workers, use_multiprocessing and max_queue_size from the data "
                "(keras.utils.PyDataset(workers=...)), so the grader left them out")


def _generator_method(old: str, new: str, order: tuple[str, ...], compat: Compat
                      ) -> Callable[..., Any]:
    def method(self: Any, generator: Any, *args: Any, **kwargs: Any) -> Any:
        compat.note(("method", old), f"model.{old}(...) is Keras 2; Keras 3 spells it "
                    f"model.{new}(...), which takes generators, keras.utils.PyDataset and "
                    "tf.data datasets")
        kwargs.update(zip(order[:len(args)], args, strict=True))  # too many: ValueError
        _drop_worker_arguments(old, kwargs, compat)
        return getattr(self, new)(generator, **kwargs)

    method.__name__ = method.__qualname__ = old
    method.__doc__ = f"Keras 2's {old}: calls model.{new} (grader compatibility layer)."
    return method


def _predict_classes(compat: Compat) -> Callable[..., Any]:
    def predict_classes(self: Any, x: Any, batch_size: int | None = None, verbose: Any = 0,
                        **kwargs: Any) -> Any:
        """Keras 2's predict_classes: the most likely class (or 0/1 for one output)."""
        compat.note(("method", "predict_classes"), "model.predict_classes(x) was removed "
                    "in TensorFlow 2.6; Keras 3: np.argmax(model.predict(x), axis=-1), or "
                    "(model.predict(x) > 0.5).astype(\"int32\") for one sigmoid output")
        proba = self.predict(x, batch_size=batch_size, verbose=verbose, **kwargs)
        if proba.shape[-1] > 1:
            return proba.argmax(axis=-1)
        return (proba > 0.5).astype("int32")

    return predict_classes


def _predict_proba(compat: Compat) -> Callable[..., Any]:
    def predict_proba(self: Any, x: Any, batch_size: int | None = None, verbose: Any = 0,
                      **kwargs: Any) -> Any:
        """Keras 2's predict_proba: what predict returns."""
        compat.note(("method", "predict_proba"), "model.predict_proba(x) was removed in "
                    "TensorFlow 2.6; Keras 3 spells it model.predict(x)")
        return self.predict(x, batch_size=batch_size, verbose=verbose, **kwargs)

    return predict_proba
