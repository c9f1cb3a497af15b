"""README.md's per-task tables say what the shipped specs grade: they must not drift."""

from __future__ import annotations

import importlib.util

from conftest import REPO

from grader.parent.spec_table import markdown


def _script():
    spec = importlib.util.spec_from_file_location(
        "update_readme_tables", REPO / "scripts" / "update_readme_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_match_the_specs():
    readme = (REPO / "README.md").read_text()
    assert _script().updated(readme) == readme, (
        "README.md's spec tables are out of date: run python scripts/update_readme_tables.py")


def test_a_row_names_the_text_the_checks_and_the_reason():
    spec = {"tasks": [{
        "id": "q6", "text": ["build a simple CNN"], "notes": "Open design. More.",
        "checks": {"architecture": {"points": 4, "properties": [
            {"count": "Conv2D", "at_least": 1, "essential": True},
            {"order": ["Conv2D", ["Flatten", "GlobalAveragePooling2D"], "Dense"]},
            {"count": "Conv2D", "at_most": 0}, {"head": "classes"}]},
            "params": {"points": 1, "trainable": {"min": 10, "max": 2000}}}}]}
    row = markdown(spec).splitlines()[2]
    assert row == ("| `q6` | “build a simple CNN” | architecture (≥1 Conv2D*; Conv2D → "
                   "Flatten/GlobalAveragePooling2D → Dense; no Conv2D; a correct output head) "
                   "4 pt; params (trainable 10 to 2,000) 1 pt | Open design |")
