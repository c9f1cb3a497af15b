"""`grader theory` on hostile or mistyped input: bounded work, named limits, answers that
cannot be answers, and messages that say what is wrong. Real subprocesses throughout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

SCHEMAS = Path(__file__).resolve().parents[2] / "grader" / "schemas"


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def refused(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


# --- bounds on work: each limit is refused up front, by name, in well under a second ----------

@pytest.mark.parametrize("args, words", [
    (["-i", "ones:4x4", "-f", "ones:3x3", "-p", "99999999"], ["padding 99999999", "MAX_PADDING"]),
    (["-i", "ones:4x4", "-f", "ones:3x3", "-p", "500"], ["padding 500", "limit of 64"]),
    (["-i", "ones:64x64|ones:64x64|ones:64x64", "-f", "ones:64x64", "-p", "same"],
     ["multiply-adds", "MAX_MULTIPLY_ADDS"]),
    (["-i", "1e1000000000,2;3,4", "-f", "ones:1x1"], ["'1e1000000000' is out of range",
                                                       "MAX_EXPONENT"]),
    (["-i", "1e100000,2;3,4", "-f", "ones:1x1"], ["out of range"]),
    (["-i", "1" * 60, "-f", "ones:1x1"], ["out of range", "MAX_NUMBER_CHARS"]),
    (["-i", "123456789012345,2;3,4", "-f", "ones:1x1"], ["MAX_MAGNITUDE"]),
])
def test_conv_refuses_work_over_its_limits_by_name(grader, args, words) -> None:
    proc = grader("theory", "conv", *args, timeout=20)
    refused(proc, *words)
    assert "set_int_max_str_digits" not in proc.stderr


def test_pool_refuses_work_over_the_limit(grader) -> None:
    channels = "|".join(["ones:64x64"] * 8)
    refused(grader("theory", "pool", "-i", channels, "--size", "32", "--stride", "1",
                   timeout=20), "MAX_MULTIPLY_ADDS")


def test_a_big_padded_input_is_summarised_not_printed(grader) -> None:
    proc = grader("theory", "conv", "-i", "ones:20x20", "-f", "ones:3x3", "-p", "same", "--json")
    assert proc.returncode == 0, proc.stderr
    steps = json.loads(proc.stdout)["steps"]
    assert not any(s.get("title") == "padded input" for s in steps)
    assert any("padded input is 22x22x1" in s.get("text", "") for s in steps)
    sums = [s for s in steps if s["kind"] == "sums"][0]
    assert len(sums["lines"]) == 64 and sums["omitted"] == 400 - 64
    small = json.loads(grader("theory", "conv", "-i", "ones:4x4", "-f", "ones:3x3", "-p",
                              "same", "--json").stdout)["steps"]
    assert any(s.get("title") == "padded input" for s in small)


# --- pooling with no room for a window ----------------------------------------------------------

def test_pool_window_larger_than_the_input_says_there_is_no_output(grader) -> None:
    proc = grader("theory", "pool", "-i", "range:4x4", "--size", "5")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "no output" in proc.stdout
    data = json.loads(grader("theory", "pool", "-i", "range:4x4", "--size", "5", "--json").stdout)
    assert data["answer"] is None and data["answer_type"] == "none"
    assert "5x5 window" in data["note"] and "4x4" in data["note"]


# --- messages -----------------------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["conv", "-i", "1,,2;3,4,5", "-f", "ones:1x1"], ["empty value"]),
    (["conv", "-i", "rows:", "-f", "ones:1x1"], ["e.g. rows:1,2,3"]),
    (["conv", "-i", "fill:", "-f", "ones:1x1"], ["e.g. fill:2:3x3"]),
    (["params", "input:8x8x1, dropout:7"], ["dropout rate 7 is out of range"]),
    (["q2a"], ["--assignment ds-ag-021"]),
    (["conv", "-i", "inf", "-f", "ones:1x1"], ["'inf' is not a number or a known generator",
                                              "ones:HxW"]),
])
def test_mistakes_get_messages_that_say_what_to_write(grader, args, words) -> None:
    refused(grader("theory", *args), *words)


def test_a_question_of_this_assignment_gets_no_other_assignment_hint(grader) -> None:
    proc = grader("theory", "q99")
    refused(proc, "valid ids")
    assert "--assignment" not in proc.stderr


# --- grading answers that cannot be answers -----------------------------------------------------

def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("q1_text, reason", [
    (deep(5000), "is nested more than 8 levels deep"),     # deeper than the JSON decoder allows
    (deep(300), "is nested more than 8 levels deep"),      # deeper than the schema validator allows
    ("1e999", "holds inf, which is not a finite number"),
    ("NaN", "holds nan, which is not a finite number"),
    ("[[1, -Infinity], [3, 4]]", "holds -inf"),
])
def test_an_answer_that_cannot_be_one_scores_zero_and_the_rest_is_graded(
        grader, tmp_path, q1_text, reason) -> None:
    path = tmp_path / "a_bad.json"
    path.write_text('{"answers": {"q7": [126, 126, 16], "q1": ' + q1_text + "}}")
    out = tmp_path / "results.json"
    proc = grader("theory", "grade", str(path), "--json", str(out), env={"COLUMNS": "300"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{path}: answer 'q1' {reason}" in proc.stderr     # the file and the question
    results = json.loads(out.read_text())
    jsonschema.validate(results, schema("results.schema.json"))
    tests = {t["number"]: t for t in results["tests"]}
    assert tests["q1"]["score"] == 0 and reason in tests["q1"]["output"]
    assert str(path) in tests["q1"]["output"]
    assert tests["q7"]["status"] == "passed"


def test_huge_numbers_written_as_strings_are_wrong_cells_not_a_hang(grader, tmp_path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"answers": {"q7": ["1e999999999", 126, "inf"]}}))
    out = tmp_path / "r.json"
    proc = grader("theory", "grade", str(path), "--json", str(out), timeout=20)
    assert proc.returncode == 1, proc.stderr
    q7 = [t for t in json.loads(out.read_text())["tests"] if t["number"] == "q7"][0]
    assert q7["grader"]["details"]["cells_correct"] == 1


@pytest.mark.parametrize("q1, words", [
    ("abc", "cannot read 'abc': it is not a number or a matrix. Write rows separated by ';'"),
    ([[45, 45]], "expected a 2x2 matrix (shape [2, 2]), got a 1x2 list"),
    (7, "got the single number 7"),
])
def test_a_wrong_shaped_answer_is_described_in_words(grader, tmp_path, q1, words) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"answers": {"q1": q1}}))
    out = tmp_path / "r.json"
    grader("theory", "grade", str(path), "--json", str(out))
    q1_test = [t for t in json.loads(out.read_text())["tests"] if t["number"] == "q1"][0]
    assert words in q1_test["output"]


def test_grading_a_seed_names_the_variant_in_every_question(grader, tmp_path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"seed": 11, "answers": {"q1": [[1, 2], [3, 4]]}}))
    out = tmp_path / "r.json"
    grader("theory", "grade", str(path), "--json", str(out))
    for test in json.loads(out.read_text())["tests"]:
        if test["number"] == "q1":
            assert "variant for seed 11" in test["output"]
            assert "grader theory variant q1 --seed 11" in test["output"]
            assert test["grader"]["details"]["seed"] == 11


# --- the solver commands' JSON has a schema -----------------------------------------------------

@pytest.mark.parametrize("args", [
    ["conv", "-i", "ones:4x4|fill:2:4x4", "-f", "ones:3x3", "-p", "same"],
    ["conv", "-i", "ones:2x2", "-f", "ones:3x3"],                       # no output
    ["pool", "-i", "range:4x4", "--kind", "avg"],
    ["pool", "-i", "range:4x4", "--size", "5"],                          # no output
    ["shape", "128x128x32", "3x3", "--filters", "16"],
    ["params", "input:28x28x1, conv:4:3x3, bn, maxpool:2, flatten, dense:10"],
])
def test_solver_json_validates_against_the_theory_answer_schema(grader, args) -> None:
    proc = grader("theory", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    jsonschema.Draft202012Validator(schema("theory_answer.schema.json")).validate(data)
    assert data["command"] == args[0] and data["label"]


def test_the_schema_still_requires_the_question_fields_without_a_command() -> None:
    validator = jsonschema.Draft202012Validator(schema("theory_answer.schema.json"))
    solver_like = {"question": "q", "answer": 1, "answer_type": "integer", "steps": []}
    assert not validator.is_valid(solver_like)                          # no command, no id
    assert validator.is_valid({**solver_like, "command": "shape", "label": "x"})
    assert not validator.is_valid({**solver_like, "command": "shape"})  # no label


def test_the_documented_limits_are_the_enforced_ones(grader) -> None:
    from grader.commands.theory import LIMITS_HELP
    from theory.ops import MAX_MULTIPLY_ADDS, MAX_PADDING
    from theory.parse import MAX_MAGNITUDE, MAX_NUMBER_CHARS, MAX_SIDE

    assert f"each side 1..{MAX_SIDE};" in LIMITS_HELP
    assert MAX_MAGNITUDE == 10 ** 12 and "+-10^12" in LIMITS_HELP
    assert f"at most {MAX_NUMBER_CHARS} characters" in LIMITS_HELP
    assert f"padding at most {MAX_PADDING} per side" in LIMITS_HELP
    assert f"at most {MAX_MULTIPLY_ADDS:,} multiply-adds" in LIMITS_HELP
    help_text = grader("theory", "conv", "--help", env={"COLUMNS": "400"}).stdout
    assert "multiply-adds" in help_text
    assert "V,H (top and bottom, left and right)" in help_text      # --padding 1,0 works
