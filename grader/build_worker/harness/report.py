"""What a run reports: the models it captured, the statements that failed, the notes.

Everything here lives in the build worker, where student code ran: it says what to
save and where it came from, never what scores (the verify worker recomputes that
from the saved model)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.build_worker.harness.location import Location


@dataclass
class Failure:
    """A top-level statement that did not finish; the run went on with the next one.

    ``kind``: ``error`` (it raised), ``syntax`` (its lines do not parse; nothing of
    them ran), ``exit`` (SystemExit), ``timeout`` (over the statement time limit).
    ``raised_at`` is the innermost student line the exception passed through, with
    its function (the statement itself when that is all there was).
    """

    where: Location
    statement: str  # its first line, as written
    kind: str
    error: str  # the exception's class name, e.g. "FileNotFoundError"
    message: str
    raised_at: Location | None = None
    traceback: str = ""  # student frames onwards, cut to a few kB
    # A NameError for a name that an earlier failed statement would have bound: that
    # statement, so a report can say this one only follows from it.
    follows: Location | None = None

    def describe(self) -> str:
        """One line: ``nb.ipynb code cell 3 line 1: FileNotFoundError: ... (raised at
        ...)``."""
        text = f"{self.where}: {self.error}: {self.message}" if self.message \
            else f"{self.where}: {self.error}"
        if self.raised_at is not None and self.raised_at.at_top_level() != self.where:
            text += f" (raised at {self.raised_at.describe()})"
        if self.follows is not None:
            text += f" (because {self.follows} failed)"
        return text


@dataclass
class Event:
    """Something that happened to a captured model: ``built`` (constructed),
    ``compiled``, ``fit``, ``evaluated``, ``predicted``, ``trained_on_batch``.
    ``facts`` are the call's settings (see the stand-ins); ``calls`` counts repeats of
    the same kind in a row (a predict or train_on_batch loop)."""

    kind: str
    at: Location | None
    facts: dict[str, Any] = field(default_factory=dict)
    calls: int = 1


@dataclass(eq=False)
class Captured:
    """One model the run built or touched.

    ``name`` is the best handle a person has on it: the top-level variable it was first
    bound to (``model``), else a path to it (``models[1]``, ``net.model``), else
    ``returned by build_cnn()``, else ``<unnamed>``. ``first_seen`` is the top-level
    statement during which the harness first saw it; ``built_at`` the student line
    that constructed it (``cnn.py line 21 in build_model()``), when the harness saw
    that. ``compile`` is the last compile's settings; ``fits`` every fit's.
    """

    model: Any
    framework: str  # "keras" or "torch"
    first_seen: Location
    run: str  # "cnn.py run with MODEL_NUMBER=2": the run and the settings it ran under
    overrides: dict[str, Any] = field(default_factory=dict)
    built_at: Location | None = None
    variable: str | None = None
    path: str | None = None  # models[1], net.model
    returned_by: str | None = None  # "build_cnn()"
    final_names: list[str] = field(default_factory=list)  # top-level names at the end
    events: list[Event] = field(default_factory=list)

    @property
    def name(self) -> str:
        if self.variable:
            return self.variable
        if self.path:
            return self.path
        if self.returned_by:
            return f"returned by {self.returned_by}"
        return "<unnamed>"

    @property
    def event_kinds(self) -> list[str]:
        return list(dict.fromkeys(e.kind for e in self.events))

    @property
    def compile(self) -> dict[str, Any] | None:
        found = [e.facts for e in self.events if e.kind == "compiled"]
        return found[-1] if found else None

    @property
    def fits(self) -> list[dict[str, Any]]:
        return [e.facts for e in self.events if e.kind == "fit"]

    def describe(self) -> str:
        """``model2 <- `model` built at cnn.py line 21 in build_model(), cnn.py run with
        MODEL_NUMBER=2`` without the task: what the report says about where it came
        from."""
        where = self.built_at.describe() if self.built_at else str(self.first_seen)
        return f"`{self.name}` built at {where}, {self.run}"


@dataclass
class RunReport:
    """The outcome of ``run_source``.

    ``namespace`` is the module namespace as the run left it: a builder function the
    file defines can still be called (for real: the stand-ins are gone by then).
    ``stdout`` / ``stderr`` are what the run printed, cut to the limit (head and tail
    kept); ``printed`` counts the characters it wrote to each before cutting.
    """

    source: str
    overrides: dict[str, Any]
    models: list[Captured]
    failures: list[Failure]
    notes: list[str]
    namespace: dict[str, Any]
    stdout: str
    stderr: str
    printed: dict[str, int]
    statements: int  # top-level statements run, failed ones included
    seconds: float

    def models_named(self, name: str) -> list[Captured]:
        return [m for m in self.models if m.name == name]

    def describe(self) -> str:
        lines = [f"{self.source}: {self.statements} statements, {len(self.models)} models, "
                 f"{len(self.failures)} failed"]
        lines += [f"  model {m.name} ({m.framework}): {m.describe()}" for m in self.models]
        lines += [f"  failed: {f.describe()}" for f in self.failures]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
