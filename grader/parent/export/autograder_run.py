"""Grades one Gradescope submission and always leaves a results.json.

This file is copied into the Gradescope zip as ``run_grader.py`` and started by its
``run_autograder``; it runs in whatever Python that finds, so it uses the standard
library only and imports nothing of the grader. It runs ``grader check`` on
``AUTOGRADER_ROOT/submission`` in a process group of its own, with a wall-clock limit,
and then writes ``AUTOGRADER_ROOT/results/results.json`` from what the grader wrote,
or, when the grader crashed, hung or was killed before writing anything, a results
file of score 0 that says what happened and ends with the grader's last output.

Settings come from ``autograder.json`` beside this file (written by `grader export
gradescope`); the environment can override them:

- ``AUTOGRADER_ROOT``: default /autograder.
- ``GRADER_PYTHON``: the Python with the grader installed (run_autograder sets it:
  setup.sh's venv unless the environment names another); default this one.
- ``GRADER_TIME_LIMIT_S``: seconds before the grader is stopped (SIGTERM, after which
  it writes what it graded; SIGKILL after a grace period).
- ``GRADER_KILL_GRACE_S``: that grace period (default 30 s).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = "autograder.json"
# Enough of the grader's own output to diagnose a crash, little enough to read.
TAIL_CHARS = 4000


def settings() -> dict:
    config = json.loads((HERE / CONFIG).read_text())
    env = os.environ
    config["root"] = env.get("AUTOGRADER_ROOT") or "/autograder"
    if env.get("GRADER_TIME_LIMIT_S"):
        config["time_limit_s"] = float(env["GRADER_TIME_LIMIT_S"])
    config["grace_s"] = float(env.get("GRADER_KILL_GRACE_S") or 30)
    return config


def command(config: dict, submission: Path, out: Path) -> list[str]:
    python = os.environ.get("GRADER_PYTHON") or sys.executable
    args = [python, "-m", "grader", "--assignments-dir", str(HERE / "specs"),
            "check", str(submission), "--assignment", config["assignment"],
            "--json", str(out), "--quiet"]
    if config.get("static"):
        args.append("--static")
    if config.get("data"):
        args += ["--data-dir", str(HERE / config["data"])]
    # The grader's own budget ends a minute before the hard limit, so tasks left say
    # why in the results instead of the whole run being cut short.
    args += ["--time-budget", f"{max(30.0, float(config['time_limit_s']) - 60):g}"]
    return args


def usable(path: Path) -> dict | None:
    """The grader's results when they are there and have Gradescope's required fields."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list) or not all(
            isinstance(data.get(k), (int, float)) and not isinstance(data.get(k), bool)
            for k in ("score", "max_score", "execution_time")):
        return None
    return data


def tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-TAIL_CHARS:]


def fallback(reason: str, log: str, elapsed: float) -> dict:
    """Score 0 with the reason: what Gradescope shows when the grader left nothing."""
    output = (f"The autograder could not grade this submission: {reason}. "
              "Your score is 0 for now; your instructor has been given this message.")
    if log.strip():
        output += "\n\nLast output of the grader:\n" + log
    return {"score": 0, "max_score": 0, "execution_time": round(elapsed, 3),
            "output": output, "visibility": "visible", "tests": [],
            "grader": {"complete": False, "errors": [reason]}}


def write_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def main() -> int:
    started = time.monotonic()
    config = settings()
    root = Path(config["root"])
    results = root / "results" / "results.json"
    scratch = Path(tempfile.mkdtemp(prefix="grader-run-"))
    out, log_path = scratch / "results.json", scratch / "grader.log"
    stopped: list[str] = []

    def on_term(signum: int, frame: object) -> None:
        # Gradescope (or a person) stops the run: pass it on, then write what we have.
        stopped.append(f"the run was stopped by signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    reason = None
    with open(log_path, "wb") as log:
        try:
            # A session of its own: on a hang the whole tree, workers too, can be killed.
            proc = subprocess.Popen(command(config, root / "submission", out), stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=scratch, start_new_session=True)
        except OSError as exc:
            proc, reason = None, f"the grader could not be started ({exc})"
        if proc is not None:
            limit = float(config["time_limit_s"])
            while proc.poll() is None and not stopped \
                    and time.monotonic() - started < limit:
                time.sleep(0.2)
            if proc.poll() is None:
                reason = stopped[0] if stopped else \
                    f"grading took longer than the time limit of {limit:g} s"
                # SIGTERM to the grader alone: it stops its workers and writes what it
                # graded (grader check's own handler); the group gets SIGKILL after.
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=config["grace_s"])
                except subprocess.TimeoutExpired:
                    pass
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
            elif proc.returncode < 0:
                reason = (f"the grader was killed by signal {-proc.returncode}"
                          + (" (likely out of memory: give the autograder more memory)"
                             if proc.returncode == -signal.SIGKILL else ""))
            elif proc.returncode not in (0, 1, 2):
                reason = f"the grader crashed (exit code {proc.returncode})"
            elif not out.exists():
                reason = (f"the grader ended (exit code {proc.returncode}) without "
                          "writing its results")
    elapsed = time.monotonic() - started
    data = usable(out)
    if data is None:
        data = fallback(reason or "the grader wrote no results", tail(log_path), elapsed)
    elif reason:
        # The grader kept what it graded before it was stopped; say why the rest is not.
        data["output"] = (f"Grading was cut short: {reason}. Tasks not graded by then "
                          f"score 0.\n\n{data.get('output', '')}")
        data.setdefault("grader", {}).setdefault("errors", []).append(reason)
    write_atomic(results, data)
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
