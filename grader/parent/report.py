"""Results of a grading: the Gradescope-compatible JSON and the terminal report.

The JSON is written atomically (a temporary file, then os.replace) so a reader never
sees half a file, and it is written whatever happened, with ``grader.complete`` false
when grading stopped part-way.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from grader import __version__

# Checks worth 0 of 0 here: left out on purpose, marked by hand, or not runnable on
# this machine (not_run, which is also reported as needing a person).
SCORELESS_STATES = {"skipped", "manual", "not_run"}
_STYLE = {"passed": "green", "failed": "red", "error": "red", "not_implemented": "yellow",
          "unverified": "magenta", "skipped": "dim", "manual": "cyan", "not_run": "yellow"}
_LABEL = {"not_implemented": "not implemented", "not_run": "not run"}


def _test(task: dict[str, Any], name: str, res: dict[str, Any]) -> dict[str, Any]:
    points = float(task["checks"][name].get("points", 0))
    state = res["state"]
    # Partial credit is a failed check's; an error or an unreviewed model earns nothing.
    fraction = res.get("fraction", 1.0 if state == "passed" else 0.0) \
        if state in ("passed", "failed") else 0.0
    max_score = 0.0 if state in SCORELESS_STATES else points
    output = res.get("message", "")
    hints = [h for h in res.get("hints", []) if h not in output]
    if hints:
        output += "\n" + "\n".join(f"hint: {h}" for h in hints)
    tags = [task["id"], name] + (["unverified"] if res.get("unverified") else [])
    return {
        "name": f"{task['id']}: {name}",
        "score": round(max_score * fraction, 2),
        "max_score": max_score,
        # Gradescope knows only passed/failed; a skipped check scores 0 of 0 and is
        # shown as passed, with grader.state saying what really happened.
        # not_run shows as failed: a check the machine could not run is not a pass.
        "status": "passed" if state in ("passed", "skipped", "manual") else "failed",
        "output": output,
        "visibility": task.get("visibility", "visible"),
        "tags": tags,
        "grader": {"state": state, "points": points, "check": name,
                   "hints": res.get("hints", []), "details": res.get("details", {})},
    }


def results(grading: Any) -> dict[str, Any]:
    """The results object of a Grading (see grader/schemas/results.schema.json)."""
    tests = []
    tasks_info: dict[str, Any] = {}
    for out in grading.tasks:
        for name in out.task["checks"]:
            if name in out.checks:
                tests.append(_test(out.task, name, out.checks[name]))
        facts = (out.build.facts if out.build else None) or {}
        tasks_info[out.task["id"]] = {
            "title": out.task["title"],
            "text": out.task.get("text", []),
            "entry_file": out.entry_file,
            "build": ({"state": out.build.state, "message": out.build.message} if out.build
                      else {}),
            "verified": out.verified,
            "skipped_cells": out.skipped_cells,
            "notes": out.notes,
            "build_worker_params": {k: facts[k] for k in
                                    ("trainable_params", "non_trainable_params", "total_params")
                                    if k in facts},
        }
    score = sum(t["score"] for t in tests)
    max_score = sum(t["max_score"] for t in tests)
    exit_code = grading.exit_code
    lines = [f"{grading.assignment or '?'}: {score:g} / {max_score:g} points"]
    lines += grading.errors[:5]
    not_run = [t["name"] for t in tests if t["grader"]["state"] == "not_run"]
    failing = [t["name"] for t in tests if t["status"] == "failed" and t["name"] not in not_run]
    if failing:
        lines.append(f"{len(failing)} check(s) not passed: {', '.join(failing)}")
    if not_run:
        lines.append(f"{len(not_run)} check(s) not run on this machine (see each for why; a "
                     f"person should look): {', '.join(not_run)}")
    return {
        "score": round(score, 2),
        "max_score": max_score,
        "execution_time": round(grading.seconds, 3),
        "output": "\n".join(lines),
        "visibility": "visible",
        "tests": tests,
        "grader": {
            "version": __version__,
            "assignment": grading.assignment,
            "submission": str(grading.submission),
            "complete": grading.complete,
            "exit_code": exit_code,
            "graded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(grading.started)),
            "errors": grading.errors,
            "tasks": tasks_info,
            "workers_started": grading.workers,
            "timeline": grading.timeline,
            "student_output": grading.student_output[-20000:],
            "verify_output": grading.verify_output[-5000:],
        },
    }


def crash_results(grading: Any, exc: BaseException) -> dict[str, Any]:
    """Results saying that grading broke down, for when building the real ones failed."""
    message = f"internal error while writing the results: {type(exc).__name__}: {exc}"
    return {"score": 0, "max_score": 0, "execution_time": round(grading.seconds, 3),
            "output": message, "tests": [],
            "grader": {"version": __version__, "assignment": grading.assignment,
                       "submission": str(grading.submission), "complete": False,
                       "exit_code": 2, "errors": [*grading.errors, message], "tasks": {}}}


def output_path_problem(path: Path, option: str = "--json") -> str | None:
    """Why ``option``'s file cannot be written at ``path``, with the fix; None if it can.

    Creates the folder if need be and writes a probe file there, since only trying
    tells (a read-only mount, a full disk, a parent that is a file, /proc)."""
    if path.is_dir():
        suffix = ".html" if option == "--html" else ".json"
        return (f"{option} {path} is a folder; name the file, e.g. "
                f"{option} {path / ('results' + suffix)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        why = ("a file of that name is in the way"
               if isinstance(exc, (FileExistsError, NotADirectoryError)) else exc.strerror or exc)
        return (f"{option} {path}: cannot write in {path.parent} ({why}); create that folder "
                "with write permission for you, or choose another path")
    return None


def render(data: dict[str, Any], console: Any = None) -> None:
    """The terminal report: a table per task, the diffs and hints, the total, next steps."""
    from rich.console import Console
    from rich.table import Table

    # Errors go to stderr (unless the caller chose a console), so a script that reads
    # the report from stdout still sees why grading failed.
    errors_to = console or Console(stderr=True)
    console = console or Console()
    info = data["grader"]
    console.print(f"[bold]{info.get('assignment') or '?'}[/bold]  {info['submission']}")
    for error in info["errors"]:
        # soft_wrap: a path in the message stays whole, for copying and for grep.
        errors_to.print(f"error: {error.splitlines()[0] if error else error}", style="red",
                        markup=False, highlight=False, soft_wrap=True)
    by_task: dict[str, list[dict[str, Any]]] = {}
    for test in data["tests"]:
        by_task.setdefault(test["tags"][0], []).append(test)
    said: set[str] = set()
    for task_id, task in info["tasks"].items():
        tests = by_task.get(task_id, [])
        where = f" ({task['entry_file']})" if task.get("entry_file") else ""
        unverified = " [magenta]unverified[/magenta]" if task.get("verified") is False else ""
        table = Table(title=f"{task_id}: {task['title']}{where}{unverified}",
                      title_justify="left", expand=False)
        table.add_column("check")
        table.add_column("points", justify="right")
        table.add_column("status")
        table.add_column("summary", overflow="fold", max_width=70)
        # A task that failed to build fails every check with the same message: say it
        # once. Skipped checks (accuracy under --static) keep their own reason.
        graded = [t for t in tests if t["grader"]["state"] != "skipped"]
        outputs = {t["output"] for t in graded}
        shared = outputs.pop() if len(graded) > 1 and len(outputs) == 1 and all(
            t["grader"]["state"] != "passed" for t in graded) else None
        # An unverified model: every check says the same cause and fix; say them once,
        # under the table, and keep only each check's own (untrusted) result in it.
        why = next((t["grader"]["details"]["unverified"] for t in tests
                    if isinstance(t["grader"].get("details", {}).get("unverified"), dict)),
                   None)
        for test in tests:
            state = test["grader"]["state"]
            style = _STYLE.get(state, "")
            points = (f"{test['score']:g}/{test['max_score']:g}" if test["max_score"]
                      else f"-/{test['grader']['points']:g}")
            summary = "" if shared is not None and state != "skipped" else (
                test["output"].splitlines()[0] if test["output"] else "")
            unverified = test["grader"].get("details", {}).get("unverified")
            if isinstance(unverified, dict):
                summary = unverified["own_result"]
            table.add_row(test["grader"]["check"], points,
                          f"[{style}]{_LABEL.get(state, state)}[/{style}]", summary,
                          )
        console.print(table)
        if shared:
            console.print(f"  {shared}", markup=False, highlight=False)
        if why:
            console.print(f"  unverified, 0 points until a person reviews it: {why['cause']}",
                          style="magenta", markup=False, highlight=False)
            console.print(f"  fix: {why['fix']}", markup=False, highlight=False)
        for quote in task.get("text", []):
            console.print(f"  the text: \u201c{quote}\u201d", style="dim", markup=False,
                          highlight=False)
        for note in task.get("notes", []):
            # Runs of one file share their notes (a stand-in, a Keras 2 spelling): once.
            if note in said:
                continue
            said.add(note)
            console.print(f"  note: {note}", style="cyan", markup=False, highlight=False)
        for cell in task.get("skipped_cells", []):
            console.print(f"  notebook code cell {cell['index']} not run ({cell['reason']}): "
                          f"{cell['first_line']}", style="dim", markup=False, highlight=False)
        for test in ([] if shared else tests):
            state = test["grader"]["state"]
            lines = test["output"].splitlines()
            if state == "unverified" and why:
                continue
            if state not in ("passed", "skipped") and len(lines) > 1:
                console.print(f"  {test['grader']['check']}:", style="bold")
                for line in lines:
                    console.print(f"    {line}", markup=False, highlight=False)
            elif state == "passed" and test["grader"]["hints"]:
                for hint in test["grader"]["hints"]:
                    console.print(f"  warning: {hint}", style="yellow", markup=False,
                                  highlight=False)
    console.print(f"[bold]total: {data['score']:g} / {data['max_score']:g}[/bold]"
                  f"  ({data['execution_time']:.1f} s)")
    not_run = [t for t in data["tests"] if t["grader"]["state"] == "not_run"]
    failing = [t for t in data["tests"] if t["status"] == "failed" and t not in not_run]
    if not_run:
        console.print(f"[yellow]{len(not_run)} check(s) not run on this machine[/yellow]: "
                      + "; ".join(f"{t['name']} ({t['output'].splitlines()[0][:120]})"
                                  for t in not_run[:3]), highlight=False)
    if info["exit_code"] == 2:
        console.print("next: fix the problem above, then grade again")
    elif failing:
        first = failing[0]
        unverified = first["grader"].get("details", {}).get("unverified")
        said = (unverified["fix"] if isinstance(unverified, dict)
                else first["output"].splitlines()[0] if first["output"] else "")
        console.print(f"next: start with {first['name']}: {said}", highlight=False)
        console.print("       (--json PATH keeps every message and the details)")
    elif not not_run:
        console.print("[green]every check passed[/green]")
    else:
        console.print("every check that ran passed; the ones not run need a person (why: "
                      "above)")
