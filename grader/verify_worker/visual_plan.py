"""What the two workers agree on for a visual check: the calls to make (from the spec
and the saved model's layer names, a public fact of the file) and the images they
are made on. The build worker makes the student's calls with these; the verify
worker recomputes the reference with the same ones. Pure NumPy and Keras.

The images are real ones when the grader trained the model first
(grader/verify_worker/visual_training.py wrote them to ``inputs.npz``: the first
training example of each named class) and the synthetic `probe_image` otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

OUTPUTS = "outputs.npz"
META = "meta.json"
#: What the trusted training stage writes: the trained model and the images.
TRAINED = "trained.keras"
INPUTS = "inputs.npz"


def probe_image(shape: tuple[int, ...] | list[int], seed: int = 0) -> np.ndarray:
    """A deterministic, smooth test image in [0, 1] of ``shape`` (H, W, C):
    a few soft blobs over a gentle gradient, plus light noise, so that
    convolution filters respond in some places and not in others.

    >>> img = probe_image((8, 6, 1)); img.shape, img.dtype.name, bool(img.min() >= 0)
    ((8, 6, 1), 'float32', True)
    """
    h, w, c = (int(s) for s in shape)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, c), dtype=np.float32)
    for ch in range(c):
        plane = 0.3 * (xx / max(w - 1, 1)) + 0.2 * (yy / max(h - 1, 1))
        for _ in range(3):
            cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
            sigma = rng.uniform(0.08, 0.2) * max(h, w)
            plane += rng.uniform(0.5, 1.0) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2)
                                                     / (2 * sigma ** 2))
        plane += 0.05 * rng.standard_normal((h, w))
        img[..., ch] = plane
    img -= img.min()
    img /= max(float(img.max()), 1e-6)
    return img.astype(np.float32)


def conv_layer_names(model) -> list[str]:
    import keras

    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def _classes(check: dict[str, Any]) -> list[int]:
    if "class_indices" in check:
        return [int(c) for c in check["class_indices"]]
    return [int(check.get("class_index", 0))]


def plan(model, check: dict[str, Any]) -> dict[str, Any]:
    """The exact calls both workers agree on, from the spec and the model's
    layer names (a public fact of the saved file)."""
    kind = check["kind"]
    convs = conv_layer_names(model)
    shape = list(check.get("image_shape") or model.input_shape[1:])
    out: dict[str, Any] = {"kind": kind, "image_shape": shape, "seed": int(check.get("seed", 0))}
    if kind == "grad_cam":
        out["classes"] = _classes(check)
    elif kind == "activation_maps":
        out["layer_names"] = list(check.get("layer_names") or convs[:2])
    elif kind == "filter_pattern":
        out["layer_name"] = check.get("layer_name") or (convs[0] if convs else None)
        out["filter_index"] = int(check.get("filter_index", 0))
        out["steps"] = int(check.get("steps", 30))
    else:
        raise ValueError(f"visual check: unknown kind {kind!r}")
    return out


def start_image(shape, seed: int) -> np.ndarray:
    """Gradient ascent starts from grey with a little noise, as is customary:
    every filter then sees a mixture of positive and negative inputs."""
    rng = np.random.default_rng(seed + 1)
    return np.clip(0.5 + 0.1 * rng.standard_normal(shape), 0.0, 1.0).astype(np.float32)


def image_classes(check: dict[str, Any]) -> list[int] | None:
    """The classes whose first training example the trained stage picks: Grad-CAM's
    classes; for activation maps the ``class_index`` if the spec names one (else the
    first training example, None); filter patterns start from grey (none)."""
    kind = check.get("kind")
    if kind == "grad_cam":
        return _classes(check)
    if kind == "activation_maps" and "class_index" in check:
        return [int(check["class_index"])]
    return None if kind == "activation_maps" else []


def read_inputs(path: str) -> dict[str, np.ndarray]:
    """The images the trained stage wrote (no pickles)."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def class_images(calls: dict[str, Any], inputs: dict[str, np.ndarray] | None
                 ) -> dict[int, np.ndarray]:
    """Grad-CAM's image per class: the class's own training example, or (untrained)
    the one probe image for every class."""
    if inputs is not None:
        return {int(c): inputs["images"][i].astype(np.float32)
                for i, c in enumerate(inputs["labels"])}
    image = probe_image(calls["image_shape"], calls["seed"])
    return {c: image for c in calls["classes"]}


def single_image(calls: dict[str, Any], inputs: dict[str, np.ndarray] | None) -> np.ndarray:
    """The image activation maps are computed on."""
    if inputs is not None:
        return inputs["images"][0].astype(np.float32)
    return probe_image(calls["image_shape"], calls["seed"])


def figure_images(calls: dict[str, Any], inputs: dict[str, np.ndarray] | None) -> np.ndarray:
    """The batch a Grad-CAM figure function gets, one image per class."""
    if inputs is not None:
        return np.stack([class_images(calls, inputs)[c] for c in calls["classes"]])
    return np.stack([probe_image(calls["image_shape"], calls["seed"] + i)
                     for i in range(len(calls["classes"]))])
