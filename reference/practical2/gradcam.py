"""Practical 2, section 0.4: Grad-CAM for any convolutional model (reference solution).

`grad_cam(model, image, class_index)` returns where in `image` the evidence for
`class_index` lies, as seen by one convolutional layer: the layer's feature maps
weighted by the spatial mean of the class score's gradient with respect to them
(the "pooled gradients"), summed over channels, passed through ReLU, resized
to the image and scaled to [0, 1].

`python gradcam.py [DATA_DIR] [OUT.png]` trains the conv model MODEL_NUMBER of
cnn.py (2 or 4) and writes a figure with one row per class: the image, the
heat map, and the heat map over the image.
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf


def trace_layers(model: keras.Model, batch, layer_names: list[str]) -> tuple[list, object, object]:
    """Runs `model` on `batch` in inference mode and returns (the outputs of the
    named layers, the input of the last layer, the model's output).

    A Sequential model grown with `add()` keeps stale symbolic tensors in
    `layer.output` (one per rebuild), so a probe model cut from them can be
    disconnected from the head; running its layers one by one avoids that.
    """
    if isinstance(model, keras.Sequential):
        found: dict = {}
        x = batch
        head_input = None
        for i, layer in enumerate(model.layers):
            if i == len(model.layers) - 1:
                head_input = x
            x = layer(x, training=False)
            found[layer.name] = x
        missing = [n for n in layer_names if n not in found]
        if missing:
            raise ValueError(f"model {model.name!r} has no layer named {missing[0]!r}")
        return [found[n] for n in layer_names], head_input, x
    probe = keras.Model(model.inputs[0], [model.get_layer(n).output for n in layer_names]
                        + [model.layers[-1].input, model.outputs[0]])
    *outputs, head_input, output = probe(batch, training=False)
    return outputs, head_input, output


def last_conv_layer_name(model: keras.Model) -> str:
    """Name of the last Conv2D layer of `model`: Grad-CAM's usual choice."""
    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.Conv2D):
            return layer.name
    raise ValueError(f"gradcam.py: model {model.name!r} has no Conv2D layer; Grad-CAM needs a "
                     "convolutional model (practical2 models 2 or 4)")


def grad_cam(model: keras.Model, image: np.ndarray, class_index: int,
             layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM heat map of `class_index` for one image.

    model: a Keras model whose input is one image batch (N, H, W, C).
    image: float array (H, W, C) in [0, 1], without the batch axis.
    class_index: the class to explain, 0 <= class_index < number of outputs.
    layer_name: the conv layer to explain; default: the last Conv2D layer.
    Returns: float32 array (H, W) in [0, 1], the image's own height and width;
    1 marks the strongest evidence; all zeros when no location supports the class.
    """
    image = np.asarray(image, dtype="float32")
    if image.ndim != 3:
        raise ValueError(f"gradcam.py: grad_cam: image must be (H, W, C), got shape {image.shape}")
    layer = model.get_layer(layer_name or last_conv_layer_name(model))
    head = model.layers[-1]
    # Gradients of a softmax probability vanish once the model is confident, so
    # the class score is the output layer's pre-softmax logit where there is one.
    use_logits = (isinstance(head, keras.layers.Dense)
                  and getattr(head.activation, "__name__", "") == "softmax")
    batch = tf.convert_to_tensor(image[None])
    with tf.GradientTape() as tape:
        (feature_maps,), head_input, output = trace_layers(model, batch, [layer.name])
        last = tf.matmul(head_input, head.kernel) + head.bias if use_logits else output
        score = last[:, class_index]
    grads = tape.gradient(score, feature_maps)
    weights = tf.reduce_mean(grads, axis=(1, 2))  # one weight per channel
    cam = tf.nn.relu(tf.einsum("bhwc,bc->bhw", feature_maps, weights))[0]
    cam = tf.image.resize(cam[..., None], image.shape[:2], method="bilinear")[..., 0].numpy()
    peak = float(cam.max())
    if peak <= 0.0:
        return np.zeros(image.shape[:2], dtype="float32")
    return np.clip(cam / peak, 0.0, 1.0).astype("float32")


def _colormap(values: np.ndarray) -> np.ndarray:
    """Blue-to-red colour ramp for values in [0, 1], as uint8 RGB (a 'jet'-like map)."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    red = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    green = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    blue = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return (np.concatenate([red, green, blue], axis=-1) * 255).astype("uint8")


def grad_cam_figure(model: keras.Model, images: np.ndarray, class_indices: list[int],
                    path: str | Path, scale: int = 4) -> Path:
    """Writes a PNG with one row per image: the image, its Grad-CAM map, the overlay.

    images: (N, H, W, C) floats in [0, 1]; class_indices: the class explained in
    each row (N of them, at least three different ones for the practical).
    Returns the path written.
    """
    rows = []
    for image, class_index in zip(images, class_indices, strict=True):
        cam = grad_cam(model, image, int(class_index))
        gray = np.repeat(image[..., :1], 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]
        gray = (np.clip(gray, 0, 1) * 255).astype("uint8")
        heat = _colormap(cam)
        overlay = (0.55 * gray + 0.45 * heat).astype("uint8")
        gap = np.full((image.shape[0], 2, 3), 255, dtype="uint8")
        rows.append(np.concatenate([gray, gap, heat, gap, overlay], axis=1))
    figure = np.concatenate(rows, axis=0)
    figure = np.kron(figure, np.ones((scale, scale, 1), dtype="uint8"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(figure).numpy())
    return path


def one_example_per_class(x: np.ndarray, y: np.ndarray, classes) -> tuple[np.ndarray, list[int]]:
    """The first image of each class in `classes`, in that order."""
    picks = [int(np.flatnonzero(y == c)[0]) for c in classes]
    return x[picks], [int(c) for c in classes]


def main(argv: list[str]) -> None:
    import cnn

    if cnn.MODEL_NUMBER not in (2, 4):
        raise SystemExit("gradcam.py: set MODEL_NUMBER in cnn.py to a conv model (2 or 4)")
    data_dir = argv[1] if len(argv) > 1 else cnn.DEFAULT_DATA_DIR
    out = argv[2] if len(argv) > 2 else "gradcam.png"
    (x_train, y_train), (x_test, y_test) = cnn.load_fashion_mnist(data_dir)
    keras.utils.set_random_seed(0)
    model = cnn.build_model(cnn.MODEL_NUMBER)
    model.fit(x_train, y_train, batch_size=cnn.TRAINING["batch_size"],
              epochs=cnn.TRAINING["epochs"], verbose=2)
    images, classes = one_example_per_class(x_test, y_test, range(cnn.NUM_CLASSES))
    print("wrote", grad_cam_figure(model, images, classes, out))
    print("rows:", ", ".join(cnn.CLASS_NAMES[c] for c in classes))


if __name__ == "__main__":
    main(sys.argv)
