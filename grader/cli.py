"""The `grader` command: a thin composition root over grader/commands/."""

from __future__ import annotations

from typing import Any

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


def skip_coercion_of_missing_values() -> None:
    """Makes typer leave absent parameter values alone without building a pydantic adapter.

    typer 0.29 builds a pydantic TypeAdapter for every parameter it processes,
    even the `--help` flag of every group when it is absent; the first one
    imports pydantic (about 0.25 s). typer's own coercion of a missing value is
    "None stays None, a missing multi-value is ()", so doing that here changes
    nothing but the start-up time. `main()` calls this before `app()`, for
    every verb; if typer's internals differ, nothing is patched.
    """
    try:
        from typer.core import _TyperParameter
    except ImportError:
        return
    original = getattr(_TyperParameter, "process_value", None)
    if original is None or getattr(original, "_grader_skips_missing", False):
        return

    def process_value(self: Any, ctx: Any, value: Any) -> Any:
        if value is None and getattr(self, "_runtime_param", None) is None:
            value = () if (self.multiple or self.nargs == -1) else None
            if self.required and self.value_is_missing(value):
                return original(self, ctx, value)
            if self.callback is not None:
                value = self.callback(ctx, self, value)
            return value
        return original(self, ctx, value)

    process_value._grader_skips_missing = True  # type: ignore[attr-defined]
    _TyperParameter.process_value = process_value


def main() -> None:
    # typer would import pydantic (~0.25 s) just to process absent flags such as
    # --help; `grader theory` has a start-up budget (benchmarks/theory_startup.py).
    skip_coercion_of_missing_values()
    app()
