"""Train each architecture once (issue 13): `grader check --train-cache DIR`.

Three students' practical2 model 3, graded one after another against one cache
folder, trained on real Fashion-MNIST (a small IDX copy of Debian's files):

* alice hands in the reference (the prescribed 74-50-10 network): trained, stored;
* bob builds the same network under his own names (model, layers, variables) and
  compiles it his own way: the same key, so his accuracy is alice's result, reused,
  and nothing trains;
* carol's first hidden layer has 80 units: another key, trained.

Then the key itself (the same in every process) and two processes writing one
entry at once.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from check_runs import Run, run_check

from grader.data.hiding import namespaces_available
from grader.parent.pipeline.outcome import RunOptions
from grader.verify_worker.train_cache import (
    REUSED,
    TrainCache,
    architecture_digest,
    canonical_config,
    digest,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TRAIN_IMAGES, TEST_IMAGES = 2000, 500
# Practical2's model 3 as shipped, with a threshold these few images reach in one epoch.
ACCURACY = {"threshold": 0.5, "epochs": 1}

BOB = '''
import keras
from keras import layers

IMAGE = (28, 28, 1)


def build_model(which):
    pixels = keras.Input(shape=IMAGE, name="pixels")
    classifier = keras.Sequential([
        pixels,
        layers.Flatten(name="unroll"),
        layers.Dense(HIDDEN, activation="relu", name="hidden_one"),
        layers.Dense(50, activation="relu", name="hidden_two"),
        layers.Dense(10, activation="softmax", name="class_probabilities"),
    ], name="bobs_fashion_net")
    classifier.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return classifier
'''


def _small_fashion_mnist(folder: Path) -> None:
    """The first images of the real Fashion-MNIST, as IDX files (the real format)."""
    from grader.data import DatasetMissing, load_dataset
    from grader.parent.probes.fixtures import idx_bytes

    try:
        real = load_dataset("fashion-mnist", folder / "none")
    except DatasetMissing:
        pytest.skip("Debian's dataset-fashion-mnist is not installed (scripts/setup.sh)")
    (folder / "fashion-mnist").mkdir(parents=True)
    for stem, array in (
            ("train-images-idx3-ubyte", real.x_train[:TRAIN_IMAGES, ..., 0]),
            ("train-labels-idx1-ubyte", real.y_train[:TRAIN_IMAGES].astype(np.uint8)),
            ("t10k-images-idx3-ubyte", real.x_test[:TEST_IMAGES, ..., 0]),
            ("t10k-labels-idx1-ubyte", real.y_test[:TEST_IMAGES].astype(np.uint8))):
        (folder / "fashion-mnist" / f"{stem}.gz").write_bytes(gzip.compress(idx_bytes(array)))


def _spec(path: Path) -> Path:
    spec = json.loads((REPO / "grader/assignments/practical2.json").read_text())
    spec.pop("$schema", None)
    spec["tasks"] = [t for t in spec["tasks"] if t["id"] == "model3"]
    spec["tasks"][0]["checks"]["accuracy"].update(ACCURACY)
    path.write_text(json.dumps(spec))
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, Run]:
    if not namespaces_available():
        pytest.skip("no user namespaces here: the cache cannot be kept from student code")
    root = tmp_path_factory.mktemp("train-cache")
    _small_fashion_mnist(root / "data")
    spec = _spec(root / "practical2-model3.json")
    subs = {"alice": root / "alice", "bob": root / "bob", "carol": root / "carol"}
    shutil.copytree(REPO / "reference/practical2", subs["alice"])
    for name, hidden in (("bob", 74), ("carol", 80)):
        subs[name].mkdir()
        (subs[name] / "cnn.py").write_text(BOB.replace("HIDDEN", str(hidden)))
    runs = {}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KERAS_HOME", str(root / "keras-home"))
        env.delenv("GRADER_DATA", raising=False)
        env.delenv("GRADER_TRAIN_CACHE", raising=False)
        for name, sub in subs.items():  # in this order: alice trains first
            runs[name] = run_check(str(sub), "--assignment", str(spec), "--data-dir",
                                   str(root / "data"), "--train-cache", str(root / "cache"),
                                   "-q", json_path=root / f"{name}.json")
    runs["root"] = root  # type: ignore[assignment]
    return runs


def _accuracy(run: Run) -> dict:
    test = run.test("model3", "accuracy")
    assert test["grader"]["state"] in ("passed", "failed"), test["output"]
    return test


def test_first_student_trains_and_stores_the_result(graded):
    details = _accuracy(graded["alice"])["grader"]["details"]
    assert details["cache"]["reused"] is False and details["cache"]["stored"] is True
    assert details["epochs_run"] == 1 and details["train_seconds"] > 0
    assert REUSED not in _accuracy(graded["alice"])["output"]


def test_same_architecture_under_other_names_is_reused_without_training(graded):
    alice, bob = _accuracy(graded["alice"]), _accuracy(graded["bob"])
    cache = bob["grader"]["details"]["cache"]
    assert cache["reused"] is True and cache["key"] == \
        alice["grader"]["details"]["cache"]["key"]
    assert REUSED in bob["output"]
    # Alice's result to the last digit, her training time included: nothing trained.
    for key in ("accuracy", "macro_f1", "train_seconds", "samples", "epochs_run"):
        assert bob["grader"]["details"][key] == alice["grader"]["details"][key], key
    assert bob["score"] == alice["score"]
    # It never says whose result it was.
    said = json.dumps(graded["bob"].results)
    assert "alice" not in said and str(graded["root"] / "alice") not in said


def test_a_different_unit_count_trains(graded):
    carol = _accuracy(graded["carol"])
    cache = carol["grader"]["details"]["cache"]
    assert cache["reused"] is False and cache["stored"] is True
    assert cache["key"] != _accuracy(graded["alice"])["grader"]["details"]["cache"]["key"]
    assert REUSED not in carol["output"]


def test_the_cache_holds_one_entry_per_architecture_and_no_student(graded):
    folder = graded["root"] / "cache"
    entries = sorted((folder / "accuracy").glob("*.json"))
    assert len(entries) == 2
    for entry in entries:
        text = entry.read_text()
        assert "alice" not in text and "carol" not in text and str(graded["root"]) not in text
        data = json.loads(text)
        assert data["key"] == entry.stem == digest(data["material"])
        assert data["material"]["dataset"]["files"]  # the data is part of the key
        assert {"keras", "tensorflow", "numpy"} <= set(data["material"]["versions"])
    assert (folder / "dataset-digests.json").is_file()  # hashed once per file


# --------------------------------------------------------------------------- the key


def _functional(names: tuple[str, str, str], units: int = 10) -> dict:
    """A functional model's saved config as Keras 3 writes it, under ``names``."""
    image, flat, out = names

    def tensor(layer: str, shape: list) -> dict:
        return {"class_name": "__keras_tensor__",
                "config": {"shape": shape, "dtype": "float32", "keras_history": [layer, 0, 0]}}

    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
              "registered_name": None, "shared_object_id": id(names)}
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
        "name": f"{image}-model", "trainable": True, "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "name": image,
             "config": {"batch_shape": [None, 28, 28, 1], "dtype": "float32", "name": image},
             "inbound_nodes": []},
            {"module": "keras.layers", "class_name": "Flatten", "name": flat,
             "config": {"name": flat, "dtype": policy, "data_format": "channels_last"},
             "inbound_nodes": [{"args": [tensor(image, [None, 28, 28, 1])], "kwargs": {}}]},
            {"module": "keras.layers", "class_name": "Dense", "name": out,
             "config": {"name": out, "dtype": policy, "units": units, "activation": "relu"},
             "inbound_nodes": [{"args": [tensor(flat, [None, 784])], "kwargs": {}}]}],
        "input_layers": [image, 0, 0], "output_layers": [out, 0, 0]},
        "compile_config": {"optimizer": image}}


def test_names_and_object_ids_do_not_change_the_key_but_units_do():
    a = _functional(("img", "flatten", "dense"))
    b = _functional(("x", "y", "relu"))  # a layer named like an activation
    assert architecture_digest(a) == architecture_digest(b)
    assert architecture_digest(a) != architecture_digest(_functional(("img", "f", "d"), 11))
    canonical = json.dumps(canonical_config(b))
    assert '"x"' not in canonical and '"activation": "relu"' in canonical


def test_the_key_is_the_same_in_every_process(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_functional(("img", "flatten", "dense"))))
    code = ("import json, sys; from grader.verify_worker.train_cache import "
            "architecture_digest; print(architecture_digest(json.load(open(sys.argv[1]))))")
    keys = {subprocess.run([sys.executable, "-c", code, str(config)], capture_output=True,
                           text=True, check=True, cwd=REPO,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
            for seed in ("1", "2")}
    assert keys == {architecture_digest(json.loads(config.read_text()))}


WRITER = textwrap.dedent("""
    import sys
    from grader.verify_worker.train_cache import TrainCache
    cache, material = TrainCache(sys.argv[1]), {"writer": "same key"}
    result = {"accuracy": 0.5, "notes": ["x" * 200_000]}  # large: a slow write
    for _ in range(40):
        cache.put(sys.argv[2], material, result)
""")


def test_two_processes_writing_one_key_leave_a_valid_entry(tmp_path):
    cache = TrainCache(tmp_path / "cache")
    key = digest({"writer": "same key"})
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(cache.folder), key],
                                cwd=REPO) for _ in range(2)]
    torn = 0
    while any(w.poll() is None for w in writers):
        if cache.path(key).exists():
            try:
                json.loads(cache.path(key).read_text())
            except ValueError:
                torn += 1  # a reader saw half a file
    assert [w.wait() for w in writers] == [0, 0]
    assert torn == 0
    assert cache.get(key)["accuracy"] == 0.5
    assert list((cache.folder / "accuracy").iterdir()) == [cache.path(key)]  # no litter


def test_a_key_being_trained_is_waited_for_and_then_reused(tmp_path):
    """Two students with one architecture graded side by side: the second waits for the
    first's training (its claim) and finds the result, instead of training again."""
    import threading
    import time

    cache = TrainCache(tmp_path / "cache")
    key = digest({"architecture": "shared"})
    claimed = threading.Event()

    def first() -> None:
        with cache.claim(key, wait_s=5) as held:
            assert held
            claimed.set()
            time.sleep(1.0)  # training
            cache.put(key, {"architecture": "shared"}, {"accuracy": 0.84})

    trainer = threading.Thread(target=first)
    trainer.start()
    claimed.wait(5)
    started = time.monotonic()
    with cache.claim(key, wait_s=30) as held:
        waited = time.monotonic() - started
        found = cache.get(key)
    trainer.join()
    assert held and waited >= 0.5, waited
    assert found == {"accuracy": 0.84}
    # A claim not had within its wait is given up: that process trains without it.
    with cache.claim(key, wait_s=5):
        holder = threading.Thread(target=lambda: results.append(_try(cache, key)))
        results: list = []
        holder.start()
        holder.join()
    assert results == [False]


def _try(cache: TrainCache, key: str) -> bool:
    with cache.claim(key, wait_s=0.3) as held:
        return held


def test_a_forged_or_foreign_entry_is_not_reused(tmp_path):
    cache = TrainCache(tmp_path)
    key = digest({"a": 1})
    cache.put(key, {"a": 2}, {"accuracy": 1.0})  # material that is not this key's
    assert cache.get(key) is None
    cache.path(key).write_text("{")
    assert cache.get(key) is None


def test_a_cache_folder_that_holds_the_scratch_space_is_not_used(tmp_path):
    from grader.parent.pipeline.workers import _train_cache

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    run, cover = _train_cache(RunOptions(train_cache=str(tmp_path)), scratch)
    assert run.train_cache is None and cover == []
    run, cover = _train_cache(RunOptions(train_cache=str(tmp_path / "cache")), scratch)
    assert run.train_cache == str((tmp_path / "cache").resolve()) and cover
