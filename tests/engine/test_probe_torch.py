"""The PyTorch probes (grader/parent/probes/torch_*.py, their captures and factories in
grader/build_worker/probes/): DS-AG-021 Q8's loaders, training loop and accuracy, judged
on hand-made outputs and through `grader check`."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from conftest import READ_IDX, function_task, grade_functions

from grader.build_worker import probes as build
from grader.parent.probes import label, torch_evaluate, torch_loaders, torch_train_epoch

WHERE = "q8.py: f"


# --- $make with markers inside and a key ------------------------------------------


def test_make_resolves_its_markers_and_keeps_the_object_by_key(tmp_path):
    prepared = torch_train_epoch.prepare(tmp_path, {})
    model, loader, optimizer = (build.resolve(a) for a in prepared.calls[0].args)
    assert build.MADE[torch_train_epoch.MODEL_KEY] is model
    # The optimizer steps the very model the student is given, not a copy.
    assert {id(p) for p in optimizer.param_groups[0]["params"]} == \
        {id(p) for p in model.parameters()}
    images, labels = next(iter(loader))
    assert tuple(images.shape) == (12, 1, 28, 28) and str(labels.dtype) == "torch.int64"
    assert np.array_equal(model.linear.weight.detach().numpy(), prepared.truth["weight"])
    assert label(prepared.calls[0].args[2]) == "optimizer"


@pytest.mark.parametrize("target", ["os:system", "grader.build_worker.worker:main",
                                    "grader.probes_x.m:f", "grader.parent.probes.torch_objects:",
                                    "grader.parent.probes.torch_objects:linear_model",
                                    "grader.build_worker.probes.torch_objects:",
                                    "grader.build_worker.probes.torch_loaders:capture"])
def test_make_refuses_anything_but_a_grader_probes_factory(target):
    with pytest.raises(ValueError, match="only the grader's factories"):
        build.resolve({"$make": target, "args": ["echo"]})


# --- torch_loaders ------------------------------------------------------------------


def _loader_outputs(truth, shuffle=True, scale=None, drop_last=False, labels_dtype="torch.int64"):
    """What the capture saves for loaders that behave as asked, with one slip."""
    scale = scale or (lambda raw: (raw / 255.0 - 0.1307) / 0.3081)
    rng = np.random.default_rng(1)
    out = {}
    for name in torch_loaders.LOADERS:
        n, size = torch_loaders.N[name], torch_loaders.BATCH[name]
        order = rng.permutation(n) if name == "train" and shuffle else np.arange(n)
        if drop_last:
            order = order[:n - n % size]
        sizes = [min(size, len(order) - s) for s in range(0, len(order), size)]
        out[f"{name}_shapes"] = np.array([[[4, b, 1, 28, 28], [1, b, -1, -1, -1]]
                                          for b in sizes])
        out[f"{name}_dtypes"] = np.array([["torch.float32", labels_dtype]] * len(sizes))
        raw = truth[f"x_{name}"][order].reshape(-1, 784).astype(np.float64)
        out[f"{name}_images"] = scale(raw).astype(np.float32)
        out[f"{name}_labels"] = truth[f"y_{name}"][order].astype(np.int64)
        out[f"{name}_whole"] = np.array(True)
    return out


@pytest.fixture(scope="module")
def loader_truth(tmp_path_factory):
    return torch_loaders.prepare(tmp_path_factory.mktemp("idx"), {}).truth


def test_loaders_that_do_what_is_asked_pass(loader_truth):
    result = torch_loaders.judge(_loader_outputs(loader_truth), loader_truth, {}, WHERE)
    assert result["state"] == "passed" and result["fraction"] == 1.0


def test_loaders_without_normalisation_lose_that_part_and_are_told_the_formula(loader_truth):
    outputs = _loader_outputs(loader_truth, scale=lambda raw: raw / 255.0)
    result = torch_loaders.judge(outputs, loader_truth, {}, WHERE)
    assert result["fraction"] == pytest.approx(0.75)
    assert "pixels / 255 +0.0000" in result["message"]
    assert any("subtract MNIST_MEAN" in h for h in result["hints"])


def test_an_unshuffled_training_loader_loses_the_order_part(loader_truth):
    result = torch_loaders.judge(_loader_outputs(loader_truth, shuffle=False), loader_truth,
                                 {}, WHERE)
    assert result["fraction"] == pytest.approx(0.75)
    assert any("shuffle=True" in h for h in result["hints"])


def test_a_dropped_last_batch_loses_images_and_shapes(loader_truth):
    result = torch_loaders.judge(_loader_outputs(loader_truth, drop_last=True), loader_truth,
                                 {}, WHERE)
    assert result["fraction"] == pytest.approx(0.5)
    assert "8 never came" in result["message"]
    assert "keep the last, shorter batch: no drop_last=True" in result["hints"]


def test_labels_of_another_dtype_or_image_lose_their_parts(loader_truth):
    outputs = _loader_outputs(loader_truth, labels_dtype="torch.int32")
    result = torch_loaders.judge(outputs, loader_truth, {}, WHERE)
    assert "torch.int32" in result["message"] and result["fraction"] == pytest.approx(0.75)
    outputs = _loader_outputs(loader_truth)
    outputs["train_labels"] = np.roll(outputs["train_labels"], 1)
    result = torch_loaders.judge(outputs, loader_truth, {}, WHERE)
    assert "labels that are not theirs" in result["message"]


def test_right_shapes_of_other_data_earn_nothing(loader_truth):
    outputs = _loader_outputs(loader_truth)
    for name in torch_loaders.LOADERS:
        outputs[f"{name}_images"] = np.zeros_like(outputs[f"{name}_images"])
    result = torch_loaders.judge(outputs, loader_truth, {}, WHERE)
    assert result["state"] == "failed" and result["fraction"] == 0.0
    assert "match none of the file's" in result["message"]


# --- torch_train_epoch --------------------------------------------------------------


@pytest.fixture(scope="module")
def epoch_truth(tmp_path_factory):
    return torch_train_epoch.prepare(tmp_path_factory.mktemp("epoch"), {}).truth


def _epoch_outputs(truth, sign=1.0, returned=None):
    """The weights after one epoch of SGD (``sign`` -1: gradient ascent, 0: no step)."""
    losses, weight, bias = torch_train_epoch.replay(truth)
    step = lambda start, end: start + sign * (end - start)  # noqa: E731
    return {"weight": step(truth["weight"], weight), "bias": step(truth["bias"], bias),
            "returned": np.float64(np.mean(losses) if returned is None else returned)}


def test_an_epoch_of_sgd_passes_and_the_replay_lowers_the_loss(epoch_truth):
    result = torch_train_epoch.judge(_epoch_outputs(epoch_truth), epoch_truth, {}, WHERE)
    assert result["state"] == "passed", result
    assert result["details"]["loss_after"] < 0.5 * result["details"]["loss_before"]


def test_a_loop_that_never_steps_earns_nothing_even_with_its_mean_loss(epoch_truth):
    before = torch_train_epoch.nll(epoch_truth["weight"], epoch_truth["bias"],
                                   epoch_truth["x"], epoch_truth["y"])
    outputs = _epoch_outputs(epoch_truth, sign=0.0, returned=before)
    result = torch_train_epoch.judge(outputs, epoch_truth, {}, WHERE)
    assert result["fraction"] == 0.0
    # The step is the fix; its own mean loss is not a second problem to report.
    assert len(result["hints"]) == 1 and "returned" not in result["message"]
    assert "did not change" in result["hints"][0] and "optimizer.step()" in result["hints"][0]


def test_gradient_ascent_fails_and_is_told_to_minimise(epoch_truth):
    result = torch_train_epoch.judge(_epoch_outputs(epoch_truth, sign=-1.0), epoch_truth, {},
                                     WHERE)
    assert result["fraction"] == 0.0 and any("the loss rose" in h for h in result["hints"])


def test_a_summed_or_last_loss_loses_the_return_third(epoch_truth):
    losses = torch_train_epoch.replay(epoch_truth)[0]
    for returned, hint in ((sum(losses), "divide the summed"), (losses[-1], "not the last")):
        outputs = _epoch_outputs(epoch_truth, returned=returned)
        result = torch_train_epoch.judge(outputs, epoch_truth, {}, WHERE)
        assert result["fraction"] == pytest.approx(2 / 3)
        assert any(hint in h for h in result["hints"]), result["hints"]


# --- torch_evaluate -----------------------------------------------------------------


@pytest.fixture(scope="module")
def evaluate_prepared(tmp_path_factory):
    return torch_evaluate.prepare(tmp_path_factory.mktemp("evaluate"), {})


def test_the_fixture_model_predicts_what_the_parent_counts(evaluate_prepared):
    model, loader = (build.resolve(a) for a in evaluate_prepared.calls[0].args)
    right = [int((model(x).argmax(1) == y).sum()) for x, y in loader]
    assert right == evaluate_prepared.truth["right"] == [1, 2, 4]


@pytest.mark.parametrize("returned, hint", [
    (0.35, None),
    (35.0, "not a percentage"),
    ((1 / 8 + 2 / 8 + 4 / 4) / 3, "averaging per-batch accuracies"),
    (7 / 3, "len(loader.dataset)"),
    (7 / 24, "the last batch is shorter"),
    (0.4, "compare model(images).argmax"),
])
def test_evaluate_is_judged_exactly_with_a_hint_per_slip(evaluate_prepared, returned, hint):
    outputs = {"returned": np.float64(returned)}
    result = torch_evaluate.judge(outputs, evaluate_prepared.truth, {}, WHERE)
    if hint is None:
        assert result["state"] == "passed" and result["fraction"] == 1.0
    else:
        assert result["fraction"] == 0.0 and hint in " ".join(result["hints"])


# --- through `grader check` ---------------------------------------------------------

Q8 = textwrap.dedent('''
    import gzip
    from pathlib import Path

    import numpy as np
    import torch
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset
''') + READ_IDX + textwrap.dedent('''

    def _dataset(root, split, normalise=True):
        x = _idx(Path(root) / f"{split}-images-idx3-ubyte.gz").astype("float32") / 255
        if normalise:
            x = (x - 0.1307) / 0.3081
        y = _idx(Path(root) / f"{split}-labels-idx1-ubyte.gz").astype("int64")
        return TensorDataset(torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y))


    def mnist_loaders(data_dir, batch_size=128, test_batch_size=1000, seed=0,
                      normalise=True, test_shuffle=False, drop_last=False):
        generator = torch.Generator().manual_seed(seed)
        return (DataLoader(_dataset(data_dir, "train", normalise), batch_size, shuffle=True,
                           generator=generator, drop_last=drop_last),
                DataLoader(_dataset(data_dir, "t10k", normalise), test_batch_size,
                           shuffle=test_shuffle))


    def loaders_unnormalised(data_dir, batch_size=128, test_batch_size=1000, seed=0):
        return mnist_loaders(data_dir, batch_size, test_batch_size, seed, normalise=False)


    def loaders_shuffled_test(data_dir, batch_size=128, test_batch_size=1000, seed=0):
        return mnist_loaders(data_dir, batch_size, test_batch_size, seed, test_shuffle=True)


    def loaders_drop_last(data_dir, batch_size=128, test_batch_size=1000, seed=0):
        return mnist_loaders(data_dir, batch_size, test_batch_size, seed, drop_last=True)


    def loaders_one(data_dir, batch_size=128, test_batch_size=1000, seed=0):
        return mnist_loaders(data_dir, batch_size, test_batch_size, seed)[0]


    def train_epoch(model, loader, optimizer, device="cpu", sign=1.0, step=True):
        model.train()
        losses = []
        for images, labels in loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(images.to(device)), labels.to(device))
            (sign * loss).backward()
            if step:
                optimizer.step()
            losses.append(loss.item())
        return sum(losses) / len(losses)


    def train_never_steps(model, loader, optimizer, device="cpu"):
        return train_epoch(model, loader, optimizer, device, step=False)


    def train_ascends(model, loader, optimizer, device="cpu"):
        return train_epoch(model, loader, optimizer, device, sign=-1.0)


    def train_returns_tensor_sum(model, loader, optimizer, device="cpu"):
        total = 0
        for images, labels in loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(images), labels)
            loss.backward()
            optimizer.step()
            total = total + loss.detach()
        return total


    @torch.no_grad()
    def evaluate(model, loader, device="cpu"):
        model.eval()
        correct = count = 0
        for images, labels in loader:
            correct += (model(images).argmax(dim=1) == labels).sum().item()
            count += len(labels)
        return correct / count


    def evaluate_percent(model, loader, device="cpu"):
        return 100 * evaluate(model, loader)


    @torch.no_grad()
    def evaluate_per_batch(model, loader, device="cpu"):
        scores = [(model(x).argmax(1) == y).float().mean().item() for x, y in loader]
        return sum(scores) / len(scores)


    def evaluate_nothing(model, loader, device="cpu"):
        pass
''')

POINTS = {"torch_loaders": 2, "torch_train_epoch": 2, "torch_evaluate": 1}
TASKS = {"loaders": ("mnist_loaders", "torch_loaders"),
         "unnormalised": ("loaders_unnormalised", "torch_loaders"),
         "shuffled_test": ("loaders_shuffled_test", "torch_loaders"),
         "drop_last": ("loaders_drop_last", "torch_loaders"),
         "one_loader": ("loaders_one", "torch_loaders"),
         "train": ("train_epoch", "torch_train_epoch"),
         "never_steps": ("train_never_steps", "torch_train_epoch"),
         "ascends": ("train_ascends", "torch_train_epoch"),
         "tensor_sum": ("train_returns_tensor_sum", "torch_train_epoch"),
         "evaluate": ("evaluate", "torch_evaluate"),
         "percent": ("evaluate_percent", "torch_evaluate"),
         "per_batch": ("evaluate_per_batch", "torch_evaluate"),
         "nothing": ("evaluate_nothing", "torch_evaluate")}


@pytest.fixture(scope="module")
def q8_run(tmp_path_factory):
    tasks = [function_task(task_id, function, name, {}, file="q8.py", points=POINTS[name])
             for task_id, (function, name) in TASKS.items()]
    return grade_functions(tmp_path_factory.mktemp("torch-probes"), tasks, {"q8.py": Q8})


def test_correct_functions_earn_full_marks(q8_run):
    assert q8_run.code == 1, q8_run.stderr[-2000:]  # graded, some failed: no internal error
    for task in ("loaders", "train", "evaluate"):
        test = q8_run.test(task, "outputs")
        assert test["grader"]["state"] == "passed", test
        assert test["score"] == test["max_score"]


@pytest.mark.parametrize("task, score, words", [
    ("unnormalised", 1.5, "subtract MNIST_MEAN"),
    ("shuffled_test", 1.5, "shuffle=False"),
    ("drop_last", 1.0, "drop_last"),
    ("one_loader", 0, "returned DataLoader; return (train_loader, test_loader)"),
    ("never_steps", 0, "did not change"),
    ("ascends", 0, "the loss rose"),
    ("tensor_sum", 2 * 2 / 3, "divide the summed batch losses"),
    ("percent", 0, "not a percentage"),
    ("per_batch", 0, "averaging per-batch accuracies"),
])
def test_typical_mistakes_lose_points_with_the_fix(q8_run, task, score, words):
    test = q8_run.test(task, "outputs")
    assert test["grader"]["state"] == "failed", test
    assert test["score"] == pytest.approx(score, abs=0.005)  # shown to two places
    assert words in test["output"], test["output"]


def test_a_function_returning_none_is_not_implemented(q8_run):
    test = q8_run.test("nothing", "outputs")
    assert test["grader"]["state"] == "not_implemented"
    assert "return the fraction of correct predictions" in test["output"]
