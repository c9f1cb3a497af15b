"""Models are captured wherever the student's code keeps them, named the way a person
would point at them, and only the student's own (not the ones Keras makes inside)."""

from __future__ import annotations

import pytest
from harness_helpers import layer_classes, trainable


def test_a_model_built_in_a_method_that_returns_none_is_found_in_self_model(run_script):
    report = run_script("""
        import keras
        from keras import layers


        class Experiment:
            def __init__(self, classes):
                self.classes = classes
                self.model = None

            def build(self):
                self.model = keras.Sequential([
                    keras.Input((28, 28, 1)),
                    layers.Conv2D(8, 3, activation="relu"),
                    layers.Flatten(),
                    layers.Dense(self.classes, activation="softmax"),
                ])
                self.model.compile("adam", "sparse_categorical_crossentropy",
                                   metrics=["accuracy"])

            def train(self, x, y):
                return self.model.fit(x, y, epochs=3, batch_size=16)


        (x_train, y_train), _ = keras.datasets.mnist.load_data()
        experiment = Experiment(10)
        experiment.build()
        experiment.train(x_train[..., None] / 255.0, y_train)
    """, name="Cats&Dogs.py")

    assert report.failures == []
    [captured] = report.models
    assert captured.name == "experiment.model"
    assert captured.built_at.describe() == "Cats&Dogs.py line 11 in Experiment.build()"
    assert str(captured.first_seen) == "Cats&Dogs.py line 26"  # experiment.build()
    assert captured.event_kinds == ["built", "compiled", "fit"]
    assert captured.fits[0]["epochs"] == 3 and captured.fits[0]["batch_size"] == 16
    assert captured.events[-1].at.describe() == "Cats&Dogs.py line 21 in Experiment.train()"


def test_a_model_that_is_only_returned_is_named_by_its_builder(run_script):
    report = run_script("""
        import keras

        def dense_block(units):
            return keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])

        def build_cnn(units=8):
            return dense_block(units)

        build_cnn().summary()
        models = [build_cnn(u) for u in (16, 32)]
        named = build_cnn(2)
    """)

    assert [m.name for m in report.models] == [
        "returned by build_cnn()", "models[0]", "models[1]", "named"]
    assert [trainable(m.model) for m in report.models] == [40, 80, 160, 10]
    assert report.models[3].returned_by == "build_cnn()"
    assert report.models[1].built_at.describe() == "train.py line 4 in dense_block()"


def test_keras_internal_models_are_not_captured_but_submodels_the_student_builds_are(
        run_script):
    report = run_script("""
        import keras
        from keras import layers

        augmentation = keras.Sequential([layers.RandomFlip("horizontal")])
        inputs = keras.Input((32, 32, 3))
        x = augmentation(inputs)
        x = layers.Conv2D(4, 3)(x)
        outputs = layers.Dense(2, activation="softmax")(layers.Flatten()(x))
        model = keras.Model(inputs, outputs)
        model.compile("adam", "sparse_categorical_crossentropy")
        model.summary()
    """)

    assert report.failures == []
    assert [m.name for m in report.models] == ["augmentation", "model"]


def test_a_subclassed_model_is_located_where_it_is_instantiated(run_script):
    report = run_script("""
        import keras
        import numpy as np


        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.flat = keras.layers.Flatten()
                self.out = keras.layers.Dense(10, activation="softmax")

            def call(self, x):
                return self.out(self.flat(x))


        net = Net()
        net.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        net.fit(np.zeros((8, 28, 28), "float32"), np.zeros(8, "int64"), epochs=2)
    """)

    assert report.failures == []
    [captured] = report.models
    assert str(captured.built_at) == "train.py line 15"
    assert captured.compile["optimizer"] == "SGD"
    assert captured.compile["learning_rate"] == pytest.approx(0.05)
    # fit built the unbuilt model on one sample of its data, as Keras' fit would
    assert trainable(captured.model) == 7_850


def test_an_unbuilt_sequential_is_built_by_fit_from_its_data(run_script):
    report = run_script("""
        import keras
        from keras import layers
        model = keras.Sequential()
        model.add(layers.Flatten())
        model.add(layers.Dense(10, activation="softmax"))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        (x, y), (xt, yt) = keras.datasets.mnist.load_data()
        model.fit(x / 255.0, y, epochs=1)
    """)

    assert report.failures == []
    [captured] = report.models
    assert captured.model.built
    assert layer_classes(captured.model) == ["Flatten", "Dense"]
    assert trainable(captured.model) == 7_850


def test_torch_modules_with_parameters_are_captured(run_script):
    pytest.importorskip("torch")
    report = run_script("""
        import torch
        from torch import nn

        class MnistCNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(1, 4, 3)
                self.fc = nn.Linear(4 * 26 * 26, 10)

            def forward(self, x):
                return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))

        def make_model():
            return MnistCNN()

        net = make_model()
        loss_fn = nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    """)

    assert report.failures == []
    [captured] = report.models
    assert captured.framework == "torch"
    assert captured.name == "net"
    assert captured.returned_by == "make_model()"
    assert str(captured.first_seen) == "train.py line 16"


def test_capture_stops_at_the_limit_with_a_note(run_script):
    report = run_script("""
        import keras
        models = [keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
                  for _ in range(3)]
    """, max_models=2)

    assert [m.name for m in report.models] == ["models[0]", "models[1]"]
    assert "more than 2 models were built; the later ones were not captured" in report.notes
