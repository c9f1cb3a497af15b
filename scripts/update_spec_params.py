"""Writes the parameter counts in grader/assignments/*.json from the reference models.

    .venv/bin/python scripts/update_spec_params.py            # rewrite the counts
    .venv/bin/python scripts/update_spec_params.py --check    # exit 1 if any differ

For every task with a `params` check, the reference builder named by the task's
`entry` is called from reference/<assignment>/ (with the entry's globals, args
and kwargs), and the model's trainable, non-trainable and total counts replace
the exact numbers the check gives. Range counts ({"min": ..., "max": ...}) are
left alone but must contain the reference's count. Only the numbers change:
each spec keeps its hand-written layout. Torch tasks need the [torch] extra and
are skipped (and said so) without it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPECS = REPO / "grader" / "assignments"
KEYS = ("trainable", "non_trainable", "total")


def load_entry(folder: Path, entry: dict):
    """Imports entry["file"] from `folder` as a fresh module and returns the builder."""
    files = entry["file"] if isinstance(entry["file"], list) else [entry["file"]]
    path = next((folder / f for f in files if (folder / f).exists()), None)
    if path is None:
        raise FileNotFoundError(f"{folder}: none of {files} exists")
    sys.path.insert(0, str(folder))
    try:
        name = f"_reference_{folder.name.replace('-', '_')}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    for key, value in entry.get("globals", {}).items():
        setattr(module, key, value)
    function = module
    for part in entry["function"].split("."):
        function = getattr(function, part)
    return function


def count(model, framework: str) -> dict[str, int]:
    if framework == "torch":
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    else:
        import numpy as np

        trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
        total = int(sum(np.prod(w.shape) for w in model.weights))
    return {"trainable": int(trainable), "non_trainable": int(total - trainable),
            "total": int(total)}


def reference_counts(assignment: str, task: dict) -> dict[str, int]:
    framework = task.get("framework", "keras")
    builder = load_entry(REPO / "reference" / assignment, task["entry"])
    entry = task["entry"]
    model = builder(*entry.get("args", []), **entry.get("kwargs", {}))
    counts = count(model, framework)
    if framework == "keras":
        import keras

        keras.backend.clear_session()
    return counts


def _params_span(text: str, task_id: str) -> tuple[int, int]:
    """Start and end offsets of the `"params": {...}` object of task `task_id`."""
    # Searched from the tasks array: theory questions may reuse a task's id (model1).
    at = text.index(f'"id": "{task_id}"', text.index('"tasks":'))
    start = text.index('"params": {', at)
    depth, i = 0, text.index("{", start)
    while True:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return start, i + 1
        i += 1


def in_range(value: int, bounds: dict) -> bool:
    return bounds.get("min", value) <= value <= bounds.get("max", value)


def update(spec_path: Path, write: bool) -> list[str]:
    """Updates one spec file; returns the differences (or problems) found."""
    text = spec_path.read_text()
    spec = json.loads(text)
    problems: list[str] = []
    for task in spec["tasks"]:
        check = task["checks"].get("params")
        if not check:
            continue
        where = f"{spec_path.name}: {task['id']}"
        if task.get("framework") == "torch" and importlib.util.find_spec("torch") is None:
            print(f"{where}: skipped (torch is not installed; pip install -e '.[torch]')")
            continue
        counts = reference_counts(spec["id"], task)
        start, end = _params_span(text, task["id"])
        block = text[start:end]
        for key in KEYS:
            if key not in check:
                continue
            if isinstance(check[key], dict):
                if not in_range(counts[key], check[key]):
                    problems.append(f"{where}: {key} range {check[key]} does not contain the "
                                    f"reference's {counts[key]:,}")
                continue
            if check[key] != counts[key]:
                problems.append(f"{where}: {key} {check[key]:,} -> {counts[key]:,}")
                block = re.sub(rf'"{key}": \d+', f'"{key}": {counts[key]}', block, count=1)
        text = text[:start] + block + text[end:]
        print(f"{where}: " + ", ".join(f"{k} {counts[k]:,}" for k in KEYS))
    if write:
        spec_path.write_text(text)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a spec disagrees with its reference")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    paths = ([SPECS / f"{a}.json" for a in args.assignments] if args.assignments
             else sorted(SPECS.glob("*.json")))
    problems: list[str] = []
    for path in paths:
        problems += update(path, write=not args.check)
    ranges = [p for p in problems if "range" in p]
    if args.check and problems:
        print("\nspec and reference disagree:\n  " + "\n  ".join(problems), file=sys.stderr)
        print("fix: .venv/bin/python scripts/update_spec_params.py", file=sys.stderr)
        return 1
    if ranges:
        print("\n" + "\n".join(ranges), file=sys.stderr)
        return 1
    for line in problems:
        print(f"updated {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
