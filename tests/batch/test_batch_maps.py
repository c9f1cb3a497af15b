"""Per-student pins in a batch run: `grader batch plan --maps FILE.csv`."""

from __future__ import annotations

import json

import pytest

from grader.parent.batch import maps


def test_a_csv_of_pins_becomes_each_students_map_options(tmp_path):
    csv = tmp_path / "maps.csv"
    csv.write_text("student,task,map\nalice,model2,hw.ipynb:cnn\nalice,model3,hw.ipynb\n"
                   "bob,model4,cnn (1).py:model\n")
    pins = maps.read_csv(csv)
    maps.save(tmp_path, pins)
    assert maps.args_for(tmp_path, "alice") == ["--map", "model2=hw.ipynb:cnn",
                                                "--map", "model3=hw.ipynb"]
    assert maps.args_for(tmp_path, "bob") == ["--map", "model4=cnn (1).py:model"]
    assert maps.args_for(tmp_path, "carol") == []
    assert json.loads((tmp_path / maps.MAPS).read_text())["bob"] == {"model4":
                                                                    "cnn (1).py:model"}


@pytest.mark.parametrize("text, said", [
    ("who,task,map\nalice,model2,a.py\n", "the header must be student,task,map"),
    ("student,task,map\nalice,,a.py\n", "line 2: every row needs"),
    ("student,task,map\nalice,m,a.py\nalice,m,b.py\n", "line 3: alice's task 'm' is mapped twice"),
])
def test_a_csv_it_cannot_use_is_refused_naming_the_line(tmp_path, text, said):
    csv = tmp_path / "maps.csv"
    csv.write_text(text)
    with pytest.raises(ValueError, match=said.replace("(", r"\(")):
        maps.read_csv(csv)


def test_plan_keeps_the_pins_and_refuses_a_bad_one(grader, tmp_path):
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    (subs / "alice" / "cnn.py").write_text("def build_model(n):\n    return None\n")
    good = tmp_path / "good.csv"
    good.write_text("student,task,map\nalice,model2,cnn.py:build_model\n")
    proc = grader("batch", "plan", str(subs), "--assignment", "practical2", "--out",
                  str(tmp_path / "run"), "--gpus", "0", "--maps", str(good))
    assert proc.returncode == 0, proc.stderr
    assert maps.args_for(tmp_path / "run", "alice") == ["--map", "model2=cnn.py:build_model"]
    bad = tmp_path / "bad.csv"
    bad.write_text("student,task,map\nalice,model2,cnn.py:1x\n")
    proc = grader("batch", "plan", str(subs), "--assignment", "practical2", "--out",
                  str(tmp_path / "run2"), "--gpus", "0", "--maps", str(bad))
    assert proc.returncode == 2 and "alice" in proc.stderr and "not a Python name" in proc.stderr
