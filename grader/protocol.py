"""What crosses the trust boundary: the one vocabulary the parent and both workers share.

The parent writes jobs to a worker's job pipe, one JSON object a line; a worker
answers on its event pipe with ``ready``, then per job ``start``, ``progress`` and
``done`` (whose ``result`` carries the job's outcome). Every check, wherever it runs,
returns a CheckResult whose ``state`` is a State. Nothing here imports TensorFlow or
student code, so all three sides can import it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any, TypeVar


class State(str, Enum):
    """A check's outcome. A str, so a State compares equal to its value and is written
    to JSON as it."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # left out on purpose (--static): 0 of 0 points
    # Could not run here (the data, weights or an optional extra missing on the
    # machine): 0 of 0 points, counted apart, and a person should look.
    NOT_RUN = "not_run"
    ERROR = "error"  # the submission could not be graded for this check
    UNVERIFIED = "unverified"  # a model only the student's process could load
    NOT_IMPLEMENTED = "not_implemented"  # the template's stub is still there

    def __str__(self) -> str:
        return self.value


FAILED_STATES = frozenset({State.FAILED, State.ERROR, State.UNVERIFIED, State.NOT_IMPLEMENTED})

CheckResult = dict[str, Any]
"""{"state": State, "message": str, "hints": [str], "details": {...}, "fraction":
optional partial credit 0..1, "unverified": optional True (scored from the student
process's own facts)}. A dict because it is what the results file holds; build one
with the functions below."""


def result(state: State, message: str, hints: list[str] | None = None,
           details: dict[str, Any] | None = None, **extra: Any) -> CheckResult:
    return {"state": State(state), "message": message, "hints": list(hints or []),
            "details": dict(details or {}), **extra}


def passed(message: str, details: dict | None = None, **extra: Any) -> CheckResult:
    return result(State.PASSED, message, details=details, **extra)


def failed(message: str, hints: list[str] | None = None, details: dict | None = None,
           **extra: Any) -> CheckResult:
    return result(State.FAILED, message, hints, details, **extra)


def skipped(message: str) -> CheckResult:
    return result(State.SKIPPED, message)


def not_run(message: str) -> CheckResult:
    return result(State.NOT_RUN, message)


def error(message: str, **extra: Any) -> CheckResult:
    return result(State.ERROR, message, **extra)


def normalised(raw: dict[str, Any]) -> CheckResult:
    """A result read back from a pipe (plain JSON) with every field present and its
    state a State; an unknown state is the grader's error, never a pass."""
    try:
        state = State(raw.get("state"))
    except ValueError:
        return error(f"internal error: a check reported the unknown state {raw.get('state')!r}")
    return {**raw, "state": state, "message": raw.get("message", ""),
            "hints": list(raw.get("hints") or []), "details": dict(raw.get("details") or {})}


# --------------------------------------------------------------------------- messages

M = TypeVar("M", bound="Message")


class Message:
    """A dataclass that crosses a pipe as one JSON object."""

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_wire(cls: type[M], data: dict[str, Any]) -> M:
        """The message from its JSON object. Keys it does not have are dropped: a
        result comes from a process student code ran in, and extra keys there must
        change nothing."""
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class BuildJob(Message):
    """Parent -> build worker: build one task's model, or call one task's function."""

    id: str
    file: str  # the entry file as the submission names it (cnn.py, nb.ipynb)
    module_path: str  # the scratch copy the worker imports
    function: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    globals: dict[str, Any] = field(default_factory=dict)  # set on the module first
    input_shape: list[int] | None = None
    framework: str = "keras"
    memory_mb: int = 3072
    build_timeout_s: float = 120.0
    # The checks with work for the build worker (hooks), by name: the parent leaves
    # out those it scores from facts and those this run skips.
    checks: dict[str, Any] = field(default_factory=dict)
    kind: str = "model"  # model | function
    # A function task: the calls its probe prepared (args/kwargs with markers) and how
    # the returns are captured.
    calls: list[dict[str, Any]] = field(default_factory=list)
    probe: str | None = None
    probe_params: dict[str, Any] = field(default_factory=dict)
    returns: str = "the model"
    seed: int = 0
    # Submissions as handed in (grader/build_worker/harness): the file to run whole
    # (a script, or the notebook itself when module_path is its filtered definitions),
    # a name an instructor pinned with --map (a function or a model variable), and
    # whether the task may fall back to the models the run captured.
    source_path: str | None = None
    pin: str | None = None
    capture: bool = False

    def call(self) -> dict[str, Any]:
        """The call as the student would write it, for messages (student_errors)."""
        return {"file": self.file, "function": self.function, "args": self.args,
                "kwargs": self.kwargs, "memory_mb": self.memory_mb}


class BuildState(str, Enum):
    BUILT = "built"  # a model was saved (model_path), or could not be exported
    CALLED = "called"  # a function's returns were captured (outputs_path)
    CAPTURED = "captured"  # no builder to call: the models the run built (captured)
    ERROR = "error"
    FAILED = "failed"
    NOT_IMPLEMENTED = "not_implemented"

    def __str__(self) -> str:
        return self.value


@dataclass
class BuildResult(Message):
    """Build worker -> parent. Student code ran in that process: nothing here is
    trusted but the paths, which the parent checks lie in its scratch space."""

    state: BuildState
    message: str = ""
    model_path: str | None = None
    facts: dict[str, Any] | None = None  # scored only when the verify worker cannot load it
    notes: dict[str, Any] = field(default_factory=dict)  # what the hooks recorded, by check
    outputs_path: str | None = None
    unexportable: str | None = None  # why torch.export failed
    traceback: str | None = None
    # CAPTURED: every model the run of the file built, each {"model_path", "name",
    # "where", "run", "events", "facts"}, for the parent to match to its tasks.
    captured: list[dict[str, Any]] = field(default_factory=list)
    # What running the file as handed in met: statements that raised (the run went
    # on), and what the harness stood in for (downloads, display, Keras 2 spellings).
    run_failures: list[str] = field(default_factory=list)
    run_notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            self.state = BuildState(self.state)
        except ValueError:
            self.message = f"the build worker reported the unknown state {self.state!r}"
            self.state = BuildState.ERROR


@dataclass
class VerifyJob(Message):
    """Parent -> verify worker: load a saved model and score the checks it scores."""

    id: str
    model_path: str
    task: dict[str, Any]  # the task's spec, less the checks this run skips
    data_dir: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # the build hooks' records
    require_gpu: bool = False
    timeout: float = 120.0
    # Where grader-trained accuracy results are reused (grader/verify_worker/train_cache.py);
    # None: train every model. The parent sends it only where the build worker cannot reach it.
    train_cache: str | None = None


class VerifyState(str, Enum):
    VERIFIED = "verified"  # loaded with safe_mode; facts and checks are trusted
    UNVERIFIED = "unverified"  # only the student's code could load it
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


@dataclass
class VerifyResult(Message):
    """Verify worker -> parent."""

    state: VerifyState
    facts: dict[str, Any] | None = None
    checks: dict[str, Any] = field(default_factory=dict)  # name -> CheckResult
    message: str = ""
    seconds: float | None = None

    def __post_init__(self) -> None:
        self.state = VerifyState(self.state)


# How the parent names a notebook's code for the build worker, which names it back to
# the student in messages ("nb.ipynb code cell 3").
FILTERED_SUFFIX = "__grader_defs.py"
CELL_MARKER = "# --- notebook code cell "


def read_jobs(fd: int) -> Iterator[dict[str, Any]]:
    """Worker side: yields job dicts from the parent until it closes the pipe."""
    with os.fdopen(fd, "r") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


class EventWriter:
    """Worker side: one JSON object per line to the parent's event pipe."""

    def __init__(self, fd: int):
        self._fh = os.fdopen(fd, "w", buffering=1)

    def send(self, event: str, **data: Any) -> None:
        # Student output goes to the same terminal-less pipes; flush it first so the
        # parent counts it against the job that printed it.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a student may have replaced sys.stdout
                pass
        try:
            out = os.fstat(1).st_size  # output so far, so the parent can charge each job
        except OSError:
            out = 0
        self._fh.write(json.dumps({"event": event, "out": out, **data}, default=str) + "\n")
        self._fh.flush()
