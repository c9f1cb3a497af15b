"""The class index page (`grader collect RUN --html DIR` writes DIR/index.html) in a
real headless browser at a desktop and a phone width: nothing runs off the right
edge or is cut, every student's score, check counts, late penalty and needs-review
reasons are there, and every link opens a file that exists."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import pytest
from browser import CHROMIUM, look, png_size

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                                         "(scripts/setup.sh installs it)")
WIDTHS = {"desktop": (1280, 900), "phone": (420, 900)}
DUE = datetime(2024, 10, 1, 23, 59, tzinfo=timezone.utc)


def _result(passed: int, failed: int, not_run: int = 0) -> dict:
    tests = []
    for i in range(passed + failed + not_run):
        state = "passed" if i < passed else "failed" if i < passed + failed else "not_run"
        tests.append({"name": f"model{i % 4 + 1}: check{i}", "score": 2 if state == "passed"
                      else 0, "max_score": 0 if state == "not_run" else 2,
                      "status": "passed" if state == "passed" else "failed",
                      "output": "", "visibility": "visible",
                      "tags": [f"model{i % 4 + 1}", f"check{i}"],
                      "grader": {"state": state, "check": f"check{i}"}})
    return {"score": sum(t["score"] for t in tests),
            "max_score": sum(t["max_score"] for t in tests), "execution_time": 3.0,
            "output": "", "tests": tests,
            "grader": {"assignment": "practical2", "exit_code": 0, "complete": True}}


@pytest.fixture(scope="module")
def index(grader, tmp_path_factory):
    root = tmp_path_factory.mktemp("index")
    subs = root / "subs"
    subs.mkdir()
    # Canvas downloads: a long name (it must wrap on a phone), a late one, one with
    # checks not run (needs review), one that failed to grade.
    students = {"wolfeschlegelsteinhausenbergerdorffhubert_201_1_cnn.py": DUE,
                "doejane_LATE_202_2_cnn.py": DUE + timedelta(days=3, hours=2),
                "leeann_203_3_cnn.py": DUE - timedelta(hours=5),
                "kimbo_204_4_cnn.py": DUE}
    for name, when in students.items():
        (subs / name).write_text("MODEL_NUMBER = 1\n")
        os.utime(subs / name, (when.timestamp(), when.timestamp()))
    run = root / "run"
    proc = grader("batch", "plan", str(subs), "--assignment", "practical2", "--out",
                      str(run), "--static")
    assert proc.returncode == 0, proc.stderr
    results = {"wolfeschlegelsteinhausenbergerdorffhubert_201": _result(8, 0),
               "doejane_202": _result(6, 2), "leeann_203": _result(3, 3, 2)}
    for student, data in results.items():
        (run / "results" / f"{student}.json").write_text(json.dumps(data))
    (run / "failed" / "kimbo_204.json").write_text(json.dumps(
        {"student": "kimbo_204", "reason": "grader check exited 2: ModuleNotFoundError: No "
         "module named 'cv2'", "exit_code": 2}))
    roster = root / "roster.csv"
    roster.write_text("id,name,canvas_id\n"
                      "s201,Hubert Blaine Wolfeschlegelsteinhausenbergerdorff,201\n"
                      "s202,Jane Doe,202\ns203,Ann Lee,203\ns204,Bo Kim,204\n"
                      "s205,Nobody Handedin,205\n")
    pages = root / "pages"
    proc = grader("collect", str(run), "--roster", str(roster), "--html", str(pages),
                      "--due", DUE.isoformat(), "--late-penalty", "10", "--late-cap", "30")
    assert proc.returncode == 1, proc.stdout + proc.stderr   # kimbo has no grade
    return pages / "index.html"


def test_the_index_lists_every_student_with_what_an_instructor_needs(index):
    text = index.read_text()
    assert '<meta name=viewport content="width=device-width, initial-scale=1">' in text
    rows = re.findall(r"<tr><td>(.*?)<td class=points data-l=score>(.*?)<td data-l=checks>"
                      r"(.*?)<td data-l=late>(.*?)<td class=why data-l='needs review'>"
                      r"(.*?)</td></tr>", text, re.S)
    by_name = {re.sub(r"<[^>]+>", "", r[0]): r[1:] for r in rows}
    assert len(by_name) == 5
    jane = by_name["Jane Doe (s202)"]
    # 12 of 16, four days (part days count) at 10% a day, capped at 30%: 3.6 off.
    assert jane[0] == "8.4 / 16" and jane[1] == "6 passed, 2 failed"
    assert jane[2] == "4 d, −3.6 (30%)"
    ann = by_name["Ann Lee (s203)"]
    assert ann[1] == "3 passed, 3 failed, 2 not run" and ann[2] == "on time"
    assert "not run: " in ann[3]
    assert "import error" in by_name["Bo Kim (s204)"][3] and by_name["Bo Kim (s204)"][1] == \
        "failed"
    assert by_name["Nobody Handedin (s205)"][1] == "no submission"


def test_links_open_existing_pages(index):
    hrefs = re.findall(r"href='([^']+)'", index.read_text())
    assert len(hrefs) == 3    # the three graded students; no page for the others
    for href in hrefs:
        assert (index.parent / unquote(href)).is_file(), href


@pytest.mark.parametrize("size", WIDTHS)
def test_readable_at_desktop_and_phone_width(index, size, tmp_path):
    width, height = WIDTHS[size]
    shot = tmp_path / f"index-{size}.png"
    seen = look(index, width, height, shot)
    assert seen["overflow"] <= 0, seen
    assert seen["cut"] == [], seen
    assert png_size(shot) == (width, height)
