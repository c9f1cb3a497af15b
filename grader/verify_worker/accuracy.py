"""The accuracy check, run by the verify worker (never where student code ran).

``run(ctx)`` takes the worker's VerifyContext and returns a CheckResult:

* ``--static``: skipped.
* the dataset is not on disk: skipped, the message carrying the command that
  would prepare it (a missing dataset never fails a run);
* otherwise `grader.verify_worker.training.train_and_evaluate` rebuilds the saved model's
  architecture with fresh seeded weights and trains it with the spec's fixed
  hyper-parameters (``trained_by: "grader"``, the default), or, for tasks
  whose training is the student's work (``trained_by: "student"``), the
  weights the build worker saved are evaluated as they are
  (`grader.verify_worker.student_scores.score_training`). Either way the score is
  measured here, on the test split.

``ProgressView`` is the parent-side half of the progress bar: the worker sends
``progress`` events and the parent draws them, since only the parent owns the
terminal.
"""

from __future__ import annotations

from typing import Any

from grader.protocol import CheckResult


def _hints(result, spec) -> list[str]:
    hints = []
    if result.stopped == "diverged":
        hints.append("the training loss became NaN: check the output activation and the loss "
                     "(softmax with from_logits=True?)")
    chance = 1.0 / max(2, result.num_classes)
    if result.accuracy <= chance + 0.05:
        hints.append(
            "the model scores about chance: it is not learning. Look for frozen layers "
            "(trainable=False), an output layer with the wrong number of units or activation, "
            "or a layer that discards its input")
    elif not result.passed:
        hints.append(f"with the fixed hyper-parameters ({spec.epochs} epoch(s), batch "
                     f"{spec.batch_size}, {spec.optimizer} at {spec.learning_rate:g}) the "
                     "model should reach the threshold; compare its layers with the assignment")
    if result.stopped == "time_limit":
        hints.append(f"training hit the {spec.time_limit_s:g} s limit; a much larger model "
                     "than the assignment asks for trains too slowly")
    return hints


def run(ctx: Any) -> CheckResult:
    """The verify worker's accuracy check (see the module docstring)."""
    if getattr(ctx, "static", False):
        return {"state": "skipped", "message": "skipped: --static (no training)"}
    from grader.data import DatasetCorrupt, DatasetMissing, locate
    from grader.data.training_data import AccuracySpec, corrupt_message
    from grader.device import GpuRequired
    from grader.verify_worker.student_scores import score_training
    from grader.verify_worker.training import train_and_evaluate

    try:
        spec = AccuracySpec.from_dict(ctx.check)
    except (TypeError, ValueError) as err:
        return {"state": "error", "message": f"the spec's accuracy check is unusable: {err}"}
    send = getattr(ctx, "send", None)
    # The worker's send(**data) forwards a "progress" event to the parent.
    progress = (lambda payload: send(**payload)) if callable(send) else False
    require_gpu = bool(getattr(ctx, "require_gpu", False))
    try:
        if spec.trained_by == "student":
            locate(spec.dataset, ctx.data_dir)  # a missing dataset skips, before anything else
            # What grader.build_worker.training.student_training_hook recorded in the build worker.
            training = (getattr(ctx, "notes", None) or {}).get("accuracy") or {}
            outcome = score_training(training, spec, ctx.data_dir, require_gpu)
            if getattr(ctx, "notes", {}).get("data_hidden") is False and "details" in outcome:
                return {"state": "unverified", "details": outcome["details"], "hints": [],
                        "message": outcome["message"] + "; the test data could not be "
                        "hidden from the student's training on this machine (no user "
                        "namespaces), so a person must review this score"}
            return outcome
        result = train_and_evaluate(ctx.model_path, spec, ctx.data_dir, progress=progress,
                                    require_gpu=require_gpu)
    except DatasetMissing as err:
        return {"state": "skipped", "message": f"skipped: {err}",
                "details": {"dataset": spec.dataset, "prepare": err.prepare}}
    except GpuRequired as err:
        return {"state": "error", "message": str(err)}
    except DatasetCorrupt as err:  # the grader's data, not the student's work
        return {"state": "error", "message": corrupt_message(spec.dataset, err)}
    except ValueError as err:  # the model cannot be rebuilt or does not fit the data
        return {"state": "failed", "message": str(err), "fraction": 0.0,
                "hints": ["build the model for the dataset's input shape with built-in layers"],
                "details": {"dataset": spec.dataset, "metric": spec.metric,
                            "threshold": spec.threshold}}
    return {
        "state": "passed" if result.passed else "failed",
        "message": result.summary(),
        "fraction": 1.0 if result.passed else 0.0,
        "hints": [] if result.passed else _hints(result, spec),
        "details": result.as_dict(),
    }


class ProgressView:
    """Draws the verify worker's training progress on the parent's stderr.

    Feed it the ``progress`` events (``{"job", "epoch", "epochs", "batch",
    "steps", "loss"}``); call `close` when grading ends. Draws nothing when
    stderr is not a terminal (batch jobs, CI logs).
    """

    def __init__(self, enabled: bool | None = None) -> None:
        import sys

        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.progress = None
        self.tasks: dict[str, Any] = {}

    def __call__(self, event: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if self.progress is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.progress = Progress(
                TextColumn("training {task.fields[job]}"), TextColumn("epoch {task.fields[ep]}"),
                BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self.progress.start()
        job = str(event.get("job", "?"))
        info = f"loss {event['loss']:.4f}" if event.get("loss") is not None else ""
        ep = f"{event.get('epoch', 0)}/{event.get('epochs', 0)}"
        if job not in self.tasks:
            self.tasks[job] = self.progress.add_task("", total=event.get("steps"), job=job,
                                                     ep=ep, info=info)
        self.progress.update(self.tasks[job], completed=event.get("batch", 0),
                             total=event.get("steps"), ep=ep, info=info)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
