"""`grader check --html`: one self-contained page per submission, built from the
results object, with the visual checks' images embedded and every text escaped."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from grader.parent.report_html import html_report

REPO = Path(__file__).resolve().parents[2]


def results(output: str, images: list[str] | None = None) -> dict:
    test = {"name": "t1: visual", "score": 0.0, "max_score": 2.0, "status": "failed",
            "output": output, "visibility": "visible", "tags": ["t1", "visual"],
            "grader": {"state": "failed", "points": 2, "check": "visual", "hints": [],
                       "details": {"images": images or []}}}
    return {"score": 0.0, "max_score": 2.0, "execution_time": 1.5, "output": "", "tests": [test],
            "grader": {"version": "0", "assignment": "a<b>", "submission": "sub", "errors": [],
                       "tasks": {"t1": {"title": "Task <one>", "entry_file": "cnn.py",
                                        "skipped_cells": [{"index": 3, "reason": "top-level "
                                                           "code not run",
                                                           "first_line": "fit(<x>)"}]}}}}


def test_student_text_is_escaped_never_markup():
    page = html_report(results('raised <script>alert("x")</script> & "quoted"'))
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;" in page
    assert "Task &lt;one&gt;" in page and "fit(&lt;x&gt;)" in page
    assert ": a&lt;b&gt;: 0 / 2</title>" in page


def test_images_are_embedded_and_a_missing_one_is_named(tmp_path):
    png = tmp_path / "map.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    page = html_report(results("flat map", [str(png), str(tmp_path / "gone.png")]))
    encoded = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(encoded) == png.read_bytes()
    assert "gone.png (missing)" in page


@pytest.mark.slow
def test_check_writes_the_page_and_keeps_the_images_beside_it(grader, tmp_path):
    page_path = tmp_path / "out" / "alice.html"
    done = grader("check", str(REPO / "reference/practical2"), "--static", "--task", "gradcam",
                  "--html", str(page_path), "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    page = page_path.read_text()
    assert "<h2>gradcam:" in page and "practical2: 6 / 6" in page
    kept = sorted((tmp_path / "out" / "alice-images" / "gradcam").glob("*.png"))
    assert len(kept) >= 3
    assert page.count("data:image/png;base64,") == len(kept)
    assert "images were not kept" not in done.stderr


def test_html_into_a_folder_is_refused_before_grading(grader, tmp_path):
    done = grader("check", str(REPO / "reference/practical2"), "--html", str(tmp_path))
    assert done.returncode == 2
    assert f"--html {tmp_path} is a folder; name the file, e.g. --html " in done.stderr
    assert json.dumps(str(tmp_path / "results.html"))[1:-1] in done.stderr
