"""How `grader batch run` shows its progress: a rich bar on a terminal, plain
timestamped lines otherwise (a log file, a pipe, a Slurm task's output), e.g.

    12:01:03 graded 5/24 alice (3.2 s): score 8/8, ETA 12:03
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape

from grader.parent.batch.local import Event
from grader.parent.batch.manifest import Entry


class Eta:
    """Finish time from the class's own pace: wall time per student finished so far."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.began = time.time()

    def finished(self) -> None:
        self.done += 1

    def clock(self) -> str:
        if not self.done or self.done >= self.total:
            return ""
        left = (time.time() - self.began) / self.done * (self.total - self.done)
        return time.strftime("%H:%M", time.localtime(time.time() + left))


def _line(event: Event, done: int, total: int, eta: str) -> str:
    text = f"{event.outcome} {done}/{total} {event.entry.student} ({event.seconds:.1f} s)"
    if event.detail:
        text += f": {event.detail}"
    return text + (f", ETA {eta}" if eta else "")


class PlainProgress:
    """One timestamped line per student finished; flushed at once for `tail -f`."""

    def __init__(self, console: Console, total: int) -> None:
        self.console, self.eta = console, Eta(total)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def started(self, entry: Entry) -> None:
        pass

    def finished(self, event: Event) -> None:
        if event.outcome != "cancelled":
            self.eta.finished()
        stamp = time.strftime("%H:%M:%S")
        line = _line(event, self.eta.done, self.eta.total, self.eta.clock())
        self.console.print(f"{stamp} {line}", highlight=False, markup=False)
        self.console.file.flush()


class RichProgress(PlainProgress):
    """A bar with the count and the ETA; failures printed above it as they happen."""

    def __init__(self, console: Console, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        super().__init__(console, total)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), console=console)
        self.task = self.progress.add_task("grading", total=total)
        self.in_flight: list[str] = []

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _describe(self) -> None:
        now = ", ".join(self.in_flight[:3]) + (" ..." if len(self.in_flight) > 3 else "")
        self.progress.update(self.task, description=f"grading {now}" if now else "grading")

    def started(self, entry: Entry) -> None:
        self.in_flight.append(entry.student)
        self._describe()

    def finished(self, event: Event) -> None:
        if event.entry.student in self.in_flight:
            self.in_flight.remove(event.entry.student)
        if event.outcome != "cancelled":
            self.eta.finished()
            self.progress.advance(self.task)
        style = {"graded": "green", "failed": "red"}.get(event.outcome, "yellow")
        line = _line(event, self.eta.done, self.eta.total, "")
        rest = escape(line[len(event.outcome):])
        self.progress.console.print(f"[{style}]{event.outcome}[/{style}]{rest}", highlight=False)
        self._describe()
