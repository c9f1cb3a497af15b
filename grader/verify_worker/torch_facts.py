"""Facts about a PyTorch model in the Keras facts' shape (see facts.py), so one spec and
the same parent checks grade either framework.

The trusted source is a torch.export ExportedProgram (the verify worker loads the saved
one; no class of the submission is needed): its fx graph gives the layers in execution
order, each op's arguments give the layer's settings, and following the graph's edges
gives each layer's real inputs (a skip connection, parallel branches). The build
worker's fallback for a model torch.export cannot capture reads the live modules
instead: settings from their attributes, but only a guessed (linear) order.

Layer types and config keys are Keras': Conv2d -> Conv2D(filters, kernel_size, ...),
Linear -> Dense(units), a standalone ReLU/Softmax stays a layer for the checks to fold.
Parameter counts follow PyTorch: parameters only (BatchNorm's running statistics are
buffers), and a parameter with requires_grad False is non-trainable.
"""

from __future__ import annotations

from typing import Any

# Modules whose ops are read one by one (below); any other leaf module (nn.LSTM, nn.Embedding,
# a student's own layer) becomes one layer named by its class.
KNOWN_MODULES = {
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
    "Linear", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
    "LayerNorm", "GroupNorm", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
    "AlphaDropout", "Flatten", "ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "SiLU", "Sigmoid",
    "Tanh", "Softmax", "LogSoftmax", "Identity"}
_ACTIVATIONS = {"gelu": "gelu", "sigmoid": "sigmoid", "sigmoid_": "sigmoid", "tanh": "tanh",
                "tanh_": "tanh", "silu": "silu", "silu_": "silu", "hardswish": "hard_swish",
                "softplus": "softplus", "mish": "mish"}


# --------------------------------------------------------------- settings, Keras words


def _tuple(value: Any, n: int) -> list[int]:
    if isinstance(value, (list, tuple)):
        values = [int(v) for v in value]
        return values * n if len(values) == 1 else values
    return [int(value)] * n


def conv_config(weight_shape: list[int], stride: Any, padding: Any, dilation: Any,
                groups: int, bias: bool, transposed: bool = False) -> dict[str, Any]:
    n = len(weight_shape) - 2
    kernel = [int(k) for k in weight_shape[2:]]
    dilation = _tuple(dilation, n)
    if isinstance(padding, str):
        pad: Any = padding
    else:
        numbers = _tuple(padding, n)
        # A symmetric pad of d*(k-1)/2 on an odd kernel gives ceil(size/stride) outputs,
        # Keras' "same"; the padding a student wrote otherwise has no Keras name.
        if not any(numbers):
            pad = "valid"
        elif all(k % 2 == 1 and p == d * (k - 1) // 2
                 for k, p, d in zip(kernel, numbers, dilation, strict=True)):
            pad = "same"
        else:
            pad = numbers
    filters = weight_shape[1] * groups if transposed else weight_shape[0]
    config = {"filters": int(filters), "kernel_size": kernel, "strides": _tuple(stride, n),
              "padding": pad, "dilation_rate": dilation, "activation": "linear",
              "use_bias": bias}
    if groups != 1:
        config["groups"] = int(groups)
    return config


def pool_config(kernel: Any, stride: Any, padding: Any, n: int) -> dict[str, Any]:
    size = _tuple(kernel, n)
    numbers = _tuple(padding, n)
    return {"pool_size": size, "strides": _tuple(stride, n) if stride else size,
            "padding": "valid" if not any(numbers) else numbers}


def dense_config(units: int, bias: bool) -> dict[str, Any]:
    return {"units": int(units), "activation": "linear", "use_bias": bias}


def _axis(dim: int, rank: int | None) -> int:
    # Keras writes the last axis as -1; torch's dim=1 on (N, C) is that axis.
    return -1 if rank is not None and dim in (rank - 1, -1) else int(dim)


# --------------------------------------------------------------------- the fx graph


def _op(node: Any) -> str:
    """``aten.conv2d.default`` -> ``conv2d``."""
    parts = str(node.target).split(".")
    return parts[1] if len(parts) > 2 else parts[-1]


def _arguments(node: Any) -> dict[str, Any]:
    """The op's arguments by name, defaults filled in from its schema."""
    schema = getattr(node.target, "_schema", None)
    if schema is None:
        return {}
    out: dict[str, Any] = {}
    for index, arg in enumerate(schema.arguments):
        if index < len(node.args):
            out[arg.name] = node.args[index]
        elif arg.name in node.kwargs:
            out[arg.name] = node.kwargs[arg.name]
        elif arg.has_default_value():
            out[arg.name] = arg.default_value
    return out


def _dims(node: Any) -> list[int] | None:
    value = node.meta.get("val") if hasattr(node, "meta") else None
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    try:
        return [int(d) for d in value.shape]
    except Exception:
        return None


def _batchless(dims: list | None) -> list | None:
    # The batch dimension as Keras shows it: unknown.
    return [None, *dims[1:]] if dims else dims


def _shape(node: Any) -> list | None:
    return _batchless(_dims(node))


def _rank(node: Any) -> int | None:
    shape = _shape(node)
    return None if shape is None else len(shape)


def _nodes_in(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in _nodes_in(v)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _nodes_in(v)]
    return [value] if hasattr(value, "op") and hasattr(value, "meta") else []


def _layer_of(node: Any, data: set[Any]) -> tuple[str, dict[str, Any]] | None:
    """The Keras layer type and config an op stands for; None for an op that only moves
    data along (a getitem, a reshape that is not a flatten, a scalar add)."""
    op, a = _op(node), _arguments(node)
    rank = _rank(node)
    weight = a.get("weight")
    weight_shape = _dims(weight) if hasattr(weight, "meta") else None
    if op in ("conv1d", "conv2d", "conv3d", "convolution", "conv_transpose1d",
              "conv_transpose2d", "conv_transpose3d") and weight_shape:
        transposed = op.startswith("conv_transpose") or bool(a.get("transposed"))
        n = len(weight_shape) - 2
        config = conv_config(weight_shape, a.get("stride", 1), a.get("padding", 0),
                             a.get("dilation", 1), int(a.get("groups", 1)),
                             a.get("bias") is not None, transposed)
        return (f"Conv{n}DTranspose" if transposed else f"Conv{n}D"), config
    if op == "linear" and weight_shape:
        return "Dense", dense_config(weight_shape[0], a.get("bias") is not None)
    if op in ("addmm",) and node.args and node.args[1] in data:
        return "Dense", dense_config((_shape(node) or [0])[-1], True)
    for kind, keras in (("max_pool", "MaxPooling"), ("avg_pool", "AveragePooling")):
        for n in (1, 2, 3):
            if op in (f"{kind}{n}d", f"{kind}{n}d_with_indices"):
                return f"{keras}{n}D", pool_config(a.get("kernel_size"), a.get("stride"),
                                                   a.get("padding", 0), n)
    for kind, keras in (("adaptive_avg_pool", "Average"), ("adaptive_max_pool", "Max")):
        for n in (1, 2, 3):
            if op in (f"{kind}{n}d", f"_{kind}{n}d"):
                size = _tuple(a.get("output_size", 1), n)
                if set(size) == {1}:
                    return f"Global{keras}Pooling{n}D", {}
                return f"Adaptive{keras}Pooling{n}D", {"output_size": size}
    if op in ("mean", "amax") and isinstance(a.get("dim"), (list, tuple)):
        source = a.get("self")
        in_rank = _rank(source) if source is not None else None
        dims = {d % in_rank for d in a["dim"]} if in_rank else set()
        if in_rank and in_rank >= 3 and dims == set(range(2, in_rank)):
            keras = "Average" if op == "mean" else "Max"
            return f"Global{keras}Pooling{in_rank - 2}D", {}
        return None
    if op in ("batch_norm", "_native_batch_norm_legit_no_training", "_native_batch_norm_legit",
              "native_batch_norm", "cudnn_batch_norm"):
        return "BatchNormalization", {}
    if op == "layer_norm":
        return "LayerNormalization", {}
    if op == "group_norm":
        return "GroupNormalization", {"groups": int(a.get("num_groups", 1))}
    if op in ("dropout", "dropout_", "alpha_dropout", "native_dropout"):
        return "Dropout", {"rate": float(a.get("p", 0.5))}
    if op in ("feature_dropout", "feature_dropout_"):
        return f"SpatialDropout{max((rank or 4) - 2, 1)}D", {"rate": float(a.get("p", 0.5))}
    if op == "flatten":
        return "Flatten", {}
    if op in ("view", "reshape", "_unsafe_view"):
        source = a.get("self")
        in_shape = _shape(source) if source is not None else None
        # view(N, -1): Keras' Flatten. Any other reshape just moves data along.
        if in_shape and len(in_shape) >= 3 and rank == 2:
            return "Flatten", {}
        return None
    if op in ("relu", "relu_"):
        return "ReLU", {}
    if op in ("leaky_relu", "leaky_relu_"):
        return "LeakyReLU", {"negative_slope": float(a.get("negative_slope", 0.01))}
    if op in ("elu", "elu_"):
        return "ELU", {"alpha": float(a.get("alpha", 1.0))}
    if op in ("hardtanh", "hardtanh_") and (a.get("min_val"), a.get("max_val")) == (0.0, 6.0):
        return "ReLU", {"max_value": 6.0}
    if op in ("softmax", "_softmax", "log_softmax", "_log_softmax"):
        act = "log_softmax" if "log" in op else "softmax"
        return "Softmax", {"activation": act, "axis": _axis(int(a.get("dim", -1)), rank)}
    if op in _ACTIVATIONS:
        return "Activation", {"activation": _ACTIVATIONS[op]}
    if op in ("add", "add_", "mul", "mul_"):
        operands = [n for n in _nodes_in(node.args[:2]) if n in data]
        # Both operands computed from the input: a merge. x + 1, x * scale: not a layer.
        if len(_nodes_in(node.args[:2])) == 2 and len(operands) == 2:
            return ("Add" if op.startswith("add") else "Multiply"), {}
        return None
    if op == "cat":
        return "Concatenate", {"axis": _axis(int(a.get("dim", 0)), rank)}
    return None


def _leaf_paths(nodes: list[Any]) -> set[str]:
    paths = {path for n in nodes for path, _ in (n.meta.get("nn_module_stack") or {}).values()}
    return {p for p in paths if p and not any(q.startswith(p + ".") for q in paths)}


def _owner(node: Any) -> tuple[str, str, str] | None:
    """The innermost module call the op ran in: (stack key, path, class name)."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return None
    key, (path, type_name) = list(stack.items())[-1]
    return key, path, str(type_name).rsplit(".", 1)[-1]


def _call_name(key: str, path: str) -> str:
    # A module called twice (torchvision's BasicBlock reuses self.relu) has keys
    # "...relu" and "...relu@1"; the second call is its own layer.
    suffix = key.rsplit("@", 1)[1] if "@" in key.rsplit(".", 1)[-1] else ""
    return f"{path}@{suffix}" if suffix else path


def _top(path: str) -> str | None:
    return path.split(".", 1)[0] if path else None


def program_graph(program: Any) -> dict[str, Any]:
    """Layers of an ExportedProgram in execution order, each with the names of the
    layers whose outputs feed it (followed through the graph's edges)."""
    signature = program.graph_signature
    parameters = dict(signature.inputs_to_parameters)
    state = program.state_dict
    user_inputs = set(signature.user_inputs)
    nodes = list(program.graph.nodes)
    leaves = _leaf_paths(nodes)

    layers: list[dict[str, Any]] = []
    by_name: dict[str, dict[str, Any]] = {}
    data: set[Any] = set()  # nodes computed from the model's input
    source: dict[Any, list[str]] = {}  # data node -> the layers its value comes from
    weights: dict[Any, list[str]] = {}  # non-data node -> the parameters it is made of
    counted: set[str] = set()  # a shared parameter counts once, where first used
    groups: dict[str, dict[str, Any]] = {}  # an unknown module's call -> its one layer

    def add(name: str, kind: str, config: dict, node: Any, top: str | None) -> dict:
        if name in by_name:
            name = node.name
        layer = {"name": name, "type": kind, "config": config, "params": 0,
                 "trainable_params": 0, "trainable": True, "inbound": [],
                 "input_shapes": [], "output_shape": _shape(node), "_top": top}
        layers.append(layer)
        by_name[name] = layer
        return layer

    def feed(layer: dict[str, Any], node: Any) -> None:
        """Adds what the op reads to its layer: the layers feeding it and its parameters."""
        for arg in _nodes_in((node.args, node.kwargs)):
            outside = [s for s in source.get(arg, []) if s != layer["name"]]
            if arg in data and outside:
                layer["inbound"].extend(s for s in outside if s not in layer["inbound"])
                if shape := _shape(arg):
                    layer["input_shapes"].append(shape)
            for fqn in weights.get(arg, []):
                if fqn in counted:
                    continue
                counted.add(fqn)
                size = int(state[fqn].numel())
                layer["params"] += size
                if state[fqn].requires_grad:
                    layer["trainable_params"] += size
        layer["trainable"] = layer["trainable_params"] == layer["params"]

    for node in nodes:
        if node.op == "placeholder":
            if node.name in user_inputs:
                data.add(node)
                source[node] = [node.name]
                add(node.name, "InputLayer", {}, node, None)
            else:
                weights[node] = [parameters[node.name]] if node.name in parameters else []
            continue
        if node.op != "call_function":
            continue
        inputs = _nodes_in((node.args, node.kwargs))
        if not any(i in data for i in inputs):
            # Made of parameters and constants only (a transposed weight): not a layer.
            weights[node] = [f for i in inputs for f in weights.get(i, [])]
            continue
        data.add(node)
        owner = _owner(node)
        key, path, class_name = owner or ("", "", "")
        if path in leaves and class_name not in KNOWN_MODULES:
            layer = groups.get(key)
            if layer is None:
                layer = groups[key] = add(_call_name(key, path), class_name, {}, node,
                                          _top(path))
            # Every op of the call adds what it reads from outside the call.
            feed(layer, node)
            layer["output_shape"] = _shape(node)
            source[node] = [layer["name"]]
            continue
        found = _layer_of(node, data)
        if found is None:
            source[node] = list(dict.fromkeys(s for i in inputs if i in data
                                              for s in source.get(i, [])))
            continue
        kind, config = found
        name = _call_name(key, path) if path in leaves else (
            f"{path}.{node.name}" if path else node.name)
        layer = add(name, kind, config, node, _top(path))
        feed(layer, node)
        source[node] = [layer["name"]]
    return {"type": "torch", "name": "", "layers": _nest_frozen(layers)}


def _nest_frozen(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A top-level submodule with frozen parameters (a pretrained feature extractor)
    becomes one nested-model layer, as a frozen Keras base is: the graph checks find
    the base there and its layers stay searchable inside."""
    members: dict[str, list[dict[str, Any]]] = {}
    for layer in layers:
        if layer["_top"]:
            members.setdefault(layer["_top"], []).append(layer)
    nested = {top: group for top, group in members.items()
              if len(group) > 1 and any(g["trainable_params"] < g["params"] for g in group)}
    owner = {layer["name"]: top for top, group in nested.items() for layer in group}
    out: list[dict[str, Any]] = []
    for layer in layers:
        top = owner.get(layer["name"])
        if top is None:
            layer["inbound"] = list(dict.fromkeys(owner.get(i, i) for i in layer["inbound"]))
            out.append(layer)
            continue
        if top in {x["name"] for x in out}:
            continue
        group = nested[top]
        inside = {g["name"] for g in group}
        outside = list(dict.fromkeys(i for g in group for i in g["inbound"] if i not in inside))
        inputs = [{"name": i, "type": "InputLayer", "config": {}, "params": 0,
                   "trainable_params": 0, "trainable": True, "inbound": [], "input_shapes": [],
                   "output_shape": None} for i in outside]
        params = sum(g["params"] for g in group)
        trainable = sum(g["trainable_params"] for g in group)
        out.append({"name": top, "type": "Functional", "config": {}, "params": params,
                    "trainable_params": trainable, "trainable": trainable > 0,
                    "inbound": list(dict.fromkeys(owner.get(i, i) for i in outside)),
                    "input_shapes": [s for g in group if set(g["inbound"]) - inside
                                     for s in g["input_shapes"]][:len(outside)],
                    "output_shape": group[-1]["output_shape"], "is_model": True,
                    "submodel": {"type": "Functional", "name": top,
                                 "layers": inputs + [_public(g) for g in group]}})
    return [_public(layer) for layer in out]


def _public(layer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in layer.items() if not k.startswith("_")}


def _counts(named: list[tuple[str, Any]]) -> dict[str, int]:
    # PyTorch convention: parameters only (buffers such as BatchNorm running
    # statistics are not parameters); frozen means requires_grad is False.
    total = sum(int(p.numel()) for _, p in named)
    trainable = sum(int(p.numel()) for _, p in named if p.requires_grad)
    return {"trainable_params": trainable, "non_trainable_params": total - trainable,
            "total_params": total}


def program_facts(program: Any, input_shape: list | None, output_shape: list | None
                  ) -> dict[str, Any]:
    counts = _counts([(n, program.state_dict[n]) for n in program.graph_signature.parameters])
    return {"class": "ExportedProgram", **counts,
            "input_shapes": [_batchless(input_shape)] if input_shape else [],
            "output_shapes": [_batchless(output_shape)] if output_shape else [],
            "graph": program_graph(program),
            # The loss is not in the program: the parent adds it from a static reading
            # of the submission (grader/parent/checks/torch_loss.py).
            "compile": {"compiled": False, "loss": None, "from_logits": False},
            "framework": "torch"}


def program_input_shape(program: Any) -> list[int] | None:
    """The shape of the one tensor input the program was exported on (batch included),
    or None when it has another number of inputs or does not say."""
    names = set(program.graph_signature.user_inputs)
    shapes = [_dims(node) for node in program.graph.nodes
              if node.op == "placeholder" and node.name in names]
    return shapes[0] if len(shapes) == 1 else None


def torch_export_facts(program: Any, example: Any) -> dict[str, Any]:
    """Facts of a loaded torch.export ExportedProgram (the verify worker's side)."""
    output = program.module()(example)
    shape = [int(d) for d in output.shape] if hasattr(output, "shape") else None
    return program_facts(program, list(example.shape), shape)


# ------------------------------------------------------------ live modules (fallback)


def _module_layer(name: str, module: Any) -> dict[str, Any]:
    kind = type(module).__name__
    config: dict[str, Any] = {}
    n = int(kind[-2]) if kind[-2:-1].isdigit() and kind.endswith("d") else 2
    if kind.startswith("Conv"):
        transposed = "Transpose" in kind
        config = conv_config(list(module.weight.shape), module.stride, module.padding,
                             module.dilation, module.groups, module.bias is not None,
                             transposed)
        kind = f"Conv{n}DTranspose" if transposed else f"Conv{n}D"
    elif kind == "Linear":
        kind, config = "Dense", dense_config(module.out_features, module.bias is not None)
    elif kind.startswith(("MaxPool", "AvgPool")):
        config = pool_config(module.kernel_size, module.stride, module.padding, n)
        kind = f"{'Max' if kind.startswith('Max') else 'Average'}Pooling{n}D"
    elif kind.startswith("Adaptive"):
        size = _tuple(module.output_size, n)
        word = "Average" if "Avg" in kind else "Max"
        kind, config = ((f"Global{word}Pooling{n}D", {}) if set(size) == {1}
                        else (f"Adaptive{word}Pooling{n}D", {"output_size": size}))
    elif kind.startswith("BatchNorm"):
        kind = "BatchNormalization"
    elif kind.startswith("Dropout") or kind == "AlphaDropout":
        kind, config = "Dropout", {"rate": float(module.p)}
    elif kind in ("Softmax", "LogSoftmax"):
        config = {"activation": "log_softmax" if kind == "LogSoftmax" else "softmax"}
        kind = "Softmax"
    elif kind in ("Sigmoid", "Tanh", "GELU", "SiLU"):
        kind, config = "Activation", {"activation": kind.lower()}
    own = list(module.parameters(recurse=False))
    params = sum(int(p.numel()) for p in own)
    trainable = sum(int(p.numel()) for p in own if p.requires_grad)
    return {"name": name, "type": kind, "config": config, "params": params,
            "trainable_params": trainable, "trainable": trainable == params,
            "inbound": [], "input_shapes": [], "output_shape": None}


def torch_module_facts(model: Any, output_shape: list | None) -> dict[str, Any]:
    """Facts of a live torch.nn.Module that torch.export could not capture (the build
    worker's side, unverified). Functional calls in forward (F.relu, x + y) are not
    modules and do not show, and the order is the modules' registration order: a guess."""
    layers, previous = [], None
    for name, module in model.named_modules():
        if not name or list(module.children()) or type(module).__name__ == "Identity":
            continue
        layer = _module_layer(name, module)
        layer["inbound"] = [previous] if previous else []
        layers.append(layer)
        previous = name
    return {"class": type(model).__name__, **_counts(list(model.named_parameters())),
            "input_shapes": [],
            "output_shapes": [_batchless(output_shape)] if output_shape else [],
            "graph": {"type": "torch", "name": "", "layers": layers},
            "compile": {"compiled": False, "loss": None, "from_logits": False},
            "framework": "torch"}
