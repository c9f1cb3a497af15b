"""DS-AG-021 Question 10: the chest X-ray classifier behind the Streamlit app
(reference solution): model, preprocessing, training, Grad-CAM and overlay.

The app (xray_app.py) only loads a trained model from a path and calls these
functions, so everything it shows can be tested without a browser.
Data layout (the Kaggle pediatric pneumonia set): DIR/{NORMAL,PNEUMONIA}/*.jpeg.
`python xray.py TRAIN_DIR VAL_DIR OUT.keras [EPOCHS]` trains and saves a model.
Importing this file builds nothing and reads no data.
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

IMAGE_SIZE = (224, 224)
CLASS_NAMES = ("Normal", "Pneumonia")  # label 0, label 1 (folder names sort this way)


def load_image(data: bytes, image_size: tuple[int, int] = IMAGE_SIZE) -> np.ndarray:
    """Decodes PNG/JPEG bytes to float32 (H, W, 3) in [0, 1] at `image_size`.
    Grey X-rays are repeated over three channels so any RGB backbone fits."""
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image = tf.image.resize(tf.cast(image, "float32") / 255.0, image_size, antialias=True)
    return np.clip(image.numpy(), 0.0, 1.0)


def build_model(image_size: tuple[int, int] = IMAGE_SIZE,
                learning_rate: float = 1e-3) -> keras.Model:
    """A compact CNN for CPU training: mild augmentation, four conv-BN-pool stages,
    global average pooling, dropout and ONE sigmoid unit (the pneumonia
    probability; a binary task needs one sigmoid unit, not two).
    Input: float (H, W, 3) in [0, 1]."""
    model = keras.Sequential([
        keras.Input((*image_size, 3)),
        # Small rotations and shifts only: flips or large rotations would make
        # anatomically implausible X-rays.
        layers.RandomRotation(0.03),
        layers.RandomTranslation(0.05, 0.05),
    ], name="xray_cnn")
    for i, filters in enumerate((32, 64, 128, 128), start=1):
        model.add(layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}"))
        model.add(layers.BatchNormalization(name=f"bn{i}"))
        model.add(layers.MaxPooling2D(2, name=f"pool{i}"))
    model.add(layers.GlobalAveragePooling2D())
    model.add(layers.Dropout(0.3))
    model.add(layers.Dense(1, activation="sigmoid", name="pneumonia"))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy", keras.metrics.AUC(name="auc")])
    return model


def predict(model: keras.Model, image: np.ndarray) -> float:
    """Pneumonia probability for one image (H, W, 3) in [0, 1]."""
    return float(model(np.asarray(image, dtype="float32")[None], training=False).numpy().ravel()[0])


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


def _last_conv_layer(model: keras.Model) -> str:
    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.Conv2D):
            return layer.name
    raise ValueError(f"xray.py: model {model.name!r} has no Conv2D layer for Grad-CAM")


def grad_cam(model: keras.Model, image: np.ndarray, class_index: int = 1,
             layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM map of one image, float32 (H, W) in [0, 1] (all zeros if nothing
    supports the class).

    model: a one-unit sigmoid classifier (or a softmax one); image: (H, W, 3) in [0, 1];
    class_index: 1 explains "Pneumonia", 0 explains "Normal" (the negated logit
    for a one-unit model); layer_name: the conv layer, default the last Conv2D.
    """
    image = np.asarray(image, dtype="float32")
    layer = model.get_layer(layer_name or _last_conv_layer(model))
    head = model.layers[-1]
    # The gradient of a saturated sigmoid or softmax vanishes, so the score is the
    # output layer's logit, computed from its input and weights.
    use_logits = isinstance(head, keras.layers.Dense) and getattr(
        head.activation, "__name__", "") in ("sigmoid", "softmax")
    with tf.GradientTape() as tape:
        (maps,), head_input, output = trace_layers(model, tf.convert_to_tensor(image[None]),
                                                   [layer.name])
        last = tf.matmul(head_input, head.kernel) + head.bias if use_logits else output
        if last.shape[-1] == 1:
            score = last[:, 0] if class_index == 1 else -last[:, 0]
        else:
            score = last[:, class_index]
    grads = tape.gradient(score, maps)
    weights = tf.reduce_mean(grads, axis=(1, 2))
    cam = tf.nn.relu(tf.einsum("bhwc,bc->bhw", maps, weights))[0]
    cam = tf.image.resize(cam[..., None], image.shape[:2])[..., 0].numpy()
    peak = float(cam.max())
    if peak <= 0.0:
        return np.zeros(image.shape[:2], dtype="float32")
    return np.clip(cam / peak, 0.0, 1.0).astype("float32")


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.4) -> np.ndarray:
    """The image (H, W, 3) in [0, 1] with the map (H, W) in [0, 1] blended over it
    in red-to-yellow; uint8 (H, W, 3) ready for st.image."""
    heat = np.stack([np.ones_like(cam), cam, np.zeros_like(cam)], axis=-1) * cam[..., None]
    blended = (1 - alpha * cam[..., None]) * image + alpha * heat
    return (np.clip(blended, 0, 1) * 255).astype("uint8")


def train(train_dir: str | Path, val_dir: str | Path, out: str | Path,
          epochs: int = 10) -> keras.Model:
    """Fits build_model() on class-per-folder directories and saves it to `out`."""
    def read(directory, shuffle):
        ds = keras.utils.image_dataset_from_directory(
            directory, label_mode="binary", image_size=IMAGE_SIZE, batch_size=32,
            shuffle=shuffle, seed=0, verbose=False)
        return ds.map(lambda x, y: (x / 255.0, y)).prefetch(tf.data.AUTOTUNE)

    keras.utils.set_random_seed(0)
    model = build_model()
    model.fit(read(train_dir, True), validation_data=read(val_dir, False), epochs=epochs,
              callbacks=[keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)],
              verbose=2)
    model.save(out)
    return model


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit("usage: python xray.py TRAIN_DIR VAL_DIR OUT.keras [EPOCHS]")
    train(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 10)
