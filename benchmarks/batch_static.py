"""Static grading of a class: `grader batch run RUN -j 2` against a serial loop of fresh
`grader check --static`, on N copies of the practical2 reference (each under its own
student id, with its variable names changed so no two files are equal).

Both sides grade the same submissions with the same spec; the batch side also writes
the attempts logs and results files of a run. The serial side is what a course without
the batch verbs would script. Usage:

    .venv/bin/python benchmarks/batch_static.py [--students 24] [--jobs 2] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "reference" / "practical2"


def make_class(root: Path, students: int) -> Path:
    folder = root / "submissions"
    for k in range(students):
        sub = folder / f"student{k:03d}"
        shutil.copytree(REFERENCE, sub)
        cnn = sub / "cnn.py"
        cnn.write_text(cnn.read_text().replace("NUM_CLASSES", f"NUM_CLASSES_{k}"))
    return folder


def grader(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO,
                          capture_output=True, text=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = make_class(root, args.students)
        start = time.monotonic()
        for sub in sorted(folder.iterdir()):
            done = grader("check", str(sub), "--assignment", "practical2", "--static", "-q",
                          "--json", str(root / "serial" / f"{sub.name}.json"))
            assert done.returncode == 0, done.stderr[-2000:]
        serial = time.monotonic() - start
        planned = grader("batch", "plan", str(folder), "--assignment", "practical2",
                         "--out", str(root / "run"), "--static")
        assert planned.returncode == 0, planned.stdout + planned.stderr
        start = time.monotonic()
        ran = grader("batch", "run", str(root / "run"), "-j", str(args.jobs))
        batch = time.monotonic() - start
        assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
        graded = len(list((root / "run" / "results").glob("*.json")))
        assert graded == args.students, f"{graded} results for {args.students} students"
    load = os.getloadavg()[0]
    ratio = serial / batch
    if args.markdown:
        print(f"| static, {args.students} practical2 students: `batch run -j {args.jobs}` vs "
              f"serial `grader check --static` | {batch:.0f} s | {serial:.0f} s | "
              f"{ratio:.2f}x faster | >= 3x | {os.cpu_count()} cores, load {load:.1f} |")
    else:
        print(f"serial {serial:.1f} s, batch run -j {args.jobs} {batch:.1f} s: "
              f"{ratio:.2f}x faster ({serial / args.students:.1f} vs "
              f"{batch / args.students:.1f} s a student); load {load:.1f}")


if __name__ == "__main__":
    main()
