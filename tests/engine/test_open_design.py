"""Specs that grade what the texts ask: open designs checked by the properties the
text states, partial credit per layer and property, augmentation wherever the text
allows it, and the trusted training's loss following the head the student chose.

The models are real Keras models; their facts are computed as the verify worker
computes them, and the submissions go through the real `grader check`."""

from __future__ import annotations

import json

import keras
import pytest
from conftest import REPO, run_check
from keras import layers

from grader.parent.checks import architecture, graph
from grader.parent.checks.source_augmentation import augmentation_in_source
from grader.verify_worker.facts import model_facts
from grader.verify_worker.training import loss_for_head


def spec_task(assignment: str, task_id: str) -> dict:
    spec = json.loads((REPO / "grader" / "assignments" / f"{assignment}.json").read_text())
    return next(t for t in spec["tasks"] if t["id"] == task_id)


def facts_of(*stack, shape=(28, 28, 1)) -> dict:
    return model_facts(keras.Sequential([keras.Input(shape), *stack]))


def arch(assignment: str, task_id: str, facts: dict) -> dict:
    task = spec_task(assignment, task_id)
    return architecture.check(facts, task["checks"]["architecture"], task)


def small_cnn(out=None):
    return [layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(),
            layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
            layers.Flatten(), layers.Dense(64, activation="relu"),
            out or layers.Dense(10, activation="softmax")]


def test_any_sound_simple_cnn_meets_q6():
    result = arch("ds-ag-021", "q6-mnist-cnn", facts_of(*small_cnn()))
    assert result["state"] == "passed", result["message"]


def test_a_dense_only_network_is_not_a_cnn_and_scores_nothing():
    dense = facts_of(layers.Flatten(), layers.Dense(128, activation="relu"),
                     layers.Dense(10, activation="softmax"))
    result = arch("ds-ag-021", "q6-mnist-cnn", dense)
    assert result["state"] == "failed" and result["fraction"] == 0
    assert "at least 1 Conv2D layer(s): found 0" in result["message"]


def test_dense_on_feature_maps_loses_the_order_property_only():
    no_flatten = facts_of(layers.Conv2D(8, 3, activation="relu"), layers.Dense(10),
                          layers.GlobalAveragePooling2D(), layers.Activation("softmax"))
    result = arch("ds-ag-021", "q6-mnist-cnn", no_flatten)
    assert result["state"] == "failed"
    assert result["fraction"] == pytest.approx(2 / 3, abs=1e-3)
    assert "comes before" in result["message"]


def test_either_binary_head_is_right_for_cats():
    cats = [layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
            layers.BatchNormalization(),  # after pooling: the text does not order them
            layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
            layers.BatchNormalization(), layers.Flatten(), layers.Dense(64, activation="relu")]
    for head in (layers.Dense(2, activation="softmax"), layers.Dense(1, activation="sigmoid")):
        facts = facts_of(*cats, head, shape=(64, 64, 3))
        result = arch("cs577-a4", "cats-cnn", facts)
        assert result["state"] == "passed", result["message"]
    wrong = facts_of(*cats, layers.Dense(3, activation="softmax"), shape=(64, 64, 3))
    result = arch("cs577-a4", "cats-cnn", wrong)
    assert result["state"] == "failed" and 0 < result["fraction"] < 1
    assert "Dense(1, sigmoid) or Dense(2, softmax)" in result["message"]


def test_logits_head_passes_unless_compiled_for_probabilities():
    model = keras.Sequential([keras.Input((28, 28, 1)), *small_cnn(layers.Dense(10))])
    assert arch("ds-ag-021", "q6-mnist-cnn", model_facts(model))["state"] == "passed"
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False))
    assert arch("ds-ag-021", "q6-mnist-cnn", model_facts(model))["state"] == "failed"


def test_prescribed_layers_earn_partial_credit_per_layer():
    """Practical 2's model 2 is prescribed layer by layer: one wrong width costs half a
    layer's share, not the whole check."""
    def model2(width=64):
        return [layers.Conv2D(16, 7, padding="same", activation="relu"), layers.MaxPooling2D(),
                layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
                layers.Conv2D(64, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
                layers.Flatten(), layers.Dense(width, activation="relu"),
                layers.Dense(10, activation="softmax")]
    assert arch("practical2", "model2", facts_of(*model2()))["state"] == "passed"
    result = arch("practical2", "model2", facts_of(*model2(32)))
    assert result["state"] == "failed"
    assert result["fraction"] == pytest.approx(8.5 / 9, abs=1e-3)
    assert "expected Dense(64, relu), got Dense(32, relu)" in result["message"]


def test_loss_follows_the_head():
    assert loss_for_head("binary_crossentropy", 2, "softmax") == "sparse_categorical_crossentropy"
    assert loss_for_head("sparse_categorical_crossentropy", 1, "sigmoid") == "binary_crossentropy"
    assert loss_for_head("binary_crossentropy", 1, "sigmoid") == "binary_crossentropy"
    assert loss_for_head("mse", 2, "softmax") == "mse"


def test_augmentation_read_from_the_source_text(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "from tensorflow.keras.preprocessing.image import ImageDataGenerator\n"
        "plain = ImageDataGenerator(rescale=1./255, horizontal_flip=False)\n"
        "aug = ImageDataGenerator(rescale=1./255, rotation_range=20, horizontal_flip=True)\n")
    assert augmentation_in_source(script) == [
        "line 3: ImageDataGenerator(rotation_range=20, horizontal_flip=True)"]
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                    "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": ["!pip install nothing\n", "x = tf.image.random_flip_left_right(img)\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "def broken(:\n"}]}))
    assert augmentation_in_source(notebook) == [
        "code cell 1, line 2: tf.image.random_flip_left_right(...)"]


Q6_SOUND = """\
import tensorflow as tf
from tensorflow.keras import layers, models


def build_model():
    model = models.Sequential([
        layers.Conv2D(16, (3, 3), activation='relu', input_shape=(28, 28, 1)),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(32, (3, 3), activation='relu'),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(64, activation='relu'),
        layers.Dense(10, activation='softmax'),
    ])
    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy',
                  metrics=['accuracy'])
    return model
"""

Q9_GENERATOR = """\
from tensorflow.keras.preprocessing.image import ImageDataGenerator
from tensorflow.keras import layers, models

train_gen = ImageDataGenerator(rescale=1./255, rotation_range=20, width_shift_range=0.1,
                               horizontal_flip={flip})


def build_model(num_classes=2):
    return models.Sequential([
        layers.Input((150, 150, 3)),
        layers.Conv2D(32, (3, 3), activation='relu'), layers.MaxPooling2D(2, 2),
        layers.Flatten(), layers.Dense(64, activation='relu'),
        layers.Dense(num_classes, activation='softmax')])
"""


@pytest.fixture(scope="module")
def ds_run(tmp_path_factory):
    """One `grader check`: a student's own simple CNN for Q6, and for Q9 a plain CNN
    whose augmentation is in the ImageDataGenerator, as the text's answer has it."""
    sub = tmp_path_factory.mktemp("simple-cnn")
    (sub / "q6_mnist_cnn.py").write_text(Q6_SOUND)
    (sub / "q9_directory_training.py").write_text(Q9_GENERATOR.format(flip="True"))
    return run_check(str(sub), "--assignment", "ds-ag-021", "--static", "-q",
                     "--task", "q6-mnist-cnn", "--task", "q9-directory-cnn",
                     json_path=sub / "results.json")


def test_a_student_simple_cnn_gets_every_static_point(ds_run):
    for check in ("architecture", "lints"):
        assert ds_run.state("q6-mnist-cnn", check) == "passed", \
            ds_run.test("q6-mnist-cnn", check)
    tasks = ds_run.results["grader"]["tasks"]
    assert "simple CNN" in tasks["q6-mnist-cnn"]["text"][0]


def test_generator_augmentation_counts_where_the_text_uses_it(ds_run):
    found = ds_run.test("q9-directory-cnn", "graph")
    assert found["grader"]["state"] == "passed", found["output"]
    assert "ImageDataGenerator(rotation_range=20" in found["output"]


def test_without_random_settings_there_is_no_augmentation(tmp_path):
    script = tmp_path / "q9.py"
    script.write_text(Q9_GENERATOR.format(flip="False").replace(
        ", rotation_range=20, width_shift_range=0.1", ""))
    assert augmentation_in_source(script) == []
    task = spec_task("ds-ag-021", "q9-directory-cnn")
    facts = {**facts_of(*small_cnn(layers.Dense(2, activation="softmax")), shape=(150, 150, 3)),
             "source": {"file": "q9.py", "augmentation": augmentation_in_source(script)}}
    result = graph.check(facts, task["checks"]["graph"], task)
    assert result["state"] == "failed" and "data pipeline" in result["message"]
