"""Where the modules of Keras 2, tf.keras 2.x and old scikit-learn went: data, and the one
function that reads it (`resolve`). The import hook serves what it finds here; the
missing-import message quotes it."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

ADAPTER = "grader.build_worker.compat.scikit_learn"


@dataclass(frozen=True)
class Alias:
    """A module path that is gone, and the modules that now hold its contents.

    ``sources`` are searched in order for each name imported from it; ``spellings`` are
    how a student should import from each source today (for the note). ``renames`` gives
    a whole new spelling for a name whose class changed its name too."""

    name: str
    sources: tuple[str, ...]
    spellings: tuple[str, ...]
    was: str
    now: str
    examples: tuple[str, ...] = ()
    renames: dict[str, str] = field(default_factory=dict)
    extra: str = ""

    def spell(self, name: str, source_index: int) -> str:
        return self.renames.get(name) or f"{self.spellings[source_index]}.{name}"


# Keras 2 paths relative to a root (keras, tensorflow.keras, tensorflow.python.keras): the
# Keras 3 modules (relative to the same root) that hold their contents, and the names a
# student most likely wanted, for the missing-import message. A path also covers what is
# under it (tf.keras 2.9's keras.layers.convolutional.conv2d).
_MOVED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "layers.core": (("layers",), ("Dense", "Flatten", "Dropout")),
    "layers.convolutional": (("layers",), ("Conv2D",)),
    "layers.convolutional_recurrent": (("layers",), ("ConvLSTM2D",)),
    "layers.pooling": (("layers",), ("MaxPooling2D",)),
    "layers.normalization": (("layers",), ("BatchNormalization",)),
    "layers.normalization_v2": (("layers",), ("BatchNormalization",)),
    "layers.merge": (("layers",), ("Concatenate", "Add")),
    "layers.advanced_activations": (("layers",), ("LeakyReLU",)),
    "layers.activation": (("layers",), ("ReLU", "LeakyReLU")),
    "layers.recurrent": (("layers",), ("LSTM",)),
    "layers.recurrent_v2": (("layers",), ("LSTM",)),
    "layers.rnn": (("layers",), ("LSTM",)),
    "layers.embeddings": (("layers",), ("Embedding",)),
    "layers.noise": (("layers",), ("GaussianNoise",)),
    "layers.wrappers": (("layers",), ("TimeDistributed",)),
    "layers.regularization": (("layers",), ("Dropout",)),
    "layers.reshaping": (("layers",), ("Flatten", "Reshape")),
    "layers.attention": (("layers",), ("Attention",)),
    "layers.preprocessing": (("layers",), ("RandomFlip", "Rescaling")),
    "layers.experimental": (("layers",), ("RandomFlip", "RandomRotation", "Rescaling")),
    "layers.experimental.preprocessing": (("layers",), ("RandomFlip", "RandomRotation",
                                                        "Rescaling")),
    "utils.np_utils": (("utils",), ("to_categorical",)),
    "utils.vis_utils": (("utils",), ("plot_model",)),
    "utils.data_utils": (("utils",), ("get_file", "Sequence")),
    "utils.generic_utils": (("utils",), ("get_custom_objects",)),
    "utils.image_utils": (("utils",), ("load_img", "img_to_array")),
    "engine": (("layers", "models"), ("Layer", "Model")),
    "engine.topology": (("layers", "models"), ("Layer", "Input")),
    "engine.base_layer": (("layers",), ("Layer",)),
    "engine.input_layer": (("layers",), ("Input", "InputLayer")),
    "engine.training": (("models",), ("Model",)),
    "engine.sequential": (("models",), ("Sequential",)),
    "engine.functional": (("models",), ("Model",)),
    "optimizer_v2": (("optimizers",), ("Adam",)),
}

# Paths whose contents Keras 3 dropped but that live on elsewhere, by absolute module.
_ELSEWHERE: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # Keras 3's keras.preprocessing.image lost ImageDataGenerator; tf.keras kept it.
    "preprocessing.image": ("tensorflow.keras.preprocessing.image",
                            "tensorflow.keras.preprocessing.image", ("ImageDataGenerator",)),
    "preprocessing.text": ("tensorflow.keras.preprocessing.text",
                           "tensorflow.keras.preprocessing.text", ("Tokenizer",)),
    "wrappers.scikit_learn": (ADAPTER, "keras.wrappers", ("SKLearnClassifier",)),
}

_WRAPPER_RENAMES = {"KerasClassifier": "keras.wrappers.SKLearnClassifier",
                    "KerasRegressor": "keras.wrappers.SKLearnRegressor"}
_WRAPPER_EXTRA = (", whose arguments differ (model=build_fn, model_kwargs={...}, "
                  "fit_kwargs={...}); the grader ran your build_fn through a Keras 2 adapter")

# root -> (the root its Keras 3 modules are spelled under, what the old path was).
_ROOTS = {
    "keras": ("keras", "is Keras 2"),
    "tensorflow.keras": ("tensorflow.keras", "is Keras 2 (tf.keras 2.x)"),
    # TensorFlow still ships its own frozen Keras 2 here: importable, but its layers
    # cannot be added to a Keras 3 model, so student imports are served from Keras 3.
    "tensorflow.python.keras": ("keras", "is TensorFlow's private copy of Keras 2, whose "
                                "layers do not mix with Keras 3"),
}
PRIVATE_KERAS = "tensorflow.python.keras"

_SKLEARN: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "sklearn.cross_validation": ("sklearn.model_selection", "0.20",
                                 ("train_test_split", "KFold")),
    "sklearn.grid_search": ("sklearn.model_selection", "0.20", ("GridSearchCV",)),
    "sklearn.learning_curve": ("sklearn.model_selection", "0.20", ("learning_curve",)),
    "sklearn.externals.joblib": ("joblib", "0.23", ("dump", "load")),
}


def resolve(name: str, exact: bool = False) -> Alias | None:
    """The alias for module ``name``, or None when the name was never moved (it may
    still exist: the import hook asks the other finders first).

    A moved path also covers a module one level under it that is named after a class
    it holds (tf.keras 2.9's ``keras.layers.convolutional.conv2d``); ``exact`` turns
    that off, for attribute lookups. Any other name under it is not a module, so that
    ``from keras.layers.core import NoSuchLayer`` still fails."""
    if name in _SKLEARN:
        source, release, examples = _SKLEARN[name]
        return Alias(name, (source,), (source,), f"is gone from scikit-learn (removed in "
                     f"{release})", "now", examples)
    for root, (spelled, was) in _ROOTS.items():
        if name == root or not name.startswith(root + "."):
            continue
        return _keras_alias(name, name[len(root) + 1:], root, spelled, was, exact)
    if name == PRIVATE_KERAS:
        return Alias(name, ("keras",), ("keras",), _ROOTS[PRIVATE_KERAS][1], "in Keras 3",
                     ("layers", "models"))
    return None


def _keras_alias(name: str, rest: str, root: str, spelled: str, was: str, exact: bool
                 ) -> Alias | None:
    # tf.keras serves from its own modules (same classes), the others from keras.
    served = root if root == "tensorflow.keras" else "keras"
    moved = max((key for key in _MOVED
                 if rest == key or (not exact and rest.startswith(key + "."))),
                key=len, default=None)
    if moved is not None:
        subs, examples = _MOVED[moved]
        below = rest[len(moved) + 1:]
        if below and ("." in below or not _names_member(f"{served}.{subs[0]}", below)):
            return None
        return Alias(name, tuple(f"{served}.{s}" for s in subs),
                     tuple(f"{spelled}.{s}" for s in subs), was, "in Keras 3", examples)
    if rest in _ELSEWHERE:
        source, spelling, examples = _ELSEWHERE[rest]
        if source == ADAPTER:
            return Alias(name, (source,), (spelling,), was, "in Keras 3", examples,
                         renames=_WRAPPER_RENAMES, extra=_WRAPPER_EXTRA)
        return Alias(name, (source,), (spelling,), was, "in Keras 3", examples)
    if root == PRIVATE_KERAS and _exists(f"keras.{rest}"):
        return Alias(name, (f"keras.{rest}",), (f"keras.{rest}",), was, "in Keras 3")
    return None


def _names_member(source: str, part: str) -> bool:
    """Whether module name ``part`` spells a name of ``source`` (conv2d: Conv2D,
    batch_normalization: BatchNormalization)."""
    try:
        names = dir(importlib.import_module(source))
    except ImportError:
        return False
    wanted = part.replace("_", "").lower()
    return any(name.lower() == wanted for name in names)


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent that is missing, or not a package
        return False
