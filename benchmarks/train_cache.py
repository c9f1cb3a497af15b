"""Accuracy grading of a class where students share architectures: `grader check
--train-cache DIR` against no cache.

Six practical2 submissions, graded one after another as `grader batch run -j 1`
would (one `grader check` each, its task model 3 only): four hand in the prescribed
74-50-10 network (the reference, and three under their own model, layer and
variable names), two change the hidden sizes. That is three distinct
architectures. Without the cache every submission trains; with it (a fresh folder)
each architecture trains once and the others reuse its result.

Training is the shipped spec's (one epoch, batch 32, Adam 1e-3) on real
Fashion-MNIST (Debian's files, or --data-dir), so the saving is what a class
saves on this task. Reported: trainings performed against distinct architectures,
the total wall time of the six gradings each way and their ratio, and the seconds
spent training. The modes alternate submission by submission, so load from other
processes hits both alike.

Usage: .venv/bin/python benchmarks/train_cache.py [--data-dir D] [--json OUT] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

NAMED = '''
import keras
from keras import layers


def build_model(n):
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1), name="{prefix}_in"),
        layers.Flatten(name="{prefix}_flat"),
        layers.Dense({first}, activation="relu", name="{prefix}_a"),
        layers.Dense({second}, activation="relu", name="{prefix}_b"),
        layers.Dense(10, activation="softmax", name="{prefix}_out"),
    ], name="{prefix}_net")
'''

# (student, first hidden layer, second hidden layer); None: the reference as shipped.
CLASS = [("ref", None, None), ("ann", 74, 50), ("ben", 74, 50), ("cai", 74, 50),
         ("dee", 80, 50), ("eli", 74, 64)]


def make_class(root: Path) -> list[Path]:
    subs = []
    for name, first, second in CLASS:
        sub = root / name
        if first is None:
            shutil.copytree(REPO / "reference/practical2", sub)
        else:
            sub.mkdir(parents=True)
            (sub / "cnn.py").write_text(NAMED.format(prefix=name, first=first, second=second))
        subs.append(sub)
    return subs


def grade(sub: Path, spec: Path, out: Path, extra: list[str]) -> dict:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader", "check", str(sub), "--assignment",
                           str(spec), "-q", "--json", str(out), *extra], cwd=REPO,
                          capture_output=True, text=True, env={
                              k: v for k, v in os.environ.items() if k != "GRADER_TRAIN_CACHE"})
    wall = time.monotonic() - started
    test = next(t for t in json.loads(out.read_text())["tests"]
                if t["name"] == "model3: accuracy")
    details = test["grader"]["details"]
    if "accuracy" not in details:
        raise SystemExit(f"{sub.name}: no accuracy result ({test['output']}); "
                         f"{proc.stderr[-2000:]}")
    reused = bool((details.get("cache") or {}).get("reused"))
    return {"student": sub.name, "wall_s": wall, "reused": reused,
            "train_s": 0.0 if reused else details["train_seconds"],
            "accuracy": details["accuracy"], "key": (details.get("cache") or {}).get("key")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-train-cache-"))
    spec_data = json.loads((REPO / "grader/assignments/practical2.json").read_text())
    spec_data.pop("$schema", None)
    spec_data["tasks"] = [t for t in spec_data["tasks"] if t["id"] == "model3"]
    spec = root / "practical2-model3.json"
    spec.write_text(json.dumps(spec_data))
    subs = make_class(root / "class")
    data = ["--data-dir", args.data_dir] if args.data_dir else []
    runs: dict[str, list[dict]] = {"cache": [], "none": []}
    for i, sub in enumerate(subs):
        order = ("cache", "none") if i % 2 == 0 else ("none", "cache")
        for mode in order:
            extra = [*data, *(["--train-cache", str(root / "cache")] if mode == "cache" else [])]
            runs[mode].append(grade(sub, spec, root / f"{mode}-{sub.name}.json", extra))
    distinct = len({r["key"] for r in runs["cache"]})
    totals = {mode: {"wall_s": sum(r["wall_s"] for r in rs),
                     "train_s": sum(r["train_s"] for r in rs),
                     "trainings": sum(not r["reused"] for r in rs)}
              for mode, rs in runs.items()}
    same = all(a["accuracy"] == b["accuracy"] for a, b in zip(runs["cache"], runs["none"],
                                                               strict=True))
    report = {"submissions": len(subs), "distinct_architectures": distinct, "totals": totals,
              "ratio_wall": totals["cache"]["wall_s"] / totals["none"]["wall_s"],
              "accuracy_equal_to_uncached": same, "load_1min": os.getloadavg()[0],
              "runs": runs}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    c, n = totals["cache"], totals["none"]
    if args.markdown:
        print("| benchmark | with cache | without | ratio (wall) | conditions |")
        print("|---|---|---|---|---|")
        print(f"| 6 practical2 model-3 gradings, {distinct} distinct architectures | "
              f"{c['wall_s']:.1f} s, {c['trainings']} trainings ({c['train_s']:.1f} s) | "
              f"{n['wall_s']:.1f} s, {n['trainings']} trainings ({n['train_s']:.1f} s) | "
              f"{report['ratio_wall']:.2f}x | load {report['load_1min']:.1f} |")
    else:
        print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
