"""`grader export gradescope | student ASSIGNMENT`: bundles for Gradescope and for students.

The work is in grader/parent/export/; only typer is imported here at module level,
so `grader --help` stays quick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Bundles: a Gradescope autograder zip, a student starter zip.",
                  no_args_is_help=True)


def _spec(assignment: str):
    from grader.parent.spec import SpecError, load_spec

    try:
        return load_spec(assignment)
    except SpecError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _mib(n: float) -> str:
    return f"{n / (1 << 20):.1f} MiB"


@app.command("gradescope")
def gradescope(
    assignment: Annotated[str, typer.Argument(
        metavar="ASSIGNMENT", help="Assignment id or spec file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The zip to write.")],
    static: Annotated[bool, typer.Option(
        "--static", help="Grade with --static on Gradescope: nothing trains, no data is "
                         "bundled, accuracy checks are left out.")] = False,
    data_dir: Annotated[str | None, typer.Option(
        "--data-dir", envvar="GRADER_DATA",
        help="Where the datasets and weights to bundle are (see `grader data status`).")
    ] = None,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", min=1, metavar="SECONDS",
        help="Stop grading after this long and report what was graded (default 2100, "
             "480 with --static; set Gradescope's timeout above it).")] = None,
    skip_missing_data: Annotated[bool, typer.Option(
        "--skip-missing-data", help="Bundle the data that is here and leave out the rest "
                                    "(those checks are skipped on Gradescope).")] = False,
) -> None:
    """Write a Gradescope autograder zip: setup.sh, run_autograder, the grader, the data.

    The zip installs the grader and its pinned dependencies from PyPI when Gradescope
    builds the image, and grades each submission with a time limit, always leaving a
    results.json."""
    from grader.parent.export import ExportError
    from grader.parent.export import gradescope as export

    spec = _spec(assignment)
    try:
        bundle = export.build(spec, out, static=static, data_dir=data_dir,
                              time_limit_s=time_limit, skip_missing_data=skip_missing_data)
    except ExportError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    data = ", ".join(bundle.datasets + bundle.weights) or "none"
    typer.echo(f"{bundle.path}: {_mib(bundle.path.stat().st_size)}; data bundled: {data}"
               + (f" ({_mib(bundle.data_bytes)})" if bundle.data_bytes else "")
               + (f"; extras: {', '.join(bundle.extras)}" if bundle.extras else "")
               + f"; time limit {bundle.time_limit_s:g} s")
    for line in bundle.missing:
        typer.echo(f"warning: not bundled, skipped on Gradescope: {line}", err=True)


@app.command("student")
def student(
    assignment: Annotated[str, typer.Argument(
        metavar="ASSIGNMENT", help="Assignment id or spec file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The zip to write.")],
    template: Annotated[Path | None, typer.Option(
        "--template", help="The template folder; default submissions_template/ID beside "
                           "or above the spec.")] = None,
) -> None:
    """Write a student zip: the template, the text, a spec of the visible tasks, a README.

    Hidden tasks, model answers and reference code stay out; `grader check` on the
    template with the bundled spec runs as the README says."""
    from grader.parent.export import ExportError
    from grader.parent.export import student as export

    spec = _spec(assignment)
    try:
        bundle = export.build(spec, out, template=template)
    except ExportError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{bundle.path}: {len(bundle.tasks)} task(s)"
               + (f", {len(bundle.hidden)} hidden left out" if bundle.hidden else "")
               + (f"; text {bundle.text}" if bundle.text else "; no assignment text found"))
