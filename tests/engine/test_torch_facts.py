"""PyTorch model facts (grader/verify_worker/torch_facts.py) in the Keras facts' shape:
real small torch modules, saved by the build worker's own torch.export step and read back
by the verify worker's, then scored by the same parent checks as a Keras model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.parent.checks import architecture, graph, lints, params, torch_loss
from grader.protocol import BuildJob, BuildState, VerifyState

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from grader.build_worker.worker import _build_torch  # noqa: E402  (needs torch)
from grader.verify_worker.torch_facts import torch_module_facts  # noqa: E402
from grader.verify_worker.worker import _torch_facts  # noqa: E402


def verified_facts(model: nn.Module, input_shape: list[int], tmp_path: Path) -> dict:
    """The facts the parent gets: built and saved as the build worker does, loaded and
    read as the verify worker does."""
    job = BuildJob(id="t", file="model.py", module_path=str(tmp_path / "model.py"),
                   function="build_model", input_shape=input_shape, framework="torch")
    built = _build_torch(job, model, tmp_path)
    assert built.state == BuildState.BUILT and built.model_path, built.message
    result = _torch_facts(Path(built.model_path), {"input_shape": input_shape})
    assert result.state == VerifyState.VERIFIED, result.message
    json.dumps(result.facts)  # crosses a pipe as JSON
    return result.facts


def layers(facts: dict) -> dict[str, dict]:
    return {layer["name"]: layer for layer in facts["graph"]["layers"]}


# --- a simple CNN against a spec in Keras words --------------------------------------


class SimpleCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc1 = nn.Linear(16 * 6 * 6, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(torch.relu(self.fc1(x)))


KERAS_SPEC = {"layers": [
    {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "valid", "activation": "relu"},
    {"type": "MaxPooling2D", "pool_size": 2},
    {"type": "Conv2D", "filters": 16, "kernel_size": [3, 3], "padding": "same",
     "activation": "relu"},
    {"type": "MaxPooling2D", "pool_size": 2, "strides": 2},
    {"type": "Flatten"},
    {"type": "Dense", "units": 32, "activation": "relu"},
    {"type": "Dense", "units": 10},
]}


def test_a_simple_cnn_reads_as_keras_layers_in_execution_order(tmp_path):
    facts = verified_facts(SimpleCNN(), [1, 28, 28], tmp_path)
    got = [(x["type"], x["inbound"]) for x in facts["graph"]["layers"]]
    names = [x["name"] for x in facts["graph"]["layers"]]
    assert [t for t, _ in got] == ["InputLayer", "Conv2D", "ReLU", "MaxPooling2D", "Conv2D",
                                   "ReLU", "MaxPooling2D", "Flatten", "Dense", "ReLU", "Dense"]
    assert all(inbound == [names[i]] for i, (_, inbound) in enumerate(got[1:]))
    by_name = layers(facts)
    assert by_name["conv1"]["config"]["filters"] == 8
    assert by_name["conv1"]["params"] == 8 * 9 + 8
    assert by_name["fc1"]["config"]["units"] == 32
    assert by_name["fc1"]["input_shapes"] == [[None, 576]]
    assert facts["output_shapes"] == [[None, 10]]
    assert facts["total_params"] == sum(p.numel() for p in SimpleCNN().parameters())

    result = architecture.check(facts, KERAS_SPEC, {})
    assert result["state"] == "passed", result["message"]
    wrong = {"layers": [dict(KERAS_SPEC["layers"][0], filters=9), *KERAS_SPEC["layers"][1:]]}
    result = architecture.check(facts, wrong, {})
    assert result["state"] == "failed" and "filters" in result["message"]


def test_batchnorm_dropout_and_global_pooling_carry_their_keras_settings(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 5, stride=2, padding=2), nn.BatchNorm2d(4),
                          nn.ReLU(), nn.AvgPool2d(2), nn.Dropout(0.25),
                          nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(4, 2),
                          nn.Sigmoid())
    facts = verified_facts(model, [3, 16, 16], tmp_path)
    spec = {"layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 5, "strides": 2, "padding": "same"},
        {"type": "BatchNormalization"}, {"type": "ReLU"},
        {"type": "AveragePooling2D", "pool_size": 2}, {"type": "Dropout", "rate": 0.25},
        {"type": "GlobalAveragePooling2D"}, {"type": "Flatten"},
        {"type": "Dense", "units": 2, "activation": "sigmoid"}]}
    result = architecture.check(facts, spec, {})
    assert result["state"] == "passed", result["message"]
    # PyTorch counts parameters only: BatchNorm's running statistics are buffers.
    assert layers(facts)["1"]["params"] == 8
    assert params.check(facts, {"total": 3 * 4 * 25 + 4 + 8 + 4 * 2 + 2}, {})["state"] == "passed"


# --- graph blocks ---------------------------------------------------------------------


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: one ReLU module called twice, ``out += identity``."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TinyResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 8))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def test_a_resnet_with_out_plus_identity_has_its_residual_blocks(tmp_path):
    facts = verified_facts(TinyResNet(), [3, 32, 32], tmp_path)
    result = graph.check(facts, {"require": ["residual"], "min_count": {"residual": 3}}, {})
    assert result["state"] == "passed", result["message"]
    shortcuts = sorted((b["shortcut"], b["skip_from"]) for b in result["details"]["residual"])
    assert shortcuts == [("identity", "layer1.0.relu@1"), ("identity", "maxpool"),
                         ("projection", "layer1.1.relu@1")]
    by_name = layers(facts)
    assert by_name["conv1"]["config"]["padding"] == "same"  # 7x7, stride 2, pad 3
    assert by_name["layer2.0.downsample.0"]["config"]["kernel_size"] == [1, 1]


def test_parallel_branches_added_are_not_a_residual_block(tmp_path):
    class TwoBranches(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 5, padding=2)

        def forward(self, x):
            return torch.add(self.a(x), self.b(x))

    facts = verified_facts(TwoBranches(), [3, 8, 8], tmp_path)
    assert layers(facts)["add"]["inbound"] == ["a", "b"]
    result = graph.check(facts, {"require": ["residual"]}, {})
    assert result["state"] == "failed" and "found 0 residual" in result["message"]


def test_a_torch_cat_of_parallel_convolutions_is_an_inception_block(tmp_path):
    class Inception(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.b1 = nn.Conv2d(3, 4, 1)
            self.b3 = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
            self.b5 = nn.Conv2d(3, 4, 5, padding=2)
            self.pool = nn.MaxPool2d(3, 1, 1)
            self.head = nn.Linear(15 * 8 * 8, 10)

        def forward(self, x):
            x = torch.cat([self.b1(x), self.b3(x), self.b5(x), self.pool(x)], dim=1)
            return self.head(x.view(x.size(0), -1))

    facts = verified_facts(Inception(), [3, 8, 8], tmp_path)
    cat = next(x for x in facts["graph"]["layers"] if x["type"] == "Concatenate")
    assert cat["inbound"] == ["b1", "b3.2", "b5", "pool"] and cat["config"]["axis"] == 1
    result = graph.check(facts, {"require": ["inception"]}, {})
    assert result["state"] == "passed", result["message"]
    assert layers(facts)["view"]["type"] == "Flatten"


# --- a frozen feature extractor -------------------------------------------------------


class Transfer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3),
                                      nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Linear(8, 2)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


BASE = 3 * 8 * 9 + 8 + 8 * 8 * 9 + 8
HEAD = 8 * 2 + 2


def test_a_frozen_feature_extractor_is_a_frozen_base_and_its_weights_non_trainable(tmp_path):
    model = Transfer()
    for p in model.features.parameters():
        p.requires_grad = False
    facts = verified_facts(model, [3, 12, 12], tmp_path)
    assert (facts["trainable_params"], facts["non_trainable_params"]) == (HEAD, BASE)
    base = layers(facts)["features"]
    assert base["is_model"] and base["trainable"] is False and base["params"] == BASE
    assert [x["type"] for x in base["submodel"]["layers"]][:2] == ["InputLayer", "Conv2D"]
    assert graph.check(facts, {"require": ["frozen_base"]}, {})["state"] == "passed"
    assert params.check(facts, {"trainable": HEAD, "non_trainable": BASE}, {})["state"] \
        == "passed"

    model.features[2].weight.requires_grad = True  # the last convolution fine-tuned
    facts = verified_facts(model, [3, 12, 12], tmp_path)
    assert graph.check(facts, {"require": ["fine_tuned_base"]}, {})["state"] == "passed"
    assert graph.check(facts, {"require": ["frozen_base"]}, {})["state"] == "failed"


def test_a_model_with_nothing_frozen_stays_flat(tmp_path):
    facts = verified_facts(Transfer(), [3, 12, 12], tmp_path)
    assert not any(x.get("is_model") for x in facts["graph"]["layers"])
    assert graph.check(facts, {"require": ["frozen_base"]}, {})["state"] == "failed"


# --- the loss, read from the source, and the double softmax ----------------------------


def _softmax_model(log: bool = False) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 10),
                         nn.LogSoftmax(dim=1) if log else nn.Softmax(dim=1))


TRAIN_CE = """
import torch
from torch import nn
criterion = nn.CrossEntropyLoss()
def train(model, loader, optimizer):
    for x, y in loader:
        loss = criterion(model(x), y)
"""
TRAIN_NLL = TRAIN_CE.replace("CrossEntropyLoss", "NLLLoss")


def _lint(facts: dict, sources: list[Path]) -> dict:
    facts = torch_loss.with_loss(facts, sources)
    return lints.check(facts, {"rules": ["softmax_from_logits"]}, {"num_classes": 10})


def test_a_softmax_output_trained_with_cross_entropy_is_a_double_softmax(tmp_path):
    facts = verified_facts(_softmax_model(), [1, 4, 4], tmp_path)
    source = tmp_path / "train.py"
    source.write_text(TRAIN_CE)
    assert torch_loss.with_loss(facts, [source])["compile"] == {
        "compiled": False, "loss": "cross_entropy", "from_logits": True,
        "losses": ["cross_entropy"]}
    result = _lint(facts, [source])
    assert result["state"] == "failed"
    assert ("nn.CrossEntropyLoss applies log-softmax itself; drop the final Softmax, or use "
            "NLLLoss after LogSoftmax") in result["message"]


def test_f_cross_entropy_in_a_notebook_cell_counts_too(tmp_path):
    facts = verified_facts(_softmax_model(), [1, 4, 4], tmp_path)
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text(json.dumps({"cells": [
        {"cell_type": "code", "source": ["%matplotlib inline\n", "import torch\n"]},
        {"cell_type": "markdown", "source": "nn.CrossEntropyLoss() is mentioned in prose"},
        {"cell_type": "code", "source": "import torch.nn.functional as F\n"
                                        "loss = F.cross_entropy(out, y)\n"}]}))
    assert _lint(facts, [notebook])["state"] == "failed"


@pytest.mark.parametrize(("log", "source"), [(False, TRAIN_NLL), (False, "x = 1\n"),
                                             (True, TRAIN_CE), (True, TRAIN_NLL)])
def test_no_double_softmax_without_cross_entropy_or_with_log_softmax(tmp_path, log, source):
    facts = verified_facts(_softmax_model(log), [1, 4, 4], tmp_path)
    path = tmp_path / "train.py"
    path.write_text(source)
    result = _lint(facts, [path])
    assert result["state"] == "passed", result["message"]


def test_the_loss_scan_leaves_keras_facts_alone(tmp_path):
    source = tmp_path / "train.py"
    source.write_text(TRAIN_CE)
    keras_facts = {"compile": {"compiled": True, "loss": "mse", "from_logits": False}}
    assert torch_loss.with_loss(keras_facts, [source]) is keras_facts


# --- the unverified fallback: live modules ---------------------------------------------


def test_an_unexportable_model_still_gets_keras_layer_names_from_its_modules(tmp_path):
    class Branchy(SimpleCNN):
        def forward(self, x):
            if x.sum() > 0:  # data-dependent control flow: torch.export refuses it
                return super().forward(x)
            return super().forward(-x)

    job = BuildJob(id="u", file="model.py", module_path=str(tmp_path / "model.py"),
                   function="build_model", input_shape=[1, 28, 28], framework="torch")
    built = _build_torch(job, Branchy(), tmp_path)
    assert built.state == BuildState.BUILT and built.unexportable and not built.model_path
    assert [x["type"] for x in built.facts["graph"]["layers"]] == \
        [x["type"] for x in torch_module_facts(SimpleCNN(), None)["graph"]["layers"]] == \
        ["Conv2D", "ReLU", "MaxPooling2D", "Conv2D", "Dense", "Dense"]
