"""Which models a run made, where they came from, and what was done with them.

Models are found four ways, so one built in a class method that returns None, kept
in ``self.model`` or never bound to a name is still found:

- construction: ``keras.Model.__init__`` reports every Keras model the student's code
  constructs (not the ones Keras makes inside another model, such as the network a
  ``Sequential`` builds for itself);
- returns: a function the run defines reports what it returns (see rewrite.py);
- the stand-ins: compile, fit, evaluate, predict and train_on_batch report ``self``;
- after each top-level statement the namespace is scanned: top-level names, one level
  into lists, tuples and dicts (``models[1]``), and into the attributes of objects of
  the student's own classes (``net.model``). PyTorch modules (with parameters) are
  found this way and by returns, once the student has imported torch.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

from grader.build_worker.harness.location import Location, StudentFiles
from grader.build_worker.harness.notes import Notes
from grader.build_worker.harness.report import Captured, Event

# Items looked at in one container or object: enough for a list of candidate models,
# cheap on a list of 60,000 labels.
_SCAN_ITEMS = 50


class Recorder:
    def __init__(self, files: StudentFiles, notes: Notes, module_name: str, run: str,
                 overrides: dict[str, Any], max_models: int) -> None:
        self.files = files
        self.notes = notes
        self.module_name = module_name
        self.run = run
        self.overrides = dict(overrides)
        self.max_models = max_models
        self.models: list[Captured] = []
        self._by_id: dict[int, Captured] = {}
        self._returned_during: dict[int, int] = {}
        self.statement = Location(run, None)
        self.statement_index = 0
        self.keras_model: type | None = None  # set once Keras is imported

    # ----------------------------------------------------------------- what is a model

    def framework_of(self, value: Any) -> str | None:
        if self.keras_model is not None and isinstance(value, self.keras_model):
            return "keras"
        torch = sys.modules.get("torch")
        module = getattr(getattr(torch, "nn", None), "Module", None)
        if isinstance(module, type) and isinstance(value, module):
            try:  # a loss or an activation is a Module too, but no model
                return "torch" if next(iter(value.parameters()), None) is not None else None
            except Exception:
                return None
        return None

    def ensure(self, model: Any, framework: str = "keras") -> Captured | None:
        """The record of ``model``, made now if it is new (None past the limit)."""
        found = self._by_id.get(id(model))
        if found is not None:
            return found
        if len(self.models) >= self.max_models:
            self.notes.add("too many models", f"more than {self.max_models} models were "
                           "built; the later ones were not captured")
            return None
        captured = Captured(model, framework, self.statement, self.run, dict(self.overrides))
        self.models.append(captured)
        self._by_id[id(model)] = captured
        return captured

    # ----------------------------------------------------------------------- reports

    def constructed(self, model: Any, frame: FrameType | None) -> None:
        """Called by the ``keras.Model.__init__`` stand-in. A model constructed inside a
        method of another model (Sequential's own functional network) is Keras'
        business, not the student's: passed over."""
        f = frame
        while f is not None and self.files.frame_location(f) is None:
            owner = f.f_locals.get("self")
            if owner is not model and self.keras_model is not None \
                    and isinstance(owner, self.keras_model):
                return
            f = f.f_back
        captured = self.ensure(model, "keras")
        if captured is not None and captured.built_at is None:
            captured.built_at = self.files.innermost(frame, skip_self=model)
            captured.events.append(Event("built", captured.built_at))

    def returned(self, value: Any, qualname: str) -> None:
        values = value if isinstance(value, (tuple, list)) and len(value) <= 10 else [value]
        for item in values:
            framework = self.framework_of(item)
            if framework is None:
                continue
            captured = self.ensure(item, framework)
            if captured is None:
                continue
            # The outermost function that hands it back during the statement where it
            # was first returned names it: build_model(n), not the helper it called.
            first = self._returned_during.setdefault(id(item), self.statement_index)
            if captured.returned_by is None or first == self.statement_index:
                captured.returned_by = f"{qualname}()"

    def event(self, model: Any, kind: str, facts: dict[str, Any] | None = None,
              at: Location | None = None, collapse: bool = False) -> Event | None:
        captured = self.ensure(model, "keras")
        if captured is None:
            return None
        last = captured.events[-1] if captured.events else None
        if collapse and last is not None and last.kind == kind:
            last.calls += 1
            return last
        event = Event(kind, at, facts or {})
        captured.events.append(event)
        return event

    # ---------------------------------------------------------------------- scanning

    def _bind(self, value: Any, variable: str | None = None, path: str | None = None) -> None:
        framework = self.framework_of(value)
        if framework is None:
            return
        captured = self.ensure(value, framework)
        if captured is None:
            return
        if variable and captured.variable is None:
            captured.variable = variable
        if path and captured.path is None and captured.variable is None:
            captured.path = path

    def scan(self, namespace: dict[str, Any]) -> None:
        """Looks for models in the namespace after a top-level statement."""
        for name, value in list(namespace.items()):
            if name.startswith("__"):
                continue
            try:
                if self.framework_of(value) is not None:
                    self._bind(value, variable=name)
                elif type(value) in (list, tuple):
                    for i, item in enumerate(value[:_SCAN_ITEMS]):
                        self._bind(item, path=f"{name}[{i}]")
                elif type(value) is dict:
                    for key, item in list(value.items())[:_SCAN_ITEMS]:
                        if isinstance(key, (str, int)):
                            self._bind(item, path=f"{name}[{key!r}]")
                elif type(value).__module__ == self.module_name \
                        and hasattr(value, "__dict__"):
                    for attr, item in list(vars(value).items())[:_SCAN_ITEMS]:
                        self._bind(item, path=f"{name}.{attr}")
            except Exception:  # an odd object (a property that raises) is skipped
                continue

    def finish(self, namespace: dict[str, Any]) -> None:
        ids = {id(c.model): c for c in self.models}
        for name, value in namespace.items():
            captured = ids.get(id(value))
            if captured is not None and not name.startswith("__"):
                captured.final_names.append(name)


class Hook:
    """The object the rewritten statements call (``__grader_harness__``). It outlives
    the run in the namespace; detached, it only hands values back, so a function the
    file defines still works when the worker calls it later."""

    def __init__(self, overrides: dict[str, Any], recorder: Recorder | None,
                 notes: Notes | None, files: StudentFiles | None) -> None:
        self._overrides = dict(overrides)
        self._recorder = recorder
        self._notes = notes
        self._files = files

    def detach(self) -> None:
        self._recorder = self._notes = self._files = None

    def setting(self, name: str) -> Any:
        value = self._overrides[name]
        if self._notes is not None and self._files is not None:
            where = self._files.innermost(sys._getframe(1))
            self._notes.add(f"override {name}", f"{name} = {value!r} is this run's setting; "
                            "it replaced the file's own assignment",
                            where.describe() if where is not None else None)
        return value

    def returned(self, value: Any, qualname: str) -> Any:
        if self._recorder is not None:
            try:
                self._recorder.returned(value, qualname)
            except Exception:  # noticing a model must never change what the code does
                pass
        return value

    def __repr__(self) -> str:
        return "<the grader's harness hook>"
