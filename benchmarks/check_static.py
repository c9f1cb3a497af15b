"""`grader check reference/practical2 --static` (its four model tasks) against a bare
script building the same models.

The bare script imports Keras, imports the reference cnn.py and calls build_model(1..4),
in one process: the least any static check of Practical 2 must pay. The grader does
more (a build worker that imports the student's file, saves each model; a verify
worker that loads each saved model with safe_mode and computes its facts), in two
processes started together so their TensorFlow imports overlap.

Peak RSS is reported two ways: the largest single process (what a memory limit per
process sees) and the largest sum over the whole process tree at any moment (what
a machine running several gradings at once sees), sampled every 20 ms.

Runs are interleaved (bare, grader, bare, ...) so load from other processes hits both
alike. Usage: .venv/bin/python benchmarks/check_static.py [--runs 5] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUBMISSION = REPO / "reference" / "practical2"
BARE = """
import sys
sys.path.insert(0, sys.argv[1])
import keras  # noqa: F401
import cnn
for number in (1, 2, 3, 4):
    cnn.build_model(number)
"""


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return found


def measure(argv: list[str]) -> dict[str, float]:
    """Wall seconds, largest-process peak RSS and peak tree RSS (MiB) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    peak_tree = 0
    per_process: dict[int, int] = {}
    while proc.poll() is None:
        total = 0
        for pid in _tree(proc.pid):
            rss = _rss_kb(pid)
            per_process[pid] = max(per_process.get(pid, 0), rss)
            total += rss
        peak_tree = max(peak_tree, total)
        time.sleep(0.02)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "rss_max_process_mib": max(per_process.values(), default=0) / 1024,
            "rss_tree_mib": peak_tree / 1024, "rc": proc.returncode}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp()) / "results.json"
    # The four model tasks only: the bare script builds just those (practical2's
    # Grad-CAM and function tasks also run under --static, and have no bare twin).
    tasks = [arg for n in (1, 2, 3, 4) for arg in ("--task", f"model{n}")]
    grader = [sys.executable, "-m", "grader", "check", str(SUBMISSION), "--static", "-q",
              *tasks, "--json", str(out)]
    bare = [sys.executable, "-c", BARE, str(SUBMISSION)]
    measure(bare)  # warm-up: page cache and bytecode for both
    measure(grader)
    runs: dict[str, list[dict]] = {"bare": [], "grader": []}
    for _ in range(args.runs):
        runs["bare"].append(measure(bare))
        runs["grader"].append(measure(grader))
        assert runs["grader"][-1]["rc"] == 0, "the reference should pass every static check"
    med = {name: {k: statistics.median(r[k] for r in rs) for k in
                  ("wall_s", "rss_max_process_mib", "rss_tree_mib")}
           for name, rs in runs.items()}
    ratio = {k: med["grader"][k] / med["bare"][k] for k in med["bare"]}
    load = os.getloadavg()[0]
    report = {"runs": args.runs, "load_1min": load, "median": med, "ratio": ratio,
              "targets": {"wall_s": 1.3, "rss": 1.2},
              "timeline_last_run": json.loads(out.read_text())["grader"].get("timeline")}
    if args.markdown:
        b, g = med["bare"], med["grader"]
        print("| measure | grader check --static | bare script | ratio | target |")
        print("|---|---|---|---|---|")
        print(f"| wall (median) | {g['wall_s']:.2f} s | {b['wall_s']:.2f} s | "
              f"{ratio['wall_s']:.2f}x | <= 1.3x |")
        print(f"| peak RSS, largest process | {g['rss_max_process_mib']:.0f} MiB | "
              f"{b['rss_max_process_mib']:.0f} MiB | {ratio['rss_max_process_mib']:.2f}x | "
              "<= 1.2x |")
        print(f"| peak RSS, whole process tree | {g['rss_tree_mib']:.0f} MiB | "
              f"{b['rss_tree_mib']:.0f} MiB | {ratio['rss_tree_mib']:.2f}x | (two TF "
              "processes) |")
        print(f"\n{args.runs} interleaved runs, 1-minute load average {load:.1f}")
    else:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
