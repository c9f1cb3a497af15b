"""Every kind of check, probe and lint, declared once.

A spec's ``checks`` object names checks; each name here says where the check is
scored, what (if anything) the build worker must do for it next to the student's
code, whether it trains (so `--static` skips it), and which ``$defs`` entry of
grader/schemas/assignment.schema.json describes its part of a spec. The parent's
dispatch, the build worker's hooks and the verify worker's checks all read this
table; tests/engine/test_registry.py holds the schema's names and enums equal to it.

Targets are "module:function" strings, imported only by the process that runs them,
so this module imports nothing heavy and every side may read it.

Adding a check: write its scoring function on the side it belongs to (a parent check
takes ``(facts, check_spec, task)``; a verify check takes the worker's VerifyContext),
its build hook if it needs one, a ``check_NAME`` entry in the schema, and a line here.
Adding a probe: its two halves, its RETURNS line in grader/probe_contract.py and its
name in the schema's ``probe`` enum.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

from grader.probe_contract import RETURNS


@dataclass(frozen=True)
class CheckKind:
    name: str
    #: Where the score is computed: ``parent`` from the verified model facts,
    #: ``verify`` on the loaded model, ``probe`` from what a function task returned.
    scored_in: Literal["parent", "verify", "probe"]
    #: "module:function" that scores it (for ``probe``, the probe module's judge).
    target: str | None
    #: "module:function" the build worker calls after saving the model, next to the
    #: student's code, when the check needs the student's functions run.
    build_hook: str | None = None
    #: Training happens for it: `--static` skips it.
    trains: bool = False
    #: The schema's ``$defs`` entry for the check's part of a spec.
    schema_def: str = ""


CHECKS: dict[str, CheckKind] = {c.name: c for c in (
    CheckKind("architecture", "parent", "grader.parent.checks.architecture:check",
              schema_def="check_architecture"),
    CheckKind("params", "parent", "grader.parent.checks.params:check",
              schema_def="check_params"),
    CheckKind("graph", "parent", "grader.parent.checks.graph:check", schema_def="check_graph"),
    CheckKind("lints", "parent", "grader.parent.checks.lints:check", schema_def="check_lints"),
    CheckKind("accuracy", "verify", "grader.verify_worker.accuracy:run",
              build_hook="grader.build_worker.training:student_training_hook", trains=True,
              schema_def="check_accuracy"),
    # The student's visual functions run in the build worker on a model the grader
    # trained (one short epoch, verify side) over real training images; under --static
    # or without the data, on the untrained model and a synthetic image, said so.
    CheckKind("visual", "verify", "grader.verify_worker.visual:run",
              build_hook="grader.build_worker.visual:produce", schema_def="check_visual"),
    CheckKind("outputs", "probe", None, schema_def="check_outputs"),
)}

PROBES: tuple[str, ...] = tuple(RETURNS)
"""Probes of function tasks (a spec's ``outputs.probe``), declared with what each one's
function must return in grader/probe_contract.py: each is a parent module
grader/parent/probes/NAME.py (prepare, judge) and a build module
grader/build_worker/probes/NAME.py (capture)."""


def checks_scored_in(side: str) -> frozenset[str]:
    return frozenset(name for name, kind in CHECKS.items() if kind.scored_in == side)


def training_checks() -> frozenset[str]:
    return frozenset(name for name, kind in CHECKS.items() if kind.trains)


def load(target: str) -> Any:
    """The function a "module:function" target names, imported now."""
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)
