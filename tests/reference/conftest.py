"""Fixtures of the reference tests."""

from __future__ import annotations

import pytest
from reference_helpers import load


@pytest.fixture(scope="session")
def reference():
    """reference(assignment, filename) imports that reference file by path."""
    return lambda assignment, filename: load("reference", assignment, filename)
