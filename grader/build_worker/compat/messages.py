"""What to tell a student when no alias could help: an import that fails
(`describe_missing_import`) and a model that cannot be stored as .keras
(`explain_unsaveable`). Both name the real cause and the Keras 3 fix."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from collections.abc import Iterator
from typing import Any

from grader.build_worker.compat.activations import ARGUMENTS, keras_name
from grader.build_worker.compat.moved import Alias, resolve

# Import name -> (what people call it, its distribution), for "the grader has ...".
_LIBRARIES = {
    "tensorflow": ("TensorFlow", "tensorflow"), "keras": ("Keras", "keras"),
    "numpy": ("NumPy", "numpy"), "pandas": ("pandas", "pandas"),
    "sklearn": ("scikit-learn", "scikit-learn"), "scipy": ("SciPy", "scipy"),
    "matplotlib": ("Matplotlib", "matplotlib"), "PIL": ("Pillow", "pillow"),
    "torch": ("PyTorch", "torch"), "torchvision": ("torchvision", "torchvision"),
    "cv2": ("OpenCV", "opencv-python"),
}

_READ_IMAGES = ("read and resize images with Pillow (PIL.Image.open(path).resize((w, h))) "
                "or keras.utils.load_img(path, target_size=(h, w))")
_ELSEWHERE_ONLY = ("or import it inside the code that uses it, under "
                   "`if __name__ == \"__main__\":`, which the grader does not run")

# Modules the grader will not have, by import name (a prefix covers what is under it):
# what they are and what to write instead.
_KNOWN: dict[str, tuple[str, str]] = {
    "tensorflow_datasets": ("TensorFlow Datasets", "it downloads its data sets and the grader "
                            "has no network: read the files the assignment gives with "
                            "keras.utils.image_dataset_from_directory, NumPy or Pillow"),
    "cv2": ("OpenCV", _READ_IMAGES),
    "skimage": ("scikit-image", _READ_IMAGES),
    "imutils": ("imutils", _READ_IMAGES),
    "torchvision": ("torchvision", "read images with Pillow and make tensors with "
                    "torch.from_numpy; build the model from torch.nn layers"),
    "google.colab": ("Google Colab's helpers", "they exist only on Colab: drop drive.mount() "
                     "and files.upload(); the grader gives your functions their data"),
    "tf_keras": ("Keras 2 (tf_keras)", "the grader runs Keras 3: import from keras "
                 "(keras.layers, keras.models, keras.optimizers)"),
    "keras_preprocessing": ("Keras 2's keras_preprocessing", "in Keras 3 write "
                            "keras.utils.load_img and keras.utils.img_to_array; "
                            "ImageDataGenerator is tensorflow.keras.preprocessing.image."
                            "ImageDataGenerator"),
    "scikeras": ("SciKeras", "Keras 3 has its own wrappers: keras.wrappers.SKLearnClassifier "
                 "and keras.wrappers.SKLearnRegressor"),
    "keras_tuner": ("KerasTuner", "try the settings in a plain loop, " + _ELSEWHERE_ONLY),
    "kerastuner": ("KerasTuner", "try the settings in a plain loop, " + _ELSEWHERE_ONLY),
    "tensorflow.contrib": ("tf.contrib", "TensorFlow 2 removed it; what survived is in "
                           "Keras: keras.layers, keras.optimizers, keras.initializers"),
    "tensorflow.examples.tutorials": ("TensorFlow 1's tutorial data readers", "TensorFlow 2 "
                                      "removed them: load MNIST with "
                                      "keras.datasets.mnist.load_data()"),
    "seaborn": ("seaborn", "plot with Matplotlib, " + _ELSEWHERE_ONLY),
    "tqdm": ("tqdm", "drop the progress bar, " + _ELSEWHERE_ONLY),
    "IPython": ("IPython", "it exists inside Jupyter: use print() instead of display()"),
}


def describe_missing_import(module_name: str) -> str:
    """The message for an import of ``module_name`` that failed: the module, whether the
    grader has it, and what to write instead where something exists. For example
    ``keras.layers.experimental.preprocessing`` gives "... is Keras 2 and is not in the
    grader's Keras 3.15.1; in Keras 3 write keras.layers.RandomFlip, ... (imported from
    keras.layers)"; ``cv2`` says OpenCV is not installed and how to read images instead.
    """
    alias = resolve(module_name)
    if alias is not None:
        return _moved_message(module_name, alias)
    known = max((k for k in _KNOWN if module_name == k or module_name.startswith(k + ".")),
                key=len, default=None)
    top = module_name.split(".")[0]
    if known is not None:
        label, advice = _KNOWN[known]
        named = module_name if label == module_name else f"{module_name} ({label})"
        if _has(known):
            return f"{named} failed to import in the grader; {advice}"
        return f"{named} is not installed in the grader; {advice}"
    if top != module_name and _has(top):
        message = (f"{module_name} is not in the grader's {_have(top)}, though {top} is: "
                   "check the spelling")
        if top == "keras":
            message += ("; Keras 3 keeps its API in keras.layers, keras.models, "
                        "keras.optimizers, keras.callbacks, keras.utils and keras.datasets")
        return message
    return (f"{module_name} is not installed in the grader, which has {_available()}; if "
            f"building the model does not need it, drop the import {_ELSEWHERE_ONLY}, so "
            "the rest of the file still runs")


def _moved_message(module_name: str, alias: Alias) -> str:
    spelled = [_spell_example(alias, name) for name in alias.examples]
    top = alias.sources[0].split(".")[0]
    have = _have("keras" if module_name.split(".")[0] in ("keras", "tensorflow") else top)
    message = f"{module_name} {alias.was}; the grader has {have}: {alias.now} "
    if not spelled:
        return message + f"import from {' or '.join(alias.spellings)}"
    modules = " or ".join(dict.fromkeys(path.rsplit(".", 1)[0] for path in spelled))
    return message + f"write {', '.join(spelled)} (imported from {modules})"


def _spell_example(alias: Alias, name: str) -> str:
    if len(alias.sources) > 1:  # keras.engine: Layer is in keras.layers, Model in models
        for index, source in enumerate(alias.sources):
            try:
                if hasattr(importlib.import_module(source), name):
                    return alias.spell(name, index)
            except ImportError:
                continue
    return alias.spell(name, 0)


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _have(top: str) -> str:
    label, distribution = _LIBRARIES.get(top, (top, top))
    try:
        return f"{label} {importlib.metadata.version(distribution)}"
    except importlib.metadata.PackageNotFoundError:
        return label


def _available() -> str:
    names = [label for module, (label, _) in _LIBRARIES.items() if _has(module)]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


# --------------------------------------------------------------------- unsaveable models


def explain_unsaveable(exc: BaseException | None, model: Any) -> str | None:
    """The real reason ``model`` cannot be stored in a .keras file that loads in safe
    mode, and the fix; None when none of the known causes is in the model.

    ``exc`` is what failed (saving, loading, or reading the layers' configs); the causes
    are found in the model itself, as the exception rarely names the layer at fault.
    A student's own classes (layers, a keras.Model subclass), Lambda layers and Python
    or TensorFlow functions as activations cannot be rebuilt from the file without the
    student's code, which the grader never runs where it loads models."""
    import keras

    causes: list[str] = []
    if isinstance(model, keras.Model) and not _is_keras(model):
        causes.append(f"the model is your own class {type(model).__name__} (a keras.Model "
                      "subclass), which a .keras file cannot rebuild without your code; build "
                      "it with keras.Sequential([...]) or keras.Model(inputs, outputs)")
    for layer in _layers(model):
        causes += _layer_causes(layer)
    if not causes:
        return None
    shown = "; ".join(dict.fromkeys(causes[:3]))
    return shown + (f"; and {len(causes) - 3} more like these" if len(causes) > 3 else "")


def _layers(model: Any) -> Iterator[Any]:
    import keras

    for layer in getattr(model, "layers", None) or []:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        inner = getattr(layer, "layer", None)  # TimeDistributed, Bidirectional
        if isinstance(inner, keras.layers.Layer):
            yield inner


def _is_keras(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "keras"


def _layer_causes(layer: Any) -> list[str]:
    import keras

    named = f"layer {layer.name!r}"
    if isinstance(layer, keras.layers.Lambda):
        return [f"{named} is a Lambda layer: a .keras file keeps its Python code, which the "
                "grader never runs when it loads a model (safe mode); use Keras layers "
                "instead, such as keras.layers.Rescaling(1 / 255) for x / 255"]
    if not _is_keras(layer):
        return [f"{named} is your own class {type(layer).__name__}, which a .keras file "
                "cannot rebuild without your code; build the model from Keras layers"]
    causes = []
    for argument in ARGUMENTS:
        function = getattr(layer, argument, None)
        if (function is None or isinstance(function, keras.layers.Layer)
                or not callable(function) or _is_keras_activation(function)):
            continue
        found = keras_name(function)
        if found is not None:
            written, name = found
            causes.append(f"{named} ({type(layer).__name__}) has {argument}={written}, a "
                          "TensorFlow function, which a .keras file cannot store (the model "
                          f"would load only with safe mode off); write {argument}=\"{name}\"")
        else:
            written = getattr(function, "__name__", type(function).__name__)
            causes.append(f"{named} ({type(layer).__name__}) has {argument}={written}, a "
                          "Python function, which a .keras file cannot store; use a Keras "
                          "activation by name (\"relu\", \"softmax\", ...) or an activation "
                          "layer such as keras.layers.LeakyReLU()")
    return causes


def _is_keras_activation(function: Any) -> bool:
    import keras

    return getattr(keras.activations, getattr(function, "__name__", ""), None) is function

