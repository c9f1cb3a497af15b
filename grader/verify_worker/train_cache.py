"""Train each architecture once: a cache of grader-trained accuracy results.

The grader-trained accuracy check rebuilds the saved model from its config with
fresh weights drawn from the spec's seed (`grader.verify_worker.training`), so its
result is a function of

* the model's canonical configuration: the saved architecture with layer and model
  names and Keras' object ids replaced by their positions (two students who build
  the same layers under other names share it; a different unit count does not);
* the training settings: every field of the accuracy check's `AccuracySpec` (all
  of them steer training, early stopping or the verdict) and the loss actually
  used (`loss_for_head`), with ``from_logits``;
* the dataset files' sha256 digests;
* the library versions (keras, tensorflow, numpy, Python, the grader) and the
  device that trains (kind and name).

`key_material` gathers those in the verify worker (never where student code ran)
and `digest` hashes them. Entries are JSON files ``DIR/accuracy/KEY.json`` written
with `grader.files.write_json_atomic`: each write lands whole by rename, and a
reader sees one whole file or none. A process about to train a key holds
``KEY.lock`` (flock) meanwhile, so another that reaches the same key waits and
reuses the result instead of training it again (students graded side by side); where
locks do not work, both train and the last write stands. An entry holds the result
and the key material, never a student's name or a submission's path, so a reused
result can say where it came from only as "earlier in this run (or cache)".

A visual check's training (grader/verify_worker/visual_training.py) is kept the same
way under ``DIR/visual/KEY/``: the trained model and the chosen images with their
hashes, keyed by the canonical architecture, the visual budget, the classes, the
dataset, the versions and the device. A classmate's copy gets those weights set on a
rebuild of their own model, so their layer names (which their function may use)
stay theirs.

The cache folder is covered in the build worker's namespaces like the data roots
(grader/data/hiding.py): student code could otherwise write a forged entry for its
own architecture, or spoil a classmate's. Where it cannot be covered the parent
does not pass the folder on, and nothing is cached.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import os
import platform
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from grader.data.checksums import file_digest
from grader.files import write_json_atomic

#: Bumped whenever the grader's training or scoring changes what a key stands for,
#: so entries from an older grader are not reused.
FORMAT = 1

#: Said in a reused result's output. Never names the student or submission it came from.
REUSED = ("reused: the same architecture was trained with the same settings earlier in "
          "this run (or cache)")

#: How a training run may end to be cached. ``time_limit`` depends on the machine's
#: load, so it is never kept. ``diverged`` is deterministic in principle, but on CPU
#: the threads' summation order can move a loss that is on the edge of overflowing
#: across it, and a diverged run is cheap to repeat: only runs that completed
#: normally are kept.
CACHEABLE_STOPS = ("epochs", "threshold")

#: Keys of the saved config that refer to layers by name (functional graphs).
_REFERENCE_KEYS = ("keras_history", "input_layers", "output_layers", "inbound_nodes")
#: Keys whose value is one nested layer (wrappers such as Bidirectional).
_NESTED_LAYER_KEYS = ("layer", "forward_layer", "backward_layer")


# --------------------------------------------------------------------------- canonical form


def canonical_config(config: dict[str, Any]) -> dict[str, Any]:
    """The saved model config less what is arbitrary: the model's and layers' names
    become ``#0``, ``#1``, ... in order of appearance (and so do the references to
    them in a functional graph), Keras' ``shared_object_id`` (a memory address)
    becomes its order of appearance, and ``compile_config`` (the spec decides the
    optimiser and loss) goes. Only names in those places are renamed: a string that
    happens to equal a layer's name elsewhere (an activation called "relu") stays,
    so two configs that differ in anything but names never share a form."""
    config = copy.deepcopy(config)
    config.pop("compile_config", None)
    names: dict[str, str] = {}
    shared: dict[Any, str] = {}
    _rename_layers(config, names)
    return _rewrite(config, names, shared)


def _rename_layers(entry: Any, names: dict[str, str]) -> None:
    """Assigns positions to the names of ``entry`` (a model or layer dict) and the
    layers inside it, depth first in file order (Keras writes layers in model order)."""
    if not isinstance(entry, dict):
        return
    inner = entry.get("config")
    if isinstance(inner, dict):
        for holder in (inner, entry):
            name = holder.get("name")
            if isinstance(name, str):
                holder["name"] = names.setdefault(name, f"#{len(names)}")
        for layer in inner.get("layers") or []:
            _rename_layers(layer, names)
        for key in _NESTED_LAYER_KEYS:
            _rename_layers(inner.get(key), names)


def _rewrite(value: Any, names: dict[str, str], shared: dict[Any, str],
             reference: bool = False) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "shared_object_id":
                out[key] = shared.setdefault(item, f"@{len(shared)}")
            else:
                out[key] = _rewrite(item, names, shared, reference or key in _REFERENCE_KEYS)
        return out
    if isinstance(value, list):
        if reference and value and isinstance(value[0], str) and value[0] in names:
            # [layer name, node index, tensor index(, kwargs)]
            return [names[value[0]], *(_rewrite(v, names, shared, True) for v in value[1:])]
        return [_rewrite(v, names, shared, reference) for v in value]
    return value


def architecture_digest(config: dict[str, Any]) -> str:
    """sha256 of the canonical config: equal for the same architecture under other names."""
    return digest(canonical_config(config))


def digest(material: Any) -> str:
    """sha256 of ``material`` as canonical JSON (sorted keys, no spaces): the same in
    every process, whatever its hash seed."""
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- dataset digests

_memo: dict[str, str] = {}
_memo_lock = threading.Lock()


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}"


def file_digests(files: list[Path], memo_path: Path | None = None) -> list[str]:
    """sha256 of each file, in order. A digest is kept per path, mtime and size (in
    this process, and in ``memo_path`` for other processes and runs), so hashing a
    dataset costs once per machine and then one ``stat`` per file. A file that
    changes gets a new mtime or size, hence a new stamp."""
    stamps = [_stamp(p) for p in files]
    missing = [s for s in stamps if s not in _memo]
    if missing and memo_path is not None:
        stored = _read_json(memo_path)
        if isinstance(stored, dict):
            with _memo_lock:
                _memo.update({k: v for k, v in stored.items() if isinstance(v, str)})
        missing = [s for s in stamps if s not in _memo]
    if missing:
        with _memo_lock:
            for path, stamp in zip(files, stamps, strict=True):
                if stamp not in _memo:
                    _memo[stamp] = file_digest(path)
            snapshot = dict(_memo)
        if memo_path is not None:
            # Two runs may write at once: each write is whole, and a lost entry only
            # costs hashing that file again.
            try:
                stored = _read_json(memo_path)
                write_json_atomic(memo_path, {**(stored if isinstance(stored, dict) else {}),
                                              **snapshot})
            except OSError:
                pass
    return [_memo[s] for s in stamps]


def dataset_digests(name: str, data_dir: str | None, memo_path: Path | None) -> dict[str, Any]:
    """The files dataset ``name`` is read from (as `grader.data.locate` finds them),
    each by its name under the dataset folder and its sha256. Raises DatasetMissing."""
    from grader.data import locate

    found = locate(name, data_dir)
    files = sorted(p for p in found.files if p.is_file())
    base = found.path if found.path.is_dir() else found.path.parent
    digests = file_digests(files, memo_path)
    return {"name": name, "layout": found.layout,
            "files": {_relative(p, base): d for p, d in zip(files, digests, strict=True)}}


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return path.name


# --------------------------------------------------------------------------- the key


def versions() -> dict[str, str]:
    import keras
    import numpy
    import tensorflow

    import grader

    return {"keras": keras.__version__, "tensorflow": tensorflow.__version__,
            "numpy": numpy.__version__, "python": platform.python_version(),
            "grader": grader.__version__, "format": str(FORMAT)}


def key_material(config: dict[str, Any], spec: Any, loss: str, from_logits: bool,
                 dataset: dict[str, Any], device: Any) -> dict[str, Any]:
    """Everything a grader-trained accuracy result depends on (see the module doc)."""
    settings = asdict(spec)
    return {"architecture": architecture_digest(config), "settings": settings,
            "loss": loss, "from_logits": from_logits, "dataset": dataset,
            "versions": versions(), "device": str(device)}


# --------------------------------------------------------------------------- the store


class TrainCache:
    """``folder/accuracy/KEY.json`` entries, ``folder/visual/KEY/`` (a visual check's
    trained model and images) and ``folder/dataset-digests.json``."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    @property
    def digests_path(self) -> Path:
        return self.folder / "dataset-digests.json"

    def path(self, key: str) -> Path:
        return self.folder / "accuracy" / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored result for ``key``, or None (absent, unreadable, or not this
        key's: an entry is checked, never trusted by its file name alone)."""
        entry = _read_json(self.path(key))
        if not isinstance(entry, dict) or entry.get("key") != key or \
                entry.get("format") != FORMAT or digest(entry.get("material")) != key or \
                not isinstance(entry.get("result"), dict):
            return None
        return entry["result"]

    @contextlib.contextmanager
    def claim(self, key: str, wait_s: float) -> Iterator[bool]:
        """Holds ``key`` while this process trains it: an exclusive flock on
        ``accuracy/KEY.lock``, waited for up to ``wait_s`` while another process holds
        it. Yields whether it is held; a lock that cannot be had (a filesystem without
        locks, the wait spent) only means training without it. The kernel drops the
        lock when its holder ends, so a killed worker never leaves a key claimed."""
        try:
            path = self.folder / "accuracy" / f"{key}.lock"
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            yield False
            return
        try:
            deadline = time.monotonic() + wait_s
            held = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held = True
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(0.2)
                except OSError:
                    break
            yield held
        finally:
            os.close(fd)

    def put(self, key: str, material: dict[str, Any], result: dict[str, Any]) -> bool:
        """Stores ``result`` under ``key`` (atomically); False when the folder is not
        writable, which only costs the next student a training run."""
        try:
            write_json_atomic(self.path(key), {"format": FORMAT, "key": key,
                                               "material": material, "result": result})
            return True
        except OSError:
            return False

    def visual(self, key: str) -> dict[str, Any] | None:
        """A stored visual training: {"model", "inputs" (paths in the store), "details"},
        or None. The files must still have the hashes stored with them."""
        folder = self.folder / "visual" / key
        entry = _read_json(folder / "entry.json")
        if not isinstance(entry, dict) or entry.get("key") != key or \
                entry.get("format") != FORMAT or digest(entry.get("material")) != key or \
                not isinstance(entry.get("details"), dict):
            return None
        files = {"model": folder / "trained.keras", "inputs": folder / "inputs.npz"}
        hashes = entry.get("sha256") or {}
        try:
            if any(file_digest(path) != hashes.get(name) for name, path in files.items()):
                return None
        except OSError:
            return None
        return {**{k: str(v) for k, v in files.items()}, "details": entry["details"]}

    def put_visual(self, key: str, material: dict[str, Any], model: Path, inputs: Path,
                   details: dict[str, Any]) -> bool:
        """Stores a visual training whole (a folder renamed into place) or not at all;
        False when it could not, or another process stored the key first."""
        import shutil
        import tempfile

        target = self.folder / "visual" / key
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
        except OSError:
            return False
        try:
            shutil.copyfile(model, staging / "trained.keras")
            shutil.copyfile(inputs, staging / "inputs.npz")
            write_json_atomic(staging / "entry.json", {
                "format": FORMAT, "key": key, "material": material, "details": details,
                "sha256": {"model": file_digest(staging / "trained.keras"),
                           "inputs": file_digest(staging / "inputs.npz")}})
            os.rename(staging, target)
            return True
        except OSError:
            return False
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
