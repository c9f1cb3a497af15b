"""The solver's answers to the assignment questions, pinned, and its building blocks."""

from __future__ import annotations

import doctest
import importlib
from fractions import Fraction

import pytest

from theory import shapes
from theory.layers import parse_layers, propagate
from theory.ops import conv2d, filters_from_2d, pool2d, stack_channels
from theory.parse import describe_matrix, parse_channels, parse_matrix
from theory.questions import get_question, load_bank, solution_json, solve, variant_params
from theory.shapes import ShapeError

BANK = load_bank()     # every assignment's questions, from the specs' theory sections

CS577_I = stack_channels([[[1] * 4] * 4, [[2] * 4] * 4, [[v] * 4 for v in (1, 2, 3, 4)]])


def answers(qid: str, assignment: str = "cs577-a4") -> list:
    solution = solve(get_question(qid, assignment))
    return [solution.primary.answer] + [alt.answer for alt in solution.alternatives]


@pytest.mark.parametrize("module", ["shapes", "layers", "ops", "parse", "grade"])
def test_docstring_examples_hold(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"theory.{module}"))
    assert result.attempted > 0 and result.failed == 0


def test_cs577_q1_sums_over_channels_and_offers_the_per_channel_reading() -> None:
    main, per_channel = answers("q1")
    assert main == [[45, 45], [54, 54]]
    assert per_channel == [[[9, 18, 18], [9, 18, 18]], [[9, 18, 27], [9, 18, 27]]]
    solution = solve(get_question("q1"))
    assert "summ" in solution.primary.label or "sum" in solution.primary.label
    assert "each channel separately" in solution.alternatives[0].label


def test_cs577_q2_zero_padding_keeps_the_4x4_size() -> None:
    main, per_channel = answers("q2")
    assert main == [[18, 27, 27, 18], [30, 45, 45, 30], [36, 54, 54, 36], [26, 39, 39, 26]]
    assert [[cell[2] for cell in row] for row in per_channel][0] == [6, 9, 9, 6]


def test_cs577_q3_dilation_two_names_each_padding_reading() -> None:
    main, same_size, unpadded, per_channel = answers("q3")
    assert main == [[24, 24], [20, 20]]            # q2's P=1 padding, 5x5 span
    assert same_size == [[20, 20, 20, 20], [24, 24, 24, 24]] * 2   # P=2 keeps 4x4
    assert unpadded is None                         # 5x5 span does not fit 4x4
    assert per_channel == [[[4, 8, 12], [4, 8, 12]], [[4, 8, 8], [4, 8, 8]]]
    solution = solve(get_question("q3"))
    assert "no output" in solution.alternatives[1].note
    assert "P=1" in solution.primary.label and "P=2" in solution.alternatives[0].label


def test_cs577_q7_and_q8_output_shapes() -> None:
    assert answers("q7") == [[126, 126, 16]]
    assert answers("q8") == [[63, 63, 16]]


def test_cs577_q11_max_pools_each_channel() -> None:
    assert answers("q11") == [[[[1, 2, 2], [1, 2, 2]], [[1, 2, 4], [1, 2, 4]]]]


def test_ds_ag_021_q2_examples_and_q4_ratio() -> None:
    assert answers("q2a", "ds-ag-021") == [26]
    assert answers("q2b", "ds-ag-021") == [{"padding": 1, "output": 28}]
    assert answers("q2c", "ds-ag-021") == [14]
    (ratio,) = answers("q4a", "ds-ag-021")
    assert ratio == {"params_3x3": 36928, "params_7x7": 200768, "weight_ratio": Fraction(49, 9)}
    (stack,) = answers("q4b", "ds-ag-021")
    assert stack == {"receptive_field": 7, "params_three_3x3": 110784, "params_one_7x7": 200768}
    (stride,) = answers("q4c", "ds-ag-021")
    assert stride["params_stride_1"] == stride["params_stride_2"] == 36928
    assert stride["output_stride_2"] == [16, 16, 64]


def test_practical2_counts_come_from_the_layer_lists() -> None:
    assert answers("model1", "practical2") == [
        {"total": 101770, "trainable": 101770, "non_trainable": 0}]
    assert answers("model2", "practical2")[0]["trainable"] == 61514
    assert answers("model3", "practical2")[0]["trainable"] == 62350


def test_model4_without_output_layer_is_flagged() -> None:
    solution = solve(get_question("model4", "practical2"))
    assert solution.primary.answer == {"total": 1549002, "trainable": 1546954,
                                       "non_trainable": 2048}
    assert "output layer added" in solution.primary.label
    (literal,) = solution.alternatives
    assert literal.answer["total"] == 1549002 - (64 * 10 + 10)
    assert "not a 10-class classifier" in literal.label


def test_every_question_is_numeric_or_has_a_model_answer_and_rubric() -> None:
    for assignment, bank in BANK.items():
        for question in bank.values():
            data = solution_json(question, solve(question))
            assert data["question"], (assignment, question.qid)
            if question.kind == "manual":
                assert len(question.model_answer) > 150 and question.rubric
                assert data["graded_by"] == "person"
            else:
                assert data["answer_type"] != "text"
    cs577 = set(BANK["cs577-a4"])
    assert cs577 == {f"q{i}" for i in range(1, 22)}
    numeric = {q for q, question in BANK["cs577-a4"].items() if question.kind == "numeric"}
    assert numeric == {"q1", "q2", "q3", "q7", "q8", "q11"}
    assert {"q1", "q2", "q3", "q4", "q5"} <= set(BANK["ds-ag-021"])


def test_variants_are_deterministic_and_change_the_numbers() -> None:
    for bank in BANK.values():
        for question in bank.values():
            if question.vary is None:
                continue
            seen = set()
            for seed in range(12):
                params = variant_params(question, seed)
                assert params == variant_params(question, seed)
                solve(question, params)          # every variant is solvable
                seen.add(repr(sorted(params.items())))
            assert len(seen) > 3, question.qid


def test_a_variant_never_repeats_the_assignments_own_numbers() -> None:
    # practical2 model1 drew the original 128 units (101,770 parameters) for 37 of 200 seeds
    for bank in BANK.values():
        for question in bank.values():
            if question.vary is not None:
                for seed in range(200):
                    assert variant_params(question, seed) != question.params, \
                        (question.assignment, question.qid, seed)
    assert variant_params(get_question("model1", "practical2"), 1) == \
        variant_params(get_question("model1", "practical2"), 1)


def test_the_cs577_reading_labels_name_the_variants_own_filter() -> None:
    for qid in ("q1", "q2", "q3"):
        question = get_question(qid)
        for seed in range(20):
            params = variant_params(question, seed)
            solution = solve(question, params)
            words = describe_matrix(params["filter"]).replace("all 1-s", "all ones")
            assert f"(the 3x3 filter, {words}, in every channel)" in solution.primary.label
            if words != "all ones":
                assert "ones" not in solution.primary.label, (qid, seed)
    (unpadded,) = [alt for alt in solve(get_question("q3")).alternatives
                   if alt.answer_type == "none"]
    assert "no output" in unpadded.label and "0x0" not in unpadded.label


def test_output_size_formula_and_same_padding() -> None:
    assert shapes.output_size(28, 3) == 26
    assert shapes.output_size(7, 3, p=(0, 1), s=2) == 3
    assert shapes.same_padding(7, 4, s=2) == (1, 2)
    with pytest.raises(ShapeError, match="S must be a positive integer"):
        shapes.output_size(10, 3, s=0)


def test_parameter_counts_of_each_layer_kind() -> None:
    assert shapes.conv2d_params(3, 3, 3, 64, use_bias=False) == 1728
    assert shapes.dense_params(10, 1) == 11
    assert shapes.batchnorm_params(32) == (64, 64)
    assert shapes.depthwise_conv2d_params(5, 5, 8, multiplier=2) == 5 * 5 * 8 * 2 + 16
    assert shapes.separable_conv2d_params(3, 3, 16, 32, use_bias=False) == 144 + 512


def test_receptive_field_of_a_stack_with_pooling() -> None:
    rows = propagate(parse_layers("input:32x32x3, conv:8:3x3, maxpool:2, conv:8:3x3:d2"))
    assert [r.receptive_field for r in rows] == [1, 3, 4, 12]


def test_matrix_grammar() -> None:
    assert parse_matrix("rows:1,2:3") == [[1, 1, 1], [2, 2, 2]]
    assert parse_matrix("cols:1,2") == [[1, 2], [1, 2]]
    assert parse_matrix("range:2x3") == [[1, 2, 3], [4, 5, 6]]
    assert parse_matrix("fill:1/2:1x2") == [[Fraction(1, 2)] * 2]
    assert parse_matrix("eye:2") == [[1, 0], [0, 1]]
    for bad, message in [("1,2;3", "same number of values"), ("ones", "needs its size"),
                         ("blob:3x3", "unknown generator"), ("ones:0x3", "out of range"),
                         ("1,x", "not a number"), ("abc", "not a number or a known generator"),
                         ("nan", "generators are ones:HxW"), ("Inf", "not a number or a known")]:
        with pytest.raises(ShapeError, match=message):
            parse_matrix(bad)
    with pytest.raises(ShapeError, match="different sizes"):
        parse_channels("ones:2x2|ones:3x3")


def test_exact_fractions_survive_convolution_and_average_pooling() -> None:
    image = stack_channels([parse_matrix("1/3,1/3;1/3,2/3")])
    assert conv2d(image, filters_from_2d([[[1, 1], [1, 1]]], 1)).output == [[[Fraction(5, 3)]]]
    assert pool2d(image, (2, 2), kind="avg").output == [[[Fraction(5, 12)]]]


def test_average_pooling_with_same_padding_divides_by_the_cells_it_covers() -> None:
    image = stack_channels([parse_matrix("range:3x3")])
    result = pool2d(image, (2, 2), padding="same", kind="avg")
    assert result.output[1][1] == [9]                 # the corner window holds one cell
    assert result.output[0][1] == [Fraction(9, 2)]    # (3 + 6) / 2


def test_a_filter_with_the_wrong_channel_count_is_refused() -> None:
    with pytest.raises(ShapeError, match="2 channel slices but the input has 3"):
        filters_from_2d([[[1]], [[1]]], 3)
    assert CS577_I[0][0] == [1, 2, 1]
