"""Lints: common mistakes, each with a fix hint. Scored rules cost the lint points;
warnings are only reported.

- softmax_from_logits: a softmax (or sigmoid) output compiled with from_logits=True
  applies the activation twice; the model still trains, badly. For PyTorch, a softmax
  output trained with nn.CrossEntropyLoss / F.cross_entropy (which take logits).
- dense_before_flatten: a Dense on an image tensor acts on the last axis only, so the
  spatial dimensions reach the output layer unflattened.
- output_classes: the last layer's width is not the number of classes (Practical 2's
  model 4 as written in its text ends in Dense(64)).
- binary_sigmoid_units: a sigmoid output with two units for a two-class task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grader.parent.checks.model_view import output_head, top_layers
from grader.protocol import CheckResult, failed, passed


def _output_activation(facts: dict[str, Any]) -> str | None:
    head = output_head(facts)
    return None if head is None else head["activation"]


# PyTorch losses that take logits (facts["compile"]["loss"], read by torch_loss.py), and
# what each applies itself.
_TORCH_LOGITS_LOSSES = {"cross_entropy": ("nn.CrossEntropyLoss", "log-softmax", "NLLLoss",
                                          "LogSoftmax"),
                        "binary_cross_entropy_with_logits": ("nn.BCEWithLogitsLoss", "sigmoid",
                                                             "BCELoss", "Sigmoid")}


def softmax_from_logits(facts: dict, task: dict) -> str | None:
    act = _output_activation(facts)
    if act in ("softmax", "sigmoid") and facts["compile"].get("from_logits"):
        torch_loss = _TORCH_LOGITS_LOSSES.get(facts["compile"].get("loss") or "")
        if facts.get("framework") == "torch" and torch_loss:
            loss, applies, plain, layer = torch_loss
            return (f"{loss} applies {applies} itself; drop the final "
                    f"{act.capitalize()}, or use {plain} after {layer}")
        return (f"the output layer applies {act} and the loss is compiled with "
                f"from_logits=True, so {act} is applied twice; use from_logits=False (or "
                f"drop the {act} and keep from_logits=True)")
    return None


def dense_before_flatten(facts: dict, task: dict) -> str | None:
    layers = top_layers(facts)
    for index, layer in enumerate(layers):
        if layer["type"] != "Dense":
            continue
        for shape in layer.get("input_shapes") or []:
            if shape and len(shape) > 2:
                return (f"layer {index + 1} ({layer['name']}) is a Dense applied to a tensor "
                        f"of shape {tuple(shape[1:])}; put Flatten() (or "
                        "GlobalAveragePooling2D()) before the first Dense")
    return None


def output_classes(facts: dict, task: dict) -> str | None:
    classes = task.get("num_classes")
    shapes = facts.get("output_shapes") or []
    if classes is None or not shapes or not shapes[0]:
        return None
    width = shapes[0][-1]
    ok = width == classes or (classes == 2 and width == 1
                              and _output_activation(facts) == "sigmoid")
    if not ok:
        return (f"the model outputs {width} values per example but there are {classes} "
                f"classes; end the model with Dense({classes}, activation='softmax')")
    return None


def binary_sigmoid_units(facts: dict, task: dict) -> str | None:
    shapes = facts.get("output_shapes") or []
    if shapes and shapes[0] and shapes[0][-1] == 2 and _output_activation(facts) == "sigmoid":
        return ("the output is Dense(2, sigmoid): two independent probabilities for one "
                "binary choice; use Dense(1, activation='sigmoid') with binary_crossentropy, "
                "or Dense(2, activation='softmax')")
    return None


RULES: dict[str, Callable[[dict, dict], str | None]] = {
    "softmax_from_logits": softmax_from_logits,
    "dense_before_flatten": dense_before_flatten,
    "output_classes": output_classes,
    "binary_sigmoid_units": binary_sigmoid_units,
}


def run(facts: dict[str, Any], names: list[str], task: dict[str, Any]) -> dict[str, str]:
    """The rules among ``names`` that fire, each with its hint."""
    return {name: hint for name in names if (hint := RULES[name](facts, task))}


def check(facts: dict[str, Any], spec: dict[str, Any], task: dict[str, Any]) -> CheckResult:
    scored = run(facts, spec.get("rules", []), task)
    warned = run(facts, spec.get("warnings", []), task)
    details = {"failed": sorted(scored), "warnings": sorted(warned)}
    hints = [f"{name}: {hint}" for name, hint in {**scored, **warned}.items()]
    if scored:
        return failed("\n".join(f"{name}: {hint}" for name, hint in scored.items()),
                      hints=hints, details=details)
    names = spec.get("rules", []) + spec.get("warnings", [])
    message = f"no problem found ({', '.join(names)})" if names else "no rules"
    if warned:
        message = f"{len(warned)} warning(s), not scored"
    result = passed(message, details=details)
    result["hints"] = hints
    return result
