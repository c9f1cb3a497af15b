"""grader/registry.py is the one declaration of every check and probe; the schema, the
lint and graph vocabularies and the dispatch tables must agree with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import registry

SCHEMA = json.loads((Path(registry.__file__).parent / "schemas" / "assignment.schema.json")
                    .read_text())
DEFS = SCHEMA["$defs"]


def _task_checks() -> dict:
    return DEFS["task"]["properties"]["checks"]["properties"]


def test_the_schema_allows_exactly_the_registered_checks_each_with_its_own_fragment():
    checks = _task_checks()
    assert set(checks) == set(registry.CHECKS)
    for name, kind in registry.CHECKS.items():
        assert checks[name] == {"$ref": f"#/$defs/{kind.schema_def}"}, name
        assert kind.schema_def in DEFS, name


def test_the_schema_probe_enum_is_the_registered_probes():
    assert sorted(DEFS["check_outputs"]["properties"]["probe"]["enum"]) == \
        sorted(registry.PROBES)


def test_lint_and_graph_vocabularies_match_the_schema():
    from grader.parent.checks import graph, lints

    assert sorted(DEFS["lint_rule"]["enum"]) == sorted(lints.RULES)
    properties = DEFS["check_graph"]["properties"]
    enum = next(p["items"]["enum"] for p in properties.values() if "items" in p)
    assert sorted(enum) == sorted(graph.FIX)


@pytest.mark.parametrize("name", sorted(registry.CHECKS))
def test_every_target_names_a_function_on_its_side(name):
    kind = registry.CHECKS[name]
    side = {"parent": "grader.parent.", "verify": "grader.verify_worker.", "probe": None}
    if kind.target is not None:
        assert kind.target.startswith(side[kind.scored_in]), kind.target
        assert callable(registry.load(kind.target))
    if kind.build_hook is not None:
        assert kind.build_hook.startswith("grader.build_worker."), kind.build_hook
        assert callable(registry.load(kind.build_hook))


@pytest.mark.parametrize("name", registry.PROBES)
def test_every_probe_has_its_two_halves(name):
    import importlib

    parent = importlib.import_module(f"grader.parent.probes.{name}")
    assert callable(parent.prepare) and callable(parent.judge)
    spec = importlib.util.find_spec(f"grader.build_worker.probes.{name}")
    assert spec is not None, f"grader/build_worker/probes/{name}.py is missing"


def test_only_checks_that_train_are_skipped_by_static():
    assert registry.training_checks() == {"accuracy"}
