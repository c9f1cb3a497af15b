"""The `grader` command: a thin composition root over grader/commands/."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="grader",
    help="Grade convolutional-network assignments and solve their theory questions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    # Each verb lives in its own module; add new verbs here.
    from grader.commands import theory

    app.add_typer(theory.app, name="theory")
    from grader.commands import data

    app.add_typer(data.app, name="data")
    from grader.commands import check

    app.command("check")(check.check)
    from grader.commands import batch

    app.add_typer(batch.app, name="batch")
    app.command("collect")(batch.collect)
    from grader.commands import reference

    app.add_typer(reference.app, name="reference")


_register()


def main() -> None:
    # typer would import pydantic (~0.25 s) just to process absent flags such as
    # --help; `grader theory` has a start-up budget (benchmarks/theory_startup.py).
    from grader.commands.theory import skip_coercion_of_missing_values

    skip_coercion_of_missing_values()
    app()
