"""Answers written in the tool's own notation: whatever `grader theory QID` prints as an
answer, a student may paste into the answers file and score full marks. The key test is
the round trip over every numeric question of every assignment (and some variants)."""

from __future__ import annotations

import io
import json
import re
from fractions import Fraction

import pytest
from rich.console import Console

from theory.answer import printed_answers
from theory.grade import compare, grade_answers, read_answer
from theory.questions import assignment_ids, load_assignment, solve, variant_params
from theory.render import render_solution
from theory.shapes import ShapeError

SEEDS = (None, 0, 1, 2)     # the assignment's own numbers, then three variants


def numeric_questions() -> list[tuple[str, str]]:
    """(assignment, qid) of every numeric question, found as grade.py finds them."""
    return [(a, qid) for a in assignment_ids()
            for qid, q in load_assignment(a).questions.items() if q.kind == "numeric"]


def graded(answers: dict, assignment: str = "cs577-a4", seed: int | None = None) -> dict:
    data = {"answers": answers, **({} if seed is None else {"seed": seed})}
    return {t["number"]: t for t in grade_answers(data, assignment)["tests"]}


def rendered(question, solution, params) -> str:
    console = Console(file=io.StringIO(), width=400, highlight=False, emoji=False)
    render_solution("header", question.text(params), solution, console, question.kind)
    return console.file.getvalue()


def test_there_are_questions_of_every_answer_kind() -> None:
    kinds = {reading.answer_type for a, qid in numeric_questions()
             for reading in (lambda s: [s.primary, *s.alternatives])(
                 solve(load_assignment(a).questions[qid]))}
    assert {"tensor", "shape", "integer", "record", "none"} <= kinds


@pytest.mark.parametrize("assignment, qid", numeric_questions())
def test_every_printed_answer_read_back_scores_full_marks(assignment: str, qid: str) -> None:
    question = load_assignment(assignment).questions[qid]
    for seed in SEEDS if question.vary is not None else (None,):
        params = question.params if seed is None else variant_params(question, seed)
        solution = solve(question, params)
        out = rendered(question, solution, params)
        for k, reading in enumerate([solution.primary, *solution.alternatives]):
            for form in printed_answers(reading):
                # the form is what the terminal shows, character for character
                if isinstance(form, dict):
                    for key, text in form.items():
                        assert re.search(rf"{re.escape(key)}\s+{re.escape(text)}\s*$", out,
                                         re.M), (qid, seed, key, text)
                else:
                    assert form in out, (qid, seed, form)
                test = graded({qid: form}, assignment, seed)[qid]
                where = (assignment, qid, seed, k, form)
                assert test["score"] == test["max_score"] > 0, (where, test["output"])
                assert test["status"] == "passed", where


@pytest.mark.parametrize("answer", [
    "63x63x16", "63X63X16", "63 x 63 x 16", "63 × 63 × 16", "63*63*16", "(63, 63, 16)",
    "[63, 63, 16]", "63, 63, 16", "63 63 16", " ( 63 x 63 x 16 ) ",
])
def test_shapes_in_any_printed_form(answer: str) -> None:
    assert graded({"q8": answer})["q8"]["score"] == 1


@pytest.mark.parametrize("answer", [
    "45,45;54,54", "45, 45; 54, 54", "45 45; 54 54", "[[45,45],[54,54]]",
    "[[45, 45], [54, 54]]", "[[45 45]\n [54 54]]", "((45, 45), (54, 54))",
])
def test_matrices_in_row_and_nested_notation(answer: str) -> None:
    assert graded({"q1": answer})["q1"]["score"] == 1


def test_a_tensor_by_channels_matches_the_depthwise_reading() -> None:
    q1 = graded({"q1": "9,9;9,9 | 18,18;18,18 | 18,18;27,27"})["q1"]
    assert q1["score"] == 1 and q1["grader"]["details"]["reading_index"] == 1
    nested = "[[[9, 18, 18], [9, 18, 18]], [[9, 18, 27], [9, 18, 27]]]"
    assert graded({"q1": nested})["q1"]["score"] == 1


def test_thousands_separators_where_one_number_is_expected() -> None:
    assert compare("1,199,882", 1199882, "integer").correct == 1
    assert read_answer("1,199,882", 0) == 1199882
    model4 = graded({"model4": {"total": "1,549,002", "trainable": "1,546,954",
                                "non_trainable": "2,048"}}, "practical2")["model4"]
    assert model4["score"] == 1
    q4c = graded({"q4c": {"params_stride_1": "36,928", "params_stride_2": "36928",
                          "output_stride_1": "32x32x64", "output_stride_2": "(16, 16, 64)"}},
                 "ds-ag-021")["q4c"]
    assert q4c["score"] == 1


def test_a_comma_list_is_never_one_number_where_a_list_is_expected() -> None:
    # The expected answer's kind decides what a comma is.
    assert read_answer("1,199,882", [0, 0, 0]) == [1, 199, 882]
    assert compare("1,199,882", [1, 199, 882], "shape").correct == 3
    assert graded({"q7": "126,126,16"})["q7"]["score"] == 1
    # ...and a list is no count: "126,126,16" is not 12612616, nor is "1,5" 15
    for text in ("126,126,16", "1,5", "1,5000"):
        with pytest.raises(ShapeError):
            read_answer(text, 0)
    assert read_answer("1,500", 0) == 1500 and read_answer("-2,048.5", 0) == Fraction(-4097, 2)


@pytest.mark.parametrize("qid, answer", [
    ("q8", "1x2x3"), ("q8", "0"), ("q1", "46,46;55,55"), ("q1", "[[46, 46], [55, 55]]"),
    ("q7", "126x126"), ("q1", "45,45"),
])
def test_a_wrong_answer_in_notation_still_scores_zero(qid: str, answer: str) -> None:
    test = graded({qid: answer})[qid]
    assert test["score"] == 0 and test["status"] == "failed"


def test_a_wrong_shape_read_from_text_says_what_it_was_read_as() -> None:
    out = graded({"q1": "45,45"})["q1"]["output"]
    assert "expected a 2x2 matrix" in out and "'45,45', read as a 1x2 list" in out


@pytest.mark.parametrize("assignment, qid, answer, forms", [
    ("cs577-a4", "q8", "sixty-three", ["63x63x16", "(63, 63, 16)", "[63, 63, 16]"]),
    ("cs577-a4", "q8", "63x63x", ["63x63x16", "63 x 63 x 16"]),
    ("cs577-a4", "q1", "45,45;54", ["rows separated by ';'", "45,45;54,54",
                                    "[[45, 45], [54, 54]]"]),
    ("cs577-a4", "q1", "[[45, 45], [54, 54]", ["45,45;54,54", "not closed"]),
    ("cs577-a4", "q11", "abc", ["separated by '|'", "1,1;1,1 | 2,2;2,2 | 2,2;4,4"]),
    ("ds-ag-021", "q2a", "twenty-six", ["one number", "26"]),
    ("practical2", "model4", {"total": "1.549.002", "trainable": 1546954, "non_trainable": 2048},
     ["total: cannot read '1.549.002'", "1549002 or 1,549,002"]),
])
def test_an_unreadable_answer_names_the_accepted_forms(assignment, qid, answer, forms) -> None:
    test = graded({qid: answer}, assignment)[qid]
    assert "cannot read" in test["output"] and test["status"] == "failed"
    for form in forms:
        assert form in test["output"], test["output"]


def test_reading_text_is_bounded() -> None:
    with pytest.raises(ShapeError, match="longer than"):
        read_answer("1," * 3000 + "1", [[0]])
    with pytest.raises(ShapeError, match="more than 256 values"):
        read_answer("ones:20x20", [[0]])
    with pytest.raises(ShapeError, match="nested more than"):
        read_answer("[" * 50 + "1" + "]" * 50, [[0]])


def decimals(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[1].rstrip("0")) if "." in text else 0


def test_scores_and_totals_are_rounded_to_two_decimals(grader, tmp_path) -> None:
    # 3/4 + 2/3 + 2/3 of a point: 25/12, 2.0833...; 5/8 rounds half up to 0.63
    answers = {"q1": "45,45;54,0", "q7": "126x126x15", "q8": "63x63x15"}
    results = grade_answers({"answers": answers}, "cs577-a4")
    assert results["score"] == 2.08
    assert "2.08/6 points" in results["output"]
    for test in results["tests"]:
        assert decimals(test["score"]) <= 2 and decimals(test["max_score"]) <= 2
    assert graded({"q7": "126x126x15"})["q7"]["score"] == 0.67
    q4c = graded({"q4c": {"params_stride_1": 36928, "params_stride_2": 36928,
                          "output_stride_1": "32x32x1", "output_stride_2": "16x1x1"}},
                 "ds-ag-021")["q4c"]
    assert q4c["score"] == 0.63     # 5/8 of a point
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"answers": answers}))
    out = tmp_path / "r.json"
    proc = grader("theory", "grade", str(path), "--json", str(out), env={"COLUMNS": "200"})
    assert proc.returncode == 1, proc.stderr
    assert "2.08/6 points" in proc.stdout
    assert "0.67/1" in proc.stdout and "0.75/1" in proc.stdout
    assert not re.search(r"\d\.\d{3,}/", proc.stdout)
    saved = json.loads(out.read_text())
    assert saved["score"] == 2.08
    assert all(decimals(t["score"]) <= 2 for t in saved["tests"])
