"""A student's page in a real headless browser (chromium), at a desktop and a phone
width: nothing runs off the right edge, every image loads, the labelled Grad-CAM
panels are there, the first thing to fix is at the top, no path of the grading
machine shows, and a message repeated by several checks is shown once."""

from __future__ import annotations

import json
import shutil

import pytest
from browser import CHROMIUM, look, png_size
from check_runs import REPO, run_check
from fashion_data import small_fashion_mnist

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                                         "(scripts/setup.sh installs it)")
WIDTHS = {"desktop": (1280, 900), "phone": (420, 900)}


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("page")
    small_fashion_mnist(root / "data")
    spec = json.loads((REPO / "grader" / "assignments" / "practical2.json").read_text())
    spec["tasks"] = [t for t in spec["tasks"] if t["id"] in ("model3", "model4", "gradcam")]
    for task in spec["tasks"]:
        task["checks"].pop("accuracy", None)  # Grad-CAM still trains, on its own budget
        if task["id"] == "gradcam":
            task["checks"]["visual"]["train"] = {"dataset": "fashion-mnist", "train_subset": 600,
                                                 "batch_size": 32}
    spec_path = root / "practical2.json"
    spec_path.write_text(json.dumps(spec))
    sub = root / "alice"
    shutil.copytree(REPO / "reference" / "practical2", sub)
    cnn = sub / "cnn.py"
    source = cnn.read_text().replace("layers.Dense(74,", "layers.Dense(100,")
    # Model 4 raises: the same failure on each of its checks, to be shown once.
    cnn.write_text(source.replace("def _model_4() -> keras.Model:", "def _model_4():\n"
                                  "    raise RuntimeError('model four is not done yet')", 1))
    html = root / "alice.html"
    run = run_check(str(sub), "--assignment", str(spec_path), "--data-dir", str(root / "data"),
                    "--html", str(html), json_path=root / "alice.json")
    assert html.is_file(), run.stderr[-2000:]
    return html, run


def test_what_a_student_reads_first(page):
    html, run = page
    text = html.read_text()
    assert "<h1>alice: " in text and "graded 20" in text
    assert "fix this first</b>: model3: architecture" in text
    assert "/tmp/" not in text and str(REPO) not in text
    assert text.count("model four is not done yet") == 1
    assert "(the same as model4: " in text
    for name in ("T-shirt/top (class 0)", "Trouser (class 1)", "Sneaker (class 7)"):
        assert name in text


@pytest.mark.parametrize("size", sorted(WIDTHS))
def test_the_page_reads_at_desktop_and_phone_widths(page, size, tmp_path):
    html, _ = page
    width, height = WIDTHS[size]
    shot = tmp_path / f"{size}.png"
    seen = look(html, width, height, shot)
    assert seen["overflow"] <= 0 and seen["cut"] == [], seen
    assert seen["images"] >= 9 and seen["broken"] == 0, seen
    assert png_size(shot) == (width, height)
