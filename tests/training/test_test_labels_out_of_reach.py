"""The build worker, where student code runs, cannot reach the test labels,
and the accuracy a student's own training earns is measured by the verify
worker on the test split.

The probe below is a student submission whose training function hunts for
Fashion-MNIST's test labels everywhere the grader might keep them: the
system location, the --data-dir, the real user's Keras cache, the
environment, and other processes (the verify worker holds the test set in
memory). It reports what it found on stdout, which the grader keeps in the
results file. As a control, the same hunt run outside the sandbox finds them.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

LABELS = "fashion-mnist/t10k-labels-idx1-ubyte.gz"

PROBE = '''
import glob, json, os
import keras
from keras import layers

DATA_DIR = {data_dir!r}


def hunt():
    places = ["/usr/share/datasets/" + {labels!r}, DATA_DIR + "/" + {labels!r},
              "/root/.keras/datasets/" + {labels!r},
              os.path.expanduser("~/.keras/datasets/" + {labels!r})]
    found = [p for p in places if os.path.exists(p)]
    found += glob.glob(DATA_DIR + "/**/t10k-labels*", recursive=True)
    env = sorted(k for k, v in os.environ.items() if "GRADER_DATA" in k or DATA_DIR in v)
    others = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                cmd = open(f"/proc/{{pid}}/cmdline", "rb").read()
            except OSError:
                continue
            if b"worker_verify" in cmd:
                others.append(int(pid))
    return {{"files": sorted(set(found)), "env": env, "verify_workers": others}}


def build():
    return keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(),
                             layers.Dense(64, activation="relu"),
                             layers.Dense(10, activation="softmax")])


def train(model, x_train, y_train, x_val, y_val):
    print("PROBE " + json.dumps(hunt()))
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)
    return {{"accuracy": 1.0}}  # what a student might claim
'''


def spec(tmp_path: Path) -> Path:
    data = {
        "id": "probe", "title": "test labels out of reach", "marker": "probe",
        "tasks": [{
            "id": "probe", "title": "a student-trained model",
            "entry": {"file": "probe.py", "function": "build"},
            "input_shape": [28, 28, 1], "num_classes": 10,
            "checks": {"accuracy": {
                "points": 2, "dataset": "fashion-mnist", "threshold": 0.7, "seed": 0,
                "trained_by": "student", "train_function": "train", "train_subset": 6000,
            }},
        }],
    }
    path = tmp_path / "probe-spec.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def setup(tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree("/usr/share/datasets/fashion-mnist", data_dir / "fashion-mnist")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "probe.py").write_text(textwrap.dedent(PROBE.format(data_dir=str(data_dir),
                                                               labels=LABELS)))
    return data_dir, sub


def test_probe_finds_the_labels_when_not_sandboxed(setup, monkeypatch):
    import importlib.util

    data_dir, sub = setup
    spec_ = importlib.util.spec_from_file_location("probe_control", sub / "probe.py")
    probe = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(probe)
    monkeypatch.setenv("GRADER_DATA", str(data_dir))
    seen = probe.hunt()
    assert f"{data_dir}/{LABELS}" in seen["files"] and seen["env"] == ["GRADER_DATA"]


def test_build_worker_cannot_reach_test_labels_and_the_score_comes_from_verify(
        grader, tmp_path, setup):
    from grader.data.hiding import namespaces_available

    if not namespaces_available():
        pytest.skip("no user namespaces here: the grader marks such scores unverified")
    data_dir, sub = setup
    out = tmp_path / "r.json"
    result = grader("check", str(sub), "--assignment", str(spec(tmp_path)), "--json", str(out),
                    "--data-dir", str(data_dir))
    data = json.loads(out.read_text())
    line = next(x for x in data["grader"]["student_output"].splitlines()
                if x.startswith("PROBE "))
    seen = json.loads(line[len("PROBE "):])
    assert seen == {"files": [], "env": [], "verify_workers": []}
    acc = {t["name"]: t for t in data["tests"]}["probe: accuracy"]
    details = acc["grader"]["details"]
    assert acc["grader"]["state"] == "passed", acc["output"]
    assert details["trained_by"] == "student" and details["samples"] == {"test": 10000}
    assert 0.7 <= details["accuracy"] < 1.0  # measured on test, not the claimed 1.0
    assert result.returncode == 0
