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
from grader.parent.checks.architecture import (
    align,
    describe,
    expand_spec,
    ignored_types,
    normalise,
)

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
    # Which model this is: a torch module is saved once per input shape it is exported
    # on, so its files differ between tasks while it is one model. Default: the file.
    model_id: str = ""

    @property
    def identity(self) -> str:
        return self.model_id or self.model_path

    @property
    def framework(self) -> str:
        return framework_of(self.facts)

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
    at all: one built for another input shape, or in a framework the task cannot take."""
    if not _takes(task, facts) or not _fits_input(task, facts):
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
    ignore = ignored_types(arch)
    got = normalise(layers, ignore)
    expected = normalise(expand_spec(arch["layers"]), ignore)
    contains = arch.get("match", "exact") == "contains"
    cost = 0.0
    for op, i, _ in align(expected, got, contains):
        if (op == "missing" and expected[i].get("optional")) or (op == "extra" and contains):
            continue
        cost += _COST[op]
    return max(0.0, 1.0 - cost / max(1, len(expected)))


def framework_of(facts: dict[str, Any]) -> str:
    return facts.get("framework") or "keras"


# The checks a torch model can be graded by on a Keras task: those read from its facts.
# The grader trains and draws on Keras models only (those checks come back not run).
_FACT_CHECKS = ("architecture", "graph", "lints")


def _takes(task: dict[str, Any], facts: dict[str, Any]) -> bool:
    """Whether a model of this framework can be the task's. A torch task takes torch
    models only (its text asks for PyTorch); a Keras task takes a torch model where it
    has checks that read a model's facts (CS 577's text allows PyTorch; the specs do
    not say which texts do, so this is the rule that grades what can be graded)."""
    task_framework = task.get("framework", "keras")
    have = framework_of(facts)
    if task_framework == "torch":
        return have == "torch"
    return have == "keras" or any(c in task.get("checks", {}) for c in _FACT_CHECKS)


def _fits_input(task: dict[str, Any], facts: dict[str, Any]) -> bool:
    """Whether the model's one input has the task's shape. PyTorch reads images
    channels-first (C, H, W) where a Keras spec writes them channels-last (H, W, C),
    and the other way round: either layout fits."""
    want = task.get("input_shape")
    shapes = facts.get("input_shapes") or []
    if not want or len(shapes) != 1 or not shapes[0]:
        return True
    have = list(shapes[0])[1:]
    layouts = [list(want)]
    if len(want) == 3:  # an image: the same shape in the other framework's layout
        layouts.append([want[1], want[2], want[0]] if task.get("framework") == "torch"
                       else [want[2], want[0], want[1]])
    return any(len(have) == len(w) and all(a is None or b is None or a == b
                                           for a, b in zip(w, have, strict=True))
               for w in layouts)


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
    frameworks = {t["id"]: t.get("framework", "keras") for t in tasks}
    scored = [(agreement(t, c.facts), c.framework == frameworks[t["id"]], _rank(c), -index,
               t["id"], c)
              for t in tasks for index, c in enumerate(pools.get(t["id"], []))]
    # Among strong fits (and then among weak ones) a model of the task's own framework
    # goes first: a Keras task gets the student's Keras model before the PyTorch one a
    # later question built, however close that one's layers are.
    pairs = sorted((p for p in scored if p[0] > 0),
                   key=lambda p: (p[0] >= WEAK_BELOW, p[1], p[0], p[2], p[3]), reverse=True)
    by_task = {t["id"]: t for t in tasks}
    chosen: dict[str, Match] = {}
    used: dict[str, str] = {}  # model identity -> the task it went to first

    def take(score: float, task_id: str, candidate: Candidate) -> None:
        # A rival is a different model the student plainly made as much of: not a
        # helper's sub-model (a Grad-CAM model built inside a function, unnamed), nor
        # one in another framework than the chosen one's when that is the task's.
        rivals = [c for s, same, r, _, t, c in pairs if t == task_id and c is not candidate
                  and c.identity not in used and abs(s - score) <= TIE_WITHIN
                  and r >= _rank(candidate) and _named(c) >= _named(candidate)
                  and same >= (candidate.framework == frameworks[task_id])
                  and not _same_layers(c, candidate)]
        why = _why(by_task[task_id], candidate, score)
        if candidate.identity in used:
            why += f"; the same model as for {used[candidate.identity]}"
        chosen[task_id] = Match(candidate, score, why, weak=score < WEAK_BELOW,
                                tied_with=rivals[0] if rivals else None)
        used.setdefault(candidate.identity, task_id)

    for shared, strong in ((False, True), (True, True), (True, False)):
        for score, _, _, _, task_id, candidate in pairs:
            if task_id in chosen or (strong and score < WEAK_BELOW):
                continue
            if candidate.identity in used and not (shared and (strong or score >= SHARE_WEAK)):
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
