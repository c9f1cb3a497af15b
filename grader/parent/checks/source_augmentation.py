"""Augmentation a submission sets up outside its model, read from its source text.

CS 577 1(i) says "Modify the data generator to perform data augmentation" and
DS-AG-021 Q9's own answer augments in an ImageDataGenerator: neither puts random
layers in the model, so the model's layers cannot show it. The file can. It is read,
never run (the parent runs no student code), so what it finds is the student's text,
which their code cannot change at run time.

Found: ``ImageDataGenerator(...)`` with a random setting (rotation_range, zoom_range,
horizontal_flip, ...); ``tf.image.random_*`` and ``stateless_random_*`` calls; random
preprocessing layers or transforms used outside a model (``RandomFlip``,
``RandomRotation``, torchvision's ``RandomHorizontalFlip``, ``ColorJitter``).
"""

from __future__ import annotations

import ast
from pathlib import Path

from grader.parent.source_reading import code_units

# ImageDataGenerator's arguments that make it random (rescale and the
# normalisations do not).
RANDOM_SETTINGS = ("rotation_range", "width_shift_range", "height_shift_range",
                   "shear_range", "zoom_range", "horizontal_flip", "vertical_flip",
                   "brightness_range", "channel_shift_range")


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _off(value: ast.expr) -> bool:
    """A setting given as 0, False or None does nothing."""
    return isinstance(value, ast.Constant) and not value.value


def _calls(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name == "ImageDataGenerator":
            settings = [f"{k.arg}={ast.unparse(k.value)}" for k in node.keywords
                        if k.arg in RANDOM_SETTINGS and not _off(k.value)]
            if settings:
                found.append(f"line {node.lineno}: ImageDataGenerator({', '.join(settings)})")
        elif name.startswith(("random_", "stateless_random_")) and "image" in ast.unparse(
                node.func):
            found.append(f"line {node.lineno}: {ast.unparse(node.func)}(...)")
        elif (name.startswith("Random") and name[6:7].isupper()) or name == "ColorJitter":
            found.append(f"line {node.lineno}: {name}(...)")
    return found


def augmentation_in_source(path: Path) -> list[str]:
    """Each augmentation call the file makes, as "line N: call(settings)" (prefixed
    with the notebook cell); [] when there is none or the file cannot be read."""
    found = []
    for where, code in code_units(path):
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue  # a broken cell is reported elsewhere; the others still count
        found += [where + call for call in _calls(tree)]
    return found
