"""The model as the checks read it from its facts: its layers in order (nested models
opened up), and its output head (the last layer, with a trailing activation layer
folded in)."""

from __future__ import annotations

from typing import Any

# Layer types that stand for an activation, and the activation each stands for.
ACTIVATION_LAYERS = {"ReLU": "relu", "Softmax": "softmax", "LeakyReLU": "leaky_relu",
                     "ELU": "elu", "PReLU": "prelu"}
# Heads that give (log-)probabilities; log_softmax is PyTorch's, paired with NLLLoss.
PROBABILITIES = ("softmax", "sigmoid", "log_softmax")


def top_layers(facts: dict[str, Any]) -> list[dict[str, Any]]:
    return [layer for layer in facts["graph"]["layers"] if layer["type"] != "InputLayer"]


def all_layers(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Every layer in order, a nested model's (a `data_augmentation` Sequential, a
    block built as its own Model) in its place, so a count sees them all."""
    def walk(graph: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for layer in graph["layers"]:
            if layer["type"] == "InputLayer":
                continue
            if layer.get("submodel"):
                out.extend(walk(layer["submodel"]))
            else:
                out.append(layer)
        return out
    return walk(facts["graph"])


def standalone_activation(layer: dict[str, Any]) -> str | None:
    if layer["type"] == "Activation":
        return str(layer.get("config", {}).get("activation", "linear"))
    if layer["type"] in ACTIVATION_LAYERS:
        # A torch log_softmax reads as a Softmax layer that says so in its config.
        return str(layer.get("config", {}).get("activation") or ACTIVATION_LAYERS[layer["type"]])
    return None


def output_head(facts: dict[str, Any]) -> dict[str, Any] | None:
    """The layer that makes the output, with the activation applied after it:
    {"type", "units", "activation", "layer"}; None for a model without layers."""
    layers = top_layers(facts)
    if not layers:
        return None
    last, activation = layers[-1], None
    if (act := standalone_activation(last)) is not None and len(layers) > 1:
        activation, last = act, layers[-2]
    config = last.get("config", {})
    shapes = facts.get("output_shapes") or []
    units = shapes[0][-1] if shapes and shapes[0] else config.get("units")
    return {"type": last["type"], "units": units, "layer": last,
            "activation": activation or config.get("activation") or "linear"}
