"""Before a class is planned: is the data its accuracy checks train on here?

Without it every student's accuracy checks would be skipped ("not run") and the
class graded on part of the marks, which nobody notices until the gradebook.
Datasets are found exactly as `grader check` finds them (grader.data.locate:
`--data-dir`, then $GRADER_DATA, the Keras cache, system folders).
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.data import DatasetMissing, locate
from grader.parent.spec import load_spec


@dataclass(frozen=True)
class MissingData:
    dataset: str
    tasks: list[str]
    why: str  # DatasetMissing's message: the folders searched and what would provide it


def _option(args: list[str], *names: str) -> list[str]:
    """Values of a `grader check` option among --check-arg values (`--x=V` or `--x V`)."""
    values = []
    for i, arg in enumerate(args):
        for name in names:
            if arg.startswith(name + "="):
                values.append(arg[len(name) + 1:])
            elif arg == name and i + 1 < len(args):
                values.append(args[i + 1])
    return values


def missing_data(assignment: str, check_args: list[str]) -> list[MissingData]:
    """Datasets of the (selected) tasks' accuracy checks that are nowhere on this machine."""
    data_dirs = _option(check_args, "--data-dir")
    data_dir = data_dirs[-1] if data_dirs else None
    only = set(_option(check_args, "--task", "-t"))
    needed: dict[str, list[str]] = {}
    for task in load_spec(assignment).tasks:
        dataset = task.get("checks", {}).get("accuracy", {}).get("dataset")
        if dataset and (not only or task["id"] in only):
            needed.setdefault(dataset, []).append(task["id"])
    missing = []
    for dataset, tasks in needed.items():
        try:
            locate(dataset, data_dir)
        except DatasetMissing as exc:
            missing.append(MissingData(dataset, tasks, str(exc)))
    return missing
