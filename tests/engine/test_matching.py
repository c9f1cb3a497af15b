"""Matching captured models to tasks, on the facts of real Keras models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from grader.parent.pipeline.matching import Candidate, agreement, match  # noqa: E402
from grader.verify_worker.facts import model_facts  # noqa: E402

SPEC = json.loads((Path(__file__).resolve().parents[2] / "grader" / "assignments"
                   / "practical2.json").read_text())
TASKS = {t["id"]: t for t in SPEC["tasks"]}


def model2(conv3_filters: int = 64) -> keras.Model:
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(16, 7, padding="same", activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(conv3_filters, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2), layers.Flatten(),
        layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])


def model3() -> keras.Model:
    return keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(),
                             layers.Dense(74, activation="relu"),
                             layers.Dense(50, activation="relu"),
                             layers.Dense(10, activation="softmax")])


def candidate(model, name, events=("built",)) -> Candidate:
    return Candidate(model_path=f"/models/{name}.keras", name=name, where="cnn.py line 3",
                     run="cnn.py", facts=model_facts(model), events=list(events))


def test_the_prescribed_model_agrees_fully_and_a_near_one_partly():
    assert agreement(TASKS["model2"], model_facts(model2())) == 1.0
    near = agreement(TASKS["model2"], model_facts(model2(conv3_filters=32)))
    assert 0.6 < near < 1.0
    assert agreement(TASKS["model2"], model_facts(model3())) < 0.4


def test_each_task_gets_its_own_model_whatever_order_they_were_built_in():
    pool = [candidate(model3(), "dense"), candidate(model2(), "cnn")]
    chosen = match([TASKS["model2"], TASKS["model3"]],
                   {"model2": pool, "model3": pool})
    assert chosen["model2"].candidate.name == "cnn"
    assert chosen["model3"].candidate.name == "dense"
    assert not chosen["model2"].weak and "model2 <- cnn.py, `cnn` built at" in chosen["model2"].why


def test_a_model_is_never_given_to_two_tasks_and_a_poor_fit_is_flagged_weak():
    pool = [candidate(model3(), "dense")]
    chosen = match([TASKS["model2"], TASKS["model3"]], {"model2": pool, "model3": pool})
    assert chosen["model3"].candidate.name == "dense"
    assert "model2" not in chosen
    alone = match([TASKS["model2"]], {"model2": pool})
    assert alone["model2"].weak


def test_two_different_models_equally_close_are_a_tie_for_a_person():
    a, b = model2(conv3_filters=32), model2(conv3_filters=128)
    chosen = match([TASKS["model2"]], {"model2": [candidate(a, "a"), candidate(b, "b")]})
    assert chosen["model2"].tied_with is not None


def test_the_trained_model_wins_over_an_identical_one_only_built():
    built, trained = candidate(model2(), "draft"), candidate(model2(), "model", ("built", "fit"))
    chosen = match([TASKS["model2"]], {"model2": [built, trained]})
    assert chosen["model2"].candidate.name == "model"
    assert chosen["model2"].tied_with is None  # the same layers: no doubt which was meant
