"""Fixtures of the reference tests: import a reference or template file by path.

Reference folders are submissions, not packages: each file is imported from its
own folder (so `import cnn` inside gradcam.py works), under a unique module name.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENTS = ("cs577-a4", "ds-ag-021", "hw2-mnist", "practical2")


def load(kind: str, assignment: str, filename: str) -> ModuleType:
    """Imports REPO/kind/assignment/filename as a fresh module."""
    folder = REPO / kind / assignment
    path = folder / filename
    name = f"_{kind}_{assignment.replace('-', '_')}_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module
