"""Fixtures for the harness tests: a submission folder as the working directory (as
the build worker has it), and runs of scripts and notebooks written into it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import keras  # noqa: F401 - imported once, up front: every test runs real Keras
import pytest
from harness_helpers import write_notebook

from grader.build_worker.harness import RunReport, Source, run_source


@pytest.fixture
def submission(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def run_script(submission: Path, tmp_path: Path) -> Callable[..., RunReport]:
    def run(text: str, name: str = "train.py", overrides: dict | None = None,
            **kwargs: object) -> RunReport:
        path = submission / name
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return run_source(Source.script(path, name), overrides, scratch=tmp_path / "scratch",
                          **kwargs)

    return run


@pytest.fixture
def run_notebook(submission: Path, tmp_path: Path) -> Callable[..., RunReport]:
    def run(cells: list[tuple[str, str]], name: str = "notebook.ipynb",
            overrides: dict | None = None, **kwargs: object) -> RunReport:
        path = write_notebook(submission / name, cells)
        return run_source(Source.notebook(path, name), overrides,
                          scratch=tmp_path / "scratch", **kwargs)

    return run
