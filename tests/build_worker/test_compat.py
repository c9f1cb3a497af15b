"""The build worker's Keras 2 compatibility layer (grader/build_worker/compat/), on real
Keras: each Keras 2 spelling works under install(), is noted once with its Keras 3
spelling, and is gone again after uninstall()."""

from __future__ import annotations

import builtins
import importlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from grader.build_worker import compat as compat_layer
from grader.build_worker.compat import (
    Compat,
    describe_missing_import,
    explain_unsaveable,
    install,
    uninstall,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def compat() -> Iterator[Compat]:
    uninstall()  # a test that failed half-way must not leak its installation
    installed = install()
    yield installed
    uninstall()


def student_exec(source: str) -> dict:
    """Runs ``source`` as student code does: from a module that is neither TensorFlow
    nor Keras (the redirect of tensorflow.python.keras serves only such importers)."""
    namespace = {"__name__": "student_cnn"}
    exec(textwrap.dedent(source), namespace)
    return namespace


def tiny_model(activation: object = "softmax") -> keras.Model:
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation=activation)])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    return model


def tiny_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (rng.random((8, 8, 8, 1), dtype=np.float32),
            keras.utils.to_categorical(np.arange(8) % 3, 3))


# ------------------------------------------------------------------------- module paths

ALIASES = [
    ("from keras.layers.normalization import BatchNormalization", "BatchNormalization",
     keras.layers.BatchNormalization, "keras.layers.normalization is Keras 2; in Keras 3 "
     "write keras.layers.BatchNormalization (imported from keras.layers)"),
    ("from keras.layers.core import Dense", "Dense", keras.layers.Dense,
     "keras.layers.core is Keras 2; in Keras 3 write keras.layers.Dense"),
    ("from keras.layers.convolutional import Conv2D", "Conv2D", keras.layers.Conv2D,
     "write keras.layers.Conv2D"),
    ("from keras.layers.pooling import MaxPooling2D", "MaxPooling2D",
     keras.layers.MaxPooling2D, "write keras.layers.MaxPooling2D"),
    ("from keras.layers.merge import concatenate", "concatenate", keras.layers.concatenate,
     "write keras.layers.concatenate"),
    ("from keras.layers.advanced_activations import LeakyReLU", "LeakyReLU",
     keras.layers.LeakyReLU, "write keras.layers.LeakyReLU"),
    ("from keras.layers.recurrent import LSTM", "LSTM", keras.layers.LSTM,
     "write keras.layers.LSTM"),
    ("from keras.utils.np_utils import to_categorical", "to_categorical",
     keras.utils.to_categorical, "keras.utils.np_utils is Keras 2; in Keras 3 write "
     "keras.utils.to_categorical (imported from keras.utils)"),
    ("from keras.utils.vis_utils import plot_model", "plot_model", keras.utils.plot_model,
     "write keras.utils.plot_model"),
    ("from keras.preprocessing.image import ImageDataGenerator", "ImageDataGenerator",
     tf.keras.preprocessing.image.ImageDataGenerator,
     "tensorflow.keras.preprocessing.image.ImageDataGenerator"),
    ("from keras.layers.experimental.preprocessing import RandomFlip", "RandomFlip",
     keras.layers.RandomFlip, "keras.layers.experimental.preprocessing is Keras 2; in "
     "Keras 3 write keras.layers.RandomFlip"),
    ("from keras.layers.experimental import preprocessing\nRescaling = "
     "preprocessing.Rescaling", "Rescaling", keras.layers.Rescaling,
     "write keras.layers.Rescaling"),
    ("import keras.layers.core as core\nDense = core.Dense", "Dense", keras.layers.Dense,
     "write keras.layers.Dense"),
    ("from tensorflow.keras.layers.normalization import BatchNormalization",
     "BatchNormalization", keras.layers.BatchNormalization,
     "tensorflow.keras.layers.normalization is Keras 2 (tf.keras 2.x); in Keras 3 write "
     "tensorflow.keras.layers.BatchNormalization"),
    ("from tensorflow.keras.utils.np_utils import to_categorical", "to_categorical",
     keras.utils.to_categorical, "write tensorflow.keras.utils.to_categorical"),
    ("from tensorflow.python.keras.layers import Dense", "Dense", keras.layers.Dense,
     "tensorflow.python.keras.layers is TensorFlow's private copy of Keras 2"),
    ("from tensorflow.python.keras.models import Sequential", "Sequential",
     keras.models.Sequential, "write keras.models.Sequential"),
    ("from tensorflow.python.keras.layers.normalization import BatchNormalization",
     "BatchNormalization", keras.layers.BatchNormalization,
     "write keras.layers.BatchNormalization"),
    ("from tensorflow.python.keras.preprocessing.image import ImageDataGenerator",
     "ImageDataGenerator", tf.keras.preprocessing.image.ImageDataGenerator,
     "write tensorflow.keras.preprocessing.image.ImageDataGenerator"),
    ("from sklearn.cross_validation import train_test_split", "train_test_split",
     "sklearn.model_selection.train_test_split", "sklearn.cross_validation is gone from "
     "scikit-learn (removed in 0.20); now write sklearn.model_selection.train_test_split"),
]


@pytest.mark.parametrize("statement,name,expected,note", ALIASES,
                         ids=[a[0].split("\n")[0] for a in ALIASES])
def test_each_keras2_module_path_serves_the_keras3_object_with_one_note(
        compat, statement, name, expected, note):
    served = student_exec(statement)[name]
    if isinstance(expected, str):  # not imported at collection: sklearn is slow to load
        module, _, attribute = expected.rpartition(".")
        expected = getattr(importlib.import_module(module), attribute)
    assert served is expected
    assert len(compat.notes()) == 1, compat.notes()
    assert note in compat.notes()[0]


def test_scikit_learn_wrappers_of_keras2_train_through_the_adapter(compat):
    from sklearn.base import clone

    names = student_exec("from keras.wrappers.scikit_learn import KerasClassifier")

    def build_fn(units=4):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, "relu"),
                                  keras.layers.Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        return model

    estimator = clone(names["KerasClassifier"](build_fn=build_fn, units=5, epochs=1,
                                               verbose=0))
    x = np.random.default_rng(0).random((12, 3), dtype=np.float32)
    estimator.fit(x, np.array(["cat", "dog"] * 6))
    assert estimator.model.layers[0].units == 5  # sk_params reached build_fn
    assert set(estimator.predict(x)) <= {"cat", "dog"}
    assert compat.notes() == ["keras.wrappers.scikit_learn is Keras 2; in Keras 3 write "
                              "keras.wrappers.SKLearnClassifier (imported from keras.wrappers)"
                              ", whose arguments differ (model=build_fn, model_kwargs={...}, "
                              "fit_kwargs={...}); the grader ran your build_fn through a "
                              "Keras 2 adapter"]


def test_a_name_the_old_module_never_had_still_fails_to_import(compat):
    with pytest.raises(ImportError, match="NoSuchLayer"):
        student_exec("from keras.layers.core import NoSuchLayer")


def test_real_modules_are_never_shadowed(compat):
    import keras.preprocessing.image as image

    assert type(image).__name__ == "module" and image.load_img is keras.utils.load_img
    assert compat.notes() == []


def test_tensorflow_keeps_its_own_keras2_copy(compat):
    # TensorFlow's modules import tensorflow.python.keras themselves; only student
    # imports are redirected.
    namespace = {"__name__": "tensorflow.python.some_module"}
    exec("from tensorflow.python.keras.layers import Dense", namespace)
    assert namespace["Dense"] is not keras.layers.Dense
    assert compat.notes() == []


# -------------------------------------------------------------------- arguments, methods

OPTIMIZERS = ["Adam", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam"]


@pytest.mark.parametrize("module", [keras.optimizers, tf.keras.optimizers],
                         ids=["keras", "tf.keras"])
def test_optimizers_take_lr_as_learning_rate(compat, module):
    for name in OPTIMIZERS:
        optimizer = getattr(module, name)(lr=0.01)
        assert float(optimizer.learning_rate) == pytest.approx(0.01), name
    assert compat.notes()[0] == ("Adam(lr=0.01): `lr` is Keras 2; Keras 3 spells it "
                                 "learning_rate=0.01")
    assert len(compat.notes()) == len(OPTIMIZERS)


def test_decay_and_epsilon_none_are_dropped_with_the_keras3_way(compat):
    optimizer = keras.optimizers.SGD(lr=0.1, momentum=0.9, decay=1e-6, nesterov=True)
    adam = keras.optimizers.Adam(epsilon=None)
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    assert adam.epsilon == pytest.approx(1e-7)
    notes = compat.notes()
    assert ("SGD(decay=1e-06): `decay` is Keras 2 and Keras 3 ignores it; to lower the "
            "learning rate as it did, pass a LearningRateSchedule: learning_rate=keras."
            "optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=1e-06)"
            ) in notes
    assert any(n.startswith("Adam(epsilon=None) is Keras 2") for n in notes)


def test_legacy_optimizers_make_the_keras3_optimizer(compat):
    optimizer = tf.keras.optimizers.legacy.Adam(learning_rate=0.5)
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert compat.notes() == ["tensorflow.keras.optimizers.legacy.Adam is Keras 2 (tf.keras "
                              "2.11+); Keras 3 spells it keras.optimizers.Adam"]


def test_fit_generator_trains_one_step_on_an_image_data_generator(compat):
    from tensorflow.keras.preprocessing.image import ImageDataGenerator

    model, (x, y) = tiny_model(), tiny_data()
    before = model.get_weights()[0].copy()
    history = model.fit_generator(ImageDataGenerator().flow(x, y, batch_size=4), 1, 1,
                                  verbose=0, workers=2, use_multiprocessing=False)
    assert len(history.history["loss"]) == 1
    assert not np.array_equal(before, model.get_weights()[0])
    assert model.evaluate_generator(ImageDataGenerator().flow(x, y, batch_size=4)) > 0
    assert model.predict_generator(ImageDataGenerator().flow(x, batch_size=4)).shape == (8, 3)
    notes = compat.notes()
    assert notes[0] == ("model.fit_generator(...) is Keras 2; Keras 3 spells it model.fit"
                        "(...), which takes generators, keras.utils.PyDataset and tf.data "
                        "datasets")
    assert notes[1].startswith("model.fit_generator(workers=..., use_multiprocessing=...) "
                               "is Keras 2")
    assert len(notes) == 4  # and evaluate_generator, predict_generator


def test_fit_nb_epoch_and_predict_classes(compat):
    model, (x, y) = tiny_model(), tiny_data()
    history = model.fit(x, y, nb_epoch=2, verbose=0)
    assert len(history.history["loss"]) == 2
    classes = model.predict_classes(x)
    assert classes.shape == (8,) and set(classes) <= {0, 1, 2}
    assert compat.notes()[0] == ("model.fit(nb_epoch=2): `nb_epoch` is Keras 1; Keras 3 "
                                 "spells it epochs=2")
    assert compat.notes()[1].startswith("model.predict_classes(x) was removed")


# --------------------------------------------------------------------------- activations


def test_a_tensorflow_activation_is_named_and_the_model_reloads_in_safe_mode(compat, tmp_path):
    model = keras.Sequential([keras.Input((8, 8, 1)),
                              keras.layers.Conv2D(2, 3, activation=tf.nn.relu),
                              keras.layers.Flatten(),
                              keras.layers.Dense(10, tf.nn.softmax),  # positional
                              keras.layers.Activation(tf.nn.sigmoid)])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert [getattr(layer, "activation", None) for layer in loaded.layers[::2]] == [
        keras.activations.relu, keras.activations.softmax]
    assert explain_unsaveable(None, model) is None
    assert compat.notes() == [
        f'activation=tf.nn.{name}: a TensorFlow function cannot be stored in a .keras file '
        f'(the model would not load in safe mode); Keras 3 spells it activation="{name}"'
        for name in ("relu", "softmax", "sigmoid")]


def test_without_the_layer_a_tensorflow_activation_does_not_reload(tmp_path):
    uninstall()
    model = keras.Sequential([keras.Input((4,)),
                              keras.layers.Dense(10, tf.nn.softmax, name="out")])
    model.save(tmp_path / "m.keras")
    with pytest.raises(TypeError):
        keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert explain_unsaveable(TypeError("could not be deserialized"), model) == (
        "layer 'out' (Dense) has activation=tf.nn.softmax, a TensorFlow function, which "
        "a .keras file cannot store (the model would load only with safe mode off); write "
        'activation="softmax"')


def test_each_use_is_noted_once_even_when_used_twice(compat):
    student_exec("""
        from keras.layers.core import Dense
        from keras.layers.core import Dense, Flatten
        from keras.optimizers import Adam
        import tensorflow as tf
        layers = [Dense(2, activation=tf.nn.relu), Dense(2, activation=tf.nn.relu)]
        optimizers = [Adam(lr=0.1), Adam(lr=0.2)]
    """)
    notes = compat.notes()
    assert len(notes) == 3, notes
    assert notes[0] == ("keras.layers.core is Keras 2; in Keras 3 write keras.layers.Dense, "
                        "keras.layers.Flatten (imported from keras.layers)")
    assert compat.notes() == notes  # asking again repeats nothing new


# --------------------------------------------------------------------------- the student


STUDENT_SCRIPT = '''\
import numpy as np
import tensorflow as tf
from keras.layers.normalization import BatchNormalization
from keras.layers.core import Dense, Flatten
from keras.layers.convolutional import Conv2D, MaxPooling2D
from keras.models import Sequential
from keras.optimizers import Adam
from keras.preprocessing.image import ImageDataGenerator
from keras.utils.np_utils import to_categorical


def build_model():
    model = Sequential()
    model.add(Conv2D(4, (3, 3), activation=tf.nn.relu, input_shape=(8, 8, 1)))
    model.add(BatchNormalization())
    model.add(MaxPooling2D((2, 2)))
    model.add(Flatten())
    model.add(Dense(3, activation=tf.nn.softmax))
    model.compile(optimizer=Adam(lr=1e-3), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train(model):
    x = np.random.rand(8, 8, 8, 1).astype("float32")
    y = to_categorical(np.arange(8) % 3, 3)
    flow = ImageDataGenerator(rotation_range=10).flow(x, y, batch_size=4)
    return model.fit_generator(flow, steps_per_epoch=2, epochs=1, verbose=0)
'''

# What the build worker does: install, import the file, call the builder, save, reload.
DRIVER = '''\
import importlib.util, json, sys
import keras
from grader.build_worker.compat import install
compat = install()
spec = importlib.util.spec_from_file_location("student_cnn", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
model = module.build_model()
module.train(model)
model.save(sys.argv[2])
loaded = keras.saving.load_model(sys.argv[2], safe_mode=True)
print(json.dumps({"layers": [type(l).__name__ for l in loaded.layers], "notes": compat.notes()}))
'''


def test_a_keras2_student_script_imports_builds_and_saves_under_install(tmp_path):
    script = tmp_path / "cnn.py"
    script.write_text(STUDENT_SCRIPT)
    done = subprocess.run([sys.executable, "-c", DRIVER, str(script), str(tmp_path / "m.keras")],
                          cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["layers"] == ["Conv2D", "BatchNormalization", "MaxPooling2D", "Flatten",
                                "Dense"]
    notes = result["notes"]
    assert len(notes) == len(set(notes)) == 9, notes
    for expected in ("keras.layers.normalization is Keras 2; in Keras 3 write "
                     "keras.layers.BatchNormalization (imported from keras.layers)",
                     "keras.layers.core is Keras 2; in Keras 3 write keras.layers.Dense, "
                     "keras.layers.Flatten (imported from keras.layers)",
                     "Adam(lr=0.001): `lr` is Keras 2; Keras 3 spells it learning_rate=0.001"):
        assert expected in notes
    assert any(n.startswith("model.fit_generator(...) is Keras 2") for n in notes)
    assert any(n.startswith("activation=tf.nn.softmax") for n in notes)


# ------------------------------------------------------------------------ install, undo


def test_install_is_idempotent(compat):
    assert install() is compat


def test_uninstall_removes_every_alias_and_wrapper():
    uninstall()
    original_init, original_adam = keras.layers.Dense.__init__, keras.optimizers.Adam.__init__
    original_import = builtins.__import__
    install()
    student_exec("from keras.layers.core import Dense\n"
                 "from tensorflow.python.keras.layers import Conv2D")
    assert keras.layers.Dense.__init__ is not original_init
    uninstall()
    assert "keras.layers.core" not in sys.modules
    assert not hasattr(keras.layers, "core")
    with pytest.raises(ModuleNotFoundError):
        student_exec("import keras.layers.core")
    with pytest.raises(ImportError):
        student_exec("from keras.preprocessing.image import ImageDataGenerator")
    with pytest.raises(ValueError, match="lr"):
        keras.optimizers.Adam(lr=0.01)
    assert student_exec("from tensorflow.python.keras.layers import Dense")["Dense"] \
        is not keras.layers.Dense
    assert not hasattr(keras.Model, "fit_generator")
    assert "fit" not in vars(keras.Model)  # inherited again, not a copy of the wrapper
    assert keras.layers.Dense.__init__ is original_init
    assert keras.optimizers.Adam.__init__ is original_adam
    assert builtins.__import__ is original_import
    assert not any(type(f).__module__.startswith("grader.") for f in sys.meta_path)
    assert compat_layer._installed is None


# ---------------------------------------------------------------------------- messages


@pytest.mark.parametrize("module,expected", [
    ("keras.layers.experimental.preprocessing",
     ["the grader has Keras 3", "keras.layers.RandomFlip", "(imported from keras.layers)"]),
    ("keras.layers.normalization", ["keras.layers.BatchNormalization"]),
    ("sklearn.cross_validation", ["sklearn.model_selection.train_test_split"]),
    ("tensorflow_datasets", ["is not installed in the grader", "no network"]),
    ("cv2", ["OpenCV", "Pillow"]),
    ("google.colab", ["only on Colab", "drive.mount()"]),
    ("keras.no_such_module", ["the grader's Keras 3", "check the spelling"]),
    ("no_such_package_at_all", ["is not installed in the grader, which has TensorFlow, "
                                "Keras", "the rest of the file still runs"]),
])
def test_a_missing_import_says_what_the_grader_has_and_what_to_write(module, expected):
    message = describe_missing_import(module)
    for part in expected:
        assert part in message
    assert "remove that import" not in message


def test_a_missing_torchvision_is_described_as_installed_or_not():
    message = describe_missing_import("torchvision")
    has = importlib.util.find_spec("torchvision") is not None
    assert ("is not installed in the grader" in message) is not has
    assert "Pillow" in message


def test_unsaveable_models_are_explained_by_their_real_cause():
    uninstall()

    class Doubling(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    class Custom(keras.Model):
        def call(self, x):
            return x

    inputs = keras.Input((4,))
    hidden = keras.layers.Lambda(lambda t: t / 255)(inputs)
    hidden = Doubling(name="doubling")(hidden)
    outputs = keras.layers.Dense(2, activation=lambda t: t)(hidden)
    message = explain_unsaveable(None, keras.Model(inputs, outputs))
    assert "layer 'lambda' is a Lambda layer" in message
    assert "layer 'doubling' is your own class Doubling" in message
    assert "has activation=<lambda>, a Python function" in message
    assert "your own class Custom (a keras.Model subclass)" in explain_unsaveable(None, Custom())
    assert explain_unsaveable(None, tiny_model()) is None
