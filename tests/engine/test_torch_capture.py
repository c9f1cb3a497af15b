"""PyTorch models built at top level (a script, a notebook's cells) are captured, saved
with torch.export, matched to tasks by architecture and graded like Keras ones; the
checks the grader can only run on Keras models (its own training, its pictures) come
back "not run" for a person, never an error."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from check_runs import run_check
from handed_in import CORPUS, expected

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from grader.build_worker.sources import Sources, example_shapes  # noqa: E402
from grader.parent.pipeline.matching import Candidate, agreement, match  # noqa: E402
from grader.protocol import BuildJob, VerifyJob, VerifyState  # noqa: E402
from grader.verify_worker.worker import _verify_torch  # noqa: E402


class Small(nn.Module):
    def __init__(self, channels: int = 3, classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 3, padding=1)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(4 * 8 * 8, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        return self.fc(self.drop(torch.flatten(x, 1)))


class DataDependent(Small):
    def forward(self, x):
        if x.sum() > 0:  # control flow on the data: torch.export cannot capture it
            return super().forward(x)
        return super().forward(-x)


class Captured:
    """What the harness reports of a module (grader/build_worker/harness/report.py)."""

    def __init__(self, model):
        self.model, self.framework, self.name, self.run = model, "torch", "net", "m.py run"
        self.built_at, self.first_seen, self.event_kinds = None, "m.py line 9", []


class Report:
    def __init__(self, models):
        self.models = [Captured(m) for m in models]


def sources_with(tmp_path: Path, models: list) -> Sources:
    sources = Sources(tmp_path, tmp_path / "harness")
    sources.run = lambda job, path, shown_as: Report(models)  # the run, already made
    return sources


def job(input_shape, framework="keras") -> BuildJob:
    return BuildJob(id="t", file="m.py", module_path="m.py", function="build",
                    input_shape=input_shape, framework=framework, capture=True)


# --- the build worker's capture -------------------------------------------------------


def test_a_keras_tasks_image_shape_is_also_tried_channels_first():
    assert example_shapes(job([16, 16, 3])) == [(1, 16, 16, 3), (1, 3, 16, 16)]
    assert example_shapes(job([3, 16, 16], "torch")) == [(1, 3, 16, 16)]


def test_a_captured_module_is_exported_channels_first_in_eval_mode_once_per_shape(tmp_path):
    model = Small()
    model.train()
    sources = sources_with(tmp_path, [model])
    records, _ = sources.captured(job([16, 16, 3]), model_facts=None)
    (record,) = records
    assert record["framework"] == "torch" and record["model_path"].endswith(".pt2")
    assert record["facts"]["input_shapes"] == [[None, 3, 16, 16]]
    # Exported as it predicts (dropout off: the same answer twice), and left as the
    # student had it.
    exported = torch.export.load(record["model_path"]).module()
    x = torch.ones(1, 3, 16, 16)
    assert torch.equal(exported(x), exported(x))
    assert model.training
    again, _ = sources.captured(job([3, 16, 16], "torch"), model_facts=None)
    assert again[0]["model_path"] == record["model_path"]
    assert again[0]["model_id"] == record["model_id"]


def test_a_module_torch_export_cannot_capture_is_unusable_with_the_reason(tmp_path):
    records, _ = sources_with(tmp_path, [DataDependent()]).captured(job([3, 16, 16], "torch"),
                                                                   model_facts=None)
    assert "model_path" not in records[0]
    assert "torch.export could not capture it" in records[0]["unusable"]
    assert not records[0].get("misfit")


def test_a_module_for_another_input_is_a_misfit_not_a_candidate(tmp_path):
    records, _ = sources_with(tmp_path, [Small(channels=1)]).captured(job([16, 16, 3]),
                                                                     model_facts=None)
    assert records[0]["misfit"] and "model_path" not in records[0]
    assert "fails on this task's input" in records[0]["unusable"]


# --- matching ---------------------------------------------------------------------------


def facts(framework: str, input_shape: list) -> dict:
    return {"framework": framework, "input_shapes": [[None, *input_shape]],
            "output_shapes": [[None, 10]], "graph": {"layers": []}}


LINTS = {"lints": {"points": 1, "rules": ["output_classes"]}}


def test_a_channels_first_model_fits_a_channels_last_task_and_the_other_way_round():
    keras_task = {"id": "k", "input_shape": [32, 32, 3], "num_classes": 10, "checks": LINTS}
    torch_task = {"id": "t", "framework": "torch", "input_shape": [1, 28, 28],
                  "num_classes": 10, "checks": LINTS}
    assert agreement(keras_task, facts("torch", [3, 32, 32])) > 0
    assert agreement(keras_task, facts("torch", [32, 3, 32])) == 0
    assert agreement(torch_task, facts("torch", [1, 28, 28])) > 0
    # A torch task takes PyTorch models only; a Keras task with checks over facts
    # takes either, but one with only checks the grader runs on Keras models does not.
    assert agreement(torch_task, facts("keras", [28, 28, 1])) == 0
    accuracy_only = {**keras_task, "checks": {"accuracy": {"points": 1}}}
    assert agreement(accuracy_only, facts("torch", [3, 32, 32])) == 0


def test_a_keras_task_gets_the_keras_model_before_an_equally_fitting_torch_one():
    def candidate(name, framework, shape):
        return Candidate(model_path=f"/m/{name}", name=name, where="nb.ipynb", run="nb",
                         facts=facts(framework, shape), model_id=name)

    keras_task = {"id": "q6", "input_shape": [28, 28, 1], "num_classes": 10, "checks": LINTS}
    torch_task = {"id": "q8", "framework": "torch", "input_shape": [1, 28, 28],
                  "num_classes": 10, "checks": LINTS}
    pool = [candidate("net", "torch", [1, 28, 28]), candidate("model", "keras", [28, 28, 1])]
    chosen = match([keras_task, torch_task], {"q6": pool, "q8": pool})
    assert chosen["q6"].candidate.name == "model" and chosen["q6"].tied_with is None
    assert chosen["q8"].candidate.name == "net"


# --- the verify worker ------------------------------------------------------------------


def test_a_torch_file_for_a_keras_task_is_verified_and_its_training_not_run(tmp_path):
    records, _ = sources_with(tmp_path, [Small()]).captured(job([16, 16, 3]), model_facts=None)
    task = {"id": "k", "input_shape": [16, 16, 3], "checks": {
        "lints": {"points": 1, "rules": ["output_classes"]},
        "accuracy": {"points": 3, "dataset": "cifar10", "threshold": 0.5}}}
    verified = _verify_torch(VerifyJob(id="k", model_path=records[0]["model_path"], task=task),
                             Path(records[0]["model_path"]))
    assert verified.state == VerifyState.VERIFIED, verified.message
    assert verified.facts["input_shapes"] == [[None, 3, 16, 16]]
    assert verified.checks["accuracy"]["state"] == "not_run"
    assert "Keras models only" in verified.checks["accuracy"]["message"]


# --- graded as a user runs it -------------------------------------------------------------


def test_the_q8_pytorch_script_as_handed_in_gets_its_hand_adapted_verdicts(tmp_path):
    name = "dsag_q8_pytorch"
    run = run_check(str(CORPUS / name), "--assignment", "ds-ag-021", "--static",
                    "--task", "q8-torch-mnist", json_path=tmp_path / "results.json")
    assert run.code in (0, 1) and "Traceback" not in run.stderr, run.stderr[-2000:]
    want = expected(name)["verdicts"]["q8-torch-mnist"]
    for check in ("architecture", "lints"):
        assert run.state("q8-torch-mnist", check) == want[check]["verdict"] == "passed", \
            run.test("q8-torch-mnist", check)["output"]
    notes = run.results["grader"]["tasks"]["q8-torch-mnist"]["notes"]
    assert any(n.startswith("graded model: q8-torch-mnist <- mnist_pytorch.py run, `model` "
                            "built at mnist_pytorch.py line 57") for n in notes), notes
    assert "graded model:" in run.stdout and "mnist_pytorch.py line 57" in run.stdout


RESIDUAL = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class ResBlock(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
            self.bn1 = nn.BatchNorm2d(channels)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
            self.bn2 = nn.BatchNorm2d(channels)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(out)) + x)


    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 16, 3, padding=1)
            self.block = ResBlock(16)
            self.fc = nn.Linear(16 * 16 * 16, 10)

        def forward(self, x):
            x = F.max_pool2d(self.block(F.relu(self.stem(x))), 2)
            return self.fc(torch.flatten(x, 1))


    model = ResNet()
    criterion = nn.CrossEntropyLoss()
    """)


def test_a_top_level_torch_resnet_for_cs577_is_graded_and_its_accuracy_not_run(tmp_path):
    from grader.parent.probes.fixtures import cifar10_batches

    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "cifar10.py").write_text(RESIDUAL)
    # CIFAR-10 is there, so nothing but the model's framework keeps the grader's
    # training from running.
    cifar10_batches(tmp_path / "data" / "cifar-10-batches-py")
    started = time.monotonic()
    run = run_check(str(sub), "--assignment", "cs577-a4", "--task", "cifar-residual",
                    "--data-dir", str(tmp_path / "data"), json_path=tmp_path / "results.json")
    assert run.code in (0, 1) and "Traceback" not in run.stderr, run.stderr[-2000:]
    assert run.state("cifar-residual", "graph") == "passed"
    assert run.state("cifar-residual", "lints") == "passed"
    accuracy = run.test("cifar-residual", "accuracy")
    assert accuracy["grader"]["state"] == "not_run" and accuracy["max_score"] == 0
    assert "Keras models only" in accuracy["output"]
    notes = run.results["grader"]["tasks"]["cifar-residual"]["notes"]
    assert any("`model` built at cifar10.py line 31" in n for n in notes), notes
    verify = {e: t for t, side, e, _ in run.results["grader"]["timeline"] if side == "verify"}
    assert verify["done:"] - verify["start:verify"] < 60, "the accuracy check trained"
    assert time.monotonic() - started < 300
