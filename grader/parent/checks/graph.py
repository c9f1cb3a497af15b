"""Graph checks, for what a layer sequence cannot show.

- inception: a Concatenate over two or more parallel branches that differ in their
  kernel sizes (a 1x1 and a 3x3 convolution, say, or a convolution and a pooling).
- residual: an Add with a skip connection: one input is an earlier tensor the other
  input was computed from, directly or through a 1x1 projection (a Conv 1x1, maybe
  with BatchNormalization) of it.
- frozen_base: a nested pretrained model none of whose weights are trainable, so the
  model's trainable count is the head's.
- fine_tuned_base: a nested pretrained model some of whose weights are trainable.
- augmentation: random preprocessing layers (RandomFlip, RandomRotation, ...), or random
  settings in the file's data pipeline (source_augmentation.py), which the texts allow.
Blocks are searched in nested models too.
"""

from __future__ import annotations

from typing import Any

from grader.protocol import CheckResult, failed, passed

FIX = {
    "inception": "merge two or more parallel branches with different kernel sizes "
                 "(for example 1x1, 3x3 and 5x5 convolutions on the same input) with "
                 "layers.Concatenate()",
    "residual": "add a skip connection: keep the block's input x, compute y from it, "
                "then layers.Add()([x, y]) (add layers.Conv2D(filters, 1)(x) instead of x "
                "where the shapes differ)",
    "frozen_base": "call the pretrained base as one layer (x = base(inputs)) and set "
                   "base.trainable = False before compiling",
    "fine_tuned_base": "unfreeze (part of) the pretrained base, e.g. base.trainable = True "
                       "for its last block, and compile again",
    "augmentation": "put augmentation layers (layers.RandomFlip, layers.RandomRotation, "
                    "...) at the start of the model, or give the training data generator "
                    "random settings (rotation_range, zoom_range, horizontal_flip, ...)",
}
_BRANCH_TYPES = ("Conv", "Pooling", "SeparableConv", "DepthwiseConv")


def _all_graphs(graph: dict[str, Any]) -> list[dict[str, Any]]:
    found = [graph]
    for layer in graph["layers"]:
        if layer.get("submodel"):
            found.extend(_all_graphs(layer["submodel"]))
    return found


def _ancestors(graph: dict[str, Any]) -> dict[str, set[str]]:
    by_name = {layer["name"]: layer for layer in graph["layers"]}
    memo: dict[str, set[str]] = {}

    def up(name: str) -> set[str]:
        if name in memo:
            return memo[name]
        memo[name] = set()  # guards against cycles in a corrupted config
        found: set[str] = set()
        for parent in by_name.get(name, {}).get("inbound", []):
            found |= {parent} | up(parent)
        memo[name] = found
        return found

    for name in by_name:
        up(name)
    return memo


def _signature(layer: dict[str, Any]) -> str | None:
    if not any(t in layer["type"] for t in _BRANCH_TYPES):
        return None
    c = layer.get("config", {})
    size = c.get("kernel_size") or c.get("pool_size")
    size = "x".join(map(str, size)) if isinstance(size, list) else str(size)
    return f"{'pool' if 'Pooling' in layer['type'] else 'conv'} {size}"


def inception_blocks(graph: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = []
    for g in _all_graphs(graph):
        by_name = {layer["name"]: layer for layer in g["layers"]}
        anc = _ancestors(g)
        for layer in g["layers"]:
            inputs = layer.get("inbound", [])
            if layer["type"] != "Concatenate" or len(inputs) < 2:
                continue
            reach = [anc.get(i, set()) | {i} for i in inputs]
            common = set.intersection(*reach)
            branches = []
            for path in reach:
                sigs = sorted({s for n in path - common
                               if (s := _signature(by_name.get(n, {"type": ""})))})
                branches.append(tuple(sigs))
            if len([b for b in branches if b]) >= 2 and len(set(branches)) >= 2 and common:
                blocks.append({"layer": layer["name"], "branches": [list(b) for b in branches]})
    return blocks


def _shortcut_source(name: str, by_name: dict[str, dict[str, Any]]) -> str | None:
    """Where a projection shortcut starts: ``name`` is a 1x1 convolution, optionally
    followed by BatchNormalization; None for any other path."""
    layer = by_name.get(name, {})
    if layer.get("type") == "BatchNormalization" and len(layer["inbound"]) == 1:
        layer = by_name.get(layer["inbound"][0], {})
    kernel = layer.get("config", {}).get("kernel_size")
    if layer.get("type") in ("Conv1D", "Conv2D", "Conv3D") and len(layer["inbound"]) == 1 \
            and isinstance(kernel, list) and set(kernel) == {1}:
        return layer["inbound"][0]
    return None


def _skip(inputs: list[str], anc: dict[str, set[str]],
          by_name: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The skip connection among an Add's inputs: one input is an earlier tensor that
    another input was computed from, or a projection of such a tensor."""
    for i in inputs:
        earlier = set().union(*(anc.get(o, set()) for o in inputs if o != i))
        if i in earlier:
            return {"shortcut": "identity", "skip_from": i}
        source = _shortcut_source(i, by_name)
        if source in earlier:
            return {"shortcut": "projection", "skip_from": source}
    return None


def residual_blocks(graph: dict[str, Any]) -> list[dict[str, Any]]:
    # A shared ancestor alone is not enough: two parallel branches added together
    # are not a residual block.
    blocks = []
    for g in _all_graphs(graph):
        by_name = {layer["name"]: layer for layer in g["layers"]}
        anc = _ancestors(g)
        for layer in g["layers"]:
            inputs = layer.get("inbound", [])
            if layer["type"] == "Add" and (skip := _skip(inputs, anc, by_name)):
                blocks.append({"layer": layer["name"], **skip})
    return blocks


def _base(graph: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    nested = [layer for layer in graph["layers"] if layer.get("is_model")]
    if name:
        nested = [layer for layer in nested if layer["name"] == name] or nested
    return max(nested, key=lambda layer: layer["params"], default=None)


def check(facts: dict[str, Any], spec: dict[str, Any], task: dict[str, Any]) -> CheckResult:
    graph = facts["graph"]
    found: dict[str, Any] = {}
    problems: list[str] = []
    hints: list[str] = []
    wanted = spec.get("min_count", {})
    for need in spec["require"]:
        if need in ("inception", "residual"):
            blocks = inception_blocks(graph) if need == "inception" else residual_blocks(graph)
            found[need] = blocks
            if len(blocks) < wanted.get(need, 1):
                problems.append(f"{need}: found {len(blocks)} {need} block(s), need at least "
                                f"{wanted.get(need, 1)}")
                hints.append(FIX[need])
        elif need in ("frozen_base", "fine_tuned_base"):
            base = _base(graph, spec.get("base"))
            if base is None:
                problems.append(f"{need}: no pretrained base found as a nested model")
                hints.append(FIX["frozen_base"])
                continue
            head_trainable = sum(layer["trainable_params"] for layer in graph["layers"]
                                 if layer is not base)
            found[need] = {"base": base["name"], "base_params": base["params"],
                           "base_trainable": base["trainable_params"],
                           "head_trainable": head_trainable}
            if need == "frozen_base" and (base["trainable_params"] != 0
                                          or facts["trainable_params"] != head_trainable):
                problems.append(f"frozen_base: {base['name']} has "
                                f"{base['trainable_params']:,} trainable parameters; expected 0")
                hints.append(FIX["frozen_base"])
            if need == "fine_tuned_base" and base["trainable_params"] == 0:
                problems.append(f"fine_tuned_base: no weight of {base['name']} is trainable")
                hints.append(FIX["fine_tuned_base"])
        elif need == "augmentation":
            layers = [layer["name"] for g in _all_graphs(graph) for layer in g["layers"]
                      if layer["type"].startswith("Random")]
            # Or in the data pipeline, where the texts allow it (an ImageDataGenerator
            # with random settings): read from the file by the parent.
            source = facts.get("source", {})
            outside = [f"{source.get('file')}, {call}" for call in source.get("augmentation", [])]
            found[need] = layers or outside
            if not layers and not outside:
                problems.append("augmentation: no augmentation layer (RandomFlip, "
                                "RandomRotation, ...) in the model, and no random setting "
                                "in the data pipeline (ImageDataGenerator(rotation_range=..., "
                                "horizontal_flip=True), tf.image.random_*)")
                hints.append(FIX[need])
    if problems:
        return failed("\n".join(problems), hints=hints, details=found)
    summary = []
    for need, what in found.items():
        if need == "augmentation" and what and "line " in what[0]:
            summary.append(f"augmentation in the data pipeline ({'; '.join(what)})")
            continue
        count = len(what) if isinstance(what, list) else 1
        summary.append(f"{need} ({count})" if isinstance(what, list) else need)
    return passed("found " + ", ".join(summary), details=found)
