"""Start-up of `grader theory q1` against `python -c "import numpy"` (wall time).

The target (issue 2) is a median ratio of at most 1.5: printing a worked answer
should cost about what importing NumPy costs, which rules out TensorFlow,
NumPy and pydantic on that path.

    .venv/bin/python benchmarks/theory_startup.py            # 15 interleaved runs
    .venv/bin/python benchmarks/theory_startup.py --runs 31 --markdown

Runs are interleaved (numpy, grader, numpy, grader, ...) so that load from other
processes hits both sides alike; the first run of each is a warm-up that also
writes bytecode caches (PYTHONDONTWRITEBYTECODE is removed for these runs, as
an installed package has its .pyc files). This is a benchmark, not a test: it
prints numbers and exits 0 unless --check is given and the target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 1.5


def grader_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m grader`."""
    script = Path(sys.executable).with_name("grader")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "grader"]


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CPU: dict[str, list[float]] = {}


def wall(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run; its CPU seconds go to CPU[cmd[-1]] (less load-sensitive)."""
    cpu = _child_cpu()
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    CPU.setdefault(cmd[-1], []).append(_child_cpu() - cpu)
    if done.returncode != 0:
        raise SystemExit(f"benchmarks/theory_startup.py: {' '.join(cmd)} failed with exit "
                         f"code {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command")
    parser.add_argument("--markdown", action="store_true", help="print a README table row")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--check", action="store_true", help=f"exit 1 above {TARGET}x")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["COLUMNS"] = "100"
    numpy_cmd = [sys.executable, "-c", "import numpy"]
    theory_cmd = [*grader_command(), "theory", "q1"]
    for cmd in (numpy_cmd, theory_cmd):
        wall(cmd, env)  # warm-up: disk cache and bytecode

    CPU.clear()
    numpy_times, theory_times = [], []
    for _ in range(args.runs):
        numpy_times.append(wall(numpy_cmd, env))
        theory_times.append(wall(theory_cmd, env))
    numpy_median = statistics.median(numpy_times)
    theory_median = statistics.median(theory_times)
    ratio = theory_median / numpy_median
    pair_ratio = statistics.median(t / n for t, n in zip(theory_times, numpy_times, strict=True))
    cpu_numpy = statistics.median(CPU[numpy_cmd[-1]])
    cpu_theory = statistics.median(CPU[theory_cmd[-1]])
    result = {
        "runs": args.runs, "numpy_median_s": round(numpy_median, 4),
        "theory_q1_median_s": round(theory_median, 4), "ratio_of_medians": round(ratio, 3),
        "median_of_pair_ratios": round(pair_ratio, 3), "target": TARGET,
        "cpu_numpy_median_s": round(cpu_numpy, 4), "cpu_theory_q1_median_s": round(cpu_theory, 4),
        "cpu_ratio": round(cpu_theory / cpu_numpy, 3),
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    elif args.markdown:
        print(f"| `grader theory q1` vs `python -c \"import numpy\"` | {theory_median:.3f} s | "
              f"{numpy_median:.3f} s | {ratio:.2f}x (pairs {pair_ratio:.2f}x) | "
              f"<= {TARGET}x | CPU {cpu_theory / cpu_numpy:.2f}x; {args.runs} runs, "
              f"load {result['load_1min']} |")
    else:
        print(f"python -c 'import numpy': median {numpy_median:.3f} s over {args.runs} runs")
        print(f"grader theory q1:         median {theory_median:.3f} s")
        print(f"ratio of medians {ratio:.2f}x, median of paired ratios {pair_ratio:.2f}x "
              f"(target <= {TARGET}x; load {result['load_1min']})")
        print(f"CPU time (user+sys) medians: {cpu_theory:.3f} s vs {cpu_numpy:.3f} s, "
              f"{cpu_theory / cpu_numpy:.2f}x")
    return 1 if args.check and ratio > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
