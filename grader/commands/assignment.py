"""`grader assignment new | validate`: for instructors who write their own specs.

`new ID` writes a starting spec, reference and template that agree with each other;
`validate SPEC_OR_ID` says what stands between a spec and grading a class with it
(grader/parent/assignment_validation.py). Only typer is imported at module level,
so `grader --help` stays quick; the work is imported inside the commands.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Your own assignments: start a spec, validate it.",
                  no_args_is_help=True)


@app.command("validate")
def validate(
    spec: Annotated[str, typer.Argument(
        metavar="SPEC_OR_ID", help="A spec file (ID.json) or an assignment id.")],
    reference: Annotated[Path | None, typer.Option(
        "--reference", help="The reference folder: graded statically, it must earn every "
                            "point, with the spec's parameter counts.")] = None,
    template: Annotated[Path | None, typer.Option(
        "--template", help="The template folder: graded statically, it must earn none.")
    ] = None,
) -> None:
    """Check a spec, and grade its reference and template statically.

    Checks the schema, the Keras layer types and activations, the entry files and
    marker files, the parameter counts against the reference's models, every static
    point for the reference and none for the template. One line per problem; exit 0
    when clean, 2 otherwise."""
    from grader.parent.assignment_validation import validate as run

    if reference is not None or template is not None:
        typer.echo("grading statically (about 10-30 s per folder) ...", err=True)
    result = run(spec, reference, template)
    for line in result.lines():
        typer.echo(line)
    raise typer.Exit(result.exit_code)


@app.command("new")
def new(
    assignment_id: Annotated[str, typer.Argument(
        metavar="ID", help="The new assignment's id: lower case, digits, - _ .")],
    folder: Annotated[Path | None, typer.Option(
        "--dir", help="Where to write it; default: the first folder in GRADER_ASSIGNMENTS "
                      "(or --assignments-dir), else the current folder.")] = None,
) -> None:
    """Start an assignment: a spec, a reference and a template that already agree.

    Writes DIR/ID.json, DIR/reference/ID/ and DIR/submissions_template/ID/; existing
    files are never overwritten (exit 2, naming them)."""
    from grader.parent import assignment_scaffold
    from grader.parent.spec import ASSIGNMENTS_ENV, available_assignments

    if not assignment_scaffold.ID_PATTERN.fullmatch(assignment_id):
        typer.echo(f"error: {assignment_id!r} is not a valid id: use lower-case letters, "
                   "digits and - _ . (starting with a letter or digit)", err=True)
        raise typer.Exit(2)
    if folder is None:
        listed = [p for p in os.environ.get(ASSIGNMENTS_ENV, "").split(os.pathsep) if p.strip()]
        folder = Path(listed[0]).expanduser() if listed else Path.cwd()
    shadows = assignment_id in available_assignments()
    try:
        written = assignment_scaffold.write(assignment_id, folder)
    except FileExistsError as exc:
        typer.echo(f"error: not overwriting {exc}; choose another id or --dir", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"error: cannot write into {folder}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    for path in written:
        typer.echo(f"wrote {path}")
    if shadows:
        typer.echo(f"note: an assignment {assignment_id!r} exists already; where {folder} "
                   f"comes first in {ASSIGNMENTS_ENV}, this one replaces it")
    spec, ref = folder / f"{assignment_id}.json", folder / "reference" / assignment_id
    tpl = folder / "submissions_template" / assignment_id
    typer.echo(f"next: edit {spec}, {ref}/cnn.py and {tpl}/cnn.py, then run\n"
               f"  grader assignment validate {spec} --reference {ref} --template {tpl}")
