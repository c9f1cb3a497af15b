"""`grader check` run as a user runs it, in a child process, and what it left.

Shared by tests/conftest.py (the shipped references and templates, graded once per
session) and tests/engine/conftest.py (the engine's own submissions).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    """One `grader check` run: its exit code, terminal report and results JSON."""

    code: int
    stdout: str
    stderr: str
    results: dict
    modules: dict  # what the parent process had imported when it finished

    def test(self, task: str, check: str) -> dict:
        name = f"{task}: {check}"
        for test in self.results["tests"]:
            if test["name"] == name:
                return test
        raise KeyError(f"no test {name!r} in {[t['name'] for t in self.results['tests']]}")

    def state(self, task: str, check: str) -> str:
        return self.test(task, check)["grader"]["state"]


# Runs the real CLI in a child process and reports, after it finishes, whether that
# process (the parent of the workers) ever imported TensorFlow, Keras or student code.
_PROBE = """
import json, sys
sys.argv = ["grader", *sys.argv[1:]]
code = 0
try:
    from grader.cli import main
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
names = [m for m in sys.modules if m.split(".")[0] in
         ("tensorflow", "keras", "models", "cheat", "broken_import", "student")]
sys.stderr.write("\\nPROBE " + json.dumps({"code": code, "imported": names}) + "\\n")
sys.exit(code)
"""


_POOL = None


def shared_pool():
    """This test process's warm servers (each xdist worker has its own), started on
    first use: most gradings of the suite get their workers as `grader batch run`
    lends them, which saves two TensorFlow imports each. The gradings that test the
    workers' confinement and failures start fresh ones (``fresh=True``), as a lone
    `grader check` does, and tests/engine/test_warm_workers.py holds the warm ones to
    the same confinement."""
    global _POOL
    if _POOL is None:
        import atexit

        from grader.parent.warm import WarmPool

        _POOL = WarmPool()
        atexit.register(_POOL.close)
    return _POOL


def run_check(*args: str, json_path: Path, timeout: float = 900, warm=None,
              fresh: bool = False) -> Run:
    """`grader check ARGS --json JSON_PATH` in a child process, as a Run. Its workers
    come from ``warm`` (a grader.parent.warm.WarmPool), else from the shared pool,
    unless ``fresh``: then it starts them itself, as `grader check` alone does."""
    if warm is None and not fresh:
        warm = shared_pool()
    fds, env = warm.channels() if warm is not None else ([], {})
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE, "check", *args, "--json",
                               str(json_path)], cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, pass_fds=fds, env={**os.environ, **env})
    finally:
        for fd in fds:
            os.close(fd)
    probe = {}
    for line in proc.stderr.splitlines():
        if line.startswith("PROBE "):
            probe = json.loads(line[len("PROBE "):])
    results = json.loads(json_path.read_text()) if json_path.exists() else {}
    return Run(proc.returncode, proc.stdout, proc.stderr, results, probe)
