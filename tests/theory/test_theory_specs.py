"""Theory questions are data: an instructor's spec answers like a shipped one, a broken
`theory` section is named in one line, and the schema, the loader and the calculator
agree on what a section may hold."""

from __future__ import annotations

import copy
import doctest
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from theory.calculator import COMPUTATIONS
from theory.questions import TheoryError, parse_theory

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "grader" / "assignments"
GRADER = Path(sys.executable).with_name("grader")     # the console script users run


def cs577() -> dict:
    return json.loads((SHIPPED / "cs577-a4.json").read_text())


def write_mine(folder: Path, data: dict | None = None) -> Path:
    """cs577-a4's spec copied as an instructor's own assignment `mine`."""
    data = cs577() if data is None else data
    data["id"] = data["marker"] = "mine"
    path = folder / "mine.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def run(*args: str, assignments: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GRADER_ASSIGNMENTS"}
    env["COLUMNS"] = "120"
    if assignments is not None:
        env["GRADER_ASSIGNMENTS"] = str(assignments)
    assert GRADER.exists(), f"{GRADER}: the console script is not installed (pip install -e .)"
    return subprocess.run([str(GRADER), *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)


def body(proc: subprocess.CompletedProcess) -> list[str]:
    """The worked answer without its header line (which names the assignment)."""
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()[1:]


def test_an_instructors_copy_prints_the_same_worked_answer(tmp_path: Path) -> None:
    write_mine(tmp_path)
    shipped = run("theory", "q1", "--assignment", "cs577-a4")
    mine = run("theory", "q1", "--assignment", "mine", assignments=tmp_path)
    assert mine.stdout.splitlines()[0].startswith("mine q1: ")
    assert body(mine) == body(shipped) and "total 9 + 18 + 27 = 54" in mine.stdout
    flag = run("--assignments-dir", str(tmp_path), "theory", "q1", "--assignment", "mine")
    assert body(flag) == body(shipped)
    by_path = run("theory", "q1", "--assignment", str(tmp_path / "mine.json"))
    assert body(by_path) == body(shipped)


def test_an_instructors_copy_has_the_same_keys_variants_and_grades(tmp_path: Path) -> None:
    write_mine(tmp_path)
    shipped = json.loads(run("theory", "q3", "--json").stdout)
    mine = json.loads(run("--assignments-dir", str(tmp_path), "theory", "q3", "-a", "mine",
                          "--json").stdout)
    assert mine.pop("assignment") == "mine" and shipped.pop("assignment") == "cs577-a4"
    assert mine == shipped
    # A variant mixes the assignment into its seed: other numbers, the same form.
    variant = json.loads(run("theory", "variant", "q7", "-s", "3", "-a", "mine", "--json",
                             assignments=tmp_path).stdout)
    assert set(variant["variant"]["params"]) == {"n", "c", "filters", "f"}
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"assignment": "mine", "seed": 3,
                                   "answers": {"q7": variant["answer"]}}))
    graded = run("theory", "grade", str(answers), "--json", str(tmp_path / "r.json"),
                 assignments=tmp_path)
    results = json.loads((tmp_path / "r.json").read_text())
    assert graded.returncode == 1, graded.stderr        # the other numeric questions are blank
    assert results["grader"]["assignment"] == "mine"
    assert {t["number"]: t["status"] for t in results["tests"]}["q7"] == "passed"


def test_the_assignments_and_the_default_come_from_the_specs_found(tmp_path: Path) -> None:
    write_mine(tmp_path)                   # cs577-a4's copy keeps its "default": true
    bare = {"id": "bare", "title": "no theory", "marker": "bare", "tasks": []}
    (tmp_path / "bare.json").write_text(json.dumps(bare))
    listing = json.loads(run("theory", "list", "--json", assignments=tmp_path).stdout)
    assert list(listing) == ["bare", "cs577-a4", "ds-ag-021", "hw2-mnist", "mine", "practical2"]
    assert listing["bare"] == [] and len(listing["mine"]) == 21
    table = run("theory", "list", "-a", "bare", assignments=tmp_path).stdout
    assert "bare: no theory questions" in table
    # The instructor's folder is searched first, so its default wins.
    assert run("theory", "q1", assignments=tmp_path).stdout.startswith("mine q1: ")
    assert run("theory", "q1").stdout.startswith("cs577-a4 q1: ")
    shown = run("theory", "show", "--help", assignments=tmp_path).stdout
    assert "bare, cs577-a4, ds-ag-021, hw2-mnist, mine, practical2" in " ".join(shown.split())
    assert "[default: mine]" in " ".join(shown.split())
    unknown = run("theory", "q1", "-a", "nope", assignments=tmp_path)
    assert unknown.returncode == 2 and "hw2-mnist, mine, practical2" in unknown.stderr


def test_assignments_dir_must_be_a_folder_and_goes_first(tmp_path: Path) -> None:
    proc = run("--assignments-dir", str(tmp_path / "absent"), "theory", "list")
    assert proc.returncode == 2 and "--assignments-dir" in proc.stderr and "absent" in proc.stderr
    probe = ("import os, sys\n"
             "from grader.cli import use_assignments_dir\n"
             "use_assignments_dir(sys.argv[1])\n"
             "print(os.environ['GRADER_ASSIGNMENTS'])\n")
    env = {**os.environ, "GRADER_ASSIGNMENTS": "/elsewhere"}
    out = subprocess.run([sys.executable, "-c", probe, "."], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == f"{tmp_path.resolve()}{os.pathsep}/elsewhere", out.stderr


def test_every_verb_is_listed_and_the_typer_app_forwards_theory(tmp_path: Path) -> None:
    root = run("--help").stdout
    for verb in ("theory", "check", "collect", "data", "batch", "reference",
                 "--assignments-dir"):
        assert verb in root
    theory_help = run("theory", "--help")
    assert theory_help.returncode == 0 and "variant" in theory_help.stdout
    write_mine(tmp_path)
    # `app` is what other code imports (grader/parent/batch/plan.py); it reaches the same group
    probe = ("import sys\nfrom grader.cli import app\n"
             f"sys.argv = ['grader', '--assignments-dir', {str(tmp_path)!r}, 'theory', 'q7',"
             " '-a', 'mine', '--json']\napp()\n")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["answer"] == [126, 126, 16]


def edit(path: str, value: object = None, delete: bool = False):
    """A change to cs577-a4's spec at a dotted path (question ids select questions)."""
    def apply(data: dict) -> dict:
        node, *steps, last = ["theory", *path.split(".")]
        target = data[node]
        for step in steps:
            if isinstance(target, list):
                target = target[int(step)] if step.isdigit() else next(
                    q for q in target if q["id"] == step)
            else:
                target = target[step]
        if delete:
            del target[last]
        else:
            target[last] = value
        return data
    return apply


BROKEN = [
    # (what is changed, question, field named, words of the problem, the schema also refuses)
    (edit("questions.q1.readings.0.conv.input", "blob:4x4|{channels.1}|{channels.2}"),
     "q1", "readings[0].conv.input", "unknown generator 'blob'", False),
    (edit("questions.q7.readings.0.shape.kernel", "3y3"), "q7", "readings[0].shape.kernel",
     "must look like 3 or 3x3", False),
    (edit("questions.q1.readings.0.convolve", {"input": "ones:2x2"}), "q1",
     "readings[0].convolve", "is not a field here", True),
    (edit("questions.q7.title", delete=True), "q7", "title", "is missing", True),
    (edit("questions.q4.rubric", delete=True), "q4", "rubric", "is missing", True),
    (edit("questions.q8.readings.0.shape.input", delete=True), "q8", "readings[0].shape.input",
     "is missing", True),
    (edit("questions.q7.text", "A {m}x{m} tensor"), "q7", "text", "'m', which is not given",
     False),
    (edit("questions.q1.vary.size", {"pick": [4, 5]}), "q1", "vary.size.pick", "unknown draw",
     True),
    (edit("questions.q11.kind", "essay"), "q11", "kind", "numeric, manual", True),
]


@pytest.mark.parametrize("change, qid, field, problem, schema_refuses", BROKEN)
def test_a_broken_theory_section_is_named_in_one_line(tmp_path, change, qid, field, problem,
                                                      schema_refuses) -> None:
    path = write_mine(tmp_path, change(cs577()))
    proc = run("theory", "q2", "--assignment", "mine", assignments=tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    line = proc.stderr.strip()
    assert str(path) in line and f"theory question mine {qid}," in line, line
    assert f"field {field}:" in line and problem in line, line
    # the schema (grader assignment validate, load_spec) refuses what it can express
    errors = list(jsonschema.Draft202012Validator(schema()).iter_errors(
        json.loads(path.read_text())))
    assert bool(errors) == schema_refuses, errors


def schema() -> dict:
    return json.loads((REPO / "grader" / "schemas" / "assignment.schema.json").read_text())


def test_the_shipped_theory_sections_pass_the_schema_and_the_loader() -> None:
    validator = jsonschema.Draft202012Validator(schema())
    for path in sorted(SHIPPED.glob("*.json")):
        data = json.loads(path.read_text())
        assert "theory" in data, path
        validator.validate(data)
        parse_theory(data, str(path))


def test_the_schema_names_the_calculators_computations_and_fields() -> None:
    reading = schema()["$defs"]["theory"]["$defs"]["reading"]
    extras = {"label", "empty_label", "before", "after"}
    assert set(reading["properties"]) - extras == set(COMPUTATIONS)
    assert [next(iter(c["required"])) for c in reading["oneOf"]] == list(COMPUTATIONS)
    for name, (_, fields) in COMPUTATIONS.items():
        if name == "params":      # a bare layer list
            continue
        declared = reading["properties"][name]
        assert list(declared["properties"]) == list(fields), name
        assert declared["required"] == [k for k, (_, req) in fields.items() if req], name


def test_questions_of_every_kind_load_from_a_small_section() -> None:
    section = {"id": "tiny", "theory": {"questions": [
        {"id": "pool", "kind": "numeric", "points": 2, "title": "pooling",
         "text": "Max-pool {m|words} with a {k}x{k} window.",
         "given": {"m": "range:4x4", "k": 2},
         "vary": {"k": {"choice": [1, 4]}, "m": {"matrix": {"form": "literal", "side": 4,
                                                              "values": {"randint": [0, 9]}}}},
         "readings": [{"label": "{k}x{k} max pooling, {out} out",
                       "pool": {"input": "{m}", "size": "{k}"}}]},
        {"id": "why", "kind": "manual", "points": 1, "title": "why pool",
         "text": "Why pool?", "answer": "To shrink the maps.", "rubric": "Full credit: why."}]}}
    from theory.questions import solve, variant_params

    tiny = parse_theory(section, "tiny.json")
    pool, why = tiny.questions.values()
    assert pool.text() == "Max-pool [1 2 3 4; 5 6 7 8; 9 10 11 12; 13 14 15 16] with a 2x2 window."
    solved = solve(pool)
    assert solved.primary.label == "2x2 max pooling, 2x2 out"
    assert solved.primary.answer == [[[6], [8]], [[14], [16]]]
    params = variant_params(pool, 5)
    assert params["k"] in (1, 4) and len(params["m"].split(";")) == 4
    assert solve(why).primary.answer == "To shrink the maps." and why.points == 1.0
    bad = copy.deepcopy(section)
    bad["theory"]["questions"].append(bad["theory"]["questions"][1])
    with pytest.raises(TheoryError, match="tiny.json: theory question tiny why, field id: two"):
        parse_theory(bad, "tiny.json")


@pytest.mark.parametrize("module", ["calculator", "section"])
def test_the_calculator_and_section_docstring_examples_hold(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"theory.{module}"))
    assert result.attempted > 0 and result.failed == 0
