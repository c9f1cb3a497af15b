"""Accuracy grading of a class where most students hand in the prescribed models:
`grader batch run -j 2` on the whole class against the same on one submission per
distinct set of architectures ("training those once").

Twenty practical2 submissions, models 1-4 with their accuracy checks at the shipped
settings on real Fashion-MNIST (Debian's files, or --data-dir): fifteen hand in the
prescribed networks (the reference, each copy with its own names), five change one
model each (a wider or narrower hidden layer). That is 4 + 5 = 9 distinct
architectures to train. The baseline grades six of them (the reference and the
five variants), which trains each of the nine once; the class run must train no more
than those plus one, and its wall time is compared with the baseline's.

Usage: .venv/bin/python benchmarks/batch_accuracy.py [--data-dir D] [--json OUT] [--markdown]
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
REFERENCE = REPO / "reference" / "practical2"
PRESCRIBED = 15
# (student, text in cnn.py, its replacement): one model changed each.
VARIANTS = [
    ("var1", "layers.Dense(128, activation=\"relu\"),\n        layers.Dense(NUM_CLASSES",
     "layers.Dense(100, activation=\"relu\"),\n        layers.Dense(NUM_CLASSES"),
    ("var2", "layers.Dense(74, activation=\"relu\")", "layers.Dense(80, activation=\"relu\")"),
    ("var3", "layers.Dense(50, activation=\"relu\")", "layers.Dense(64, activation=\"relu\")"),
    ("var4", "layers.Dense(64, activation=\"relu\"),\n        layers.Dense(NUM_CLASSES",
     "layers.Dense(96, activation=\"relu\"),\n        layers.Dense(NUM_CLASSES"),
    ("var5", "layers.Dense(74, activation=\"relu\")", "layers.Dense(60, activation=\"relu\")"),
]


def make_class(folder: Path, distinct_only: bool) -> int:
    """Writes the submissions; returns how many."""
    copies = 1 if distinct_only else PRESCRIBED
    for k in range(copies):
        sub = folder / f"student{k:03d}"
        shutil.copytree(REFERENCE, sub)
        cnn = sub / "cnn.py"
        cnn.write_text(cnn.read_text().replace("NUM_CLASSES", f"NUM_CLASSES_{k}"))
    for name, old, new in VARIANTS:
        sub = folder / name
        shutil.copytree(REFERENCE, sub)
        cnn = sub / "cnn.py"
        text = cnn.read_text()
        assert text.count(old) == 1, (name, old)
        cnn.write_text(text.replace(old, new))
    return copies + len(VARIANTS)


def grader(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO,
                          capture_output=True, text=True)


def grade_class(root: Path, distinct_only: bool, data_dir: str | None) -> dict:
    folder = root / "submissions"
    students = make_class(folder, distinct_only)
    extra = [f"--check-arg=--data-dir={data_dir}"] if data_dir else []
    planned = grader("batch", "plan", str(folder), "--assignment", "practical2", "--out",
                     str(root / "run"), "--gpus", "0", *extra)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    start = time.monotonic()
    ran = grader("batch", "run", str(root / "run"), "-j", "2")
    wall = time.monotonic() - start
    assert ran.returncode in (0, 1), ran.stdout[-2000:] + ran.stderr[-2000:]
    trainings, reused, train_s, scores = 0, 0, 0.0, {}
    for path in sorted((root / "run" / "results").glob("*.json")):
        data = json.loads(path.read_text())
        scores[path.stem] = data["score"]
        for test in data["tests"]:
            details = test["grader"]["details"]
            if not test["name"].endswith(": accuracy") or "accuracy" not in details:
                continue
            if (details.get("cache") or {}).get("reused"):
                reused += 1
            else:
                trainings += 1
                train_s += float(details.get("train_seconds") or 0)
    assert len(scores) == students, f"{len(scores)} results for {students} students"
    return {"students": students, "wall_s": round(wall, 1), "trainings": trainings,
            "reused": reused, "train_s": round(train_s, 1), "scores": scores}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    parser.add_argument("--json")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    runs = {}
    for kind, distinct_only in (("distinct", True), ("class", False)):
        with tempfile.TemporaryDirectory() as tmp:
            runs[kind] = grade_class(Path(tmp), distinct_only, args.data_dir)
    runs["load"] = os.getloadavg()[0]
    runs["distinct_architectures"] = 4 + len(VARIANTS)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))
    cls, base = runs["class"], runs["distinct"]
    ratio = cls["wall_s"] / base["wall_s"]
    if args.markdown:
        print(f"| accuracy, {cls['students']} practical2 students ({PRESCRIBED} prescribed, "
              f"{len(VARIANTS)} variants), `batch run -j 2` | {cls['wall_s']:.0f} s, "
              f"{cls['trainings']} trainings ({cls['train_s']:.0f} s) | "
              f"{base['wall_s']:.0f} s, {base['trainings']} trainings "
              f"({base['train_s']:.0f} s), {base['students']} students | {ratio:.2f}x | "
              f"<= {runs['distinct_architectures'] + 1} trainings, <= 1.3x | "
              f"{os.cpu_count()} cores, load {runs['load']:.1f} |")
    else:
        print(json.dumps({k: v for k, v in runs.items() if k != "scores"}, indent=1))
        print(f"class {cls['wall_s']} s with {cls['trainings']} trainings; distinct "
              f"{base['wall_s']} s with {base['trainings']}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
