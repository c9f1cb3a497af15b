"""The parent's checks and report on facts-shaped data: no worker, no TensorFlow."""

from __future__ import annotations

import io
import signal
from pathlib import Path

import pytest

from grader.parent.checks import architecture, graph, params


def _layer(name: str, kind: str, *inbound: str, **config) -> dict:
    return {"name": name, "type": kind, "config": config, "inbound": list(inbound),
            "params": 0, "trainable_params": 0}


def _residual(*layers: dict) -> dict:
    facts = {"graph": {"layers": [_layer("x", "InputLayer"), *layers]}, "trainable_params": 0}
    return graph.check(facts, {"require": ["residual"]}, {})


def test_two_parallel_branches_added_are_not_a_residual_block():
    result = _residual(_layer("a", "Conv2D", "x", kernel_size=[3, 3]),
                       _layer("b", "Conv2D", "x", kernel_size=[5, 5]),
                       _layer("add", "Add", "a", "b"))
    assert result["state"] == "failed" and "residual: found 0" in result["message"]


def test_an_identity_shortcut_is_a_residual_block():
    result = _residual(_layer("a", "Conv2D", "x", kernel_size=[3, 3]),
                       _layer("b", "Conv2D", "a", kernel_size=[3, 3]),
                       _layer("add", "Add", "b", "x"))
    assert result["state"] == "passed"
    assert result["details"]["residual"] == [
        {"layer": "add", "shortcut": "identity", "skip_from": "x"}]


@pytest.mark.parametrize("batch_norm", [False, True])
def test_a_1x1_projection_shortcut_is_a_residual_block(batch_norm):
    shortcut = [_layer("proj", "Conv2D", "x", kernel_size=[1, 1], strides=[2, 2])]
    if batch_norm:
        shortcut.append(_layer("proj_bn", "BatchNormalization", "proj"))
    result = _residual(_layer("a", "Conv2D", "x", kernel_size=[3, 3]),
                       _layer("a_bn", "BatchNormalization", "a"), *shortcut,
                       _layer("add", "Add", "a_bn", shortcut[-1]["name"]))
    assert result["state"] == "passed"
    assert result["details"]["residual"] == [
        {"layer": "add", "shortcut": "projection", "skip_from": "x"}]


def test_a_3x3_convolution_is_not_a_projection_shortcut():
    result = _residual(_layer("a", "Conv2D", "x", kernel_size=[3, 3]),
                       _layer("b", "Conv2D", "a", kernel_size=[3, 3]),
                       _layer("c", "Conv2D", "x", kernel_size=[3, 3]),
                       _layer("add", "Add", "b", "c"))
    assert result["state"] == "failed"


# A spec that writes each activation as its own layer after a layer that names none.
SPEC_APART = {"layers": [
    {"type": "Conv2D", "filters": 4, "kernel_size": [3, 3], "padding": "same"},
    {"type": "Activation", "activation": "relu"},
    {"type": "Flatten"},
    {"type": "Dense", "units": 3},
    {"type": "Activation", "activation": "softmax"},
]}


def _model(conv_activation: str, *after_conv: dict, dense_activation: str = "softmax",
           after_dense: tuple = ()) -> dict:
    layers = [_layer("in", "InputLayer"),
              _layer("conv", "Conv2D", filters=4, kernel_size=[3, 3], padding="same",
                     activation=conv_activation), *after_conv,
              _layer("flat", "Flatten"), _layer("dense", "Dense", units=3,
                                                activation=dense_activation), *after_dense]
    return {"graph": {"layers": layers}}


@pytest.mark.parametrize("model", [
    _model("relu"),
    _model("linear", _layer("act", "Activation", activation="relu"),
           dense_activation="linear", after_dense=(_layer("sm", "Softmax"),)),
    _model("linear", _layer("relu", "ReLU"))], ids=["folded", "apart", "relu-layer"])
def test_a_spec_with_activation_layers_accepts_both_student_forms(model):
    result = architecture.check(model, SPEC_APART, {})
    assert result["state"] == "passed", result["message"]


def test_a_spec_with_activation_layers_still_catches_a_wrong_activation():
    result = architecture.check(_model("tanh"), SPEC_APART, {})
    assert result["state"] == "failed"
    assert result["message"].startswith("layer 1: expected Conv2D(4, 3x3, same, relu), got "
                                        "Conv2D(4, 3x3, same, tanh)")


@pytest.mark.parametrize("want, have, ok", [
    ({"min": 100, "max": 200}, 100, True), ({"min": 100, "max": 200}, 200, True),
    ({"min": 100, "max": 200}, 201, False), ({"min": 100, "max": 200}, 99, False),
    ({"min": 100}, 10**9, True), ({"min": 100}, 99, False),
    ({"max": 200}, 0, True), ({"max": 200}, 201, False),
    (150, 150, True), (150, 151, False)])
def test_parameter_counts_exact_or_in_a_range(want, have, ok):
    result = params.check({"trainable_params": have}, {"trainable": want}, {})
    assert (result["state"] == "passed") is ok, result["message"]


@pytest.mark.parametrize("want, said", [
    ({"min": 100, "max": 200}, "expected 100 to 200, got 201"),
    ({"min": 300}, "expected at least 300, got 201"),
    ({"max": 200}, "expected at most 200, got 201")])
def test_a_count_out_of_range_names_the_range_without_a_difference(want, said):
    message = params.check({"trainable_params": 201}, {"trainable": want}, {})["message"]
    assert message == f"trainable parameters: {said}"


def test_a_repeated_failure_is_said_once_even_beside_a_skipped_check():
    from rich.console import Console

    from grader.parent import report
    from grader.parent.pipeline.outcome import Grading, TaskOutcome, fail_all

    task = {"id": "model1", "title": "model 1", "checks": {
        "architecture": {"points": 2}, "params": {"points": 1}, "accuracy": {"points": 2}}}
    out = TaskOutcome(task=task, checks=fail_all(task, "error", "cnn.py: build_model(1) "
                                                  "raised ValueError: no such model"))
    out.checks["accuracy"] = {"state": "skipped", "message": "skipped: --static (no "
                              "training)", "hints": [], "details": {}}
    text = io.StringIO()
    report.render(report.results(Grading("practical2", Path("sub"), tasks=[out])),
                  Console(file=text, width=200))
    assert text.getvalue().count("raised ValueError") == 2  # under the table, and "next:"
    assert "skipped: --static" in text.getvalue()


def test_an_empty_marker_file_says_it_is_empty_and_what_to_write(tmp_path):
    from grader.parent.spec import SpecError, find_assignment

    (tmp_path / ".grader-assignment").write_text("\n")
    with pytest.raises(SpecError) as info:
        find_assignment(tmp_path)
    assert info.value.source.endswith(".grader-assignment")
    assert info.value.problems[0].startswith("is empty; write the assignment id in it")
    assert "practical2" in info.value.problems[0] and "--assignment" in info.value.problems[0]


def test_a_failed_final_write_of_the_results_exits_2_with_the_path(tmp_path, monkeypatch,
                                                                    capsys):
    import typer

    from grader import files
    from grader.commands.check import check
    from grader.parent import pipeline

    def disk_full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pipeline, "grade", lambda sub, **_: pipeline.Grading("practical2", sub))
    monkeypatch.setattr(files, "write_json_atomic", disk_full)
    handler = signal.getsignal(signal.SIGTERM)  # check() installs its own
    try:
        with pytest.raises(typer.Exit) as info:
            check(tmp_path, json_path=tmp_path / "r.json", quiet=True)
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert info.value.exit_code == 2
    assert f"--json {tmp_path / 'r.json'}: the results could not be written (No space left" \
        in capsys.readouterr().err


def test_build_worker_trains_on_the_gpu_only_for_student_trained_tasks():
    from grader.parent.pipeline import build_worker_resources
    from grader.protocol import BuildJob

    def job(memory_mb, checks):
        return BuildJob(id="t", file="m.py", module_path="m.py", function="f",
                        memory_mb=memory_mb, checks=checks)

    static = [job(3072, {}), job(8192, {"accuracy": {"trained_by": "grader"}})]
    student = [*static, job(4096, {"accuracy": {"trained_by": "student"}})]
    env, memory = build_worker_resources(static, gpu=True)
    assert env["CUDA_VISIBLE_DEVICES"] == "" and memory == 8192  # the largest task's limit
    env, memory = build_worker_resources(student, gpu=False)
    assert env["CUDA_VISIBLE_DEVICES"] == "" and memory == 8192
    env, memory = build_worker_resources(student, gpu=True)
    # CUDA's address-space reservations break RLIMIT_AS: Slurm's cgroup limits instead.
    assert "CUDA_VISIBLE_DEVICES" not in env and memory is None
    assert env["MALLOC_ARENA_MAX"] == "4"


def test_static_is_decided_once_and_the_verify_worker_never_sees_a_skipped_check():
    from pathlib import Path

    from grader.parent.pipeline.jobs import verify_job
    from grader.parent.pipeline.outcome import RunOptions
    from grader.parent.spec import Spec
    from grader.protocol import BuildResult

    task = {"id": "m", "checks": {"params": {"points": 1},
                                  "accuracy": {"points": 2, "time_limit_s": 50},
                                  "visual": {"points": 3}}}
    spec = Spec(data={"id": "a", "tasks": [task]}, path=Path("a.json"))
    built = BuildResult("built", model_path="/m.keras")
    static = verify_job(spec, task, built, RunOptions(static=True), data_hidden=True)
    assert sorted(static.task["checks"]) == ["visual"]  # params is scored in the parent
    full = verify_job(spec, task, built, RunOptions(), data_hidden=True)
    assert sorted(full.task["checks"]) == ["accuracy", "visual"]
    assert full.timeout == static.timeout + 50  # training time only when it trains
    assert RunOptions(static=True).skip_reason("accuracy") == "--static (no training)"
    assert RunOptions(static=True).skip_reason("visual") is None
