"""Which grades a person should look at before they are released ("needs review").

A grade is doubtful, though a results file exists, when:

    unverified   a model that could not be loaded with safe_mode was checked in
                 the build worker, next to the student's code (state "unverified")
    not run      checks that could not run on the grading machine because data or
                 weights were missing (state "not_run"): the score lacks them
    time-out     a build, call or check ran out of time (the student's code, or
                 a machine too slow for the limits)
    import error the student's code imports something the grader does not have
    all failed   every task failed or errored: often one cause (a wrong file
                 name, a crash at import) that a person can see at a glance
    weak match   the model graded for a task was picked by architecture with a
                 weak or tied match (the report's task notes say which)

A student without a result whose failure is a time-out or an import error is
listed too. Other flags (e.g. code similarity, computed elsewhere) come in
through `needs_review(..., extra=...)`: {student: [flag, ...]}.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from grader.files import write_atomic
from grader.parent.batch.state import RunState

REVIEW_CSV = "needs_review.csv"
KINDS = ("unverified", "not run", "time-out", "import error", "all failed", "weak match",
         "similar", "other")
_NOT_SCORED = ("skipped", "manual", "not_run", "unverified")
# Words of the sandbox ("did not finish within"), of Slurm/`grader check` when stopped
# by a time limit, and of Python for a missing module.
_TIMEOUT = ("did not finish within", "timed out", "time limit", "timeout")
_IMPORT = ("modulenotfounderror", "importerror", "no module named")
# The notes workers.py writes for a match by architecture that a person should check.
_WEAK = ("weak match", "as close:", "tied")


@dataclass(frozen=True)
class Flag:
    kind: str    # one of KINDS (or an extra flag's own word)
    detail: str  # which task or check, in a few words


@dataclass(frozen=True)
class Review:
    student: str
    state: str   # the student's run state: done, failed, ...
    flags: list[Flag]

    def reasons(self) -> str:
        return "; ".join(f"{f.kind}: {f.detail}" if f.detail else f.kind for f in self.flags)


def _has(text: str, words: Iterable[str]) -> bool:
    low = text.lower()
    return any(w in low for w in words)


def _task_of(test: dict) -> str:
    return (test.get("tags") or ["?"])[0]


def flags_of_result(data: dict) -> list[Flag]:
    """What in one results file makes its grade doubtful."""
    flags: list[Flag] = []
    tests = [t for t in data.get("tests", []) if isinstance(t, dict)]
    grader = data.get("grader") or {}

    def names(state: str) -> list[str]:
        return [str(t.get("name", "?")) for t in tests
                if (t.get("grader") or {}).get("state") == state]

    if unverified := names("unverified"):
        flags.append(Flag("unverified", ", ".join(unverified)))
    if not_run := names("not_run"):
        flags.append(Flag("not run", ", ".join(not_run)))

    # Error texts: failed or errored checks' output, each task's build message, the
    # grader's own errors.
    texts: list[tuple[str, str]] = [
        (_task_of(t), str(t.get("output", ""))) for t in tests
        if (t.get("grader") or {}).get("state") in ("error", "failed")]
    tasks = grader.get("tasks") or {}
    for task, info in tasks.items():
        if isinstance(info, dict):
            build = info.get("build") or {}
            if isinstance(build, dict) and build.get("state") != "built":
                texts.append((task, str(build.get("message", ""))))
    texts += [("", str(e)) for e in grader.get("errors") or []]
    for kind, words in (("time-out", _TIMEOUT), ("import error", _IMPORT)):
        where = sorted({task or "grading" for task, text in texts if _has(text, words)})
        if where:
            flags.append(Flag(kind, ", ".join(where)))

    # Every task failed or errored: no scored check of any task passed.
    passed: dict[str, bool] = {}
    for t in tests:
        if (t.get("grader") or {}).get("state") in _NOT_SCORED:
            continue
        task = _task_of(t)
        passed[task] = passed.get(task, False) or t.get("status") == "passed"
    if passed and not any(passed.values()):
        flags.append(Flag("all failed", f"no check of its {len(passed)} task(s) passed"))

    weak = sorted(task for task, info in tasks.items() if isinstance(info, dict)
                  and any(_has(str(n), _WEAK) for n in info.get("notes") or []))
    if weak:
        flags.append(Flag("weak match", ", ".join(weak)))
    return flags


def needs_review(state: RunState, extra: Mapping[str, Iterable[str]] | None = None
                 ) -> list[Review]:
    """Every student of STATE whose grade (or missing grade) a person should look at.

    EXTRA adds flags from elsewhere (the hook for similarity checks): {student:
    ["similar to bob (0.93)", ...]}, each shown as it is given."""
    extra = extra or {}
    reviews = []
    for st in state.students:
        flags: list[Flag] = []
        if st.state == "done" and st.result is not None:
            flags = flags_of_result(st.result)
        elif st.state == "failed":
            for kind, words in (("time-out", _TIMEOUT), ("import error", _IMPORT)):
                if _has(st.reason, words):
                    flags.append(Flag(kind, "no result: " + st.reason[:160]))
        # A similarity flag ("similar to bob: ...") is its own kind, counted apart.
        flags += [Flag("similar", str(f).removeprefix("similar to "))
                  if str(f).startswith("similar to ") else Flag("other", str(f))
                  for f in extra.get(st.entry.student, [])]
        if flags:
            reviews.append(Review(st.entry.student, st.state, flags))
    return reviews


def extra_flags(run: Path) -> dict[str, list[str]]:
    """Flags from other tools for RUN's students ({student: [flag]}): the similar pairs
    the last `grader collect --similarity` found (RUN/similarity.json), so status,
    collect and needs_review.csv show them."""
    from grader.parent.batch.similarity import load_flags

    return load_flags(run)


def counts(reviews: list[Review]) -> dict[str, int]:
    """Students per kind of flag, in KINDS order, kinds with none left out."""
    found = {k: sum(1 for r in reviews if any(f.kind == k for f in r.flags)) for k in KINDS}
    return {k: n for k, n in found.items() if n}


def write_csv(path: Path, reviews: list[Review]) -> Path:
    """student, state, kinds, reasons: one row per student (written even when empty)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["student", "state", "kinds", "reasons"])
    for r in reviews:
        kinds = ", ".join(dict.fromkeys(f.kind for f in r.flags))
        out.writerow([r.student, r.state, kinds, r.reasons()])
    return write_atomic(path, buf.getvalue())
