"""`grader check SUB/`: grade one submission folder (architecture, parameters, lints,
accuracy and visual checks)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Optional

import typer


def check(
    submission: Annotated[Path, typer.Argument(
        help="The submission folder, a .zip of it, or one .ipynb (with --assignment).")],
    assignment: Annotated[Optional[str], typer.Option(  # noqa: UP045 (typer needs Optional)
        "--assignment", "-a",
        help="Assignment id; default: the folder's .grader-assignment file.")] = None,
    json_path: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--json", help="Write the results JSON here (Gradescope-compatible), "
                       "whatever happens.")] = None,
    html_path: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--html", help="Also write a self-contained HTML report here (images embedded), "
                       "whatever happens.")] = None,
    static: Annotated[bool, typer.Option(
        "--static", help="Skip checks that train (accuracy).")] = False,
    data_dir: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--data-dir", envvar="GRADER_DATA", help="Datasets for accuracy checks.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No terminal report.")] = False,
    tasks: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--task", "-t", help="Grade only this task (repeatable), e.g. --task model3.")] = None,
    require_gpu: Annotated[bool, typer.Option(
        "--require-gpu", help="Fail at once (exit 2) unless a GPU is usable, e.g. a Slurm job "
                              "submitted without --gres=gpu:1.")] = False,
    train_cache: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--train-cache", envvar="GRADER_TRAIN_CACHE",
        help="Reuse grader-trained accuracy results from this folder, and add to it: each "
             "architecture trains once per data, settings and library versions (a class "
             "graded with `grader batch` shares RUN/cache).")] = None,
    no_cache: Annotated[bool, typer.Option(
        "--no-cache", help="Train every model even where --train-cache or "
                           "GRADER_TRAIN_CACHE names a folder.")] = False,
    time_budget: Annotated[Optional[float], typer.Option(  # noqa: UP045
        "--time-budget", min=1.0,
        help="Seconds for the whole submission (default: the spec's defaults.time_budget_s, "
             "else none); once spent, no task starts and the rest say so.")] = None,
    maps: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--map", help="Grade TASK from this file and name, e.g. --map model2=hw.ipynb:cnn "
                      "(a function to call or a model variable the file makes; repeatable). "
                      "For a submission that does not follow the template's names, "
                      "instead of editing the student's file.")] = None,
    audience: Annotated[str, typer.Option(
        "--audience", help="student (default): a hidden task shows its score only, in the "
                           "results file, the terminal and the page; instructor: "
                           "everything.")] = "student",
) -> None:
    """Grade SUBMISSION. Exit 0: every check passed; 1: some failed; 2: could not grade."""
    # Deferred imports keep `grader --help` fast; none of these imports TensorFlow.
    from grader import files
    from grader.parent import pipeline, report, report_html, visibility, warm
    from grader.parent.spec import validation_problems

    try:
        pinned = pipeline.parse_maps(maps or [])
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    if audience not in visibility.AUDIENCES:
        typer.echo(f"error: --audience {audience!r}: choose student or instructor", err=True)
        raise typer.Exit(2)
    for option, path in (("--json", json_path), ("--html", html_path)):
        # Found now, not after minutes of grading whose results would then be lost.
        problem = report.output_path_problem(path, option) if path is not None else None
        if problem:
            typer.echo(f"error: {problem}", err=True)
            raise typer.Exit(2)
    # The visual checks' PNGs go next to the results file: RESULTS-images/TASK/.
    kept_beside = json_path or html_path
    progress = None
    if not quiet and not static:
        from grader.parent.progress import ProgressView

        progress = ProgressView()

    def stop(signum: int, frame: object) -> None:
        # A batch time limit or scancel: the pipeline keeps what it graded and the
        # results file is written below. Once is enough; a second SIGTERM must not
        # cut that short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise pipeline.Stopped

    signal.signal(signal.SIGTERM, stop)
    try:
        grading = pipeline.grade(
            submission, assignment=assignment, static=static, data_dir=data_dir,
            on_event=(lambda _job, event: progress(event)) if progress else None,
            require_gpu=require_gpu, only_tasks=tasks, maps=pinned,
            train_cache=None if no_cache or train_cache is None else str(train_cache),
            time_budget_s=time_budget, warm=warm.from_env(),
            images_dir=kept_beside.with_name(kept_beside.stem + "-images") if kept_beside
            else None)
    except pipeline.Stopped:  # before grading began (unpacking, reading the spec)
        grading = pipeline.stopped(pipeline.Grading(assignment, submission))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # from here on, the results are written
        if progress is not None:
            progress.close()
    try:
        data = report.results(grading)
    except Exception as exc:  # a grader bug must still leave a results file that says so
        data = report.crash_results(grading, exc)
        grading.fatal = True
    problems = validation_problems(data, "results")
    if problems:  # a grader bug; say so in the file rather than write nothing
        data["grader"]["errors"].append("results do not match the schema: "
                                        + "; ".join(problems[:5]))
    data = visibility.for_audience(data, audience)
    code, lost = grading.exit_code, []
    for option, path, write, what in (
            ("--json", json_path, lambda d, p: files.write_json_atomic(p, d), "results"),
            ("--html", html_path, report_html.write_html, "report")):
        if path is None:
            continue
        try:
            write(data, path)
        except OSError as exc:  # the disk filled up, or the folder went, while grading
            code = 2
            lost.append(f"error: {option} {path}: the {what} could not be written "
                        f"({exc.strerror or exc}); free some space or choose another path, "
                        "and grade again")
    if not quiet:
        report.render(data)
    elif grading.fatal:  # -q hides the report, never the reason nothing was graded
        for error in data["grader"]["errors"]:
            typer.echo(f"error: {error.splitlines()[0] if error else error}", err=True)
    for line in lost:
        typer.echo(line, err=True)
    if kept_beside is None and any(report_html.visual_images(t) for t in data["tests"]):
        typer.echo("note: the visual checks' images were not kept; add --json PATH or "
                   "--html PATH to keep them", err=True)
    raise typer.Exit(code)


# Options of `grader check` that every task sets itself: a second copy in
# --check-arg would send the results elsewhere or grade another assignment.
_SET_BY_TASK = ("--assignment", "-a", "--json", "--audience", "--help")


def validate_check_args(args: list[str]) -> None:
    """Raises ValueError unless ARGS are options `grader check` accepts.

    The arguments are parsed by check's own command-line parser (nothing runs),
    so a typo fails here, once, rather than in every task of the class.
    """
    if not args:
        return
    for arg in args:
        name = arg.split("=", 1)[0]
        if name in _SET_BY_TASK:
            raise ValueError(f"--check-arg {arg!r}: every task sets {name} itself "
                             "(the assignment comes from plan's --assignment); leave it out")
    # check's own parser, from a one-command app, so nothing here imports the CLI root.
    alone = typer.Typer(add_completion=False)
    alone.command("check")(check)
    command = typer.main.get_command(alone)
    try:
        command.make_context("grader check", ["SUBMISSION", *args], resilient_parsing=False)
    except Exception as exc:
        # typer may bring its own copy of click: recognise a usage error by its
        # interface (format_message) rather than by one package's class.
        if not hasattr(exc, "format_message"):
            raise
        names = sorted(n for p in command.params if p.param_type_name == "option"
                       for n in p.opts if n.startswith("--") and n not in _SET_BY_TASK)
        raise ValueError(f"--check-arg {' '.join(args)!r}: grader check would refuse it "
                         f"({exc.format_message()}); it accepts {', '.join(names)} "
                         "(see `grader check --help`)") from None
