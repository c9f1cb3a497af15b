"""Which captured model is which task's, for a submission that does not follow the
template's function contract (a script, a notebook of top-level cells).

The build worker runs such a file under the harness and reports every model it built,
with where it came from and the facts the build worker read from it (untrusted, and
used here only to choose: the chosen model is then scored from its saved file in the
verify worker like any other). Each task is matched to at most one model and each
model to at most one task, best architecture agreement first. A weak or tied match is
said in the report, for a person to look at; an instructor can pin a match instead
(`grader check --map TASK=FILE:NAME`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.parent.checks import graph, properties
from grader.parent.checks.architecture import align, describe, expand_spec, normalise

# Below this agreement a match is graded but flagged for a person.
WEAK_BELOW = 0.6
# A weak fit may reuse another task's model only from this agreement up: below it, the
# student most likely did not attempt the task at all.
SHARE_WEAK = 0.3
# Two candidates this close for one task: which one the student meant is a guess.
TIE_WITHIN = 0.02
_COST = {"match": 0.0, "change": 0.3, "replace": 1.0, "missing": 1.0, "extra": 1.0}


@dataclass
class Candidate:
    """One captured model, as the build worker reported it."""

    model_path: str
    name: str  # the variable it was bound to, "returned by f()", or "<unnamed>"
    where: str  # "cnn.py line 21", "nb.ipynb code cell 4 line 2"
    run: str  # "cnn.py run with MODEL_NUMBER=2"
    facts: dict[str, Any]
    events: list[str] = field(default_factory=list)  # built, compiled, fit, evaluated

    def describe(self) -> str:
        return f"{self.run}, `{self.name}` built at {self.where}"


@dataclass
class Match:
    candidate: Candidate
    agreement: float  # 0..1, how closely its layers follow the task's spec
    why: str
    weak: bool = False
    tied_with: Candidate | None = None


def agreement(task: dict[str, Any], facts: dict[str, Any]) -> float:
    """How closely a model follows the task's spec, 0..1: the mean of its layers'
    agreement with the expected architecture, the share of the stated properties it
    has and whether it has the graph property the task requires (an inception or
    residual block); then its parameter count. 0 for a model that cannot be the task's
    at all: one built for another input shape."""
    if not _fits_input(task, facts):
        return 0.0
    checks = task.get("checks", {})
    arch = checks.get("architecture")
    layers = (facts.get("graph") or {}).get("layers") or []
    parts = []
    if arch and arch.get("layers"):
        parts.append(_layer_agreement(arch, layers))
    if arch and arch.get("properties"):
        held = [v["ok"] for v in properties.evaluate(arch["properties"], facts, task)]
        parts.append(sum(held) / len(held))
    if "graph" in checks:
        # The block a task is about (residual, inception) tells its model apart from
        # a sibling task's plain CNN better than shared properties can.
        parts.append(1.0 if graph.check(facts, checks["graph"], task)["state"] == "passed"
                     else 0.4)
    score = sum(parts) / len(parts) if parts else 0.5
    want = checks.get("params", {}).get("trainable")
    have = facts.get("trainable_params")
    if isinstance(want, int) and isinstance(have, int):
        score = score * 0.9 + (0.1 if want == have else 0.0)
    if not _fits_output(task, facts):
        score *= 0.5  # the right layers with the wrong head is still the student's attempt
    return round(score, 4)


def _layer_agreement(arch: dict[str, Any], layers: list[dict[str, Any]]) -> float:
    ignore = set(arch.get("ignore", ["InputLayer"])) | {"InputLayer"}
    got = normalise(layers, ignore)
    expected = normalise(expand_spec(arch["layers"]), ignore)
    contains = arch.get("match", "exact") == "contains"
    cost = 0.0
    for op, i, _ in align(expected, got, contains):
        if (op == "missing" and expected[i].get("optional")) or (op == "extra" and contains):
            continue
        cost += _COST[op]
    return max(0.0, 1.0 - cost / max(1, len(expected)))


def _fits_input(task: dict[str, Any], facts: dict[str, Any]) -> bool:
    want = task.get("input_shape")
    shapes = facts.get("input_shapes") or []
    if not want or len(shapes) != 1 or not shapes[0]:
        return True
    have = list(shapes[0])[1:]
    return len(have) == len(want) and all(w is None or h is None or w == h
                                          for w, h in zip(want, have, strict=True))


def _fits_output(task: dict[str, Any], facts: dict[str, Any]) -> bool:
    classes = task.get("num_classes")
    shapes = facts.get("output_shapes") or []
    if not classes or len(shapes) != 1 or not shapes[0]:
        return True
    units = shapes[0][-1]
    return units == classes or (classes == 2 and units == 1)


def _rank(candidate: Candidate) -> int:
    """A model that was trained is more likely the one a student meant than one only
    built on the way (a helper's sub-model, say)."""
    return 2 * ("fit" in candidate.events) + ("compiled" in candidate.events)


def match(tasks: list[dict[str, Any]], pools: dict[str, list[Candidate]]) -> dict[str, Match]:
    """A model for each task that has candidates in ``pools`` (task id -> the models of
    the runs that task's entry names), best agreement first. A model goes to one task,
    unless it is the only good fit for another as well (one model frozen, then
    fine-tuned: a student builds it once for two tasks); a weak fit is taken last."""
    scored = ((agreement(t, c.facts), _rank(c), -index, t["id"], c)
              for t in tasks for index, c in enumerate(pools.get(t["id"], [])))
    pairs = sorted((p for p in scored if p[0] > 0), key=lambda p: p[:3], reverse=True)
    by_task = {t["id"]: t for t in tasks}
    chosen: dict[str, Match] = {}
    used: dict[str, str] = {}  # model path -> the task it went to first

    def take(score: float, task_id: str, candidate: Candidate) -> None:
        # A rival is a different model the student plainly made as much of: not a
        # helper's sub-model (a Grad-CAM model built inside a function, unnamed).
        rivals = [c for s, r, _, t, c in pairs if t == task_id and c is not candidate
                  and c.model_path not in used and abs(s - score) <= TIE_WITHIN
                  and r >= _rank(candidate) and _named(c) >= _named(candidate)
                  and not _same_layers(c, candidate)]
        why = _why(by_task[task_id], candidate, score)
        if candidate.model_path in used:
            why += f"; the same model as for {used[candidate.model_path]}"
        chosen[task_id] = Match(candidate, score, why, weak=score < WEAK_BELOW,
                                tied_with=rivals[0] if rivals else None)
        used.setdefault(candidate.model_path, task_id)

    for shared, strong in ((False, True), (True, True), (True, False)):
        for score, _, _, task_id, candidate in pairs:
            if task_id in chosen or (strong and score < WEAK_BELOW):
                continue
            if candidate.model_path in used and not (shared and (strong or score >= SHARE_WEAK)):
                continue
            take(score, task_id, candidate)
    return chosen


def _named(candidate: Candidate) -> bool:
    return candidate.name != "<unnamed>" and not candidate.name.startswith("returned by")


def _same_layers(a: Candidate, b: Candidate) -> bool:
    """The same architecture (layer names aside, which Keras numbers per model)."""
    def shape(c: Candidate) -> list[str]:
        return [describe(layer) for layer in (c.facts.get("graph") or {}).get("layers") or []]
    return shape(a) == shape(b)


def _why(task: dict[str, Any], candidate: Candidate, score: float) -> str:
    words = ("its layers follow the spec" if score >= 0.999 else
             f"its layers agree {score:.0%} with the spec")
    return f"{task['id']} <- {candidate.describe()} ({words})"
