"""Stand-in for pretrained weights: ``keras.applications.VGG16(weights="imagenet")`` and
its kin build the same network with freshly initialised weights instead of
downloading the ImageNet file (the grader has no network). The architecture, what is
frozen and what is fine-tuned are what the static checks grade, and those do not
depend on the weights; a task whose score needs the real weights gets them from the
grader's data folder through its own check (grader/data/weights.py), never here.
"""

from __future__ import annotations

import functools
from typing import Any

from grader.build_worker.harness.notes import Notes
from grader.build_worker.harness.patches import Patches

# The application builders students use for transfer learning, by attribute name.
APPLICATIONS = ("VGG16", "VGG19", "ResNet50", "ResNet50V2", "MobileNet", "MobileNetV2",
                "InceptionV3", "Xception", "DenseNet121", "EfficientNetB0")


def install(patches: Patches, keras: Any, notes: Notes) -> None:
    owners = [keras.applications]
    try:
        import tensorflow as tf

        owners.append(tf.keras.applications)
    except Exception:  # TensorFlow's own copy is a convenience, not needed
        pass
    seen: set[int] = set()
    for owner in owners:
        for name in APPLICATIONS:
            builder = getattr(owner, name, None)
            if builder is None or id(builder) in seen:
                continue
            seen.add(id(builder))
            stand_in = _without_download(name, builder, notes)
            for module in _homes(owner, builder):
                patches.set(module, name, stand_in)


def _without_download(name: str, builder: Any, notes: Notes) -> Any:
    @functools.wraps(builder)
    def build(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("weights", "imagenet") == "imagenet" and len(args) < 2:
            kwargs["weights"] = None
            notes.add(f"pretrained {name}",
                      f"{name}(weights='imagenet'): built with fresh weights instead (the "
                      "grader has no network); its layers and what is frozen are graded")
        return builder(*args, **kwargs)

    return build


def _homes(owner: Any, builder: Any) -> list[Any]:
    """The public application module and its public submodule (keras.applications.vgg16),
    where a student may import it from."""
    homes = [owner]
    sub = getattr(owner, builder.__name__.lower(), None)
    if sub is not None and getattr(sub, builder.__name__, None) is builder:
        homes.append(sub)
    return homes
