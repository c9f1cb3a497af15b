"""Architecture diffs, parameter counts, graph blocks and lints on real saved models."""

from __future__ import annotations


def test_activation_as_its_own_layer_matches_a_folded_activation(zoo):
    assert zoo.state("activation_apart", "architecture") == "passed"
    assert zoo.state("activation_apart", "params") == "passed"


def test_wrong_padding_is_reported_as_an_actionable_layer_diff(zoo):
    out = zoo.test("wrong_padding", "architecture")["output"]
    assert out.splitlines()[0] == ("layer 1: expected Conv2D(4, 3x3, same, relu), got "
                                   "Conv2D(4, 3x3, valid, relu) (check padding)")
    assert zoo.test("wrong_padding", "params")["output"].startswith(
        "trainable parameters: expected 235, got 151 (-84)")


def test_missing_layer_is_reported_once_not_as_a_cascade(zoo):
    out = zoo.test("missing_pool", "architecture")["output"]
    assert out.splitlines()[0] == "missing MaxPooling2D(2x2) after layer 1 (spec layer 2)"
    assert len([ln for ln in out.splitlines() if not ln.startswith("hint:")]) == 1


def test_a_forged_parameter_count_does_not_change_the_score(zoo):
    # cheat.py patched count_params and the grader's own counting in the build worker:
    # the build worker's numbers are forged...
    forged = zoo.results["grader"]["tasks"]["cheat"]["build_worker_params"]
    assert forged["trainable_params"] == 235
    # ...but the verify worker counted from the saved file, so it scores like the same
    # model built honestly.
    assert zoo.state("cheat", "params") == "failed"
    assert "got 151" in zoo.test("cheat", "params")["output"]
    for check in ("architecture", "params"):
        assert zoo.test("cheat", check)["score"] == zoo.test("wrong_padding", check)["score"]


def test_softmax_compiled_with_from_logits_is_flagged(zoo):
    out = zoo.test("from_logits", "lints")["output"]
    assert zoo.state("from_logits", "lints") == "failed"
    assert out.startswith("softmax_from_logits:") and "from_logits=False" in out


def test_dense_before_flatten_on_an_image_is_flagged(zoo):
    out = zoo.test("dense_first", "lints")["output"]
    assert "layer 1" in out and "(8, 8, 1)" in out and "Flatten()" in out


def test_two_unit_sigmoid_for_a_binary_task_is_flagged(zoo):
    out = zoo.test("sigmoid_two", "lints")["output"]
    assert out.startswith("binary_sigmoid_units:") and "Dense(1, activation='sigmoid')" in out
    assert zoo.test("sigmoid_two", "lints")["grader"]["details"]["warnings"] == []


def test_inception_block_is_found(zoo):
    test = zoo.test("inception", "graph")
    assert test["grader"]["state"] == "passed"
    branches = test["grader"]["details"]["inception"][0]["branches"]
    assert sorted(branches) == [["conv 1x1"], ["conv 3x3"], ["pool 3x3"]]


def test_residual_block_is_found(zoo):
    assert zoo.state("residual", "graph") == "passed"


def test_plain_model_has_neither_block_and_gets_a_fix_hint(zoo):
    test = zoo.test("no_blocks", "graph")
    assert test["grader"]["state"] == "failed"
    assert "inception: found 0" in test["output"] and "residual: found 0" in test["output"]
    assert any("Concatenate" in h for h in test["grader"]["hints"])


def test_frozen_and_fine_tuned_bases_and_augmentation(zoo):
    assert zoo.state("frozen", "graph") == "passed"
    assert zoo.state("fine_tuned", "graph") == "passed"
    out = zoo.test("not_frozen", "graph")["output"]
    assert zoo.state("not_frozen", "graph") == "failed"
    assert "pretrained has 808 trainable parameters" in out


def test_custom_layer_is_unverified_and_scores_nothing_until_reviewed(zoo):
    test = zoo.test("custom_layer", "architecture")
    assert test["grader"]["state"] == "unverified"
    assert test["score"] == 0 and test["status"] == "failed"
    assert "safe_mode" in test["output"] and "review" in test["output"]
    assert zoo.results["grader"]["tasks"]["custom_layer"]["verified"] is False


def test_a_spec_may_trust_the_build_workers_facts_for_unverified_models(zoo):
    test = zoo.test("custom_layer_trusted", "params")
    assert test["grader"]["state"] == "passed" and test["score"] == 1
    assert "unverified" in test["tags"] and "unverified" in test["output"]


def test_a_notebook_builder_needing_a_dropped_value_is_told_why(zoo):
    out = zoo.test("notebook_name_error", "params")["output"]
    assert out.startswith("student.ipynb code cell 8: build_bad() raised NameError")
    assert "constant assignments; compute that value inside the function" in out


def test_pytorch_parameters_are_counted_from_the_exported_model(zoo):
    assert zoo.state("torch_frozen", "params") == "passed", zoo.test("torch_frozen", "params")
    assert zoo.results["grader"]["tasks"]["torch_frozen"]["verified"] is True


def test_pytorch_model_that_torch_export_cannot_capture_is_unverified(zoo):
    test = zoo.test("torch_branchy", "params")
    assert test["grader"]["state"] == "unverified" and test["score"] == 0
    assert "torch.export" in test["output"]


def test_lambda_layer_is_unverified(zoo):
    assert zoo.state("lambda_layer", "params") == "unverified"


def test_lambda_layer_report_says_once_what_happened_and_what_to_do(zoo):
    out = zoo.test("lambda_layer", "params")["output"]
    # Keras' own error (cut, and advising safe_mode=False) is not passed on.
    assert "arbitrary code execution" not in out and "safe_mode=False" not in out
    assert out.splitlines()[0].startswith("unverified, 0 points until a person reviews it: "
                                          "the model has a Lambda layer")
    assert out.splitlines()[1:] == ["hint: replace the Lambda layer with built-in Keras "
                                    "layers (e.g. layers.Rescaling(2.0) for `lambda x: x * 2`)"
                                    " so the checks can be scored"]
    # The terminal report states the cause once for the task, not once per check.
    text = " ".join(zoo.stdout.split())
    assert text.count("the model has a Lambda layer") == 1


def test_notebook_training_code_is_not_run_and_skipped_cells_are_reported(zoo):
    assert zoo.state("notebook", "architecture") == "passed"
    assert zoo.state("notebook", "params") == "passed"
    info = zoo.results["grader"]["tasks"]["notebook"]
    assert info["entry_file"] == "student.ipynb"
    skipped = {c["index"]: c for c in info["skipped_cells"]}
    assert sorted(skipped) == [4, 5, 6, 7]
    assert skipped[4]["reason"] == "top-level code not run"
    assert skipped[4]["first_line"] == "model = build()"
    assert skipped[5]["first_line"] == "sys.exit(1)"
    assert "syntax error" in skipped[6]["reason"]
    assert "notebook code cell 4 not run" in zoo.stdout


def test_practical2_model4_as_written_in_the_text_is_flagged(practical2_as_text):
    run = practical2_as_text
    out = run.test("model4", "lints")["output"]
    assert run.state("model4", "lints") == "failed"
    assert "outputs 64 values per example but there are 10 classes" in out
    assert "Dense(10, activation='softmax')" in out
    assert "missing Dense(10, softmax) after layer 18" in run.test("model4", "architecture")[
        "output"]


def test_practical2_wrong_padding_diff_names_the_layer(practical2_as_text):
    out = practical2_as_text.test("model2", "architecture")["output"]
    assert out.splitlines()[0] == ("layer 3: expected Conv2D(32, 3x3, same, relu), got "
                                   "Conv2D(32, 3x3, valid, relu) (check padding)")
    assert practical2_as_text.state("model1", "architecture") == "passed"
    assert practical2_as_text.state("model3", "params") == "passed"
