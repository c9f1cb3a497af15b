"""Architecture properties: what a text that leaves the design open still states.

A spec's ``architecture.properties`` is a list; each item is one of
- ``{"count": TYPES, "at_least": n, "at_most": m}``: how many layers of those types
  (nested models included). ``"at_most": 0`` says a type must be absent.
- ``{"order": [TYPES, TYPES, ...]}``: each group is present and every layer of a
  group comes before every layer of the next (a Flatten or global pooling between
  the last convolution and the first Dense).
- ``{"head": "classes"}``: the output fits the task's ``num_classes`` in any correct
  form: n softmax units; for two classes also one sigmoid unit; or n linear units
  (logits) unless the model was compiled with a loss that expects probabilities.
TYPES is a Keras class name or a list of them. Any item may add ``"essential": true``
(the check scores nothing when it fails: a "CNN" without a convolution is not a CNN
with one flaw) and ``"why"``, shown when it fails.
"""

from __future__ import annotations

from typing import Any

from grader.parent.checks.model_view import PROBABILITIES, all_layers, output_head


def _types(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _names(types: list[str]) -> str:
    return " or ".join(types)


def _count(prop: dict[str, Any], facts: dict[str, Any], task: dict[str, Any]) -> tuple[bool, str]:
    types = _types(prop["count"])
    n = sum(layer["type"] in types for layer in all_layers(facts))
    lo, hi = prop.get("at_least"), prop.get("at_most")
    if hi == 0:
        want = "no"
    elif lo is not None and hi is not None:
        want = f"{lo} to {hi}" if lo != hi else f"exactly {lo}"
    elif lo is not None:
        want = f"at least {lo}"
    else:
        want = f"at most {hi}"
    ok = (lo is None or n >= lo) and (hi is None or n <= hi)
    return ok, f"{want} {_names(types)} layer(s): found {n}"


def _order(prop: dict[str, Any], facts: dict[str, Any], task: dict[str, Any]) -> tuple[bool, str]:
    groups = [_types(g) for g in prop["order"]]
    layers = all_layers(facts)
    where = [[i for i, layer in enumerate(layers) if layer["type"] in g] for g in groups]
    want = " before ".join(_names(g) for g in groups)
    for g, found in zip(groups, where, strict=True):
        if not found:
            return False, f"{want}: the model has no {_names(g)}"
    for k in range(len(groups) - 1):
        last, first = layers[max(where[k])], layers[min(where[k + 1])]
        if max(where[k]) > min(where[k + 1]):
            return False, (f"{want}: {first['type']} '{first.get('name', '')}' comes before "
                           f"{last['type']} '{last.get('name', '')}'")
    return True, want


def head_forms(classes: int | None) -> str:
    if classes == 2:
        return "Dense(1, sigmoid) or Dense(2, softmax)"
    return f"Dense({classes if classes else 'n'}, softmax)"


def _head(prop: dict[str, Any], facts: dict[str, Any], task: dict[str, Any]) -> tuple[bool, str]:
    classes = task.get("num_classes")
    head = output_head(facts)
    if head is None:
        return False, "an output layer: the model has no layers"
    units, act = head["units"], head["activation"]
    found = f"{head['type']}({units}, {act})"
    compiled = facts.get("compile") or {}
    if act in PROBABILITIES:
        ok = (units == classes and (act != "sigmoid" or classes == 1)) or (
            classes == 2 and units == 1 and act == "sigmoid")
    elif act == "linear":
        # Logits are a correct head when the loss applies the softmax itself; only a
        # model compiled for probabilities (from_logits=False) gets them wrong.
        probabilities_loss = compiled.get("compiled") and compiled.get("loss") \
            and not compiled.get("from_logits")
        ok = units == classes and not probabilities_loss
        if ok:
            found += ", logits"
    else:
        ok = False
    return ok, f"an output head for {classes} classes ({head_forms(classes)}): found {found}"


KINDS = {"count": _count, "order": _order, "head": _head}


def kind_of(prop: dict[str, Any]) -> str:
    return next(k for k in KINDS if k in prop)


def evaluate(props: list[dict[str, Any]], facts: dict[str, Any],
             task: dict[str, Any]) -> list[dict[str, Any]]:
    """Each property's verdict: {"ok", "text", "essential", "why"}."""
    out = []
    for prop in props:
        ok, text = KINDS[kind_of(prop)](prop, facts, task)
        out.append({"ok": ok, "text": text, "essential": bool(prop.get("essential")),
                    "why": prop.get("why", "")})
    return out
