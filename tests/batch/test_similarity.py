"""`grader collect --similarity`: code that differs only in names and comments is
flagged, the template's own code and independent solutions of a prescribed
architecture are not, and identical uncommon layer lists are. Results files are
written directly (the architecture checks' details as `grader check` records them)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from test_batch_collect import result

ALICE = '''
import numpy as np
from tensorflow import keras
from tensorflow.keras import layers


def build_model(model_number):
    # my own network: two blocks, then a classifier
    inputs = keras.Input(shape=(28, 28, 1))
    x = inputs
    for filters in (32, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(100, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def normalise(images):
    """Scale to [0, 1] and add the channel axis."""
    images = images.astype("float32") / 255.0
    return np.expand_dims(images, -1)


def trainable_parameter_count(model):
    total = 0
    for weight in model.trainable_weights:
        total += int(np.prod(weight.shape))
    return total
'''

# Alice's code with every name changed and other comments: the same token stream.
BOB = (ALICE.replace("inputs", "inp").replace("outputs", "out").replace("filters", "nf")
       .replace("images", "imgs").replace("total", "count").replace("weight", "w")
       .replace("normalise", "prep").replace("# my own network: two blocks, then a classifier",
                                             "# CNN for fashion mnist (bob)")
       .replace('"""Scale to [0, 1] and add the channel axis."""', "# scale"))

CAROL = '''
import numpy as np
import keras


def build_model(n):
    m = keras.Sequential()
    m.add(keras.layers.Input((28, 28, 1)))
    m.add(keras.layers.Flatten())
    m.add(keras.layers.Dense(256, activation="relu"))
    m.add(keras.layers.Dropout(0.3))
    m.add(keras.layers.Dense(10, activation="softmax"))
    m.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    return m


def trainable_parameter_count(model):
    return sum(np.size(v) for v in model.trainable_variables)


if __name__ == "__main__":
    print(build_model(1).summary())
'''

# Model 2 as the text prescribes it, written two independent ways.
DAVE = '''
from tensorflow import keras
from tensorflow.keras import layers

MODEL_NUMBER = 2


def build_model(number):
    if number == 2:
        return keras.Sequential([
            keras.Input((28, 28, 1)),
            layers.Conv2D(16, (7, 7), activation="relu", padding="same"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(32, (3, 3), activation="relu", padding="same"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu", padding="same"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ])
    raise ValueError(number)
'''

ERIN = '''
import keras

MODEL_NUMBER = 2


def conv_block(x, n, size):
    y = keras.layers.Conv2D(filters=n, kernel_size=size, padding="same")(x)
    y = keras.layers.Activation("relu")(y) if False else keras.layers.ReLU()(y)
    return keras.layers.MaxPooling2D(pool_size=2)(y)


def build_model(which):
    """Model 2 of the practical, built with the functional API."""
    if which != 2:
        raise NotImplementedError
    image = keras.Input(shape=(28, 28, 1))
    h = conv_block(image, 16, 7)
    h = conv_block(h, 32, 3)
    h = conv_block(h, 64, 3)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(units=64, activation=keras.activations.relu)(h)
    return keras.Model(image, keras.layers.Dense(10, activation="softmax")(h))
'''

PRESCRIBED = ["Conv2D(16, 7x7, same, relu)", "MaxPooling2D(2x2, valid)",
              "Conv2D(32, 3x3, same, relu)", "MaxPooling2D(2x2, valid)",
              "Conv2D(64, 3x3, same, relu)", "MaxPooling2D(2x2, valid)", "Flatten",
              "Dense(64, relu)", "Dense(10, softmax)"]
REPO = Path(__file__).resolve().parents[2]
ODD = ["Conv2D(8, 5x5, valid, tanh)", "AveragePooling2D(3x3, valid)", "Flatten",
       "Dense(33, tanh)", "Dense(10, softmax)"]


def _arch_result(layers: list[str], prescribed: bool) -> dict:
    data = result({"model2: architecture": (4 if prescribed else 1, 4,
                                            "passed" if prescribed else "failed")})
    data["tests"][0]["grader"]["details"] = {"expected": PRESCRIBED, "got": layers}
    return data


@pytest.fixture(scope="module")
def collected(grader, tmp_path_factory):
    root = tmp_path_factory.mktemp("similar")
    subs = root / "subs"
    template = REPO / "submissions_template" / "practical2"
    codes = {"alice": ALICE, "bob": BOB, "carol": CAROL, "dave": DAVE, "erin": ERIN}
    # Frank and Gina write different code but end with the same odd layer list.
    frank_code = ("import keras\n\n\ndef build_model(n):\n    m = keras.Sequential([keras.Input("
                  "(28, 28, 1)), keras.layers.Conv2D(8, 5, activation='tanh'),\n"
                  "        keras.layers.AveragePooling2D(3), keras.layers.Flatten(),\n"
                  "        keras.layers.Dense(33, activation='tanh'),\n"
                  "        keras.layers.Dense(10, activation='softmax')])\n    return m\n")
    codes["frank"] = frank_code
    codes["gina"] = ("from keras import layers, models\n\nMODEL_NUMBER = 2\n\n\n"
                     "def build_model(k):\n    net = models.Sequential()\n"
                     "    net.add(layers.Input(shape=(28, 28, 1)))\n"
                     "    for layer in (layers.Conv2D(8, (5, 5), activation='tanh'),\n"
                     "                  layers.AveragePooling2D((3, 3)), layers.Flatten(),\n"
                     "                  layers.Dense(33, activation='tanh')):\n"
                     "        net.add(layer)\n    net.add(layers.Dense(10, activation='softmax'))"
                     "\n    return net\n")
    for student, code in codes.items():
        (subs / student).mkdir(parents=True)
        (subs / student / "cnn.py").write_text(code)
    # Dave and Erin also hand in the template's gradcam.py untouched: shared, but given.
    for student in ("dave", "erin"):
        shutil.copy(template / "gradcam.py", subs / student / "gradcam.py")
    run = root / "run"
    proc = grader("batch", "plan", str(subs), "--assignment", "practical2", "--out",
                      str(run), "--static")
    assert proc.returncode == 0, proc.stderr
    archs = {"alice": (["Conv2D(32, 3x3, same, relu)"], False), "bob": (["Dense(5)"], False),
             "carol": (["Flatten", "Dense(256, relu)"], False), "dave": (PRESCRIBED, True),
             "erin": (PRESCRIBED, True), "frank": (ODD, False), "gina": (ODD, False)}
    for student, (layers, ok) in archs.items():
        (run / "results" / f"{student}.json").write_text(json.dumps(_arch_result(layers, ok)))
    pages = root / "pages"
    proc = grader("collect", str(run), "--similarity", "--html", str(pages))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((run / "similarity.json").read_text())
    return run, pages, proc, {(p["a"], p["b"]): p for p in report["pairs"]}


def test_renamed_and_recommented_code_is_flagged(collected):
    run, _, proc, pairs = collected
    assert ("alice", "bob") in pairs, pairs
    pair = pairs["alice", "bob"]
    assert pair["code"] >= 0.9
    # The evidence: the shared lines of each side, with file and line numbers.
    alice_text = "\n".join(s["text"] for s in pair["evidence"]["alice"])
    bob_text = "\n".join(s["text"] for s in pair["evidence"]["bob"])
    assert "for filters in (32, 64):" in alice_text and "for nf in (32, 64):" in bob_text
    assert "similarity: 7 submissions compared" in proc.stdout
    with (run / "needs_review.csv").open(newline="") as fh:
        review = {r["student"]: r for r in csv.DictReader(fh)}
    assert "similar" in review["alice"]["kinds"]
    assert "similar: bob: code " in review["alice"]["reasons"]


def test_template_code_and_prescribed_architectures_are_not_flagged(collected):
    _, _, _, pairs = collected
    flagged = {s for pair in pairs for s in pair}
    assert "carol" not in flagged
    # Independent solutions of the prescribed model 2 that share the template's gradcam.py.
    assert ("dave", "erin") not in pairs, pairs.get(("dave", "erin"))


def test_identical_uncommon_architectures_are_flagged(collected):
    _, _, _, pairs = collected
    pair = pairs[("frank", "gina")]
    assert pair["code"] is None   # different code: flagged on the architecture alone
    assert pair["architecture"] == [{"task": "model2", "layers": ODD, "shared_by": 2}]


def test_the_instructor_page_shows_the_evidence_side_by_side(collected):
    run, pages, _, _ = collected
    page = (run / "similarity.html").read_text()
    assert "<h2>alice and bob</h2>" in page and "<h2>frank and gina</h2>" in page
    assert "for nf in (32, 64):" in page and "AveragePooling2D(3x3, valid)" in page
    assert "deducts nothing" in page
    index = (pages / "index.html").read_text()
    assert "href='similarity.html'" in index and (pages / "similarity.html").is_file()


def test_status_shows_the_flags_of_the_last_comparison(grader, collected):
    run, _, _, _ = collected
    status = json.loads(grader("batch", "status", str(run), "--json").stdout)
    reasons = {r["student"]: r["reasons"] for r in status["needs_review"]}
    assert "similar: gina: same uncommon model2 layers" in reasons["frank"]


def test_tokens_ignore_names_comments_and_strings_content():
    from grader.parent.batch.similarity import tokens

    a = tokens(["x = foo(1, 'a')  # one", "", "if x:", "    y = x"])
    b = tokens(["# two", "value = bar(1, \"b\")", "if value:", "    z = value"])
    assert [t for t, _ in a] == [t for t, _ in b]
    assert [t for t, _ in tokens(["%pip install keras", "x = 1"])] == ["V", "=", "1", ";"]
