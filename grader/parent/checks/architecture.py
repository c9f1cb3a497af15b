"""Architecture: a layer-by-layer diff of the built model against the spec.

A spec gives ``layers`` (the text prescribes the architecture), ``properties`` (it
leaves the design open and states properties; see properties.py), or both. Partial
credit: each required spec layer earns its share (half for the right type with other
settings), each property its share; an ``essential`` property that fails scores 0.

Tolerant of what a spec leaves open: InputLayer (and any type in ``ignore``), layer
names, config keys the spec does not mention, and an activation written either inside
a layer (``Conv2D(..., activation="relu")``) or as a separate ``Activation``/``ReLU``
layer right after it. The diff is an edit-distance alignment, so one missing layer
is reported as one missing layer, not as every later layer being wrong.
"""

from __future__ import annotations

from typing import Any

from grader.parent.checks import properties
from grader.parent.checks.model_view import standalone_activation
from grader.protocol import CheckResult, failed, passed

MODEL_TYPES = {"Functional", "Sequential", "Model"}
_META_KEYS = {"type", "optional", "repeat"}


def _size(value: Any, like: Any = None) -> tuple:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    n = len(like) if isinstance(like, (list, tuple)) else 2
    return (value,) * n


def _linear(layer: dict[str, Any]) -> bool:
    """A layer a following activation layer can fold into: one whose activation is
    linear, or a spec's Conv/Dense that names none (the spec's own `Conv2D` then
    `Activation("relu")` reads as Conv2D(relu), as a model's does)."""
    if "activation" in layer["config"]:
        return layer["config"]["activation"] in ("linear", None)
    return "types" in layer and any(t == "Dense" or t.startswith(("Conv", "SeparableConv",
                                                                  "DepthwiseConv"))
                                    for t in layer["types"])


def normalise(layers: list[dict[str, Any]], ignore: set[str]) -> list[dict[str, Any]]:
    """Drops ignored types and folds a standalone activation into a linear layer before it."""
    out: list[dict[str, Any]] = []
    for layer in layers:
        if layer["type"] in ignore:
            continue
        act = standalone_activation(layer)
        if act is not None and out:
            prev = out[-1]
            if _linear(prev):
                prev["config"] = {**prev["config"], "activation": act}
                prev["folded"] = prev.get("folded", []) + [layer.get("name", layer["type"])]
                continue
        out.append({**layer, "config": dict(layer.get("config", {}))})
    return out


def expand_spec(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spec layers as facts-shaped dicts (``repeat`` expanded), ready for normalise()."""
    out = []
    for item in layers:
        config = {k: v for k, v in item.items() if k not in _META_KEYS}
        types = item["type"] if isinstance(item["type"], list) else [item["type"]]
        for _ in range(item.get("repeat", 1)):
            out.append({"type": types[0], "types": types, "config": config,
                        "optional": item.get("optional", False)})
    return out


def describe(layer: dict[str, Any]) -> str:
    """A short Keras-like rendering: ``Conv2D(32, 3x3, same, relu)``."""
    c = layer.get("config", {})
    parts: list[str] = []
    for key in ("filters", "units"):
        if key in c:
            parts.append(str(c[key]))
    for key in ("kernel_size", "pool_size"):
        if key in c:
            parts.append("x".join(str(v) for v in _size(c[key])))
    if "strides" in c and layer["type"] not in ("MaxPooling2D", "AveragePooling2D") \
            and any(s != 1 for s in _size(c["strides"])):
        parts.append("stride " + "x".join(str(v) for v in _size(c["strides"])))
    if "padding" in c:
        parts.append(str(c["padding"]))
    if "activation" in c:
        parts.append(str(c["activation"]))
    if "rate" in c:
        parts.append(f"{c['rate']:g}" if isinstance(c["rate"], float) else str(c["rate"]))
    if c.get("trainable") is False:
        parts.append("frozen")
    return f"{layer['type']}({', '.join(parts)})" if parts else layer["type"]


def _type_matches(expected: dict[str, Any], got: dict[str, Any]) -> bool:
    types = set(expected.get("types", [expected["type"]]))
    if types & {"Model"} and got["type"] in MODEL_TYPES:
        return True
    return got["type"] in types


def mismatches(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Config keys the spec sets that the layer does not match, as ``key: want vs got``."""
    out = []
    gc = got.get("config", {})
    for key, want in expected["config"].items():
        if key not in gc:
            if key == "trainable":
                have = got.get("trainable")
            else:
                out.append(f"{key} {want!r} (the layer has no {key})")
                continue
        else:
            have = gc[key]
        if key in ("kernel_size", "pool_size", "strides", "dilation_rate"):
            ok = have is not None and _size(want, have) == _size(have)
        elif key == "activation":
            ok = str(have).lower() == str(want).lower()
        elif isinstance(want, float) and isinstance(have, (int, float)):
            ok = abs(want - have) < 1e-9
        else:
            ok = want == have
        if not ok:
            out.append(key)
    return out


def align(expected: list[dict], got: list[dict], contains: bool) -> list[tuple]:
    """Edit-distance alignment: a list of (op, expected_index, got_index).

    op is "match", "change" (same type, other settings), "replace" (other type),
    "missing" (expected, absent) or "extra" (present, not expected). Optional spec
    layers cost nothing to leave out; in "contains" mode extra layers cost nothing.
    """
    n, m = len(expected), len(got)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[Any]] = [[None] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    extra_cost = 0.0 if contains else 1.0
    for i in range(n + 1):
        for j in range(m + 1):
            here = cost[i][j]
            if here == inf:
                continue
            if i < n:
                c = here + (0.0 if expected[i].get("optional") else 1.0)
                if c < cost[i + 1][j]:
                    cost[i + 1][j], back[i + 1][j] = c, ("missing", i, None)
            if j < m:
                c = here + extra_cost
                if c < cost[i][j + 1]:
                    cost[i][j + 1], back[i][j + 1] = c, ("extra", None, j)
            if i < n and j < m:
                if _type_matches(expected[i], got[j]):
                    diff = mismatches(expected[i], got[j])
                    op, c = ("change", 0.9) if diff else ("match", 0.0)
                else:
                    op, c = "replace", 1.5
                if here + c < cost[i + 1][j + 1]:
                    cost[i + 1][j + 1], back[i + 1][j + 1] = here + c, (op, i, j)
    ops = []
    i, j = n, m
    while i or j:
        op = back[i][j]
        ops.append(op)
        i, j = i - (op[1] is not None), j - (op[2] is not None)
    return list(reversed(ops))


def ignored_types(spec: dict[str, Any]) -> set[str]:
    """The layer types a spec leaves open (InputLayer always)."""
    return set(spec.get("ignore", ["InputLayer"])) | {"InputLayer"}


def _layer_diff(got: list[dict[str, Any]], spec: dict[str, Any]
                ) -> tuple[list[str], float, int, dict]:
    """The differences of the model's (normalised) layers from the spec's, as lines; the
    credit earned and the credit there is; the expected layers, described."""
    expected = normalise(expand_spec(spec["layers"]), ignored_types(spec))
    contains = spec.get("match", "exact") == "contains"
    lines: list[str] = []
    earned, extra = 0.0, 0
    consumed = 0  # model layers passed so far, to say where a missing layer belongs
    for op, i, j in align(expected, got, contains):
        if j is not None:
            consumed = j + 1
        if op == "match":
            earned += not expected[i].get("optional")
            continue
        if (op == "extra" and contains) or (op == "missing" and expected[i].get("optional")):
            continue
        if op == "change":
            earned += 0.0 if expected[i].get("optional") else 0.5
            keys = mismatches(expected[i], got[j])
            lines.append(f"layer {j + 1}: expected {describe(expected[i])}, got "
                         f"{describe(got[j])} (check {', '.join(keys)})")
        elif op == "replace":
            lines.append(f"layer {j + 1}: expected {describe(expected[i])}, got "
                         f"{describe(got[j])}")
        elif op == "missing":
            where = f"after layer {consumed}" if consumed else "at the start"
            lines.append(f"missing {describe(expected[i])} {where} (spec layer {i + 1})")
        elif op == "extra":
            extra += 1
            lines.append(f"layer {j + 1}: unexpected {describe(got[j])}")
    required = sum(not e.get("optional") for e in expected)
    return lines, earned, required + extra, {"expected": [describe(e) for e in expected]}


def check(facts: dict[str, Any], spec: dict[str, Any], task: dict[str, Any]) -> CheckResult:
    got = normalise(facts["graph"]["layers"], ignored_types(spec))
    lines: list[str] = []
    earned, total, details = 0.0, 0, {}
    if spec.get("layers"):
        lines, earned, total, details = _layer_diff(got, spec)
        if lines:
            details["diff"] = list(lines)
    # The model's layers, for a person (and the class's similarity check).
    details["got"] = [describe(g) for g in got]
    verdicts = properties.evaluate(spec.get("properties", []), facts, task)
    held = [v["text"] for v in verdicts if v["ok"]]
    for v in verdicts:
        if not v["ok"]:
            lines.append(f"expected {v['text']}" + (f" ({v['why']})" if v["why"] else ""))
    earned += len(held)
    total += len(verdicts)
    if verdicts:
        details["properties"] = [{k: v[k] for k in ("ok", "text")} for v in verdicts]
    if not lines:
        what = [f"{len(details['got'])} layers match the spec"] if spec.get("layers") else []
        return passed("; ".join(what + held), details=details)
    essential_failed = any(v["essential"] and not v["ok"] for v in verdicts)
    fraction = 0.0 if essential_failed or not total else round(earned / total, 4)
    hint = ("compare your layers with the assignment text; the layer numbers count the "
            "model's layers from 1, without the Input layer")
    message = "\n".join(lines)
    if held:
        message += "\nas the text asks: " + "; ".join(held)
    return failed(message, hints=[hint], details=details, fraction=fraction)
