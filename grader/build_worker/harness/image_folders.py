"""Stand-ins for image folders the grader does not have, and facts about generators.

``keras.utils.image_dataset_from_directory(path, ...)`` and
``ImageDataGenerator().flow_from_directory(path, ...)`` on a path that does not exist
(the student's ``/content/drive/MyDrive/cats_dogs/train``, ``C:\\Users\\...``) read a
small synthetic class-per-folder tree made under the run's scratch folder instead:
``IMAGES_PER_CLASS`` PNGs in each of 2 classes, or in each class the call names
(``class_names=`` / ``classes=``); Keras resizes them to the call's image size. A path
that exists is read as it is.

``ImageDataGenerator(...)`` remembers the arguments it was given, and its ``flow``,
``flow_from_directory`` and ``flow_from_dataframe`` iterators remember their generator's,
so a fit on them records the augmentation (rotation_range, zoom_range,
horizontal_flip, ...). The generator class is reached through TensorFlow's public
``tf.keras.preprocessing.image`` (Keras 3 keeps it there only).
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from grader.build_worker.harness.data_facts import Provenance
from grader.build_worker.harness.notes import Notes
from grader.build_worker.harness.patches import Patches

IMAGES_PER_CLASS = 8
_IMAGE_SIDE = 32


def _plain(value: Any) -> Any:
    """A setting as JSON-able data (a preprocessing function by its name)."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return getattr(value, "__name__", type(value).__name__)


class SyntheticFolders:
    """Makes (once per path) the synthetic trees that stand in for missing folders."""

    def __init__(self, scratch: Path, notes: Notes) -> None:
        self.root = scratch / "synthetic_image_folders"
        self.notes = notes
        self._made: dict[tuple[str, tuple[str, ...]], Path] = {}

    def tree_for(self, path: Any, classes: list[str] | None, call: str) -> Path:
        shown = os.fspath(path)
        names = tuple(str(c) for c in classes) if classes else ("class_a", "class_b")
        key = (shown, names)
        if key in self._made:
            return self._made[key]
        from PIL import Image  # deferred: only missing folders need it

        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", shown).strip("_")[-60:] or "folder"
        folder = self.root / f"{len(self._made) + 1:02d}-{slug}"
        rng = np.random.default_rng(len(self._made) + 1)
        for index, name in enumerate(names):
            (folder / name).mkdir(parents=True, exist_ok=True)
            for k in range(IMAGES_PER_CLASS):
                tint = np.array([(60 + 90 * index) % 256, 120, (200 - 70 * index) % 256])
                pixels = np.clip(rng.normal(tint, 30, (_IMAGE_SIDE, _IMAGE_SIDE, 3)), 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(folder / name / f"{k:03d}.png")
        self._made[key] = folder
        self.notes.add(f"folder {shown}",
                       f"{call}({shown!r}): that folder is not here; a synthetic tree of "
                       f"{len(names)} classes x {IMAGES_PER_CLASS} images stood in")
        return folder


def _public_owners(keras: Any, attr: str) -> list[Any]:
    """Every public module that offers ``attr`` as Keras' own function."""
    owners = [keras.utils, getattr(keras, "preprocessing", None)]
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        try:
            owners += [tf.keras.utils, tf.keras.preprocessing]
        except Exception:
            pass
    # tf.keras.utils is keras.utils itself: patch each module once, or the second
    # stand-in would wrap the first.
    unique = {id(o): o for o in owners if o is not None and hasattr(o, attr)}
    return list(unique.values())


def _generator_class() -> type | None:
    tf = sys.modules.get("tensorflow")
    try:
        return tf.keras.preprocessing.image.ImageDataGenerator if tf is not None else None
    except Exception:
        return None


def install(patches: Patches, keras: Any, notes: Notes, folders: SyntheticFolders,
            provenance: Provenance) -> None:
    for owner in _public_owners(keras, "image_dataset_from_directory"):
        original = owner.image_dataset_from_directory
        patches.set(owner, "image_dataset_from_directory",
                    _dataset_from_directory(original, folders, provenance))
    generator = _generator_class()
    if generator is not None:
        _install_generator(patches, generator, folders, provenance)


def _dataset_from_directory(original: Any, folders: SyntheticFolders,
                            provenance: Provenance) -> Any:
    signature = inspect.signature(original)

    def image_dataset_from_directory(directory: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            given = signature.bind(directory, *args, **kwargs).arguments
        except TypeError:
            given = {"directory": directory, **kwargs}
        stood_in = False
        if isinstance(directory, (str, os.PathLike)) and not os.path.isdir(directory) \
                and given.get("labels", "inferred") == "inferred":
            directory = folders.tree_for(directory, given.get("class_names"),
                                         "keras.utils.image_dataset_from_directory")
            stood_in = True
        result = original(directory, *args, **kwargs)
        facts = {"made_by": "image_dataset_from_directory",
                 "directory": os.fspath(given["directory"]), "synthetic": stood_in,
                 "image_size": _plain(given.get("image_size", (256, 256))),
                 "batch_size": _plain(given.get("batch_size", 32))}
        for dataset in result if isinstance(result, (list, tuple)) else [result]:
            provenance.remember(dataset, facts)
        return result

    return image_dataset_from_directory


def _install_generator(patches: Patches, generator: type, folders: SyntheticFolders,
                       provenance: Provenance) -> None:
    original_init = generator.__init__
    init_signature = inspect.signature(original_init)
    settings: dict[int, tuple[Any, dict[str, Any]]] = {}

    def settings_of(gen: Any) -> dict[str, Any]:
        found = settings.get(id(gen))
        return found[1] if found is not None and found[0] is gen else {}

    def __init__(gen: Any, *args: Any, **kwargs: Any) -> None:
        original_init(gen, *args, **kwargs)
        try:
            given = init_signature.bind(gen, *args, **kwargs).arguments
            given.pop(next(iter(init_signature.parameters)), None)  # self
        except TypeError:
            given = dict(kwargs)
        settings[id(gen)] = (gen, {k: _plain(v) for k, v in given.items()})

    def remember(gen: Any, iterator: Any, method: str, extra: dict[str, Any]) -> Any:
        provenance.remember(iterator, {"made_by": f"ImageDataGenerator.{method}",
                                       "augmentation": settings_of(gen), **extra})
        return iterator

    original_flow = generator.flow
    original_from_directory = generator.flow_from_directory
    original_from_dataframe = generator.flow_from_dataframe
    directory_signature = inspect.signature(original_from_directory)

    def flow(gen: Any, *args: Any, **kwargs: Any) -> Any:
        iterator = original_flow(gen, *args, **kwargs)
        return remember(gen, iterator, "flow",
                        {"batch_size": _plain(getattr(iterator, "batch_size", None))})

    def flow_from_directory(gen: Any, directory: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            given = directory_signature.bind(gen, directory, *args, **kwargs).arguments
        except TypeError:
            given = {"directory": directory, **kwargs}
        stood_in = False
        if isinstance(directory, (str, os.PathLike)) and not os.path.isdir(directory):
            directory = folders.tree_for(directory, given.get("classes"),
                                         "ImageDataGenerator.flow_from_directory")
            stood_in = True
        iterator = original_from_directory(gen, directory, *args, **kwargs)
        return remember(gen, iterator, "flow_from_directory", {
            "directory": os.fspath(given["directory"]), "synthetic": stood_in,
            "target_size": _plain(given.get("target_size", (256, 256))),
            "class_mode": _plain(given.get("class_mode", "categorical")),
            "batch_size": _plain(given.get("batch_size", 32)),
            "subset": _plain(given.get("subset"))})

    def flow_from_dataframe(gen: Any, *args: Any, **kwargs: Any) -> Any:
        iterator = original_from_dataframe(gen, *args, **kwargs)
        return remember(gen, iterator, "flow_from_dataframe",
                        {"batch_size": _plain(getattr(iterator, "batch_size", None))})

    patches.set(generator, "__init__", __init__)
    patches.set(generator, "flow", flow)
    patches.set(generator, "flow_from_directory", flow_from_directory)
    patches.set(generator, "flow_from_dataframe", flow_from_dataframe)
