"""Trusted training for the visual checks: a model that learned something, and the
real images its Grad-CAM and activation maps are drawn on.

Runs in a verify worker (never where student code ran), as the first stage of a
visual check whose task can be trained (grader/parent/pipeline/jobs.py decides,
from the spec, and passes the settings as ``check["_training"]``). The saved model's
architecture is rebuilt with fresh seeded weights (`training.rebuild_fresh`: the
student's weights are never read) and trained on a small budget of the training
split; the images are the first training example of each named class, so the test
split is never touched and students see nothing they do not have already.

Writes ``trained.keras`` and ``inputs.npz`` in the folder the parent names; their
SHA-256 goes back to the parent, which hands it to the scoring stage, so a file
changed in between (the build worker can write the scratch space) is refused.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from grader.data.checksums import file_digest
from grader.protocol import CheckResult, passed, skipped
from grader.verify_worker.visual_plan import INPUTS, TRAINED, image_classes

#: Training images used at most: enough for a model to look at the right places
#: (practical2's model 2 reaches about 0.8 validation accuracy), a few seconds on a CPU.
DEFAULT_TRAIN_SUBSET = 10_000
#: Training images held as float32 at most (large colour images get fewer).
MAX_TRAIN_BYTES = 512 << 20
#: Keys of an accuracy check that are not training settings.
_NOT_SETTINGS = ("points", "derived_from", "notes", "train", "train_skipped", "train_error")

#: Trained models by architecture and data, in this worker: two visual tasks on the
#: same builder (cs577's activation maps and filter patterns) train once.
_CACHE: dict[str, dict[str, Any]] = {}


def _key(config: dict[str, Any], settings: dict[str, Any], classes: list[int] | None) -> str:
    config = {k: v for k, v in config.items() if k != "compile_config"}
    return hashlib.sha256(json.dumps([config, settings, classes], sort_keys=True,
                                     default=str).encode()).hexdigest()


def train_stage(ctx: Any) -> CheckResult:
    """The first stage of a trained visual check. Passed, with the files' paths and
    hashes in ``details``; or skipped with the reason the check falls back to an
    untrained model and a synthetic image. Never raises."""
    from grader.data import DatasetCorrupt, DatasetMissing
    from grader.verify_worker.training import read_model_config

    check = ctx.check
    out_dir = Path(check["_out_dir"])
    classes = image_classes(check)
    try:
        settings = dict(check["_training"])
        config = read_model_config(Path(ctx.model_path))
        key = _key(config, settings, classes)
        done = _CACHE.get(key)
        if done is None or not all(Path(done[k]).is_file() for k in ("model", "inputs")):
            done = _CACHE[key] = _trained_once(ctx, config, settings, out_dir, classes)
        return passed(done["summary"], details=dict(done))
    except DatasetMissing as err:
        return skipped(f"no training data on this machine ({err})")
    except DatasetCorrupt as err:
        return skipped(f"the training data is unreadable ({err})")
    except Exception as err:  # a model the grader cannot train: the check still runs
        return skipped(f"the grader could not train the model ({type(err).__name__}: "
                       f"{str(err)[:300]})")


def _trained_once(ctx: Any, config: dict[str, Any], settings: dict[str, Any], out_dir: Path,
                  classes: list[int] | None) -> dict[str, Any]:
    """`train_for_visual`, or, with the run's training cache (``ctx.train_cache``), the
    weights another student's copy of this architecture was trained to: the same
    canonical configuration, settings, classes, dataset files, library versions and
    device give the same seeded training, so its weights are set on a fresh rebuild of
    this student's own model (its layer names, which the student's function may use)
    and saved here; the images are copied. Two processes that reach one key at once:
    the second waits for the first (TrainCache.claim)."""
    folder = getattr(ctx, "train_cache", None)
    if not folder:
        return train_for_visual(ctx.model_path, settings, ctx.data_dir, out_dir, classes)
    from grader import device as devices
    from grader.verify_worker import train_cache

    spec = training_spec(settings)
    cache = train_cache.TrainCache(folder)
    material = {"visual": train_cache.architecture_digest(config),
                "settings": settings, "classes": classes,
                "dataset": train_cache.dataset_digests(spec.dataset, ctx.data_dir,
                                                       cache.digests_path),
                "versions": train_cache.versions(), "device": str(devices.describe())}
    key = train_cache.digest(material)
    with cache.claim("visual-" + key, wait_s=float(spec.time_limit_s)):
        stored = cache.visual(key)
        if stored is not None:
            return _reuse(ctx.model_path, stored, spec.seed, out_dir)
        done = train_for_visual(ctx.model_path, settings, ctx.data_dir, out_dir, classes)
        cache.put_visual(key, material, Path(done["model"]), Path(done["inputs"]),
                         {k: v for k, v in done.items() if k not in (
                             "model", "sha256", "inputs", "inputs_sha256")})
        return done


def _reuse(model_path: str | Path, stored: dict[str, Any], seed: int,
           out_dir: Path) -> dict[str, Any]:
    """A stored visual training, made this student's: their model rebuilt, the stored
    weights set on it, saved with the images in ``out_dir``."""
    import shutil

    import keras

    from grader.verify_worker.train_cache import REUSED
    from grader.verify_worker.training import rebuild_fresh

    model = rebuild_fresh(model_path, seed)
    trained = keras.saving.load_model(stored["model"], compile=False, safe_mode=True)
    model.set_weights(trained.get_weights())
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / TRAINED)
    shutil.copyfile(stored["inputs"], out_dir / INPUTS)
    details = dict(stored["details"])
    details["summary"] = f"{details.get('summary', 'trained by the grader')}; {REUSED}"
    return {**details, **_written(out_dir), "reused": True}


def _written(out_dir: Path) -> dict[str, str]:
    """Where the trained model and the images are in ``out_dir``, with their sha256."""
    return {"model": str((out_dir / TRAINED).resolve()), "sha256": file_digest(out_dir / TRAINED),
            "inputs": str((out_dir / INPUTS).resolve()),
            "inputs_sha256": file_digest(out_dir / INPUTS)}


def training_spec(settings: dict[str, Any]):
    """The AccuracySpec of the visual budget: the task's accuracy settings (or the
    check's own ``train``), one epoch, a capped subset, no early stop."""
    from grader.data.training_data import AccuracySpec

    data = {k: v for k, v in settings.items() if k not in _NOT_SETTINGS}
    data.setdefault("threshold", 0.0)
    data.setdefault("epochs", 1)
    data.setdefault("train_subset", DEFAULT_TRAIN_SUBSET)
    data.update(trained_by="grader", early_stop=False, test_subset=None)
    return AccuracySpec.from_dict(data)


def train_for_visual(model_path: str | Path, settings: dict[str, Any], data_dir: str | None,
                     out_dir: Path, classes: list[int] | None) -> dict[str, Any]:
    """Trains a fresh copy of ``model_path``'s architecture and writes ``trained.keras``
    and the images (``inputs.npz``) in ``out_dir``. Raises DatasetMissing when the
    data is not here, ValueError when the model cannot be rebuilt or fed."""
    import keras

    from grader.data.training_data import (
        adapt_images,
        adapt_labels,
        feeds_raw_pixels,
        input_shape,
        load_training_data,
        split_for_training,
    )
    from grader.verify_worker.training import (
        PROBABILITY_ACTIVATIONS,
        final_activation,
        loss_for_head,
        make_loss,
        make_optimizer,
        rebuild_fresh,
        score,
    )

    spec = training_spec(settings)
    started = time.monotonic()
    model = rebuild_fresh(model_path, spec.seed)
    data = load_training_data(spec, data_dir, model)
    shape = input_shape(model)
    per_image = 4 * int(np.prod([s or 1 for s in shape]))
    spec.train_subset = max(1, min(spec.train_subset or len(data.y_train),
                                   MAX_TRAIN_BYTES // per_image))
    splits = split_for_training(data, spec)
    raw = feeds_raw_pixels(spec, model)
    activation = final_activation(model)
    from_logits = activation not in PROBABILITY_ACTIVATIONS
    units = int(model.output_shape[-1])
    loss = loss_for_head(spec.loss, units, activation)
    x = adapt_images(splits["train"][0], shape, raw)
    y = adapt_labels(splits["train"][1], loss, units)
    model.compile(optimizer=make_optimizer(spec.optimizer, spec.learning_rate),
                  loss=make_loss(loss, from_logits))
    deadline = started + spec.time_limit_s

    class Deadline(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if time.monotonic() > deadline:
                self.model.stop_training = True

    model.fit(x, y, batch_size=spec.batch_size, epochs=spec.epochs, shuffle=True, verbose=0,
              callbacks=[Deadline()])
    x_val, y_val = splits["validation"]
    val_accuracy, _ = score(model, adapt_images(x_val, shape, raw), y_val, data.num_classes,
                            max(spec.batch_size, 256))
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / TRAINED)

    # The first training example of each named class (of the whole training split, so
    # the choice does not depend on the subset); without classes, the first example.
    wanted = list(classes) if classes else [int(data.y_train[0])]
    index = []
    for c in wanted:
        hits = np.flatnonzero(data.y_train == c)
        if not len(hits):
            raise ValueError(f"the {spec.dataset} training split has no example of class {c}")
        index.append(int(hits[0]))
    chosen = data.x_train[index]
    names = [data.class_names[c] if 0 <= c < len(data.class_names) else str(c) for c in wanted]
    np.savez(out_dir / INPUTS, images=adapt_images(chosen, shape, raw),
             display=chosen.astype(np.float32) / 255.0, labels=np.asarray(wanted, np.int64),
             index=np.asarray(index, np.int64), names=np.asarray(names, dtype=str))
    seconds = time.monotonic() - started
    summary = (f"trained by the grader: {spec.epochs} epoch(s) on {len(y):,} {spec.dataset} "
               f"training images, validation accuracy {val_accuracy:.2f}, {seconds:.0f} s")
    return {**_written(out_dir), "summary": summary, "dataset": spec.dataset, "class_names": names,
            "train_index": index, "val_accuracy": round(val_accuracy, 4)}
