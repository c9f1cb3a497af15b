"""theory.grade in-process: what earns credit, what counts as an answer, and the limits
on what an answer may be. (The CLI around it is tested in test_cli_theory.py.)"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import jsonschema
import pytest

from theory.answer import GradeError, to_json
from theory.grade import (
    MAX_ANSWER_VALUES,
    MAX_ANSWERS_BYTES,
    NO_ANSWER_WORDS,
    Tolerance,
    answer_problem,
    decode_answers,
    grade_answers,
)
from theory.questions import load_bank, solve, variant_params

BANK = load_bank()     # every assignment's questions, from the specs' theory sections

SCHEMAS = Path(__file__).resolve().parents[2] / "grader" / "schemas"


def graded(answers: dict, assignment: str = "cs577-a4", **kwargs) -> dict:
    result = grade_answers({"answers": answers}, assignment, **kwargs)
    return {t["number"]: t for t in result["tests"]}


def test_counts_are_exact_even_under_a_relative_tolerance() -> None:
    # 62300 for 62350 lies within 0.1%: a wrong count must not pass as a rounding
    model3 = graded({"model3": {"total": 62349, "trainable": 62350, "non_trainable": 0}},
                         "practical2")["model3"]
    assert model3["grader"]["details"]["cells_correct"] == 2
    q4a = graded({"q4a": {"params_3x3": 36925, "params_7x7": 200768,
                               "weight_ratio": 5.444}}, "ds-ag-021", tol=Tolerance(rel=0.01))
    assert q4a["q4a"]["grader"]["details"]["cells_correct"] == 2     # the ratio still rounds
    assert "params_3x3: expected 36928, got 36925" in q4a["q4a"]["output"]
    tol = Tolerance(rel=0.5)
    assert not tol.close(Fraction(126), Fraction(125)) and tol.close(Fraction(5), Fraction(49, 9))


def test_null_and_empty_are_no_answer_and_the_empty_reading_needs_words() -> None:
    numeric = [q for q, question in BANK["cs577-a4"].items() if question.kind == "numeric"]
    blank = grade_answers({"answers": {**dict.fromkeys(numeric), "q4": None}}, "cs577-a4")
    assert blank["score"] == 0
    assert all(not t["grader"]["details"]["answered"] for t in blank["tests"])
    assert "await" not in blank["output"]                    # a null manual answer is no answer
    for empty in (None, []):
        assert graded({"q3": empty})["q3"]["score"] == 0
    for words in ("none", " No Output ", "0x0"):
        q3 = graded({"q3": words})["q3"]
        assert q3["score"] == 1 and "no output" in q3["output"]
    assert graded({"q3": "null"})["q3"]["score"] == 0


def test_the_answer_rules_are_documented() -> None:
    from grader.commands.theory import grade

    description = json.loads((SCHEMAS / "theory_answers_file.schema.json").read_text())[
        "description"]
    for word in NO_ANSWER_WORDS:
        assert f'"{word}"' in description and f'"{word}"' in grade.__doc__
    assert MAX_ANSWERS_BYTES == 1 << 20 and "at most 1 MiB" in description
    assert f"at most {MAX_ANSWER_VALUES} values" in description


def test_manual_answers_awaiting_a_person_are_counted_in_words() -> None:
    one = grade_answers({"answers": {"q4": "a template"}}, "cs577-a4")["output"]
    two = grade_answers({"answers": {"q4": "a template", "q5": "a pyramid"}}, "cs577-a4")
    assert "; 1 answer awaits a person" in one
    assert "; 2 answers await a person" in two["output"]


def test_a_file_for_another_assignment_gets_no_hint_that_cannot_work() -> None:
    with pytest.raises(GradeError) as info:
        grade_answers({"assignment": "practical2", "answers": {"q1": 1}}, "practical2",
                      source="a.json")
    assert "its assignment practical2 has no question 'q1'; valid ids: model1" in str(info.value)
    assert "--assignment" not in str(info.value)
    with pytest.raises(GradeError, match="add --assignment cs577-a4"):   # no file assignment
        grade_answers({"answers": {"q1": 1}}, "practical2")


def test_a_key_repeated_in_the_raw_json_is_an_error_naming_it() -> None:
    with pytest.raises(GradeError, match="the key 'q1' appears twice"):
        decode_answers('{"answers": {"q1": [[45, 45], [54, 54]], "q1": 0}}')
    with pytest.raises(GradeError, match="'a' appears twice"):     # at any depth
        decode_answers('{"answers": {"model1": {"a": 1, "a": 2}}}')


def flatten(value: object) -> list:
    return [x for v in value for x in flatten(v)] if isinstance(value, list) else [value]


def test_every_real_answer_fits_the_limits_on_answers() -> None:
    """The caps (values per answer, items per array) leave room for every reading of every
    variant, written nested or flat."""
    schema = json.loads((SCHEMAS / "theory_answers_file.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for bank in BANK.values():
        for question in bank.values():
            if question.kind != "numeric":
                continue
            for seed in (None, *range(10)):
                params = None if seed is None else variant_params(question, seed)
                solution = solve(question, params)
                for reading in (solution.primary, *solution.alternatives):
                    answer = to_json(reading.answer)
                    forms = [answer, flatten(answer)] if isinstance(answer, list) else [answer]
                    for value in forms:
                        assert answer_problem(value) is None, (question.qid, seed)
                        validator.validate({"answers": {question.qid: value}})
    too_many = [[0] * 16] * 16
    assert f"more than {MAX_ANSWER_VALUES} values" in answer_problem(too_many)
