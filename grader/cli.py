"""The `grader` command: a thin composition root over grader/commands/.

`main()`, the console script, hands `grader [--assignments-dir DIR] theory ...` straight
to the theory verb's click group (grader/commands/theory.py) without importing typer:
typer 0.29 coerces every parameter through pydantic, which costs more start-up than the
whole of `grader theory q1` may (benchmarks/theory_startup.py). Every other command line
goes to the typer `app`, which is built on first use and forwards `theory` to the same
group, so `grader --help` lists every verb.
"""

# No `from __future__ import annotations`: typer reads the annotations of the functions
# defined in _build_app(), and `typer` is a name only there.
import os
import sys
from pathlib import Path
from typing import Annotated, Any

ASSIGNMENTS_DIR = "--assignments-dir"
ASSIGNMENTS_DIR_HELP = (
    "A folder of your own assignment specs (<id>.json), searched before the shipped ones "
    "by every verb, worker and batch task (it goes first in GRADER_ASSIGNMENTS); give it "
    "more than once for several folders, the first searched first.")


def use_assignments_dir(folder: str) -> None:
    """Puts ``folder`` first in GRADER_ASSIGNMENTS, keeping the folders already there, so
    this process and every process it starts find the instructor's specs; exit 2 when it
    is not a folder. The path is made absolute: workers run in other directories."""
    from grader.parent.spec import ASSIGNMENTS_ENV

    path = Path(folder).expanduser()
    if not path.is_dir():
        sys.stderr.write(f"error: {ASSIGNMENTS_DIR} {folder}: no such folder\n")
        raise SystemExit(2)
    first = str(path.resolve())
    rest = [p for p in os.environ.get(ASSIGNMENTS_ENV, "").split(os.pathsep)
            if p.strip() and p != first]
    os.environ[ASSIGNMENTS_ENV] = os.pathsep.join([first, *rest])


def _build_app() -> Any:
    import typer

    from grader.commands import theory

    app = typer.Typer(
        name="grader",
        help="Grade convolutional-network assignments and solve their theory questions.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def root(assignments_dir: Annotated[list[str] | None, typer.Option(
            ASSIGNMENTS_DIR, metavar="DIR", help=ASSIGNMENTS_DIR_HELP)] = None) -> None:
        for folder in reversed(assignments_dir or []):   # the first named is searched first
            use_assignments_dir(folder)

    # The theory verb is a click group of its own (see the module docstring); typer passes
    # it every word after `theory`, --help included.
    @app.command("theory", help=theory.HELP, add_help_option=False,
                 context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def theory_verb(ctx: typer.Context) -> None:
        theory.run(list(ctx.args))

    # Each other verb lives in its own module; add new verbs here.
    from grader.commands import data

    app.add_typer(data.app, name="data")
    from grader.commands import check

    app.command("check")(check.check)
    from grader.commands import batch

    app.add_typer(batch.app, name="batch")
    app.command("collect")(batch.collect)
    from grader.commands import reference

    app.add_typer(reference.app, name="reference")
    from grader.commands import assignment

    app.add_typer(assignment.app, name="assignment")
    from grader.commands import export

    app.add_typer(export.app, name="export")
    return app


def __getattr__(name: str) -> Any:
    # `from grader.cli import app` builds the typer app on first use (PEP 562), so that the
    # console script can answer `grader theory` without importing typer at all.
    if name == "app":
        globals()["app"] = _build_app()
        return globals()["app"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _theory_args(argv: list[str]) -> tuple[list[str], list[str]] | None:
    """``(folders, theory args)`` when ``argv`` is ``[--assignments-dir DIR]... theory ...``,
    else None (the typer app takes it, usage errors included)."""
    folders, i = [], 0
    while i < len(argv):
        word = argv[i]
        if word == ASSIGNMENTS_DIR and i + 1 < len(argv):
            folders.append(argv[i + 1])
            i += 2
        elif word.startswith(ASSIGNMENTS_DIR + "="):
            folders.append(word.split("=", 1)[1])
            i += 1
        else:
            break
    if argv[i:i + 1] != ["theory"]:
        return None
    return folders, argv[i + 1:]


def main() -> None:
    lean = _theory_args(sys.argv[1:])
    if lean is None:
        app = sys.modules[__name__].app    # built here, on first use
        app()
        return
    from grader.commands import theory

    folders, args = lean
    for folder in reversed(folders):    # the first named is searched first, as with typer
        use_assignments_dir(folder)
    theory.run(args)
