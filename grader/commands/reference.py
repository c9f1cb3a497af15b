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
own child (`python -m grader.commands.reference JOB.json`), which draws the
training progress bar on the terminal.
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
    _write_atomic(out, document)
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
        proc = subprocess.run([sys.executable, "-m", "grader.commands.reference", str(job_path)],
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


def _write_atomic(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes it private; results files are for everyone
    os.replace(tmp, path)


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


# --- the child: builds and trains one reference task --------------------------

def _load_builder(folder: Path, entry: dict[str, Any]):
    import importlib.util

    files = entry["file"] if isinstance(entry["file"], list) else [entry["file"]]
    path = next((folder / f for f in files if (folder / f).exists()), None)
    if path is None:
        raise FileNotFoundError(f"{folder}: none of {', '.join(files)} exists")
    # The reference imports its sibling files (gradcam.py imports cnn), as a
    # student's script run from its own folder would.
    sys.path.insert(0, str(folder))
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[path.stem] = module
    module_spec.loader.exec_module(module)
    for key, value in entry.get("globals", {}).items():
        setattr(module, key, value)
    return module


def _attribute(module, dotted: str):
    value = module
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _environment() -> dict[str, Any]:
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for dist in ("tensorflow", "keras", "numpy", "torch", "cnn-grader"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    from grader import device

    return {"versions": versions, "platform": platform.platform(),
            "device": str(device.describe())}


def _child(job: dict[str, Any]) -> dict[str, Any]:
    task = job["task"]
    entry = task["entry"]
    framework = task.get("framework", "keras")
    result: dict[str, Any] = {"title": task["title"], "framework": framework}
    module = _load_builder(Path(job["reference_dir"]), entry)
    model = _attribute(module, entry["function"])(*entry.get("args", []),
                                                  **entry.get("kwargs", {}))
    if framework == "torch":
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        result["params"] = {"trainable": trainable, "non_trainable": total - trainable,
                            "total": total}
        result.update(status="built", message="torch task: parameters only (the grader's "
                      "trainer is Keras); train it with the reference script")
        return result
    import numpy as np

    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    total = int(sum(np.prod(w.shape) for w in model.weights))
    result["params"] = {"trainable": trainable, "non_trainable": total - trainable,
                        "total": total}
    check = task["checks"].get("accuracy")
    if not check:
        result.update(status="built", message="no accuracy check in the spec")
        return result
    from grader.data import DatasetMissing
    from grader.verify_worker import training

    settings = {k: v for k, v in check.items() if k != "points"}
    # The full budget, not the grader's stop-at-threshold: these numbers are
    # what the thresholds are derived from.
    settings["early_stop"] = False
    if job.get("epochs"):
        settings["epochs"] = job["epochs"]
    scratch = Path(job["scratch"])
    model_path = scratch / f"{task['id']}.keras"
    model.save(model_path)
    try:
        if settings.get("trained_by") == "student":
            # The reference's own training function, given the train and validation
            # splits only, exactly as a student's is when graded.
            from grader.build_worker.training import student_training_hook
            from grader.data.training_data import AccuracySpec
            from grader.parent.training_data import builder_of, prepare_student_training
            from grader.verify_worker.student_scores import score_training

            if job.get("epochs"):
                settings["train_kwargs"] = {**settings.get("train_kwargs", {}),
                                            "epochs": job["epochs"]}
            check = {**settings, "train": prepare_student_training(
                settings, scratch / "splits", job.get("data_dir"),
                builder=builder_of(task["entry"]))}
            record = student_training_hook(
                model, check, lambda name: _attribute(module, name), scratch, task["id"])
            outcome = score_training(
                record, AccuracySpec.from_dict(settings), job.get("data_dir"),
                job["require_gpu"])
            if "value" not in outcome.get("details", {}):
                result.update(status="error", message=outcome["message"])
                return result
            result["accuracy"] = outcome["details"]
        else:
            result["accuracy"] = training.train_and_evaluate(
                model_path, settings, job.get("data_dir"), progress=True,
                require_gpu=job["require_gpu"]).as_dict()
    except DatasetMissing as exc:
        result.update(status="skipped", message=f"dataset {exc.name!r} is not on disk",
                      prepare=exc.prepare)
        return result
    result["seed"] = settings.get("seed", 0)
    result["status"] = "trained"
    return result


def child_main(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    out = Path(job["scratch"]) / "result.json"
    try:
        result = _child(job)
    except Exception as exc:  # reported in the results file, not as a traceback only
        import traceback

        traceback.print_exc()
        result = {"title": job["task"]["title"], "status": "error",
                  "message": f"{type(exc).__name__}: {exc}"}
    try:
        result["environment"] = _environment()
    except Exception as exc:  # versions are a courtesy; never lose a result over them
        result["environment"] = {"error": str(exc)}
    out.write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1]))
