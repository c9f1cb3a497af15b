"""Visual checks on a model the grader trained, over real images (issue 12).

One `grader check` run grades four Grad-CAM tasks on practical2's model 2, each with
its own function, trained on a few hundred real Fashion-MNIST images written as IDX
files (the real format) in a data folder: the reference, two wrong answers, and a
task whose training data is not on this machine (the fallback). The parent-side
decision and the verify side's refusal of changed files are checked in-process.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from check_runs import Run, run_check
from fashion_data import small_fashion_mnist

from grader.parent.pipeline.jobs import visual_training
from grader.parent.pipeline.outcome import RunOptions
from grader.parent.spec import Spec

REPO = Path(__file__).resolve().parents[2]
CLASSES = [0, 1, 7]
NAMES = {0: "T-shirt/top", 1: "Trouser", 7: "Sneaker"}
# A budget that trains in a second or two; the grader's default is 10,000 images.
TRAIN = {"dataset": "fashion-mnist", "train_subset": 600, "batch_size": 32}

WRONG = {
    # The image instead of a map: bright where the garment is, not where the class is.
    "input_image.py": "def grad_cam(model, image, class_index, layer_name=None):\n"
                      "    return image[..., 0]\n",
    "constant.py": "import numpy as np\n\n\n"
                   "def grad_cam(model, image, class_index, layer_name=None):\n"
                   "    return np.full(image.shape[:2], 0.5, dtype=np.float32)\n",
}


def _task(task_id: str, file: str, train: dict) -> dict:
    return {"id": task_id, "title": task_id,
            "entry": {"file": ["cnn.py"], "function": "build_model", "args": [2],
                      "globals": {"MODEL_NUMBER": 2}},
            "input_shape": [28, 28, 1], "num_classes": 10,
            "checks": {"visual": {"points": 3, "kind": "grad_cam", "file": file,
                                  "function": "grad_cam", "image_shape": [28, 28, 1],
                                  "class_indices": CLASSES, "train": train}}}


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Run:
    root = tmp_path_factory.mktemp("visual-trained")
    small_fashion_mnist(root / "data")
    sub = root / "submission"
    sub.mkdir()
    for name in ("cnn.py", "gradcam.py"):
        shutil.copy(REPO / "reference" / "practical2" / name, sub / name)
    for name, text in WRONG.items():
        (sub / name).write_text(text)
    tasks = [_task("reference", "gradcam.py", TRAIN),
             _task("input-image", "input_image.py", TRAIN),
             _task("constant", "constant.py", TRAIN),
             # Chest X-rays are never in the system locations, and the Keras cache is
             # the run's own empty one: no training data for this one.
             _task("no-data", "gradcam.py", {"dataset": "chest-xray"})]
    spec = root / "visual-trained.json"
    spec.write_text(json.dumps({"id": spec.stem, "title": spec.stem, "marker": spec.stem,
                                "tasks": tasks}))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KERAS_HOME", str(root / "keras-home"))
        env.delenv("GRADER_DATA", raising=False)
        run = run_check(str(sub), "--assignment", str(spec), "--data-dir", str(root / "data"),
                        "--html", str(root / "report.html"), json_path=root / "results.json")
    run.page = (root / "report.html").read_text() if (root / "report.html").is_file() else ""
    return run


def test_reference_grad_cam_scores_full_marks_on_a_trained_model_over_real_garments(graded):
    test = graded.test("reference", "visual")
    assert test["score"] == test["max_score"] == 3, test["output"]
    details = test["grader"]["details"]
    assert {c: v["name"] for c, v in details["classes"].items()} == {
        str(c): n for c, n in NAMES.items()}
    assert all(v["correlation"] >= 0.9 for v in details["classes"].values())
    # Said in the output: which model and which images.
    assert "trained model (trained by the grader: 1 epoch(s) on 540 fashion-mnist" in \
        test["output"]
    assert "real images: the first training example of T-shirt/top, Trouser, Sneaker" in \
        test["output"]
    assert "untrained" not in test["output"]


@pytest.mark.parametrize("task", ["input-image", "constant"])
def test_wrong_grad_cam_fails_on_the_trained_model(graded, task):
    test = graded.test(task, "visual")
    assert test["grader"]["state"] == "failed" and test["score"] == 0, test["output"]
    assert "trained model" in test["output"]
    if task == "constant":
        assert "the map is flat" in test["output"]
    else:
        assert "correlation with the reference Grad-CAM" in test["output"]


def test_without_training_data_the_check_falls_back_and_says_why(graded):
    test = graded.test("no-data", "visual")
    assert test["grader"]["state"] == "passed", test["output"]
    assert "untrained model, synthetic image: no training data on this machine" in \
        test["output"]
    assert "Traceback" not in test["output"]
    # The training of the other tasks is not redone for this one, nor is it skipped.
    assert graded.results["score"] == 3 + 3


def test_the_page_shows_labelled_panels_per_class(graded):
    text = graded.page
    for c, name in NAMES.items():
        assert f"<h3>{name} (class {c}): r = 1.000</h3>" in text
        assert f"<figcaption>input: {name} (class {c})</figcaption>" in text
    assert text.count("<figcaption>submitted Grad-CAM</figcaption>") >= 3 * 3
    assert "reference Grad-CAM (r = " in text
    # Each panel's three pictures are embedded (and each strip of the three, folded).
    assert text.count("<summary class=meta>as one image (grad_cam_class") >= 3 * 3
    assert text.count('src="data:image/png;base64,') >= 3 * 3 * 4


def test_visual_training_settings_come_from_the_same_builder_calls_accuracy_check(
        tmp_path, monkeypatch):
    spec = Spec(data=json.loads((REPO / "grader/assignments/practical2.json").read_text()),
                path=REPO / "grader/assignments/practical2.json")
    gradcam = next(t for t in spec.tasks if t["id"] == "gradcam")
    # Only the task itself selected (--task gradcam): model2's settings are still found.
    cut = Spec(data={**spec.data, "tasks": [gradcam]}, path=spec.path)
    settings, why = visual_training(cut, gradcam, RunOptions())
    if settings is None:
        pytest.skip(why)
    assert why is None and settings["dataset"] == "fashion-mnist"
    assert settings["batch_size"] == 32 and "points" not in settings
    assert visual_training(cut, gradcam, RunOptions(static=True)) == (
        None, "--static (no training)")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("GRADER_DATA", raising=False)
    xray = next(t for t in json.loads((REPO / "grader/assignments/ds-ag-021.json")
                                      .read_text())["tasks"] if t["id"] == "q10-xray-gradcam")
    settings, why = visual_training(
        Spec(data={"id": "ds-ag-021", "tasks": [xray]}, path=REPO / "grader/assignments/"
             "ds-ag-021.json"), xray, RunOptions(data_dir=str(tmp_path)))
    assert settings is None and why.startswith("no training data on this machine")


def test_scoring_refuses_trained_files_changed_since_training(tmp_path):
    keras = pytest.importorskip("keras")
    from grader.verify_worker import visual
    from grader.verify_worker.worker import VerifyContext

    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    model.save(tmp_path / "trained.keras")
    np.savez(tmp_path / "inputs.npz", images=np.zeros((1, 8, 8, 1), np.float32))
    check = {"kind": "grad_cam", "file": "g.py", "function": "grad_cam", "class_index": 0,
             "_trained": {"model": str(tmp_path / "trained.keras"), "sha256": "0" * 64,
                          "inputs": str(tmp_path / "inputs.npz"), "inputs_sha256": "0" * 64,
                          "summary": "x"}}
    ctx = VerifyContext(model=model, model_path=tmp_path / "trained.keras", task={"id": "t"},
                        check=check, data_dir=None)
    out = visual.run(ctx)
    assert out["state"] == "error" and "changed or went missing" in out["message"]


BOB_GRAD_CAM = '''
from gradcam import grad_cam as reference_grad_cam


def grad_cam(model, image, class_index, layer_name=None):
    # Bob's function finds his layers by the names he gave them.
    model.get_layer("bob_first_conv")
    return reference_grad_cam(model, image, class_index, layer_name)
'''


def test_a_classmates_visual_training_is_reused_on_a_model_with_its_own_names(tmp_path):
    """With the run's training cache, the second student whose model 2 is the same
    architecture under other layer names gets the first one's trained weights on a
    rebuild of their own model (their names, which their function may use)."""
    small_fashion_mnist(tmp_path / "data")
    spec = tmp_path / "visual-cache.json"
    spec.write_text(json.dumps({"id": spec.stem, "title": spec.stem, "marker": spec.stem,
                                "tasks": [_task("gradcam", "gradcam.py", TRAIN)]}))
    runs = {}
    for student in ("alice", "bob"):
        sub = tmp_path / student
        sub.mkdir()
        for name in ("cnn.py", "gradcam.py"):
            shutil.copy(REPO / "reference" / "practical2" / name, sub / name)
    cnn = tmp_path / "bob" / "cnn.py"
    first = 'layers.Conv2D(16, 7, padding="same", activation="relu")'
    assert cnn.read_text().count(first) == 1
    cnn.write_text(cnn.read_text().replace(first, first[:-1] + ', name="bob_first_conv")'))
    (tmp_path / "bob" / "gradcam.py").rename(tmp_path / "bob" / "reference_cam.py")
    (tmp_path / "bob" / "gradcam.py").write_text(
        BOB_GRAD_CAM.replace("from gradcam import", "from reference_cam import"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
        env.delenv("GRADER_DATA", raising=False)
        for student in ("alice", "bob"):
            runs[student] = run_check(str(tmp_path / student), "--assignment", str(spec),
                                      "--data-dir", str(tmp_path / "data"), "--train-cache",
                                      str(tmp_path / "cache"),
                                      json_path=tmp_path / f"{student}.json")
    alice, bob = (runs[s].test("gradcam", "visual") for s in ("alice", "bob"))
    assert alice["score"] == 3 and "reused" not in alice["output"], alice["output"]
    assert bob["score"] == 3, bob["output"]
    assert "reused: the same architecture was trained" in bob["output"]
    assert len(list((tmp_path / "cache" / "visual").iterdir())) == 1
