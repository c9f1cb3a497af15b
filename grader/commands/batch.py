"""`grader batch plan|run|submit|status` and `grader collect`: a class on this machine
or on a Slurm cluster.

Only typer, rich and the standard library at module level: the work lives in
grader/parent/batch/, imported inside each command (pandas only for `collect`).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(
    help="Grade a whole class: plan, then run here (or submit to Slurm), status, then "
         "`grader collect`.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)  # long paths must stay on one line for copy and paste
err = Console(stderr=True, soft_wrap=True)

_STATE_STYLE = {"done": "green", "failed": "red", "corrupt": "red", "running": "cyan",
                "pending": "blue", "missing": "yellow"}


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


@app.command()
def plan(
    submissions: Annotated[Path, typer.Argument(
        help="Folder with one folder, .ipynb or .zip per student; the student id is the name.")],
    assignment: Annotated[str, typer.Option(
        "--assignment", "-a", help="Assignment id, e.g. practical2.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory to create (RUN/).")],
    partition: Annotated[str | None, typer.Option(
        help="Slurm partition; default: the cluster's.")] = None,
    time: Annotated[str, typer.Option(help="Time limit per student (Slurm format).")] = "00:30:00",
    mem: Annotated[str, typer.Option(help="Memory per student (Slurm format).")] = "8G",
    cpus: Annotated[int, typer.Option(help="CPU cores per student.")] = 4,
    gpus: Annotated[int, typer.Option(
        help="GPUs per student (--gres=gpu:N); 0 for CPU-only nodes.")] = 1,
    concurrency: Annotated[int | None, typer.Option(
        help="At most N students at once (--array=...%N).")] = None,
    container: Annotated[str | None, typer.Option(
        help="Singularity/Apptainer image (.sif) to grade in.")] = None,
    bind: Annotated[list[str] | None, typer.Option(
        "--bind", help="Extra path to bind into the container (repeat it), "
        "e.g. --bind=/shared/datasets:/data.")] = None,
    grader_cmd: Annotated[str | None, typer.Option(
        "--grader", help="How a task starts grader; default: this Python's `-m grader`, or "
        "`grader` inside the container.")] = None,
    static: Annotated[bool, typer.Option(
        "--static", help="Pass --static to grader check (no training).")] = False,
    check_arg: Annotated[list[str] | None, typer.Option(
        "--check-arg", help="Extra option for grader check (repeat it), checked against "
        "`grader check --help` now, e.g. --check-arg=--task=model3 or "
        "--check-arg=--data-dir=/data.")] = None,
    sbatch_option: Annotated[list[str] | None, typer.Option(
        "--sbatch-option", help="Extra #SBATCH line (repeat it), "
        "e.g. --sbatch-option=--account=cs577.")] = None,
    job_name: Annotated[str | None, typer.Option(
        help="Slurm job name; default grade-ASSIGNMENT.")] = None,
    template: Annotated[Path | None, typer.Option(
        help="sbatch template; default the project's slurm/grade.sbatch.")] = None,
    maps_csv: Annotated[Path | None, typer.Option(
        "--maps", help="CSV of student,task,map (map: FILE:NAME, as for `grader check "
        "--map`): pins a task of a student to a file's function or model variable.")] = None,
    allow_missing_data: Annotated[bool, typer.Option(
        "--allow-missing-data", help="Plan even when a dataset the accuracy checks train on "
        "is not found here (say, it exists only on the compute nodes); where it is missing "
        "at grading time those checks are not run.")] = False,
) -> None:
    """Find the submissions, write RUN/manifest.tsv and RUN/grade.sbatch.

    Refuses (exit 2) when a dataset the accuracy checks need is not found where
    `grader check` looks (--check-arg=--data-dir=DIR, $GRADER_DATA, the Keras cache,
    /usr/share/datasets), unless --static or --allow-missing-data.
    """
    from grader.parent.batch import plan as planning
    from grader.parent.spec import SpecError, load_spec

    # Validate the spec once here rather than in every one of a class's tasks.
    try:
        load_spec(assignment)
    except SpecError as exc:
        raise _fail(f"--assignment: {exc}") from None
    # A course's own spec (say, the shipped one with other limits) is copied into RUN
    # by make_plan; a built-in assignment stays an id.
    own_spec = Path(assignment).suffix == ".json"
    if own_spec:
        assignment = str(Path(assignment).resolve())
    run = out.resolve()
    container_path = str(Path(container).resolve()) if container else None
    the_plan = planning.Plan(
        assignment=assignment, submissions=str(submissions.resolve()), run=str(run),
        partition=partition, time=time, mem=mem, cpus=cpus, gpus=gpus, concurrency=concurrency,
        container=container_path,
        grader=shlex.split(grader_cmd) if grader_cmd else planning.default_grader(container_path),
        static=static, check_args=list(check_arg or []),
        sbatch_options=list(sbatch_option or []), binds=list(bind or []),
        job_name=job_name or f"grade-{Path(assignment).stem}",
    )
    try:
        from grader.commands.check import validate_check_args

        validate_check_args(the_plan.check_args)
        if not static and not allow_missing_data:
            _refuse_missing_data(assignment, the_plan.check_args)
        pins = None
        if maps_csv is not None:
            from grader.parent.batch import maps
            from grader.parent.pipeline import parse_maps

            pins = maps.read_csv(maps_csv)
            for student, tasks in pins.items():
                try:
                    parse_maps([f"{task}={target}" for task, target in tasks.items()])
                except ValueError as exc:
                    raise ValueError(f"--maps {maps_csv}: {student}: {exc}") from None
        planned = planning.make_plan(the_plan, template or planning.TEMPLATE)
        if pins is not None:
            maps.save(run, pins)
    except planning.NothingToGrade as exc:
        _print_rejected(exc.rejected, None)
        raise _fail(str(exc)) from None
    except (ValueError, OSError) as exc:
        raise _fail(str(exc)) from None

    console.print(f"{len(planned.entries)} submissions in {run / 'manifest.tsv'} "
                  f"({len(planned.added)} new)", highlight=False)
    _print_rejected(planned.rejected, run / "rejected.tsv")
    if own_spec:
        console.print(f"assignment: {run / planning.SPEC}, this run's copy of {assignment} "
                      "(later edits to that file do not change this run)", highlight=False)
    if container_path and not Path(container_path).exists():
        err.print(f"[yellow]warning:[/yellow] {container_path} does not exist here; it must "
                  "exist on the compute nodes (build it with `apptainer build grader.sif "
                  "singularity/grader.def`)", highlight=False)
    console.print(f"array script: {planned.script}\nnext: grader batch submit {run}",
                  highlight=False)


def _refuse_missing_data(assignment: str, check_args: list[str]) -> None:
    from grader.parent.batch.preflight import missing_data

    missing = missing_data(assignment, check_args)
    if not missing:
        return
    lines = [f"dataset {m.dataset!r} (accuracy checks of {', '.join(m.tasks)}) is missing: "
             f"{m.why}" for m in missing]
    raise _fail("\n".join([
        *lines, "nothing was planned. Fix: put the data there (`grader data status` lists "
        "what is found), or name its folder with --check-arg=--data-dir=DIR (or $GRADER_DATA); "
        "--static grades without training; --allow-missing-data plans anyway (the accuracy "
        "checks are then not run wherever the data is missing)"]))


def _print_rejected(rejected: list, listed_in: Path | None) -> None:
    if not rejected:
        return
    also = f" (also in {listed_in})" if listed_in else ""
    table = Table(title=f"{len(rejected)} entries not graded{also}")
    table.add_column("entry", overflow="fold")
    table.add_column("reason", overflow="fold")
    for r in rejected:
        table.add_row(r.path.name, r.reason)
    console.print(table)


@app.command()
def submit(
    run: Annotated[Path, typer.Argument(help="Run directory written by `grader batch plan`.")],
    only_missing: Annotated[bool, typer.Option(
        "--only-missing", help="Only students without a usable result (missing, failed or "
        "corrupt) whose task is not queued.")] = False,
    regrade: Annotated[bool, typer.Option(
        "--regrade", help="Grade again and replace finished results.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the sbatch command; submit nothing.")] = False,
) -> None:
    """Submit the array job with sbatch and record its id in RUN/jobs.tsv."""
    from grader.parent.batch import slurm
    from grader.parent.batch.plan import SCRIPT, load_plan
    from grader.parent.batch.state import run_state

    run = run.resolve()
    if only_missing and regrade:
        raise _fail("--only-missing and --regrade contradict each other: --regrade grades "
                    "everyone again, --only-missing only those without a result")
    try:
        the_plan = load_plan(run)
        state = run_state(run)
    except (FileNotFoundError, ValueError, slurm.SlurmError) as exc:
        raise _fail(str(exc)) from None

    # Never queue a second task for a student whose task is still queued or running.
    active = set(state.indices("running", "pending"))
    if only_missing:
        indices = state.indices("missing", "failed", "corrupt")
    else:
        indices = [st.entry.index for st in state.students if st.entry.index not in active]
    if active:
        console.print(f"{len(active)} students still queued or running; not submitting them again",
                      highlight=False)
    if state.squeue_problem and state.students:
        err.print(f"[yellow]warning:[/yellow] cannot tell which tasks still run "
                  f"({state.squeue_problem.splitlines()[-1]})", highlight=False)
    if not state.students:
        console.print(f"nothing to submit: {run / 'manifest.tsv'} lists no students "
                      f"(see {run / 'rejected.tsv'})", highlight=False)
        return
    if not indices:
        console.print("nothing to submit: every student has a result or a queued task",
                      highlight=False)
        return
    finished = set(state.indices("done")).intersection(indices)
    if finished and not only_missing and not regrade:
        # Each of their tasks would take a node slot only to find the result and skip.
        console.print(f"hint: {len(finished)} of the {len(indices)} students queued already "
                      f"have a result and will be skipped; `grader batch submit {run} "
                      "--only-missing` avoids queueing them (--regrade grades them again)",
                      highlight=False)

    command = slurm.sbatch_command(run / SCRIPT, indices, the_plan.concurrency,
                                   ["--regrade"] if regrade else [])
    if dry_run:
        console.print(shlex.join(command), highlight=False, soft_wrap=True)
        return
    try:
        job_id = slurm.submit(command, cwd=run)
    except slurm.SlurmUnavailable as exc:
        raise _fail(f"{exc}\nno Slurm here? grade the class on this machine instead: "
                    f"grader batch run {shlex.quote(str(run))} -j N") from None
    except slurm.SlurmError as exc:
        raise _fail(f"{exc}\ncommand: {shlex.join(command)}") from None
    slurm.record_job(run, slurm.JobRecord(job_id, slurm.now(), slurm.array_spec(indices), regrade))
    array = next(arg for arg in command if arg.startswith("--array="))
    console.print(f"submitted job {job_id}: {len(indices)} students ({array}); "
                  f"recorded in {run / slurm.JOBS}", highlight=False)


@app.command("run")
def run_local(
    run: Annotated[Path, typer.Argument(help="Run directory written by `grader batch plan`.")],
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", help="Students graded at once. Default: as many as both the CPU cores "
        "and the memory allow, min(cores, available memory / the spec's largest memory_mb "
        "limit), at least 1.")] = None,
    only_missing: Annotated[bool, typer.Option(
        "--only-missing", help="Only students without a usable result (missing, failed or "
        "corrupt); finished ones are not even looked at.")] = False,
    regrade: Annotated[bool, typer.Option(
        "--regrade", help="Grade again and replace finished results.")] = False,
    no_warm: Annotated[bool, typer.Option(
        "--no-warm", help="Start every worker afresh instead of forking it from a warm "
        "server that has imported TensorFlow once (slower; for comparison).")] = False,
) -> None:
    """Grade the planned class on this machine, N students at a time (no Slurm needed).

    Each student is graded as a Slurm array task would grade them (`grader batch
    run-task`): the same results, failed and attempts files, logs in RUN/logs/.
    Students that already have a result are skipped unless --regrade. Ctrl-C or
    SIGTERM stops the students in flight without a result; run the command again
    to resume. Exit 0 when every student has a result, 1 when some failed, 130/143
    when stopped.
    """
    import signal
    import sys

    from grader.parent.batch import display, local
    from grader.parent.batch.plan import load_plan
    from grader.parent.batch.slurm import SlurmError
    from grader.parent.spec import SpecError

    run = run.resolve()
    if only_missing and regrade:
        raise _fail("--only-missing and --regrade contradict each other: --regrade grades "
                    "everyone again, --only-missing only those without a result")
    if jobs is not None and jobs < 1:
        raise _fail(f"--jobs {jobs}: needs at least 1")
    try:
        the_plan = load_plan(run)
        chosen = local.select(run, only_missing, regrade)
        why = "set with -j"
        if jobs is None:
            jobs, why = local.default_jobs(the_plan.assignment)
    except (FileNotFoundError, ValueError, SlurmError, SpecError) as exc:
        raise _fail(str(exc)) from None

    if chosen.busy:
        console.print(f"{len(chosen.busy)} students are being graded elsewhere (Slurm or "
                      f"another `grader batch run`); not grading them here: "
                      f"{_some(chosen.busy)}", highlight=False)
    if chosen.skip:
        local.log_skips(run, chosen.skip)
        console.print(f"{len(chosen.skip)} students already graded: skipped (--regrade grades "
                      "them again)", highlight=False)
    if not chosen.grade:
        console.print(f"nothing to grade; next: grader collect {run}", highlight=False)
        return
    console.print(f"grading {len(chosen.grade)} students, {min(jobs, len(chosen.grade))} at a "
                  f"time (-j {jobs}: {why}); each task's output: "
                  f"{run / 'logs'}/local-<pid>_<index>.out", highlight=False)
    show = display.RichProgress if console.is_terminal else display.PlainProgress
    events: list = []
    with show(console, len(chosen.grade)) as progress:
        def finished(event) -> None:
            events.append(event)
            progress.finished(event)

        stopped = local.grade(run, chosen.grade, jobs, regrade, progress.started, finished,
                              warm=not no_warm)
    counts = {k: sum(1 for e in events if e.outcome == k)
              for k in ("graded", "skipped", "failed", "cancelled")}
    console.print(", ".join(f"{n} {k}" for k, n in counts.items() if n) or "nothing done",
                  highlight=False)
    if stopped:
        console.print(f"stopped by {signal.Signals(stopped).name}: the {counts['cancelled']} "
                      "students in flight have no result; `grader batch run "
                      f"{run}` grades them (and any not started)", highlight=False)
        sys.stdout.flush()
        raise typer.Exit(128 + stopped)
    console.print(f"next: grader batch status {run}, then grader collect {run}",
                  highlight=False)
    if counts["failed"]:
        raise typer.Exit(1)


def _some(names: list[str], shown: int = 5) -> str:
    more = f" ... and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


@app.command()
def status(
    run: Annotated[Path, typer.Argument(help="Run directory written by `grader batch plan`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    show_all: Annotated[bool, typer.Option(
        "--all", help="A row for every student, the finished ones too.")] = False,
) -> None:
    """Counts by state, then the students not done with why (running from squeue).

    A class that fits the screen is shown whole; a larger one shows only the
    students not done (at most a screenful; --all for everyone).
    """
    from grader.parent.batch import review
    from grader.parent.batch.slurm import SlurmError
    from grader.parent.batch.state import STATES, run_state

    run = run.resolve()
    try:
        state = run_state(run)
    except (FileNotFoundError, ValueError, SlurmError) as exc:
        raise _fail(str(exc)) from None
    reviews = review.needs_review(state, review.extra_flags(run))
    if as_json:
        print(json.dumps({
            "run": str(run), "squeue": state.squeue_available,
            "squeue_problem": state.squeue_problem, "counts": state.counts(),
            "students": [{"index": s.entry.index, "student": s.entry.student, "state": s.state,
                          "score": s.score, "max_score": s.max_score, "job": s.job,
                          "reason": s.reason} for s in state.students],
            "needs_review": [{"student": r.student, "state": r.state, "reasons": r.reasons()}
                             for r in reviews],
        }, indent=2))
        return
    counts = state.counts()
    line = f"{len(state.students)} students: " + (
        ", ".join(f"{counts[s]} {s}" for s in STATES if counts[s]) or "none")
    if reviews:
        kinds = ", ".join(f"{n} {k}" for k, n in review.counts(reviews).items())
        line += f"; {len(reviews)} need review ({kinds}; see `grader collect {run}`)"
    console.print(line, highlight=False)
    if state.squeue_problem:
        console.print(f"running tasks show as missing: {state.squeue_problem.splitlines()[-1]}",
                      highlight=False)
    # Title, header, borders and the lines above take about 8 lines of the screen.
    room = max(10, console.height - 8)
    if show_all or len(state.students) <= room:
        console.print(_status_table(f"{run}", state.students))
        return
    waiting = [s for s in state.students if s.state != "done"]
    if not waiting:
        console.print(f"every student is done (`grader batch status {run} --all` lists them)",
                      highlight=False)
        return
    shown = waiting[:room - 1] if len(waiting) > room else waiting
    console.print(f"{len(waiting)} not done:", highlight=False)
    _status_lines(shown)
    if len(shown) < len(waiting):
        console.print(f"... and {len(waiting) - len(shown)} more (--all or --json for "
                      "every student)", highlight=False)


def _status_table(title: str, students: list) -> Table:
    """One row per student; ids and states are never cut, a long reason wraps."""
    table = Table(title=title)
    for col in ("#", "student", "state", "score", "job", "reason"):
        table.add_column(col, overflow="fold", no_wrap=col != "reason",
                         min_width=_widest(col, (s.entry.student for s in students))
                         if col == "student" else None)
    for s in students:
        score = "" if s.score is None else f"{s.score:g}/{s.max_score:g}"
        style = _STATE_STYLE[s.state]
        table.add_row(str(s.entry.index), s.entry.student, f"[{style}]{s.state}[/{style}]",
                      score, s.job, s.reason)
    return table


def _status_lines(students: list) -> None:
    """One line per student (index, id, state, job, reason), the reason cut to the screen:
    a long class must fit, and the full reasons are in --all and --json."""
    widths = [max(len(str(v)) for v in values) for values in (
        [s.entry.index for s in students], [s.entry.student for s in students],
        [s.state for s in students], [s.job for s in students])]
    for s in students:
        cells = (str(s.entry.index), s.entry.student, s.state, s.job)
        head = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
        room = max(20, console.width - len(head) - 2)
        reason = s.reason if len(s.reason) <= room else s.reason[:room - 1] + "…"
        style = _STATE_STYLE[s.state]
        console.print(head.replace(s.state, f"[{style}]{s.state}[/{style}]", 1) + "  "
                      + escape(reason), highlight=False)


@app.command("run-task", hidden=True)
def run_task(
    run: Annotated[Path, typer.Argument()],
    index: Annotated[int, typer.Argument()],
    regrade: Annotated[bool, typer.Option("--regrade")] = False,
) -> None:
    """Grade one manifest line (what each array task runs; see slurm/grade.sbatch)."""
    from grader.parent.batch.task import run_task as run_one

    try:
        code = run_one(run, index, regrade=regrade)
    except (FileNotFoundError, LookupError, ValueError) as exc:
        raise _fail(str(exc)) from None
    raise typer.Exit(code)


def collect(
    run: Annotated[Path, typer.Argument(help="Run directory written by `grader batch plan`.")],
    csv: Annotated[Path | None, typer.Option(
        "--csv", help="Write the gradebook here (LMS import: student id first).")] = None,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Write each graded student's report here, as STUDENT.html "
                       "(self-contained, images embedded), and the class index, "
                       "index.html.")] = None,
    roster_csv: Annotated[Path | None, typer.Option(
        "--roster", help="Course roster CSV (columns id, name, canvas_id, email, section, "
        "login, submitted_at; see README 'Class results'): maps LMS download names to "
        "roster ids and names, and lists who is unmatched or has no submission.")] = None,
    out_format: Annotated[str, typer.Option(
        "--format", help="plain: the gradebook's own columns; canvas: a Canvas gradebook "
        "import (needs --roster).")] = "plain",
    canvas_column: Annotated[str | None, typer.Option(
        "--canvas-column", help="The Canvas assignment column (default: the spec's title; "
        "'Title (12345)' updates Canvas assignment 12345).")] = None,
    due: Annotated[str | None, typer.Option(
        "--due", help="Due time, ISO 8601 (2024-10-01T23:59); overrides the spec's "
        "late_policy.due.")] = None,
    late_penalty: Annotated[float | None, typer.Option(
        "--late-penalty", help="Percent of the raw score lost per day or part day late.")
    ] = None,
    grace: Annotated[str | None, typer.Option(
        "--grace", help="Grace period after the due time: minutes, or 15m, 2h, 1d.")] = None,
    late_cap: Annotated[float | None, typer.Option(
        "--late-cap", help="At most this percent is lost for lateness.")] = None,
    times_csv: Annotated[Path | None, typer.Option(
        "--times", help="CSV of student (or id) and submitted_at (ISO 8601): submission "
        "times, first choice for the late policy.")] = None,
    theory_dir: Annotated[Path | None, typer.Option(
        "--theory", help="Folder of theory results (`grader theory grade DIR --json OUT`) "
        "or answers files, one per student named by id: merged into the gradebook.")] = None,
    manual_csv: Annotated[Path | None, typer.Option(
        "--manual", help="CSV of student (or id), item, points [, max_points]: scores a "
        "person gave (explanatory questions, rubric lines), merged into the gradebook.")
    ] = None,
    similar: Annotated[bool, typer.Option(
        "--similarity", help="Compare the submissions (code with identifiers and comments "
        "ignored, the template left out; uncommon identical architectures): pairs go to "
        "RUN/similarity.html and the needs-review list. Flags only; deducts nothing.")
    ] = False,
    threshold: Annotated[float, typer.Option(
        "--similarity-threshold", help="Share of code fingerprints a pair must share.")
    ] = 0.6,
) -> None:
    """Gradebook of a run: a row per student, a column per task, the total, and a summary.

    Ends with the students whose grade a person should look at (unverified models,
    checks not run, time-outs, import errors, every task failed, weak matches, similar
    submissions), also written to RUN/needs_review.csv. With --theory, --manual or a late
    policy the gradebook adds raw, penalty and final columns. Exit status 0 when every
    student was graded, 1 when some are missing or failed (the CSV is still written,
    with their cells empty).
    """
    from grader.parent.batch import gradebook, review
    from grader.parent.batch.slurm import SlurmError
    from grader.parent.batch.state import run_state

    run = run.resolve()
    if html is not None and html.exists() and not html.is_dir():
        raise _fail(f"--html {html}: is a file; name a folder for the students' pages")
    if csv is not None and csv.is_dir():
        raise _fail(f"--csv {csv}: is a folder; name the file to write, e.g. "
                    f"--csv {csv / 'gradebook.csv'}")
    if out_format not in ("plain", "canvas"):
        raise _fail(f"--format {out_format!r}: plain or canvas")
    if out_format == "canvas" and roster_csv is None:
        raise _fail("--format canvas needs --roster: Canvas matches rows by its user id or "
                    "the SIS id, which only the roster has")
    if not 0 < threshold <= 1:
        raise _fail(f"--similarity-threshold {threshold}: a share in (0, 1], e.g. 0.6")
    try:
        state = run_state(run)
        book = gradebook.build(run, state)
        if similar:
            _similarity(run, state, threshold)
        klass = _class_rows(run, state, roster_csv, due, grace, late_penalty, late_cap,
                            times_csv, theory_dir, manual_csv)
    except (FileNotFoundError, ValueError, SlurmError) as exc:
        raise _fail(str(exc)) from None

    console.print(_grades_table(book, f"gradebook: {run}"))

    summary = Table(title="summary")
    for col in book.summary.columns:
        summary.add_column(col, justify="left" if col == "task" else "right")
    for row in book.summary.itertuples(index=False):
        summary.add_row(row.task, f"{row.out_of:g}", str(row.graded),
                        *("" if _isnan(v) else f"{v:.2f}" for v in (row.mean, row.median,
                                                                   row.min, row.max)))
    console.print(summary)

    if len(book.checks):
        # Checks not run (data or weights missing where they were graded) are counted
        # apart: they are neither passed nor failed.
        not_run = bool(book.checks["not_run"].sum())
        checks = Table(title="pass rate per check")
        cols = ("task", "check", "passed", "pass rate", *(("not run",) if not_run else ()))
        for col in cols:
            checks.add_column(col, justify="left" if col in ("task", "check") else "right")
        for row in book.checks.itertuples(index=False):
            rate = "-" if _isnan(row.pass_rate) else f"{row.pass_rate:.0%}"
            checks.add_row(row.task, row.check, f"{row.passed}/{row.graded}", rate,
                           *((str(row.not_run),) if not_run else ()))
        console.print(checks)

    if len(book.problems):
        problems = Table(title=f"{len(book.problems)} students without a grade")
        for col in ("student", "state", "reason"):
            problems.add_column(col, overflow="fold", no_wrap=col != "reason",
                                min_width=_widest(col, book.problems["student"])
                                if col == "student" else None)
        for row in book.problems.itertuples(index=False):
            problems.add_row(row.student, row.state, row.reason)
        console.print(problems)

    reviews = review.needs_review(state, review.extra_flags(run))
    review_csv = run / review.REVIEW_CSV
    try:
        review.write_csv(review_csv, reviews)
    except OSError as exc:
        err.print(f"[yellow]warning:[/yellow] cannot write {review_csv} ({exc})",
                  highlight=False)
    if reviews:
        table = Table(title=f"needs review: {len(reviews)} students (also in {review_csv})")
        for col in ("student", "state", "why"):
            table.add_column(col, overflow="fold", no_wrap=col != "why",
                             min_width=_widest(col, (r.student for r in reviews))
                             if col == "student" else None)
        for r in reviews:
            table.add_row(r.student, r.state, r.reasons())
        console.print(table)
    graded = int((book.grades["state"] == "done").sum())
    if not len(book.problems) and not reviews:
        console.print(f"all {graded} students graded", highlight=False)
    else:
        kinds = ", ".join(f"{n} {k}" for k, n in review.counts(reviews).items())
        line = f"{graded} graded, {len(reviews)} need review" + (f" ({kinds})" if kinds else "")
        if len(book.problems):
            line += f", {len(book.problems)} without a grade"
        console.print(line, highlight=False)

    _print_class(klass)
    if csv is not None:
        try:
            _write_gradebook(csv, book, klass, out_format, canvas_column, run)
        except OSError as exc:
            raise _fail(f"--csv {csv}: cannot write the gradebook there ({exc}); "
                        "choose a path in an existing, writable folder") from None
        console.print(f"{'Canvas import' if out_format == 'canvas' else 'gradebook'} "
                      f"written to {csv}", highlight=False)
    if html is not None:
        try:
            pages = _student_pages(run, html, klass)
            index = _index_page(run, html, klass)
        except OSError as exc:
            raise _fail(f"--html {html}: cannot write the pages there ({exc}); choose a "
                        "folder you can write to") from None
        console.print(f"{pages} student report(s) and the class index ({index}) written to "
                      f"{html}", highlight=False)
    if len(book.problems):
        raise typer.Exit(1)


def _student_pages(run: Path, folder: Path, klass: ClassResults) -> int:
    """One HTML page per readable results file of RUN, with the theory, manual scores and
    late penalty merged in where there are any; returns how many."""
    import json

    from grader.parent.batch.classbook import merged_result
    from grader.parent.report_html import write_html
    from grader.parent.visibility import for_audience

    folder.mkdir(parents=True, exist_ok=True)
    rows = {r.student: r for r in klass.rows if r.student}
    pages = 0
    for path in sorted((run / "results").glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a corrupt result is already among the problems listed above
        # The results are the instructor's; each page goes to its student.
        data = for_audience(data, "student")
        row = rows.get(path.stem)
        if row is not None and klass.merged:
            theory = next((klass.theory[k] for k in (row.student, row.person and row.person.id)
                           if k in klass.theory), None)
            data = merged_result(data, row, theory, klass.maxima)
        data.setdefault("grader", {})["student"] = row.label if row else path.stem
        write_html(data, folder / f"{path.stem}.html")
        pages += 1
    return pages


@dataclass
class ClassResults:
    """What collect merged: the rows, and what the gradebook and pages need of it."""

    rows: list
    matching: object | None
    theory: dict
    maxima: dict
    with_theory: bool
    with_late: bool
    policy: object | None
    title: str

    @property
    def merged(self) -> bool:
        return self.with_theory or self.with_late or any(r.manual for r in self.rows)


def _class_rows(run: Path, state, roster_csv: Path | None, due: str | None,
                grace: str | None, per_day: float | None, cap: float | None,
                times_csv: Path | None, theory_dir: Path | None,
                manual_csv: Path | None) -> ClassResults:
    from grader.parent.batch import classbook, late, review, roster
    from grader.parent.batch.plan import load_plan
    from grader.parent.spec import SpecError, load_spec

    assignment = load_plan(run).assignment
    try:
        spec = load_spec(assignment)
        spec_policy, title = spec.data.get("late_policy"), spec.data.get("title", spec.id)
        questions = {q["id"]: float(q.get("points", 0))
                     for q in (spec.data.get("theory") or {}).get("questions", [])}
    except SpecError:
        spec_policy, title, questions = None, Path(assignment).stem, {}
    lms = roster.load_lms(run)
    matching = None
    if roster_csv is not None:
        matching = roster.match([st.entry.student for st in state.students],
                                roster.read_roster(roster_csv), lms)
    chosen = late.policy(spec_policy, due, grace, per_day, cap)
    times = late.read_times(times_csv) if times_csv else {}
    theory = classbook.theory_results(theory_dir, assignment) if theory_dir else {}
    manual, maxima = classbook.manual_scores(manual_csv) if manual_csv else ({}, {})
    # A manual item named after a theory question is worth that question's points.
    for item in {i for scores in manual.values() for i in scores}:
        if item not in maxima and item in questions:
            maxima[item] = questions[item]
    reviews = {r.student: r.reasons() for r in review.needs_review(state,
                                                                   review.extra_flags(run))}
    rows = classbook.build_rows(state, matching, lms, theory, manual, chosen, times, reviews)
    return ClassResults(rows, matching, theory, maxima, theory_dir is not None,
                        chosen is not None, chosen, str(title))


def _print_class(klass: ClassResults) -> None:
    """The roster's loose ends, and the late penalties, when there are any."""
    m = klass.matching
    if m is not None:
        console.print(f"roster: {len(m.matched)} submissions matched", highlight=False)
        if m.unmatched:
            console.print(f"{len(m.unmatched)} submissions not on the roster (not in a "
                          f"Canvas import): {', '.join(m.unmatched)}", highlight=False)
        if m.absent:
            console.print(f"{len(m.absent)} roster students without a submission: "
                          + ", ".join(f"{s.name or s.id} ({s.id})" for s in m.absent),
                          highlight=False)
    if klass.policy is not None:
        late = [r for r in klass.rows if r.lateness and r.lateness.days]
        console.print(f"late policy: {klass.policy.describe()}; {len(late)} late"
                      + (": " + ", ".join(f"{r.label} {r.lateness.days} d -{r.penalty:g}"
                                          for r in late) if late else ""), highlight=False)
        unknown = [r.label for r in klass.rows if r.lateness and r.lateness.submitted is None
                   and r.state != "no submission"]
        if unknown:
            console.print(f"no submission time for {', '.join(unknown)}: no penalty "
                          "(--times gives one)", highlight=False)
    canvas_late = [r.label for r in klass.rows if r.canvas_late
                   and not (r.lateness and r.lateness.days)]
    if canvas_late:
        console.print(f"Canvas marked LATE but not penalised here (no late policy, or the "
                      f"times found say on time): {', '.join(canvas_late)}", highlight=False)


def _write_gradebook(path: Path, book, klass: ClassResults, out_format: str,
                     canvas_column: str | None, run: Path) -> None:
    from grader.parent.batch import classbook

    if out_format == "canvas":
        classbook.write_canvas(path, klass.rows, canvas_column or klass.title,
                               classbook.raw_max(klass.rows, klass.maxima))
        return
    if klass.matching is None and not klass.merged:
        book.to_csv(path)  # the programming gradebook as it always was
        return
    head, records = classbook.columns(klass.rows, book, klass.matching is not None,
                                      klass.maxima, klass.with_theory, klass.with_late)
    classbook.write_csv(path, head, records)


def _index_page(run: Path, folder: Path, klass: ClassResults) -> Path:
    import shutil

    from grader.parent.batch import classbook, index_page
    from grader.parent.batch.similarity import SIMILARITY_HTML

    similarity = None
    if (run / SIMILARITY_HTML).is_file():
        shutil.copyfile(run / SIMILARITY_HTML, folder / SIMILARITY_HTML)
        similarity = SIMILARITY_HTML
    return index_page.write(folder, klass.rows, f"{klass.title}: class results",
                            classbook.raw_max(klass.rows, klass.maxima), similarity)


def _similarity(run: Path, state, threshold: float) -> None:
    """Compares the run's submissions; RUN/similarity.json and .html, flags via review."""
    from grader.parent.batch import similarity
    from grader.parent.batch.plan import load_plan
    from grader.parent.export import ExportError, template_folder
    from grader.parent.spec import SpecError, load_spec

    template, note = None, "no template found"
    try:
        template = template_folder(load_spec(load_plan(run).assignment))
    except (SpecError, ExportError) as exc:
        note = f"none ({exc})"
    submissions = {st.entry.student: st.entry.path for st in state.students}
    results = {st.entry.student: st.result for st in state.students if st.result is not None}
    report = similarity.find(submissions, results, template, threshold, note)
    similarity.save(run, report)
    page = similarity.write_page(run / similarity.SIMILARITY_HTML, report,
                                 f"similar submissions: {run.name}")
    console.print(f"similarity: {report.compared} submissions compared, {len(report.pairs)} "
                  f"pairs flagged; evidence in {page}", highlight=False)


def _widest(header: str, values) -> int:
    return max([len(header), *(len(str(v)) for v in values)])


def _grades_table(book, title: str) -> Table:
    """The gradebook for the terminal, never cutting a student id, score or state.

    Rich squeezes a table into the terminal by cutting cells ("stude…"). So the
    total is one "score/out of" column, ids and states get their full width,
    and when every task's column still cannot fit, the per-task scores are left
    to the CSV (which always has them) and the table keeps the totals.
    """
    frame = book.grades
    rows = []
    for rec in frame.to_dict("records"):
        total = "" if _isnan(rec["total"]) else f"{rec['total']:g}/{rec['max_score']:g}"
        rows.append({**{k: _cell(v) for k, v in rec.items()}, "total": total})
    tasks = list(book.tasks)
    fixed = ["student", "total", "state"]

    def width(cols: list[str]) -> int:
        return sum(_widest(c, (r[c] for r in rows)) + 3 for c in cols) + 1

    columns = ["student", *tasks, "total", "state"]
    if width(columns) > console.width and tasks:
        columns = fixed
        title += f" (scores of the {len(tasks)} tasks: too wide here, see --csv)"
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="left" if col in ("student", "state") else "right",
                         no_wrap=True,
                         min_width=_widest(col, (r[col] for r in rows)) if col in fixed
                         else None)
    for r in rows:
        table.add_row(*(r[c] for c in columns))
    return table


def _cell(value: object) -> str:
    return "" if _isnan(value) else f"{value:g}" if isinstance(value, float) else str(value)


def _isnan(value: object) -> bool:
    return isinstance(value, float) and value != value
