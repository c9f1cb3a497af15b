"""Stand-ins for ``keras.Model``'s training calls: nothing trains, everything is noted.

- ``__init__`` runs as usual, then reports the new model (see capture.py).
  The stand-ins are seen through instances only: ``keras.Model.compile`` read from
  the class is still Keras' own, which Keras relies on (see ``_OnInstances``).
- ``compile`` runs as usual, then records the optimizer (class, learning rate or
  schedule), the loss and the metrics as Keras stores them.
- ``fit`` (and ``fit_generator``, where the class has it) trains nothing. It does
  what Keras' first step would leave behind: it checks the model is compiled, runs the
  model on one sample of the data (which builds an unbuilt model, and raises as Keras
  would on data the model cannot take) and builds the compiled metrics. It runs the
  callbacks' epoch hooks with made-up logs (a ModelCheckpoint still writes its file, an
  EarlyStopping may stop; a callback that raises is noted, not fatal) and returns a
  real ``keras.callbacks.History``: one value per epoch for the loss and each compiled
  metric, ``val_`` ones when validation data or a split is given. Recorded: epochs,
  batch size, steps, validation, callbacks, the data's shapes and, for an
  ``ImageDataGenerator`` flow, its augmentation settings. Arguments Keras 3 does not
  take (``workers=``) are ignored with a note; Keras 1's ``nb_epoch=`` is read as
  ``epochs=``.
- ``evaluate`` and ``train_on_batch`` return what Keras would (a float, a list with
  the metrics, a dict with ``return_dict=True``), with the values the last fit ended on.
- ``predict`` returns arrays of the model's output shape for as many samples as the
  data holds: uniform probabilities for a softmax output, 0.5 for a sigmoid, zeros
  otherwise. The model runs on one sample to learn that shape.

Made-up numbers follow a smooth learning curve from chance, so student code that
plots them, picks the best epoch or prints them keeps going.
"""

from __future__ import annotations

import inspect
import math
import sys
import types
from typing import Any

import numpy as np

from grader.build_worker.harness.capture import Recorder
from grader.build_worker.harness.data_facts import (
    Provenance,
    batch_length,
    describe,
    first_batch,
    first_batch_is_all,
    leading,
    sample_count,
)
from grader.build_worker.harness.location import Location, StudentFiles
from grader.build_worker.harness.notes import Notes
from grader.build_worker.harness.patches import Patches

_LOSS_LIKE = ("loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge",
              "kl", "poisson", "cosh")


def _name_of(obj: Any) -> Any:
    """A loss or metric as a name: the string given, else the object's Keras name."""
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_name_of(o) for o in obj]
    if isinstance(obj, dict):
        return {str(k): _name_of(v) for k, v in obj.items()}
    name = getattr(obj, "name", None)
    if isinstance(name, str) and not inspect.isfunction(obj):
        return name
    return getattr(obj, "__name__", type(obj).__name__)


def _metric_names(metrics: Any) -> list[str]:
    """The compiled metrics' names, as Keras keys them in a History."""
    named = _name_of(metrics)
    flat: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            flat.append(value)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    walk(named)
    return list(dict.fromkeys(flat))


def _value(name: str, epoch: int, classes: int, validation: bool) -> float:
    """A made-up value of ``name`` after ``epoch`` + 1 epochs (``epoch`` -1: untrained)."""
    progress = 1.0 - 0.7 ** (epoch + 1)
    if name == "loss" or (any(s in name for s in _LOSS_LIKE) and "acc" not in name):
        start = math.log(classes) if name == "loss" and classes > 1 else 0.7
        value = start * (1.0 - 0.65 * progress) * (1.08 if validation else 1.0)
    else:
        chance = 1.0 / classes if classes > 1 else 0.5
        value = (chance + (0.9 - chance) * progress) * (0.97 if validation else 1.0)
    return round(float(value), 4)


def _logs(metrics: list[str], epoch: int, classes: int, validation: bool) -> dict[str, float]:
    names = sorted({"loss", *metrics})  # Keras keys its logs in this order
    logs = {n: _value(n, epoch, classes, False) for n in names}
    if validation:
        logs.update({f"val_{n}": _value(n, epoch, classes, True) for n in names})
    return logs


def _fill_for(output: np.ndarray) -> float:
    """What a stand-in prediction holds, judged from one real output: uniform
    probabilities after a softmax, 0.5 after a sigmoid, else zeros."""
    if output.size == 0 or not np.all(np.isfinite(output)):
        return 0.0
    inside = bool(np.all(output >= 0.0) and np.all(output <= 1.0))
    if inside and output.ndim >= 2 and output.shape[-1] > 1 \
            and np.allclose(output.sum(axis=-1), 1.0, atol=1e-3):
        return 1.0 / output.shape[-1]
    if inside and output.shape[-1:] == (1,):
        return 0.5
    return 0.0


class _OnInstances:
    """A stand-in method seen only through instances. Read from the class,
    ``keras.Model.compile`` is still Keras' own function: Keras compares it so to tell
    a model's custom ``compile()`` from its own (and would not compile a loaded model),
    and reads ``cls.__init__``'s arguments to make a model's config."""

    def __init__(self, original: Any, stand_in: Any) -> None:
        self.original = original
        self.stand_in = stand_in

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self.original
        return types.MethodType(self.stand_in, instance)


class KerasTraining:
    """Installs the stand-ins on ``keras.Model`` for one run (see the module doc)."""

    def __init__(self, recorder: Recorder, notes: Notes, files: StudentFiles,
                 provenance: Provenance) -> None:
        self.recorder = recorder
        self.notes = notes
        self.files = files
        self.provenance = provenance
        self._final_logs: dict[int, dict[str, float]] = {}
        self._compile_signature: inspect.Signature | None = None

    # ------------------------------------------------------------------------ helpers

    def _where(self, frame: Any) -> Location | None:
        return self.files.innermost(frame)

    def _compiled_metrics(self, model: Any) -> list[str]:
        captured = self.recorder.ensure(model)
        facts = captured.compile if captured is not None else None
        return list(facts.get("metrics") or []) if facts else []

    @staticmethod
    def _classes(model: Any) -> int:
        try:
            last = model.outputs[0].shape[-1]
            return int(last) if last else 10
        except Exception:
            return 10

    @staticmethod
    def _require_compiled(model: Any) -> None:
        if getattr(model, "compiled", True) is False:
            raise ValueError("You must call `compile()` before using the model.")

    @staticmethod
    def _build_on(model: Any, inputs: Any) -> Any:
        """Runs the model on one sample of ``inputs`` (building it if it is not built);
        returns the output. A model that cannot take its own data raises here, as
        Keras' fit would."""
        return model(leading(inputs, 1), training=False)

    def _prepare(self, model: Any, batch: tuple[Any, Any] | None) -> str | None:
        """What Keras' first training step would leave behind: a built model, and built
        compiled metrics (callbacks such as EarlyStopping(monitor="val_accuracy") look
        them up to know which way is better). Returns why the metrics could not be
        built (labels that do not fit the outputs), or None."""
        if batch is None:
            return None
        inputs, targets = batch
        output = self._build_on(model, inputs)
        if targets is None:
            return None
        try:
            model.compute_metrics(leading(inputs, 1), leading(targets, 1), output)
            model.reset_metrics()
        except Exception as exc:
            return f"{type(exc).__name__}: {str(exc)[:200]}"
        return None

    def _unknown(self, method: str, unknown: dict[str, Any]) -> dict[str, Any]:
        for key in unknown:
            self.notes.add(f"{method} ignored {key}",
                           f"keras.Model.{method}({key}=...): Keras 3 takes no such "
                           "argument; the grader ignored it")
        return {k: repr(v)[:80] for k, v in unknown.items()}

    # ----------------------------------------------------------------------- install

    def install(self, patches: Patches, keras: Any) -> None:
        model_class = keras.Model
        self.recorder.keras_model = model_class
        original_init = model_class.__init__
        original_compile = model_class.compile
        self._compile_signature = inspect.signature(original_compile)
        stand = self

        def __init__(model: Any, *args: Any, **kwargs: Any) -> None:
            original_init(model, *args, **kwargs)
            try:
                stand.recorder.constructed(model, sys._getframe(1))
            except Exception:  # noticing a model must never break building it
                pass

        def compile(model: Any, *args: Any, **kwargs: Any) -> Any:
            result = original_compile(model, *args, **kwargs)
            stand._record_compile(model, args, kwargs, sys._getframe(1))
            return result

        def fit(model: Any, x: Any = None, y: Any = None, batch_size: Any = None,
                epochs: int = 1, verbose: Any = "auto", callbacks: Any = None,
                validation_split: float = 0.0, validation_data: Any = None,
                shuffle: Any = True, class_weight: Any = None, sample_weight: Any = None,
                initial_epoch: int = 0, steps_per_epoch: Any = None,
                validation_steps: Any = None, validation_batch_size: Any = None,
                validation_freq: Any = 1, **unknown: Any) -> Any:
            return stand._fit("fit", model, sys._getframe(1), x=x, y=y, batch_size=batch_size,
                              epochs=epochs, verbose=verbose, callbacks=callbacks,
                              validation_split=validation_split,
                              validation_data=validation_data, shuffle=shuffle,
                              class_weight=class_weight, initial_epoch=initial_epoch,
                              steps_per_epoch=steps_per_epoch, unknown=unknown)

        def fit_generator(model: Any, generator: Any, steps_per_epoch: Any = None,
                          epochs: int = 1, verbose: Any = 1, callbacks: Any = None,
                          validation_data: Any = None, validation_steps: Any = None,
                          class_weight: Any = None, initial_epoch: int = 0,
                          **unknown: Any) -> Any:
            for key in ("max_queue_size", "workers", "use_multiprocessing", "shuffle",
                        "validation_freq"):
                unknown.pop(key, None)  # Keras 2 arguments that only tuned the loading
            return stand._fit("fit_generator", model, sys._getframe(1), x=generator,
                              y=None, batch_size=None, epochs=epochs, verbose=verbose,
                              callbacks=callbacks, validation_split=0.0,
                              validation_data=validation_data, shuffle=True,
                              class_weight=class_weight, initial_epoch=initial_epoch,
                              steps_per_epoch=steps_per_epoch, unknown=unknown)

        def evaluate(model: Any, x: Any = None, y: Any = None, batch_size: Any = None,
                     verbose: Any = "auto", sample_weight: Any = None, steps: Any = None,
                     callbacks: Any = None, return_dict: bool = False, **unknown: Any) -> Any:
            return stand._evaluate("evaluate", model, sys._getframe(1), x, y, batch_size,
                                   steps, return_dict, unknown)

        def evaluate_generator(model: Any, generator: Any, steps: Any = None,
                               **unknown: Any) -> Any:
            return stand._evaluate("evaluate_generator", model, sys._getframe(1), generator,
                                   None, None, steps, False, {})

        def predict(model: Any, x: Any, batch_size: Any = None, verbose: Any = "auto",
                    steps: Any = None, callbacks: Any = None, **unknown: Any) -> Any:
            return stand._predict("predict", model, sys._getframe(1), x, steps)

        def predict_generator(model: Any, generator: Any, steps: Any = None,
                              **unknown: Any) -> Any:
            return stand._predict("predict_generator", model, sys._getframe(1), generator,
                                  steps)

        def train_on_batch(model: Any, x: Any, y: Any = None, sample_weight: Any = None,
                           class_weight: Any = None, return_dict: bool = False) -> Any:
            return stand._train_on_batch(model, sys._getframe(1), x, y, return_dict)

        stand_ins = {"__init__": __init__, "compile": compile, "fit": fit,
                     "evaluate": evaluate, "predict": predict, "train_on_batch": train_on_batch}
        # Keras 3 has none of these; a compatibility layer may have put them back.
        for name, stand_in in (("fit_generator", fit_generator),
                               ("evaluate_generator", evaluate_generator),
                               ("predict_generator", predict_generator)):
            if hasattr(model_class, name):
                stand_ins[name] = stand_in
        for name, stand_in in stand_ins.items():
            patches.set(model_class, name, _OnInstances(getattr(model_class, name), stand_in))

    # ------------------------------------------------------------------------ compile

    def _record_compile(self, model: Any, args: tuple, kwargs: dict, frame: Any) -> None:
        try:
            assert self._compile_signature is not None
            given = self._compile_signature.bind(model, *args, **kwargs).arguments
        except (TypeError, AssertionError):
            given = dict(kwargs)
        optimizer = getattr(model, "optimizer", None)
        learning_rate: Any = None
        try:
            rate = optimizer.get_config().get("learning_rate")
            if isinstance(rate, dict):  # a schedule, serialised
                learning_rate = {"schedule": rate.get("class_name"),
                                 **{k: v for k, v in (rate.get("config") or {}).items()
                                    if isinstance(v, (int, float, str, bool))}}
            elif rate is not None:
                learning_rate = float(f"{float(rate):.6g}")  # 0.001, not float32's 0.0010000000474
        except Exception:
            pass
        facts = {
            "optimizer": type(optimizer).__name__ if optimizer is not None else None,
            "learning_rate": learning_rate,
            "loss": _name_of(getattr(model, "loss", given.get("loss"))),
            "metrics": _metric_names(given.get("metrics")),
            "weighted_metrics": _metric_names(given.get("weighted_metrics")),
        }
        self.recorder.event(model, "compiled", facts, self._where(frame))

    # ---------------------------------------------------------------------------- fit

    def _steps(self, x: Any, batch_size: Any, validation_split: float,
               steps_per_epoch: Any) -> int | None:
        if steps_per_epoch:
            return int(steps_per_epoch)
        if first_batch_is_all(x):
            n = batch_length(x) or 0
            n = int(n * (1.0 - float(validation_split or 0.0)))
            return max(1, math.ceil(n / int(batch_size or 32)))
        try:
            return int(len(x))
        except TypeError:
            return None

    def _fit(self, method: str, model: Any, frame: Any, *, x: Any, y: Any, batch_size: Any,
             epochs: Any, verbose: Any, callbacks: Any, validation_split: Any,
             validation_data: Any, shuffle: Any, class_weight: Any, initial_epoch: Any,
             steps_per_epoch: Any, unknown: dict[str, Any]) -> Any:
        import keras

        at = self._where(frame)
        if "nb_epoch" in unknown:  # Keras 1's name for epochs, still in old tutorials
            epochs = unknown.pop("nb_epoch")
            self.notes.add("nb_epoch", f"keras.Model.{method}(nb_epoch=...): read as "
                           "epochs= (Keras 1's name for it)")
        self.recorder.ensure(model)  # captured even when the fit then fails
        self._require_compiled(model)
        metrics_error = self._prepare(model, first_batch(x, y))
        epochs, initial_epoch = int(epochs), int(initial_epoch or 0)
        validation = None
        if validation_data is not None:
            validation = {"data": describe(validation_data, self.provenance)}
        elif validation_split:
            validation = {"split": float(validation_split)}
        steps = self._steps(x, batch_size, validation_split, steps_per_epoch)
        callback_list = list(keras.tree.flatten(callbacks)) if callbacks is not None else []
        facts: dict[str, Any] = {
            "method": method,
            "epochs": epochs,
            "initial_epoch": initial_epoch,
            # as given, else the data iterator's own (an ImageDataGenerator flow's)
            "batch_size": int(batch_size) if isinstance(batch_size, (int, np.integer))
            else (x.batch_size if isinstance(getattr(x, "batch_size", None), int) else None),
            "steps_per_epoch": steps,
            "validation": validation,
            "callbacks": [type(c).__name__ for c in callback_list],
            "x": describe(x, self.provenance),
            "y": describe(y, self.provenance),
            "class_weight": class_weight is not None,
            "shuffle": bool(shuffle) if isinstance(shuffle, bool) else shuffle,
        }
        generator = self.provenance.facts_of(x)
        if generator is not None:
            facts["generator"] = generator
        if metrics_error:
            facts["metrics_error"] = metrics_error
        if unknown:
            facts["ignored"] = self._unknown(method, unknown)
        self.notes.add(f"keras {method}",
                       f"keras.Model.{method}(): nothing is trained in this run; the call's "
                       "settings are recorded and a History of made-up values is returned")

        metrics = self._compiled_metrics(model)
        classes = self._classes(model)
        with_validation = validation is not None
        history = keras.callbacks.History()
        history.set_model(model)
        history.set_params({"verbose": 1 if verbose == "auto" else verbose,
                            "epochs": epochs, "steps": steps})
        history.on_train_begin()
        errors: list[str] = []

        def hook(call: Any, *args: Any) -> None:
            try:
                call(*args)
            except Exception as exc:  # a made-up epoch must not fail the student's fit
                errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")

        hooks: Any = None
        try:
            hooks = keras.callbacks.CallbackList(callback_list, add_history=False,
                                                 add_progbar=False, model=model, verbose=0,
                                                 epochs=epochs, steps=steps)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        model.stop_training = False
        logs: dict[str, float] = _logs(metrics, -1, classes, with_validation)
        if hooks is not None:
            hook(hooks.on_train_begin)
        for epoch in range(initial_epoch, epochs):
            if hooks is not None:
                hook(hooks.on_epoch_begin, epoch)
            logs = _logs(metrics, epoch, classes, with_validation)
            if hooks is not None:
                hook(hooks.on_epoch_end, epoch, dict(logs))
            history.on_epoch_end(epoch, dict(logs))
            if getattr(model, "stop_training", False):
                break
        if hooks is not None:
            hook(hooks.on_train_end, dict(logs))
        if errors:
            facts["callback_errors"] = errors
            self.notes.add("callback errors", "a callback raised while the grader stood in "
                           f"for fit ({errors[0]}); the fit went on")
        facts["epochs_run"] = len(history.epoch)
        model.history = history
        self._final_logs[id(model)] = logs
        self.recorder.event(model, "fit", facts, at)
        return history

    # ------------------------------------------------------------- evaluate and friends

    def _scores(self, model: Any, return_dict: bool, epoch_if_untrained: int = -1) -> Any:
        metrics = self._compiled_metrics(model)
        logs = self._final_logs.get(id(model))
        if logs is None:
            logs = _logs(metrics, epoch_if_untrained, self._classes(model), False)
        names = ["loss", *[m for m in metrics if m != "loss"]]
        values = {n: logs.get(f"val_{n}", logs.get(n, 0.0)) for n in names}
        if return_dict:
            return values
        return values["loss"] if len(names) == 1 else [values[n] for n in names]

    def _evaluate(self, method: str, model: Any, frame: Any, x: Any, y: Any,
                  batch_size: Any, steps: Any, return_dict: bool,
                  unknown: dict[str, Any]) -> Any:
        at = self._where(frame)
        self._require_compiled(model)
        facts = {"method": method, "x": describe(x, self.provenance),
                 "y": describe(y, self.provenance),
                 "batch_size": int(batch_size) if isinstance(batch_size, int) else None,
                 "steps": steps if isinstance(steps, int) else None}
        if unknown:
            facts["ignored"] = self._unknown(method, unknown)
        self.notes.add(f"keras {method}", f"keras.Model.{method}(): nothing is evaluated in "
                       "this run; made-up scores are returned")
        self.recorder.event(model, "evaluated", facts, at)
        return self._scores(model, return_dict)

    def _predict(self, method: str, model: Any, frame: Any, x: Any, steps: Any) -> Any:
        import keras

        at = self._where(frame)
        batch = first_batch(x)
        if batch is not None:
            sample = keras.tree.map_structure(np.asarray, self._build_on(model, batch[0]))
            count = sample_count(x, steps, batch[0])
        else:
            try:
                sample = [np.zeros([1, *[int(d or 1) for d in o.shape[1:]]], "float32")
                          for o in model.outputs]
                sample = sample[0] if len(sample) == 1 else sample
            except Exception as exc:
                raise TypeError(f"keras.Model.{method}(): the grader cannot read this input "
                                f"({type(x).__name__}) to answer for the model") from exc
            count = int(steps or 1)

        def answer(output: np.ndarray) -> np.ndarray:
            shape = (count, *output.shape[1:])
            dtype = output.dtype if output.dtype.kind == "f" else np.float32
            return np.full(shape, _fill_for(output), dtype=dtype)

        self.notes.add(f"keras {method}", f"keras.Model.{method}(): nothing is computed in this "
                       "run; arrays of the model's output shape (uniform probabilities or "
                       "zeros) are returned")
        self.recorder.event(model, "predicted",
                            {"method": method, "x": describe(x, self.provenance),
                             "samples": count}, at, collapse=True)
        return keras.tree.map_structure(answer, sample)

    def _train_on_batch(self, model: Any, frame: Any, x: Any, y: Any,
                        return_dict: bool) -> Any:
        at = self._where(frame)
        self._require_compiled(model)
        self._prepare(model, first_batch(x, y))
        self.notes.add("keras train_on_batch", "keras.Model.train_on_batch(): nothing is "
                       "trained in this run; made-up losses are returned")
        self.recorder.event(model, "trained_on_batch",
                            {"x": describe(x, self.provenance), "y": describe(y, self.provenance)},
                            at, collapse=True)
        return self._scores(model, return_dict, epoch_if_untrained=0)
