"""The templates have the reference's files and signatures, and implement nothing graded.

Read with `ast`, so nothing here imports TensorFlow or runs template code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from reference_helpers import ASSIGNMENTS, REPO


def _python_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.py"))


def _signatures(path: Path) -> dict[str, str]:
    """Top-level functions and class methods: name -> unparsed argument list and return."""
    tree = ast.parse(path.read_text())
    found: dict[str, str] = {}

    def record(node: ast.FunctionDef, prefix: str = "") -> None:
        returns = ast.unparse(node.returns) if node.returns else ""
        found[prefix + node.name] = f"({ast.unparse(node.args)}) -> {returns}"

    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            record(node)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    record(item, node.name + ".")
    return found


def _raises_not_implemented(node: ast.FunctionDef) -> bool:
    for stmt in ast.walk(node):
        if isinstance(stmt, ast.Raise) and stmt.exc is not None:
            call = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            if isinstance(call, ast.Name) and call.id == "NotImplementedError":
                return True
    return False


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_template_has_the_reference_files_and_marker(assignment):
    ref, tpl = REPO / "reference" / assignment, REPO / "submissions_template" / assignment
    assert _python_files(tpl) == _python_files(ref)
    assert (tpl / ".grader-assignment").read_text().strip() == assignment
    assert (ref / ".grader-assignment").read_text().strip() == assignment


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_template_function_keeps_the_reference_signature(assignment):
    ref, tpl = REPO / "reference" / assignment, REPO / "submissions_template" / assignment
    for name in _python_files(tpl):
        template = _signatures(tpl / name)
        reference = {k: v for k, v in _signatures(ref / name).items()
                     if not k.split(".")[-1].startswith("_") or k.endswith("__init__")}
        missing = {k: v for k, v in reference.items()
                   if k not in template and k not in _REFERENCE_ONLY.get(name, ())}
        assert missing == {}, f"{assignment}/{name}: the template lacks {sorted(missing)}"
        differ = {k: (template[k], reference[k]) for k in template
                  if k in reference and template[k] != reference[k]}
        assert differ == {}, f"{assignment}/{name}: signatures differ"


# Helpers the reference adds for itself that a student need not write.
_REFERENCE_ONLY = {
    "gradcam.py": ("trace_layers", "last_conv_layer_name", "_colormap"),
    "cats_dogs.py": ("trace_layers", "main"),
    "cifar10.py": ("inception_block", "residual_block", "main"),
    "xray.py": ("trace_layers",),
    "q6_mnist_cnn.py": ("read_idx", "main"),
    "q7_cifar10_cnn.py": ("load_batches", "main"),
    "q8_torch_mnist.py": ("to_dataset", "main"),
    "xray_app.py": ("load_model", "model_path"),
    "cnn.py": (),
    "models.py": (),
}

# The functions the specs grade (directly or through the visual checks), per file.
GRADED = {
    ("practical2", "cnn.py"): ["build_model", "trainable_parameter_count", "load_fashion_mnist"],
    ("practical2", "gradcam.py"): ["grad_cam", "grad_cam_figure"],
    ("hw2-mnist", "models.py"): ["build_dnn", "build_convnet", "build_resnet", "macro_f1",
                                 "accuracy", "early_stopping", "fit_with_early_stopping",
                                 "load_mnist"],
    ("cs577-a4", "cats_dogs.py"): ["make_datasets", "build_cnn", "activation_maps",
                                   "filter_pattern", "build_vgg16_frozen", "fine_tune",
                                   "build_vgg16_fine_tuned", "augmentation",
                                   "build_vgg16_augmented"],
    ("cs577-a4", "cifar10.py"): ["load_cifar10", "build_basic_cnn", "build_inception_cnn",
                                 "build_residual_cnn"],
    ("ds-ag-021", "q6_mnist_cnn.py"): ["preprocess", "build_model"],
    ("ds-ag-021", "q7_cifar10_cnn.py"): ["preprocess", "build_model"],
    ("ds-ag-021", "q8_torch_mnist.py"): ["SimpleCNN.__init__", "SimpleCNN.forward", "read_idx",
                                         "mnist_loaders", "train_epoch", "evaluate"],
    ("ds-ag-021", "q9_directory_training.py"): ["make_datasets", "augmentation", "build_model"],
    ("ds-ag-021", "xray.py"): ["load_image", "build_model", "predict", "grad_cam", "overlay"],
}


@pytest.mark.parametrize(("assignment", "filename"), sorted(GRADED))
def test_graded_template_functions_raise_not_implemented_and_document_the_contract(
        assignment, filename):
    tree = ast.parse((REPO / "submissions_template" / assignment / filename).read_text())
    functions: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            functions[node.name] = node
        elif isinstance(node, ast.ClassDef):
            functions.update({f"{node.name}.{f.name}": f for f in node.body
                              if isinstance(f, ast.FunctionDef)})
            functions[node.name] = node
    for name in GRADED[(assignment, filename)]:
        node = functions[name]
        assert _raises_not_implemented(node), f"{filename}: {name} does not raise"
        owner = functions[name.split(".")[0]]
        doc = ast.get_docstring(node) or ast.get_docstring(owner) or ""
        assert len(doc) > 40, f"{filename}: {name} needs a docstring that states its contract"


def test_the_template_app_says_it_is_not_implemented():
    text = (REPO / "submissions_template" / "ds-ag-021" / "xray_app.py").read_text()
    assert "not implemented" in text
