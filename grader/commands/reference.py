"""`grader reference run ASSIGNMENT`: train the reference models, write their results.

For instructors. For each task of the assignment's spec (or those named with
--task), a child process builds the reference model from reference/ASSIGNMENT/
(a folder in exactly the form of a submission), counts its parameters and, when
the task has an accuracy check whose dataset is on disk, trains and evaluates
it with `grader.verify_worker.training.train_and_evaluate`: the very code that grades students,
with the spec's hyper-parameters (epochs overridable) and early stopping off,
so the results show what the full budget gives. The results go to
reference/results/ASSIGNMENT.json: per task the parameter counts, the metric,
training time, epochs, seed and device, plus library versions and the date.
A task whose data is missing is listed as skipped with the command that would
prepare it. Spec thresholds cite these files.

The parent imports neither TensorFlow nor reference code; each task runs in its
own child (`python -m grader.build_worker.reference_run JOB.json`), which draws
the training progress bar on the terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Reference solutions: train them and record their results.",
                  no_args_is_help=True)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_REFERENCE_ROOT = REPO / "reference"
RESULTS_VERSION = 1
# The child process: it runs the reference's code, as a build worker runs a student's.
REFERENCE_RUN = "grader.build_worker.reference_run"


@app.command("run")
def run(
    assignment: Annotated[str, typer.Argument(help="Assignment id, e.g. practical2.")],
    task: Annotated[list[str] | None, typer.Option(
        "--task", "-t", help="Only this task (repeatable); default: all tasks.")] = None,
    data_dir: Annotated[str | None, typer.Option(
        "--data-dir", envvar="GRADER_DATA",
        help="Where the datasets are (see `grader data status`).")] = None,
    epochs: Annotated[int | None, typer.Option(
        "--epochs", min=1, help="Train this many epochs instead of the spec's.")] = None,
    reference_dir: Annotated[Path | None, typer.Option(
        "--reference-dir", help="Default: reference/ASSIGNMENT in the repository.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Default: reference/results/ASSIGNMENT.json.")] = None,
    require_gpu: Annotated[bool, typer.Option(
        "--require-gpu", help="Fail at once when no GPU is visible.")] = False,
) -> None:
    """Train the reference models of ASSIGNMENT whose data is present; write their results."""
    from rich.console import Console

    from grader.parent.spec import SpecError, load_spec

    console = Console(stderr=True)
    try:
        spec = load_spec(assignment)
    except SpecError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    folder = reference_dir or DEFAULT_REFERENCE_ROOT / assignment
    if not folder.is_dir():
        console.print(f"[red]{folder}: no reference folder; pass --reference-dir[/red]")
        raise typer.Exit(2)
    known = [t["id"] for t in spec.tasks]
    unknown = [t for t in task or [] if t not in known]
    if unknown:
        console.print(f"[red]unknown task {unknown[0]!r}; {assignment} has: "
                      f"{', '.join(known)}[/red]")
        raise typer.Exit(2)
    selected = [t for t in spec.tasks if not task or t["id"] in task]
    out = out or DEFAULT_REFERENCE_ROOT / "results" / f"{assignment}.json"

    results: dict[str, Any] = {}
    environment: dict[str, Any] = {}
    started = time.monotonic()
    for number, t in enumerate(selected, start=1):
        console.rule(f"[bold]{assignment}: {t['id']}[/bold] ({number}/{len(selected)}) "
                     f"{t['title']}")
        job = {"assignment": assignment, "task": t, "reference_dir": str(folder.resolve()),
               "data_dir": data_dir, "epochs": epochs, "require_gpu": require_gpu}
        outcome = _run_child(job, console)
        environment = outcome.pop("environment", None) or environment
        results[t["id"]] = outcome
        console.print(_one_line(t["id"], outcome))

    document = _merge(out, assignment, results, environment, task or [], data_dir, epochs)
    from grader.files import write_json_atomic

    write_json_atomic(out, document)
    console.print(f"wrote {out} ({time.monotonic() - started:.0f} s)")
    _table(console, document)
    failed = [k for k, v in results.items() if v["status"] == "error"]
    raise typer.Exit(1 if failed else 0)


def _run_child(job: dict[str, Any], console: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="grader-reference-") as tmp:
        job_path = Path(tmp) / "job.json"
        job["scratch"] = tmp
        job_path.write_text(json.dumps(job))
        result_path = Path(tmp) / "result.json"
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        # stdout and stderr stay on the terminal: the child's progress bar is the
        # instructor's view of a run that can take many minutes.
        proc = subprocess.run([sys.executable, "-m", REFERENCE_RUN, str(job_path)],
                              env=env, stdin=subprocess.DEVNULL)
        if result_path.exists():
            return json.loads(result_path.read_text())
        return {"status": "error", "title": job["task"]["title"],
                "message": f"the reference child exited with status {proc.returncode} "
                           "before writing a result (see the output above)"}


def _one_line(task_id: str, r: dict[str, Any]) -> str:
    params = r.get("params") or {}
    text = f"{task_id}: {r['status']}"
    if params:
        text += f"; {params.get('trainable', 0):,} trainable of {params.get('total', 0):,}"
    acc = r.get("accuracy")
    if acc:
        text += (f"; test {acc['metric']} {acc['value']:.4f} after {acc['epochs_run']} "
                 f"epoch(s), {acc['train_seconds']:.0f} s on {acc['device']}")
    if r.get("message"):
        text += f"; {r['message']}"
    return text


def _merge(out: Path, assignment: str, results: dict[str, Any], environment: dict[str, Any],
           task_filter: list[str], data_dir: str | None, epochs: int | None) -> dict[str, Any]:
    """The results document; a run of some tasks keeps the other tasks' earlier results."""
    previous: dict[str, Any] = {}
    if out.exists():
        try:
            previous = json.loads(out.read_text())
        except ValueError:
            previous = {}
    tasks = dict(previous.get("tasks", {})) if previous.get("assignment") == assignment else {}
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    command = ["grader", "reference", "run", assignment]
    for task_id in task_filter:
        command += ["--task", task_id]
    if data_dir:
        command += ["--data-dir", data_dir]
    if epochs:
        command += ["--epochs", str(epochs)]
    for task_id, r in results.items():
        tasks[task_id] = {**r, "date": now, "command": " ".join(command),
                          "environment": environment}
    return {
        "format": RESULTS_VERSION,
        "assignment": assignment,
        "date": now,
        "command": " ".join(command),
        "data_dir": data_dir,
        "environment": environment or previous.get("environment", {}),
        "tasks": tasks,
    }


def _table(console: Any, document: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"{document['assignment']} reference results")
    for column in ("task", "status", "trainable", "total", "metric", "epochs", "train s"):
        table.add_column(column, justify="right" if column not in ("task", "status") else "left")
    for task_id, r in document["tasks"].items():
        p, a = r.get("params") or {}, r.get("accuracy") or {}
        table.add_row(task_id, r["status"], f"{p['trainable']:,}" if p else "",
                      f"{p['total']:,}" if p else "",
                      f"{a['metric']} {a['value']:.4f}" if a else "",
                      f"{a['epochs_run']}" if a else "",
                      f"{a['train_seconds']:.0f}" if a else "")
    console.print(table)
