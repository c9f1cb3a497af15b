"""The training progress bar of `grader check`, drawn by the parent, which alone owns
the terminal, from the verify worker's ``progress`` events."""

from __future__ import annotations

import sys
from typing import Any


class ProgressView:
    """Draws the verify worker's training progress on the parent's stderr.

    Feed it the ``progress`` events (``{"job", "epoch", "epochs", "batch",
    "steps", "loss"}``); call `close` when grading ends. Draws nothing when
    stderr is not a terminal (batch jobs, CI logs).
    """

    def __init__(self, enabled: bool | None = None) -> None:
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
