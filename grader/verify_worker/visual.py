"""Visual tasks: activation maps, filter visualisation by gradient ascent, Grad-CAM.

The verify worker's half: ``run(ctx)`` recomputes everything that decides the
score from the saved model (loaded with safe_mode) and the plan's probe image
(grader/verify_worker/visual_plan.py), compares the student's arrays, which the
build worker's half stored (grader/build_worker/visual.py), with it, and renders
PNGs of what the student's functions produced next to the outputs, so a person
can look.

The spec's ``checks.visual`` keys: ``kind`` (``grad_cam``, ``activation_maps``,
``filter_pattern``), ``file`` and ``function`` (the student's function),
``image_shape``; for Grad-CAM ``class_index`` or ``class_indices`` and
optionally ``figure_function``; for activation maps optionally
``layer_names`` (default: the first two Conv2D layers); for filter patterns
optionally ``layer_name`` (default: the first Conv2D layer), ``filter_index``
(default 0) and ``steps`` (default 30); a pattern passes when it raises the
filter's mean activation or, for a filter silent on the start image (ReLU
output 0 everywhere, so no gradient), its mean response before the activation.
Thresholds, with their defaults:
``min_correlation`` 0.9 (Grad-CAM: Pearson correlation with the reference map
of the same model, image and class; a flat map fails its class, and a class
whose references are all flat is not scored), ``atol`` 1e-4 (activation maps,
relative to the layer's largest activation).

Trained models, real images: where the task's model can be trained (the parent
finds the settings: the check's own ``train`` object, or the accuracy check of the
task or of a task with the same builder call) the check runs in two stages. A
verify worker trains first (grader/verify_worker/visual_training.py, reached here
through ``check["_stage"] == "train"``); the build worker then runs the student's
function on that trained model and the first training example of each class; this
side scores it on the same model and images (``check["_trained"]``, whose file
hashes the parent kept, so files changed in between are refused). Otherwise (no
data on this machine, ``--static``, no settings) the check falls back to the
untrained model and the synthetic probe image, and says why (``check["_fallback"]``).
Grad-CAM's details then carry ``panels``: per class, the input, the student's map
and the reference map as PNG file names, with the class name and correlation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from grader.protocol import CheckResult, State, error, failed, passed, result
from grader.verify_worker.visual_plan import (
    OUTPUTS,
    class_images,
    conv_layer_names,
    plan,
    read_inputs,
    single_image,
    start_image,
)

DEFAULT_MIN_CORRELATION = 0.9
DEFAULT_ATOL = 1e-4


# --------------------------------------------------------------------------- reference maths


def _trace(model, batch, layer_name: str):
    """(the named layer's output, the last layer's input, the model's output),
    running a Sequential layer by layer: a Sequential grown with add() keeps
    stale tensors in layer.output, which can disconnect a probe model."""
    import keras

    if isinstance(model, keras.Sequential):
        x, found, head_input = batch, None, None
        for i, layer in enumerate(model.layers):
            if i == len(model.layers) - 1:
                head_input = x
            x = layer(x, training=False)
            if layer.name == layer_name:
                found = x
        if found is None:
            raise ValueError(f"the model has no layer named {layer_name!r}")
        return found, head_input, x
    probe = keras.Model(model.inputs[0], [model.get_layer(layer_name).output,
                                          model.layers[-1].input, model.outputs[0]])
    return probe(batch, training=False)


def reference_grad_cam(model, image: np.ndarray, class_index: int, layer_name: str | None = None,
                       use_logit: bool = True) -> np.ndarray:
    """Grad-CAM (Selvaraju et al.): the chosen conv layer's feature maps A^k
    weighted by the spatial mean of d score / d A^k, summed over channels,
    ReLU, bilinearly resized to the image, divided by its maximum (all zeros
    when nothing is positive). ``score`` is the output layer's pre-activation
    (logit) when ``use_logit`` and the head is a Dense layer, else the output;
    for a single sigmoid unit, class 0 is the negated score."""
    import keras
    import tensorflow as tf

    convs = conv_layer_names(model)
    layer_name = layer_name or (convs[-1] if convs else None)
    if layer_name is None:
        raise ValueError("the model has no Conv2D layer; Grad-CAM needs one")
    head = model.layers[-1]
    logit_ok = use_logit and isinstance(head, keras.layers.Dense)
    batch = tf.convert_to_tensor(np.asarray(image, np.float32)[None])
    with tf.GradientTape() as tape:
        maps, head_input, output = _trace(model, batch, layer_name)
        scores = tf.matmul(head_input, head.kernel) + head.bias if logit_ok else output
        if scores.shape[-1] == 1:
            score = scores[:, 0] if class_index == 1 else -scores[:, 0]
        else:
            score = scores[:, class_index]
    grads = tape.gradient(score, maps)
    weights = tf.reduce_mean(grads, axis=(1, 2))
    cam = tf.nn.relu(tf.einsum("bhwc,bc->bhw", maps, weights))[0]
    cam = tf.image.resize(cam[..., None], image.shape[:2], method="bilinear")[..., 0].numpy()
    peak = float(cam.max())
    return np.zeros(image.shape[:2], np.float32) if peak <= 0 else (cam / peak).astype(np.float32)


def layer_output(model, image: np.ndarray, layer_name: str) -> np.ndarray:
    import tensorflow as tf

    out, _, _ = _trace(model, tf.convert_to_tensor(np.asarray(image, np.float32)[None]),
                       layer_name)
    return np.asarray(out)[0]


def filter_mean_activation(model, image: np.ndarray, layer_name: str, index: int) -> float:
    return float(layer_output(model, image, layer_name)[..., index].mean())


def filter_pre_activation(model, image: np.ndarray, layer_name: str, index: int) -> float | None:
    """The filter's mean response before its layer's own activation (for a Conv2D:
    the convolution plus bias), or None when the layer applies none.

    The activation is swapped for the identity for the one call: the layers read it
    when called, in a Sequential run layer by layer and in a functional probe alike."""
    import keras

    layer = model.get_layer(layer_name)
    activation = getattr(layer, "activation", None)
    if activation is None or activation is keras.activations.linear:
        return None
    layer.activation = keras.activations.linear
    try:
        return filter_mean_activation(model, image, layer_name, index)
    finally:
        layer.activation = activation


def is_flat(a: np.ndarray) -> bool:
    """A map with (almost) one value everywhere: it points at nothing."""
    return float(np.ptp(a)) < 1e-6


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two maps; 0.0 when either is constant, as a flat
    map has no pattern to agree with (two all-zero maps must not score 1.0)."""
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    sa, sb = a.std(), b.std()
    if sa < 1e-12 or sb < 1e-12:
        return 0.0
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


# --------------------------------------------------------------------------- images


def _colormap(values: np.ndarray) -> np.ndarray:
    v = np.clip(np.nan_to_num(values), 0.0, 1.0)[..., None]
    rgb = [np.clip(1.5 - np.abs(4 * v - k), 0, 1) for k in (3, 2, 1)]
    return (np.concatenate(rgb, axis=-1) * 255).astype(np.uint8)


def _to_rgb(image: np.ndarray) -> np.ndarray:
    image = np.clip(np.nan_to_num(image), 0, 1)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return (image[..., :3] * 255).astype(np.uint8)


def _normalise(a: np.ndarray) -> np.ndarray:
    a = np.nan_to_num(a.astype(np.float32))
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def save_png(array: np.ndarray, path: Path, min_side: int = 128) -> str:
    """Writes uint8 (H, W, 3) as PNG, enlarged (nearest) so small maps are visible."""
    from PIL import Image

    scale = max(1, min_side // max(1, min(array.shape[:2])))
    img = Image.fromarray(array).resize((array.shape[1] * scale, array.shape[0] * scale),
                                        Image.Resampling.NEAREST)
    img.save(path)
    return str(path)


def _grid(maps: np.ndarray, columns: int = 8, limit: int = 16) -> np.ndarray:
    tiles = [_colormap(_normalise(maps[..., i])) for i in range(min(limit, maps.shape[-1]))]
    h, w = maps.shape[:2]
    rows = []
    for start in range(0, len(tiles), columns):
        row = tiles[start:start + columns]
        row += [np.zeros((h, w, 3), np.uint8)] * (columns - len(row))
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)


# --------------------------------------------------------------------------- verify side


def _bad_array(name: str, value: np.ndarray, shape: tuple) -> str | None:
    if tuple(value.shape) != tuple(shape):
        return f"{name} has shape {tuple(value.shape)}, expected {tuple(shape)}"
    if not np.all(np.isfinite(value)):
        return f"{name} holds NaN or infinite values"
    return None


def run(ctx: Any) -> CheckResult:
    """The verify worker's visual check; reads what `produce` stored. With
    ``check["_stage"] == "train"`` it is the trusted training stage instead."""
    check = ctx.check
    if check.get("_stage") == "train":
        from grader.verify_worker.visual_training import train_stage

        return train_stage(ctx)
    where = f"{check.get('file', '?')}: {check.get('function', '?')}"
    try:
        model, inputs, how = _model_and_inputs(ctx)
    except ValueError as err:
        return error(f"{where}: {err}")
    scored = _score(ctx, model, inputs, where)
    scored["message"] += f"; {how}"
    scored["details"]["model"] = how
    return scored


def _model_and_inputs(ctx: Any) -> tuple[Any, dict[str, np.ndarray] | None, str]:
    """The model and images the check is scored on, and how to say which they are."""
    trained, check = ctx.check.get("_trained"), ctx.check
    if not trained:
        why = check.get("_fallback") or "the task names no training for it"
        return ctx.model, None, f"untrained model, synthetic image: {why}"
    import keras

    from grader.data.checksums import file_digest

    # The parent kept the hashes the training stage reported; the scratch files
    # were within the build worker's reach since.
    for path, digest in ((trained["model"], trained["sha256"]),
                         (trained["inputs"], trained["inputs_sha256"])):
        if not Path(path).is_file() or file_digest(Path(path)) != digest:
            raise ValueError(f"{Path(path).name}, which the grader wrote for this check, "
                             "changed or went missing before scoring; the check cannot be "
                             "trusted")
    model = keras.saving.load_model(trained["model"], safe_mode=True, compile=False)
    inputs = read_inputs(trained["inputs"])
    if check.get("kind") == "filter_pattern":  # the ascent starts from grey, not an image
        return model, inputs, f"trained model ({trained['summary']})"
    names = ", ".join(str(n) for n in inputs["names"])
    return model, inputs, (f"trained model ({trained['summary']}); real images: the first "
                           f"training example of {names}")


def _score(ctx: Any, model, inputs, where: str) -> CheckResult:
    check = ctx.check
    record = (getattr(ctx, "notes", None) or {}).get("visual")
    if record is None:
        return error(f"{where}: the build worker produced no visual outputs for this task")
    if record.get("error"):
        state = State.NOT_IMPLEMENTED if record.get("not_implemented") else State.FAILED
        return result(state, record["error"], fraction=0.0)
    try:
        calls = plan(model, check)
    except ValueError as err:
        return error(str(err))
    folder = Path(record["folder"])
    try:
        with np.load(folder / OUTPUTS, allow_pickle=False) as f:
            outputs = {k: f[k] for k in f.files}
    except (OSError, ValueError) as err:
        return error(f"{where}: outputs unreadable ({err})")
    kind = calls["kind"]
    checker = {"grad_cam": _check_grad_cam, "activation_maps": _check_activation_maps,
               "filter_pattern": _check_filter_pattern}[kind]
    # The grader's pictures go to a folder of this worker's own (its temporary folder,
    # out of the build worker's reach: see worker.main), never into the folder the build
    # worker named.
    import tempfile

    mine = Path(tempfile.mkdtemp(prefix="images-"))
    scored = checker(model, check, calls, outputs, mine, where, inputs)
    if kind == "grad_cam" and check.get("figure_function"):
        scored = _check_figure(scored, record, check)
    # The student's own figures, which the build worker saved beside its outputs, too.
    scored["details"]["images"] = sorted(str(p) for p in mine.glob("*.png")) + sorted(
        str(p) for p in folder.glob("*.png") if p.is_file() and not p.is_symlink())
    return scored


def _display(image: np.ndarray, inputs, index: int | None) -> np.ndarray:
    """The picture of an input: the dataset's pixels scaled to [0, 1] when it is a
    real image (a model fed raw 0..255 pixels gets them unscaled), else the probe."""
    if inputs is not None and index is not None and "display" in inputs:
        return inputs["display"][index]
    return image


def _check_grad_cam(model, check, calls, outputs, folder: Path, where: str,
                    inputs=None) -> CheckResult:
    threshold = float(check.get("min_correlation", DEFAULT_MIN_CORRELATION))
    images = class_images(calls, inputs)
    labels = [int(c) for c in inputs["labels"]] if inputs is not None else []
    problems, per_class, agreeing, unjudged, flat, panels = [], {}, 0, [], [], []
    for c in calls["classes"]:
        image = images[c]
        row = labels.index(c) if c in labels else None
        name = str(inputs["names"][row]) if row is not None else None
        cam = outputs.get(f"cam_{c}")
        if cam is None:
            problems.append(f"no map for class {c}")
            continue
        bad = _bad_array(f"the map for class {c}", cam, image.shape[:2])
        if bad is None and (cam.min() < -1e-6 or cam.max() > 1 + 1e-6):
            bad = f"the map for class {c} spans [{cam.min():.3g}, {cam.max():.3g}], not [0, 1]"
        if bad:
            problems.append(bad)
            continue
        # The docstring asks for the logit; a probability-based map is accepted too.
        # A flat reference (nothing positive for the class, common for the
        # probability on an untrained model) says nothing about where to look, so it
        # is no reference. A class with no usable one is left out of the score:
        # failing it would punish a correct map, passing it would reward any map.
        refs = {k: r for k, r in (
            ("logit", reference_grad_cam(model, image, c, use_logit=True)),
            ("output", reference_grad_cam(model, image, c, use_logit=False)))
            if not is_flat(r)}
        if not refs:
            unjudged.append(c)
            per_class[str(c)] = {"correlation": None, "score": None}
            continue
        scores = {k: correlation(cam, r) for k, r in refs.items()}
        best = max(scores, key=scores.get)
        per_class[str(c)] = {"correlation": round(scores[best], 4), "score": best}
        if name is not None:
            per_class[str(c)]["name"] = name
        picture = _to_rgb(_display(image, inputs, row))
        save_png(np.concatenate([picture, _colormap(cam), _colormap(refs[best])], axis=1),
                 folder / f"grad_cam_class{c}_student_vs_reference.png")
        # One file per panel, for the report's labelled rows (names, not paths: the
        # parent moves the images when it keeps them).
        panel = {"class": c, "name": name, "correlation": round(scores[best], 4),
                 "combined": f"grad_cam_class{c}_student_vs_reference.png"}
        for part, array in (("input", picture), ("student", _colormap(cam)),
                            ("reference", _colormap(refs[best]))):
            panel[part] = Path(save_png(array, folder / f"grad_cam_class{c}_{part}.png")).name
        panels.append(panel)
        if is_flat(cam):
            flat.append(c)
        elif scores[best] < threshold:
            problems.append(f"class {c}: correlation with the reference Grad-CAM "
                            f"{scores[best]:.3f} < {threshold}")
        else:
            agreeing += 1
    if flat:
        problems.append(f"class {', '.join(map(str, flat))}: the map is flat (one value "
                        "everywhere); usually the gradients were all zero (taken with respect "
                        "to a tensor the class score does not depend on) or the map was never "
                        "filled in")
    judged = len(calls["classes"]) - len(unjudged)
    details = {"classes": per_class, "min_correlation": threshold, "panels": panels}
    if unjudged:
        details["unjudged_classes"] = unjudged
        problems.append(f"class {', '.join(map(str, unjudged))}: not scored, the reference "
                        "Grad-CAM is flat on this model and probe image")
    if not judged:
        return result(State.UNVERIFIED, f"{where}: 0 points until a person reviews it: "
                      + "; ".join(problems), details=details, fraction=0.0)
    fraction = agreeing / judged
    if agreeing < judged:
        return failed(f"{where}: " + "; ".join(problems), details=details, fraction=fraction,
                      hints=["weight the last conv layer's maps by the spatial mean of the "
                             "class score's gradient, sum over channels, ReLU, resize to the "
                             "image, divide by the maximum"])
    summary = ", ".join(f"class {c}{' (' + v['name'] + ')' if v.get('name') else ''}: "
                        f"r={v['correlation']:.3f}" for c, v in per_class.items()
                        if v["correlation"] is not None)
    return passed(f"{where}: Grad-CAM agrees with the reference (Pearson r >= {threshold}; "
                  f"{summary})" + "".join(f"; {p}" for p in problems), details, fraction=1.0)


def _check_activation_maps(model, check, calls, outputs, folder: Path, where: str,
                           inputs=None) -> CheckResult:
    atol = float(check.get("atol", DEFAULT_ATOL))
    image = single_image(calls, inputs)
    save_png(_to_rgb(_display(image, inputs, 0)), folder / "activations_input.png")
    problems, seen = [], {}
    for name in calls["layer_names"]:
        got = outputs.get(f"act_{name}")
        if got is None:
            problems.append(f"no activations for layer {name!r}")
            continue
        want = layer_output(model, image, name)
        bad = _bad_array(f"layer {name!r}", got, want.shape)
        if bad is None:
            scale = max(1.0, float(np.abs(want).max()))
            err = float(np.abs(got - want).max()) / scale
            seen[name] = {"shape": list(want.shape), "max_relative_error": err}
            if err > atol:
                bad = (f"layer {name!r} differs from its true output by up to {err:.3g} "
                       f"(relative; allowed {atol:g})")
        if bad:
            problems.append(bad)
        if got.ndim == 3:
            save_png(_grid(got), folder / f"activations_{name}.png")
    details = {"layers": seen, "atol": atol}
    if inputs is not None:
        details["input"] = {"class": int(inputs["labels"][0]), "name": str(inputs["names"][0])}
    if problems:
        return failed(f"{where}: " + "; ".join(problems), details=details, fraction=0.0,
                      hints=["return {name: the layer's output for the image, batch axis "
                             "removed} computed in inference mode (training=False)"])
    return passed(f"{where}: activations of {', '.join(calls['layer_names'])} match the "
                  "layers' true outputs", details, fraction=1.0)


def _check_filter_pattern(model, check, calls, outputs, folder: Path, where: str,
                          inputs=None) -> CheckResult:
    start = start_image(calls["image_shape"], calls["seed"])
    pattern = outputs.get("pattern")
    layer, index = calls["layer_name"], calls["filter_index"]
    if pattern is None:
        return failed(f"{where}: returned no pattern", fraction=0.0)
    bad = _bad_array("the pattern", pattern, start.shape)
    if bad is None and (pattern.min() < -1e-6 or pattern.max() > 1 + 1e-6):
        bad = f"the pattern spans [{pattern.min():.3g}, {pattern.max():.3g}], not [0, 1]"
    if bad:
        return failed(f"{where}: {bad}", fraction=0.0,
                      hints=["clip the image to [0, 1] after every step and return (H, W, C)"])
    save_png(np.concatenate([_to_rgb(start), _to_rgb(_normalise(pattern))], axis=1),
             folder / f"filter_{layer}_{index}_start_vs_pattern.png")
    start_maps = layer_output(model, start, layer)[..., index]
    before = float(start_maps.mean())
    after = filter_mean_activation(model, pattern, layer, index)
    details = {"layer": layer, "filter_index": index, "mean_activation_start": before,
               "mean_activation_pattern": after, "judged_on": "activation"}
    if after > before + 1e-6:
        return passed(f"{where}: the pattern raises filter {index} of {layer!r} from "
                      f"{before:.4g} to {after:.4g} (mean activation)", details, fraction=1.0)
    hints = ["step along the gradient of the filter's mean activation with respect to "
             "the image (ascent: add it), normalised, and clip to [0, 1]"]
    # A filter whose ReLU output is 0 everywhere on the start image has no gradient
    # there: a correct ascent can only climb its pre-activation, and may not lift it
    # above 0 within the steps. So for a silent filter the rise is judged before the
    # activation; descent or a no-op still lowers or keeps it.
    pre_before = None if start_maps.any() else filter_pre_activation(model, start, layer, index)
    if pre_before is None:
        return failed(f"{where}: the pattern does not raise filter {index} of {layer!r} "
                      f"({before:.4g} on the start image, {after:.4g} on the pattern)", hints,
                      details, fraction=0.0)
    pre_after = filter_pre_activation(model, pattern, layer, index)
    details.update(judged_on="pre_activation", pre_activation_start=pre_before,
                   pre_activation_pattern=pre_after)
    silent = "is silent on the start image (activation 0 everywhere)"
    change = f"from {pre_before:.4g} to {pre_after:.4g}"
    if pre_after > pre_before + 1e-6 * max(1.0, abs(pre_before)):
        return passed(f"{where}: filter {index} of {layer!r} {silent}, so it is judged before "
                      f"the activation: the pattern raises it {change}", details, fraction=1.0)
    hints.append("a filter silent on the start image has no gradient after its ReLU: climb "
                 "the layer's pre-activation (for a Conv2D, the convolution plus bias)")
    return failed(f"{where}: the pattern does not raise filter {index} of {layer!r}, which "
                  f"{silent}: before the activation it goes {change}", hints, details,
                  fraction=0.0)


def _check_figure(scored: CheckResult, record: dict[str, Any], check: dict[str, Any]):
    problem = record.get("figure_error")
    if problem is None and record.get("figure"):
        from PIL import Image

        try:
            with Image.open(record["figure"]) as img:
                if img.format != "PNG":
                    problem = f"{check['figure_function']} wrote a {img.format}, not a PNG"
                scored["details"]["figure_size"] = list(img.size)
        except Exception as err:
            problem = f"{check['figure_function']} wrote an unreadable image ({err})"
    elif problem is None:
        problem = f"{check['figure_function']} wrote no figure"
    if problem:
        scored["message"] += f"; figure: {problem}"
        if scored["state"] == State.PASSED:
            scored["state"] = State.FAILED
            scored["fraction"] = 0.5
    else:
        scored["message"] += f"; figure written ({Path(record['figure']).name})"
    return scored
