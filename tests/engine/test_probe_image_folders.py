"""The image_folders probe (grader/parent/probes/image_folders.py, its capture in
grader/build_worker/probes/): datasets built from class-per-folder JPEG directories,
judged by tracing each image back to its file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import function_task, grade_functions

from grader.parent.probes import image_folders as probe

CATS = {"layout": "root", "splits": ["train", "validation", "test"], "classes": ["dog", "cat"],
        "returned": ["train", "validation", "test"], "image_size": [24, 20],
        "kwargs": {"image_size": [24, 20], "batch_size": 4}, "scale": "unit",
        "labels": ["binary"]}
Q9 = {"layout": "per_split", "splits": ["train", "val"], "classes": ["a", "b", "c"],
      "returned": ["train", "val", "class_names"], "image_size": [24, 20],
      "kwargs": {"image_size": [24, 20], "batch_size": 4}, "scale": "bytes",
      "labels": ["sparse"]}


# --- prepare and judge, without TensorFlow -------------------------------------

def _truthful(truth: dict, params: dict, order=None, scale: float = 255.0) -> dict:
    """What a correct function's capture holds for the fixture (files in ``order``)."""
    out = {}
    unit = params["scale"] == "unit"
    for s, split in enumerate(params["splits"]):
        ids = np.flatnonzero(truth["split"] == s) if order is None else order[split]
        means = truth["means"][ids] / (scale if unit else 1.0)
        cls = truth["cls"][ids].astype(float)
        binary = params["labels"][0] == "binary"
        out.update({f"{split}_shape": np.tile([*params["image_size"], 3], (len(ids), 1)),
                    f"{split}_means": means, f"{split}_min": means.min(1) * 0.9,
                    f"{split}_max": means.max(1) * 1.05,
                    f"{split}_labels": cls[:, None], f"{split}_label_rank": np.array(
                        1 if binary else 0), f"{split}_float": np.array(True),
                    f"{split}_capped": np.array(False)})
    if "class_names" in params["returned"]:
        out["class_names"] = np.array(sorted(params["classes"]))
    return out


@pytest.fixture(scope="module")
def cats(tmp_path_factory):
    return probe.prepare(tmp_path_factory.mktemp("cats"), CATS)


def test_prepare_writes_jpegs_of_another_size_per_split_and_class(cats, tmp_path):
    from PIL import Image

    [call] = cats.calls
    assert call.args[0]["label"] == "'<data folder>'" and call.kwargs["batch_size"] == 4
    files = sorted(Path(call.args[0]["$path"]).rglob("*.jpg"))
    assert len(files) == 3 * 2 * 3
    with Image.open(files[0]) as image:
        assert image.format == "JPEG" and image.size[::-1] != tuple(CATS["image_size"])
    # cat (alphabetically first) is class 0 whatever the spec's order, and reddish.
    cat = cats.truth["means"][cats.truth["cls"] == 0]
    assert (cat[:, 0] > 150).all() and (cat[:, 2] < 100).all()
    per_split = probe.prepare(tmp_path, Q9)
    assert [a["label"] for a in per_split.calls[0].args] == ["'<train folder>'",
                                                             "'<val folder>'"]


def test_correct_outputs_in_any_order_pass(cats):
    rng = np.random.default_rng(1)
    order = {s: rng.permutation(np.flatnonzero(cats.truth["split"] == i))
             for i, s in enumerate(CATS["splits"])}
    result = probe.judge(_truthful(cats.truth, CATS, order), cats.truth, CATS, "f.py: g")
    assert result["state"] == "passed" and result["fraction"] == 1.0, result
    assert "(cat, dog)" in result["message"]


def test_unscaled_pixels_lose_the_scale_part_of_each_split(cats):
    result = probe.judge(_truthful(cats.truth, CATS, scale=1.0), cats.truth, CATS, "f.py: g")
    assert result["state"] == "failed" and result["fraction"] == pytest.approx(0.75)
    assert any("divide the pixels by 255" in h for h in result["hints"])
    # Divided twice: the images are still traced to their files, and told apart.
    result = probe.judge(_truthful(cats.truth, CATS, scale=255.0 ** 2), cats.truth, CATS, "f")
    assert result["fraction"] == pytest.approx(0.75)
    assert any("divide the pixels by 255 once" in h for h in result["hints"])


def test_swapped_labels_and_sparse_labels(cats):
    out = _truthful(cats.truth, CATS)
    out["train_labels"] = 1 - out["train_labels"]
    result = probe.judge(out, cats.truth, CATS, "f.py: g")
    assert result["fraction"] == pytest.approx(11 / 12)
    assert any("(cat = 0, dog = 1)" in h for h in result["hints"])
    out = _truthful(cats.truth, CATS)
    out["test_label_rank"] = np.array(0)  # right values, (batch,) instead of (batch, 1)
    result = probe.judge(out, cats.truth, CATS, "f.py: g")
    assert result["fraction"] == pytest.approx(11.5 / 12)
    assert any("label_mode='binary'" in h for h in result["hints"])


def test_images_that_read_no_file_earn_nothing(cats):
    out = _truthful(cats.truth, CATS)
    for split in CATS["splits"]:  # right shapes, range and labels, but grey images
        out[f"{split}_means"] = np.full_like(out[f"{split}_means"], 0.5)
        out[f"{split}_min"], out[f"{split}_max"] = np.full((2, 6), 0.5)
    result = probe.judge(out, cats.truth, CATS, "f.py: g")
    assert result["state"] == "failed" and result["fraction"] == 0
    assert "train, validation, test: none of its 6 images is one of the folder's files" \
        in result["message"]


def test_a_split_read_from_the_wrong_folder_or_repeated_fails_its_files(cats):
    out = _truthful(cats.truth, CATS)
    for key in ("shape", "means", "min", "max", "labels"):
        out[f"test_{key}"] = out[f"validation_{key}"]
        out[f"train_{key}"] = np.concatenate([out[f"train_{key}"]] * 3)
    out["train_capped"] = np.array(True)
    result = probe.judge(out, cats.truth, CATS, "f.py: g")
    assert result["fraction"] == pytest.approx(10 / 12)
    assert "test: 6 of its 6 files never appear, it yields images of the validation " \
        "folder" in result["message"]
    assert any("no .repeat()" in h for h in result["hints"])


def test_class_names_and_size(tmp_path):
    prepared = probe.prepare(tmp_path, Q9)
    out = _truthful(prepared.truth, Q9)
    assert probe.judge(out, prepared.truth, Q9, "q.py: f")["state"] == "passed"
    out["class_names"] = np.array(["c", "b", "a"])
    out["val_shape"] = np.tile([150, 150, 3], (9, 1))
    result = probe.judge(out, prepared.truth, Q9, "q.py: f")
    assert result["fraction"] == pytest.approx(7 / 9)
    assert "class_names is ['c', 'b', 'a'], expected ['a', 'b', 'c']" in result["message"]
    assert any("pass image_size" in h for h in result["hints"])


# --- through the real CLI -------------------------------------------------------

STUDENT = textwrap.dedent('''
    from pathlib import Path

    import keras
    import numpy as np
    import tensorflow as tf


    def _read(folder, image_size, batch_size, shuffle=False, **kw):
        return keras.utils.image_dataset_from_directory(
            folder, image_size=image_size, batch_size=batch_size, shuffle=shuffle, seed=0,
            verbose=False, **kw)


    def _cats(data_dir, image_size, batch_size, scale=1 / 255, label_mode="binary",
              folders=("train", "validation", "test")):
        out = []
        for split, folder in zip(("train", "validation", "test"), folders):
            ds = _read(Path(data_dir) / folder, image_size, batch_size, split == "train",
                       label_mode=label_mode)
            out.append(ds.map(lambda x, y: (x * scale, y)))
        return tuple(out)


    def cats(data_dir, image_size=(150, 150), batch_size=32, seed=0):
        return _cats(data_dir, image_size, batch_size)


    def cats_unscaled(data_dir, image_size=(150, 150), batch_size=32, seed=0):
        return _cats(data_dir, image_size, batch_size, scale=1)


    def cats_int_labels(data_dir, image_size=(150, 150), batch_size=32, seed=0):
        return _cats(data_dir, image_size, batch_size, label_mode="int")


    def cats_fixed_size(data_dir, image_size=(150, 150), batch_size=32, seed=0):
        return _cats(data_dir, (150, 150), batch_size)


    def cats_train_twice(data_dir, image_size=(150, 150), batch_size=32, seed=0):
        return _cats(data_dir, image_size, batch_size, folders=("train", "validation", "train"))


    def cats_repeat(data_dir, image_size=(150, 150), batch_size=32, seed=0):
        train, validation, test = _cats(data_dir, image_size, batch_size)
        return train.repeat(), validation, test


    def cats_blank(data_dir, image_size=(150, 150), batch_size=32, seed=0):
        blank = tf.data.Dataset.from_tensors((tf.zeros((4, *image_size, 3)), tf.zeros((4, 1))))
        return blank, blank, blank


    def cats_grey(data_dir, image_size=(150, 150), batch_size=32, seed=0):
        return tuple(_read(Path(data_dir) / split, image_size, batch_size, label_mode="binary",
                           color_mode="grayscale").map(lambda x, y: (x / 255, y))
                     for split in ("train", "validation", "test"))


    def cats_unbatched(data_dir, image_size=(150, 150), batch_size=32, seed=0):
        return _cats(data_dir, image_size, None)


    def cats_one(data_dir, image_size=(150, 150), batch_size=32, seed=0):
        return _cats(data_dir, image_size, batch_size)[0]


    def cats_todo(data_dir, image_size=(150, 150), batch_size=32, seed=0):
        raise NotImplementedError("folders.py: cats_todo is not implemented yet")


    class Batches(keras.utils.PyDataset):
        def __init__(self, dataset):
            super().__init__()
            self.batches = [(x.numpy(), y.numpy()) for x, y in dataset]

        def __len__(self):
            return len(self.batches)

        def __getitem__(self, index):
            return self.batches[index]


    def q9(train_dir, val_dir, image_size=(150, 150), batch_size=32, seed=0):
        train = _read(train_dir, image_size, batch_size, shuffle=True)
        val = _read(val_dir, image_size, batch_size, class_names=train.class_names)
        return Batches(train), val, train.class_names


    def q9_reversed(train_dir, val_dir, image_size=(150, 150), batch_size=32, seed=0):
        names = ["c", "b", "a"]
        train = _read(train_dir, image_size, batch_size, True, class_names=names)
        val = _read(val_dir, image_size, batch_size, class_names=names)
        return train, val, names
''')


CASES = {"cats": ("cats", CATS), "unscaled": ("cats_unscaled", CATS),
         "int_labels": ("cats_int_labels", CATS), "fixed_size": ("cats_fixed_size", CATS),
         "train_twice": ("cats_train_twice", CATS), "repeat": ("cats_repeat", CATS),
         "blank": ("cats_blank", CATS), "one": ("cats_one", CATS),
         "grey": ("cats_grey", CATS), "unbatched": ("cats_unbatched", CATS),
         "todo": ("cats_todo", CATS), "q9": ("q9", Q9), "reversed": ("q9_reversed", Q9)}


@pytest.fixture(scope="module")
def folders_run(tmp_path_factory):
    tasks = [function_task(t, f, "image_folders", p, file=["folders.py", "folders.ipynb"],
                           points=4) for t, (f, p) in CASES.items()]
    return grade_functions(tmp_path_factory.mktemp("image-folders"), tasks,
                           {"folders.py": STUDENT})


def test_correct_functions_pass_with_tf_data_and_py_dataset(folders_run):
    for task in ("cats", "q9"):
        test = folders_run.test(task, "outputs")
        assert test["grader"]["state"] == "passed" and test["score"] == 4, test
    assert folders_run.modules["imported"] == []


@pytest.mark.parametrize(("task", "score", "words"), [
    ("unscaled", 3, "divide the pixels by 255"),
    ("int_labels", 3.5, "label_mode='binary'"),
    ("fixed_size", 3, "pass image_size"),
    ("train_twice", 4 * 11 / 12, "read each split from its own folder"),
    ("repeat", 4 * 11 / 12, "no .repeat()"),
    ("reversed", 4 * 6 / 9, "class_names is ['c', 'b', 'a']"),
])
def test_typical_mistakes_lose_points_with_the_fix(folders_run, task, score, words):
    test = folders_run.test(task, "outputs")
    assert test["grader"]["state"] == "failed", test
    assert test["score"] == pytest.approx(score, abs=0.005), test
    assert words in test["output"]


def test_blank_or_wrong_returns_earn_nothing(folders_run):
    blank = folders_run.test("blank", "outputs")
    assert blank["score"] == 0 and "is one of the folder's files" in blank["output"]
    one = folders_run.test("one", "outputs")
    assert one["score"] == 0 and "return (train, validation, test)" in one["output"]
    assert folders_run.state("todo", "outputs") == "not_implemented"
    grey = folders_run.test("grey", "outputs")
    assert grey["score"] == 0 and "color_mode='rgb'" in grey["output"]
    unbatched = folders_run.test("unbatched", "outputs")
    assert unbatched["score"] == 0 and "batch them (pass batch_size)" in unbatched["output"]
