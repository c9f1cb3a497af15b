"""`grader export gradescope ID`: the autograder zip Gradescope builds its image from.

Gradescope unpacks the zip into /autograder/source, runs setup.sh there once (as root,
with network access), and for each submission copies run_autograder to
/autograder/run_autograder, the student's files to /autograder/submission/, and reads
/autograder/results/results.json afterwards. The zip holds:

- ``setup.sh``: a virtual environment in ``source/venv`` with the grader and the
  dependencies pyproject.toml pins, from PyPI (and torch's CPU index where a task is
  PyTorch; the CUDA wheels would only bloat a GPU-less image);
- ``grader-src/``: this grader's source tree, installed by setup.sh, so the zip needs
  nothing that is not on a package registry;
- ``specs/ID.json``: the spec as exported, used in place of any other;
- ``data/``: the datasets and weights files the spec's checks train and draw with,
  copied from the instructor's data folders in the layout the loaders look for
  (nothing downloads at grading time); none with ``--static``;
- ``run_autograder`` and ``run_grader.py`` (grader/parent/export/autograder_run.py),
  which grade with a time limit and always leave a results.json;
- ``autograder.json``: the assignment, --static, the time limit.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.parent.export import ExportError, ZipWriter, tree_files
from grader.parent.spec import Spec

#: Gradescope's longest allowed timeout is 40 minutes (its default is 10); the grader
#: is stopped a little before, so there is time to write the results.
DEFAULT_TIME_LIMIT_S = 35 * 60
#: --static trains nothing: well inside Gradescope's default 10-minute timeout.
DEFAULT_STATIC_TIME_LIMIT_S = 8 * 60
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# What of the project the grader's own installation needs (pyproject.toml's packages).
_SOURCE_ITEMS = ("pyproject.toml", "README.md", "grader", "theory")


@dataclass
class Bundle:
    """What went into the zip, for the command's summary."""

    path: Path
    datasets: list[str] = field(default_factory=list)
    weights: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    data_bytes: int = 0
    extras: list[str] = field(default_factory=list)
    time_limit_s: float = 0


def project_root() -> Path:
    """The grader's source tree: the folder holding its pyproject.toml. An installed
    wheel has none, and then there is nothing to bundle."""
    import grader

    root = Path(grader.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise ExportError(f"the grader at {root} is an installed copy without its source "
                          "tree; run `grader export` from a checkout of cnn-grader")
    return root


def _walk(value: Any):
    """Every (key, value) pair nested in ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def needed_data(spec: Spec) -> tuple[list[str], list[str]]:
    """(datasets, weights) the spec's checks name: accuracy and visual-training
    ``dataset`` keys and ``"$weights:NAME"`` builder arguments."""
    from grader.data import DATASET_NAMES
    from grader.data.weights import PLACEHOLDER

    datasets, weights = set(), set()
    for task in spec.tasks:
        for key, value in _walk(task.get("checks", {})):
            if key == "dataset" and value in DATASET_NAMES:
                datasets.add(value)
            elif isinstance(value, str) and value.startswith(PLACEHOLDER):
                weights.add(value[len(PLACEHOLDER):])
    return sorted(datasets), sorted(weights)


def extras(spec: Spec) -> list[str]:
    """pyproject.toml extras the spec's tasks need in the build worker."""
    out = set()
    for task in spec.tasks:
        if task.get("framework") == "torch":
            out.add("torch")
        if task.get("checks", {}).get("outputs", {}).get("probe") == "streamlit_app":
            out.add("app")
    return sorted(out)


def _under_root(path: Path, roots: list[Path]) -> Path:
    """``path`` relative to the search root it was found under: the loaders look for
    the same relative path under the bundled data folder."""
    for root in roots:
        try:
            return path.resolve().relative_to(root.resolve())
        except ValueError:
            continue
    return Path(path.name)


def _data_members(spec: Spec, data_dir: str | None, skip_missing: bool,
                  bundle: Bundle) -> list[tuple[str, Path]]:
    from grader.data import DatasetMissing, locate, search_roots
    from grader.data.weights import locate_weights

    datasets, weights = needed_data(spec)
    roots = search_roots(data_dir)
    members: list[tuple[str, Path]] = []
    for name in datasets:
        try:
            found = locate(name, data_dir)
        except DatasetMissing as exc:
            bundle.missing.append(f"dataset {name}: {exc}")
            continue
        files = found.files or ([found.path] if found.path.is_file() else
                                tree_files(found.path))
        for path in files:
            members.append(((Path("data") / _under_root(path, roots)).as_posix(), path))
        bundle.datasets.append(name)
    for name in weights:
        try:
            path = locate_weights(name, data_dir)
        except DatasetMissing as exc:
            bundle.missing.append(f"weights {name}: {exc}")
            continue
        members.append((f"data/{path.name}", path))  # found at a root's top level
        bundle.weights.append(name)
    if bundle.missing and not skip_missing:
        raise ExportError(
            "the spec's checks need data that is not on this machine, so those checks "
            "would be skipped on Gradescope:\n  " + "\n  ".join(bundle.missing) +
            "\nprepare it (`grader data status`), point --data-dir at it, or pass "
            "--skip-missing-data (or --static) to export without it")
    return members


def setup_script(spec_id: str, extra: list[str]) -> str:
    target = "$SOURCE/grader-src" + (f"[{','.join(extra)}]" if extra else "")
    index = f" --extra-index-url {TORCH_CPU_INDEX}" if "torch" in extra else ""
    return f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, in /autograder/source, while it builds the image.
# It installs the grader and the dependencies its pyproject.toml pins (TensorFlow for
# CPU) into $SOURCE/venv, where run_autograder looks first.
set -euo pipefail
SOURCE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
export DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv python3-pip
fi
python3 -m venv "$SOURCE/venv"
"$SOURCE/venv/bin/python" -m pip install --upgrade pip
"$SOURCE/venv/bin/python" -m pip install "{target}"{index}
# Fail the image build now rather than every submission later.
"$SOURCE/venv/bin/python" -c "import tensorflow, keras"
"$SOURCE/venv/bin/python" -c \\
    "import sys; from grader.parent.spec import load_spec; load_spec(sys.argv[1])" \\
    "$SOURCE/specs/{spec_id}.json"
chmod +x "$SOURCE/run_autograder"
"""


RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope copies this to /autograder/run_autograder and runs it for each submission.
# run_grader.py grades AUTOGRADER_ROOT/submission with a time limit and always writes
# AUTOGRADER_ROOT/results/results.json; should it fail to (no Python at all, a broken
# install), the lines below write a score-0 file that says so.
#   AUTOGRADER_ROOT      default /autograder
#   GRADER_PYTHON        the Python with the grader installed; default the venv that
#                        setup.sh made, then python3 on PATH
#   GRADER_TIME_LIMIT_S  seconds before grading is stopped (autograder.json has the default)
ROOT="${AUTOGRADER_ROOT:-/autograder}"
export AUTOGRADER_ROOT="$ROOT"
SOURCE="$ROOT/source"
PY="${GRADER_PYTHON:-$SOURCE/venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3 || true)"
export GRADER_PYTHON="$PY"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
if [ -n "$PY" ]; then
    "$PY" "$SOURCE/run_grader.py"
fi
if [ ! -s "$RESULTS" ]; then
    printf '%s' '{"score": 0, "max_score": 0, "execution_time": 0, "tests": [],' \\
        ' "output": "The autograder could not run: no usable Python or grader' \\
        ' installation (did setup.sh fail?). Your score is 0 for now; tell your' \\
        ' instructor."}' > "$RESULTS"
fi
exit 0
"""


def build(spec: Spec, out: Path, *, static: bool = False, data_dir: str | None = None,
          time_limit_s: float | None = None, skip_missing_data: bool = False) -> Bundle:
    """Writes the Gradescope autograder zip of ``spec`` to ``out``."""
    from grader.parent.export import autograder_run

    root = project_root()
    limit = time_limit_s or (DEFAULT_STATIC_TIME_LIMIT_S if static else DEFAULT_TIME_LIMIT_S)
    bundle = Bundle(path=out, extras=extras(spec), time_limit_s=limit)
    members = [] if static else _data_members(spec, data_dir, skip_missing_data, bundle)
    config = {"assignment": spec.id, "static": static, "time_limit_s": limit,
              "data": "data" if members else None}
    zipped = ZipWriter(out)
    try:
        zipped.text("setup.sh", setup_script(spec.id, bundle.extras), executable=True)
        zipped.text("run_autograder", RUN_AUTOGRADER, executable=True)
        zipped.file("run_grader.py", Path(autograder_run.__file__))
        zipped.text("autograder.json", json.dumps(config, indent=2) + "\n")
        zipped.text(f"specs/{spec.id}.json", spec.path.read_text())
        for item in _SOURCE_ITEMS:
            path = root / item
            for file in ([path] if path.is_file() else tree_files(path)):
                zipped.file(f"grader-src/{file.relative_to(root).as_posix()}", file)
        for name, path in members:
            zipped.file(name, path)
            bundle.data_bytes += os.path.getsize(path)
    except BaseException:
        zipped.abort()
        raise
    zipped.close()
    return bundle
