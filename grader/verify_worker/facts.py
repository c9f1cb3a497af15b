"""Facts about a Keras model, as plain JSON data: layers, parameter counts, graph, compile.

Runs inside a worker (it needs the loaded model); the checks in grader/parent/checks/
works on its output in the parent. The verify worker calls it on a model loaded from
the saved file; the build worker calls it too, for models the verify worker cannot
load (those facts are marked unverified). PyTorch models: torch_facts.py.
"""

from __future__ import annotations

import math
from typing import Any

# Layer config keys worth showing and comparing; weights initialisers, dtypes and
# regularisers are left out (the spec never constrains them and they are bulky).
KEPT_CONFIG = ("filters", "units", "kernel_size", "pool_size", "strides", "padding",
               "activation", "rate", "dilation_rate", "use_bias", "axis", "trainable",
               "target_shape", "data_format", "factor", "mode", "height", "width",
               "scale", "offset", "alpha", "negative_slope", "groups", "depth_multiplier")
MODEL_CLASSES = ("Functional", "Sequential", "Model")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        # Serialised objects (an activation given as an object): keep their class name.
        if "class_name" in value:
            return value.get("config", {}).get("name") or value["class_name"]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _history_names(obj: Any) -> list[str]:
    """Layer names that feed a node, from the serialised ``inbound_nodes``."""
    names: list[str] = []
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            history = obj.get("config", {}).get("keras_history")
            if history:
                names.append(history[0])
        else:
            for value in obj.values():
                names.extend(_history_names(value))
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            names.extend(_history_names(value))
    return names


def _count(weights: list) -> int:
    return int(sum(math.prod(int(d) for d in w.shape) for w in weights))


def _shape(tensor: Any) -> list | None:
    try:
        return [None if d is None else int(d) for d in tensor.shape]
    except Exception:
        return None


def _layer_facts(layer: Any, config_entry: dict[str, Any] | None, inbound: list[str]) -> dict:
    config = (config_entry or {}).get("config") or {}
    if not config:
        try:
            config = layer.get_config()
        except Exception:
            config = {}
    kind = type(layer).__name__
    facts: dict[str, Any] = {
        "name": layer.name,
        "type": kind,
        "config": {k: _plain(config[k]) for k in KEPT_CONFIG if k in config},
        "params": _count(layer.weights),
        "trainable_params": _count(layer.trainable_weights),
        "trainable": bool(layer.trainable),
        "inbound": inbound,
    }
    try:
        inputs = layer.input
        facts["input_shapes"] = [_shape(t) for t in inputs] if isinstance(inputs, (list, tuple)) \
            else [_shape(inputs)]
    except Exception:
        facts["input_shapes"] = []
    try:
        facts["output_shape"] = _shape(layer.output)
    except Exception:
        facts["output_shape"] = None
    if hasattr(layer, "layers") and kind not in ("InputLayer",):
        facts["is_model"] = True
        facts["submodel"] = graph_of(layer)
    return facts


def graph_of(model: Any) -> dict[str, Any]:
    """Top-level layers of a model in order, each with the names of the layers feeding it."""
    try:
        config = model.get_config()
    except Exception:
        config = {}
    entries = {e.get("config", {}).get("name") or e.get("name"): e
               for e in (config.get("layers") or []) if isinstance(e, dict)}
    layers = []
    previous: str | None = None
    sequential = type(model).__name__ == "Sequential"
    for layer in model.layers:
        entry = entries.get(layer.name)
        if sequential:
            inbound = [previous] if previous else []
        else:
            inbound = _history_names((entry or {}).get("inbound_nodes", []))
        layers.append(_layer_facts(layer, entry, inbound))
        previous = layer.name
    return {"type": type(model).__name__, "name": model.name, "layers": layers}


def _compile_facts(model: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"compiled": bool(getattr(model, "compiled", False))}
    try:
        config = model.get_compile_config() or {}
    except Exception:
        config = {}
    loss = config.get("loss")
    if isinstance(loss, dict):
        out["loss"] = loss.get("class_name")
        out["from_logits"] = bool(loss.get("config", {}).get("from_logits", False))
    elif isinstance(loss, str):
        out["loss"] = loss
        out["from_logits"] = False
    else:
        out["loss"] = None if loss is None else str(loss)
        out["from_logits"] = False
    # A loss function object (not a Loss class) can carry from_logits in its kwargs.
    live = getattr(model, "loss", None)
    kwargs = getattr(live, "_fn_kwargs", None) or {}
    if kwargs.get("from_logits"):
        out["from_logits"] = True
    optimizer = config.get("optimizer")
    out["optimizer"] = optimizer.get("class_name") if isinstance(optimizer, dict) else optimizer
    return out


def model_facts(model: Any) -> dict[str, Any]:
    """Everything the static checks score, computed from a live (loaded) model."""
    graph = graph_of(model)
    trainable = _count(model.trainable_weights)
    total = _count(model.weights)
    outputs = getattr(model, "outputs", None) or []
    inputs = getattr(model, "inputs", None) or []
    return {
        "class": type(model).__name__,
        "trainable_params": trainable,
        "non_trainable_params": total - trainable,
        "total_params": total,
        "input_shapes": [_shape(t) for t in inputs],
        "output_shapes": [_shape(t) for t in outputs],
        "graph": graph,
        "compile": _compile_facts(model),
    }
