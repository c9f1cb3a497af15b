"""Shared fixtures. Tests run the real `grader` CLI in a subprocess, as users do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from check_runs import Run, run_check

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def run_grader(*args: str, cwd: Path | None = None, env: dict | None = None,
               timeout: float = 600) -> subprocess.CompletedProcess:
    """Runs `python -m grader ARGS` and returns the completed process (text mode)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=cwd or REPO, env=full_env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="session")
def grader():
    return run_grader


@pytest.fixture(scope="session")
def shipped_static(tmp_path_factory):
    """``shipped_static(kind, assignment)``: `grader check --static` of
    REPO/kind/assignment (kind "reference" or "submissions_template"), run once per
    session however many tests judge it: tests/engine/test_engine_reference.py (full
    marks, zero, equal totals) and tests/assignment/test_assignment_validate.py (what
    `grader assignment validate` makes of the same two gradings)."""
    runs: dict[tuple[str, str], Run] = {}

    def get(kind: str, assignment: str) -> Run:
        if (kind, assignment) not in runs:
            out = tmp_path_factory.mktemp(f"{kind}-{assignment}") / "results.json"
            runs[kind, assignment] = run_check(str(REPO / kind / assignment), "--static",
                                               json_path=out)
        return runs[kind, assignment]
    return get


# Under pytest-xdist (`-n 2 --dist loadfile`, see pyproject.toml) each worker process has
# its own session, so a session-scoped run used by tests of several files would be made
# once per worker. The scheduler below sends each file to one worker whole (as loadfile
# does: its module-scoped runs are made once) and the files that share one of these
# fixtures to the same worker. The workers know which fixtures each test uses; they
# write each file's group where the scheduler, in the controlling process, reads it.
# (xdist's own loadgroup marks have no effect with pytest 9.2: pytest-xdist#1386.)
SHARED_FIXTURES = ("shipped_static", "zoo", "zoo_dir", "practical2_as_text",
                   "practical2_zip_model3", "slurm_cluster")
_GROUPS_ENV = "GRADER_TESTS_XDIST_GROUPS"


def _file_groups(items) -> dict[str, str]:
    """Test file -> its group: the file itself, or one file standing for all the files
    joined to it through a shared fixture."""
    uses: dict[str, set[str]] = {}
    for item in items:
        names = set(getattr(item, "fixturenames", ())) & set(SHARED_FIXTURES)
        uses.setdefault(item.nodeid.split("::")[0], set()).update(names)
    parent = {f: f for f in uses}

    def root(f: str) -> str:
        while parent[f] != f:
            f = parent[f]
        return f
    first_user: dict[str, str] = {}
    for f in sorted(uses):
        for name in uses[f]:
            parent[root(f)] = root(first_user.setdefault(name, f))
    return {f: root(f) for f in uses}


def pytest_configure(config):
    if (config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput")
            and config.getoption("numprocesses", None)):
        os.environ[_GROUPS_ENV] = tempfile.mkdtemp(prefix="grader-tests-xdist-")


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput") and _GROUPS_ENV in os.environ:
        shutil.rmtree(os.environ.pop(_GROUPS_ENV), ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    folder, worker = os.environ.get(_GROUPS_ENV), getattr(config, "workerinput", None)
    if folder and worker:
        (Path(folder) / f"{worker['workerid']}.json").write_text(
            json.dumps(_file_groups(items)))


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile" or _GROUPS_ENV not in os.environ:
        return None
    from xdist.scheduler import LoadFileScheduling

    folder = Path(os.environ[_GROUPS_ENV])

    class SharedRunScheduling(LoadFileScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            # Called once every worker has finished collecting, so its file is there.
            if self.groups is None:
                self.groups = {}
                for path in sorted(folder.glob("*.json")):
                    self.groups.update(json.loads(path.read_text()))
            file = nodeid.split("::")[0]
            return self.groups.get(file, file)

    return SharedRunScheduling(config, log)
