"""`grader theory`: worked answers to the theory questions of an assignment's spec, the
same solver on the user's own numbers, per-student variants and grading of students' answers.

Start-up matters here (a student runs this on a laptop, often; benchmarks/theory_startup.py
holds `grader theory q1` to 1.5x `import numpy`). So this verb is a click group, not a
typer app: typer 0.29 coerces every parameter through a pydantic TypeAdapter, and
importing pydantic alone costs more than NumPy. grader/cli.py's `main()` hands
`grader theory ...` to `run()` without importing typer; the typer app lists the verb and
forwards to the same group. Only click and the standard library are imported at module
level; the solver (pure Python), rich and jsonschema are imported inside the commands.
TensorFlow is never imported on this path; a test checks `sys.modules`.

The assignments, the default one and the help that names them come from the specs found
(grader/parent/spec.py: GRADER_ASSIGNMENTS, `grader --assignments-dir`, then the shipped).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

# Kept as text so that --help imports no solver; a test checks it against the constants
# (theory.parse.MAX_SIDE, MAX_MAGNITUDE, MAX_NUMBER_CHARS, theory.ops.MAX_PADDING,
# MAX_MULTIPLY_ADDS).
LIMITS_HELP = (
    "Limits (worked answers are for examples by hand; exit 2 names the limit): each side "
    "1..64; values within +-10^12, at most 40 characters; padding at most 64 per side; at "
    "most 250,000 multiply-adds per conv or pool."
)
MATRIX_HELP = (
    "Tensors: channels separated by '|', each a literal such as '1,2;3,4' (rows separated by ';') "
    "or a generator: ones:HxW, zeros:HxW, fill:VALUE:HxW, rows:V1,V2,... (row i holds Vi; "
    "rows:1,2,3:5 makes it 5 wide), cols:V1,V2,..., range:HxW (1, 2, 3, ... row by row), eye:N. "
    "Values are integers, decimals or fractions like 1/3. " + LIMITS_HELP
)
PADDING_HELP = ("valid, same, P (every side), V,H (top and bottom, left and right) or "
                "T,B,L,R.")
HELP = ("Worked answers to the numeric theory questions: `grader theory QID` (e.g. q1), "
        "`grader theory list`, the solver on your own numbers (conv, pool, shape, params), "
        "per-student variants and grading. " + MATRIX_HELP)
SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def _fail(message: str, code: int = 2) -> SystemExit:
    sys.stderr.write(f"error: {message}\n")
    return SystemExit(code)


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Runs a solver call and turns its errors into a one-line message and exit 2: a
    user's typo, or an instructor's in a spec, must never end in a traceback."""
    from theory.answer import GradeError
    from theory.questions import TheoryError, UnknownQuestion
    from theory.shapes import ShapeError

    try:
        return fn(*args, **kwargs)
    except (ShapeError, UnknownQuestion, GradeError, TheoryError) as exc:
        raise _fail(str(exc)) from None
    except (ValueError, TypeError, ZeroDivisionError, IndexError, KeyError) as exc:
        raise _fail(f"cannot work this out: {exc} ({type(exc).__name__})") from None


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, emoji=False)


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


# --- the commands, as plain functions (their docstrings are their help) -----------------------

def list_questions(assignment: str | None, as_json: bool) -> None:
    """Every theory question id per assignment, numeric (solved) or manual (a person grades)."""
    from theory.questions import assignment_ids, load_assignment

    ids = [assignment] if assignment else _guard(assignment_ids)
    chosen = [_guard(load_assignment, a) for a in ids]
    if as_json:
        _print_json({a.id: [{"id": q.qid, "kind": q.kind, "title": q.title}
                            for q in a.questions.values()] for a in chosen})
        return
    from theory.render import render_question_list

    rows = [(a.id, q.qid, q.kind, q.title) for a in chosen for q in a.questions.values()]
    console = _console()
    render_question_list(rows, console)
    for a in chosen:
        if not a.questions:
            console.print(f"{a.id}: no theory questions (its grade comes from the programming "
                          "tasks)")


def _show(qid: str, assignment: str | None, as_json: bool, seed: int | None) -> None:
    from theory.questions import get_question, solution_json, solve, variant_params

    question = _guard(get_question, qid, assignment)
    params = question.params if seed is None else _guard(variant_params, question, seed)
    solution = _guard(solve, question, params)
    if as_json:
        _print_json(solution_json(question, solution, params, seed))
        return
    from theory.render import render_solution

    header = f"{question.assignment} {question.qid}: {question.title}"
    if seed is not None:
        header += f"  (variant, seed {seed})"
    render_solution(header, question.text(params), solution, _console(), question.kind)


def show(qid: str, assignment: str | None, as_json: bool) -> None:
    """The worked answer to one question (also `grader theory QID`). QID is a question id,
    e.g. q1 (see `grader theory list`)."""
    _show(qid, assignment, as_json, None)


def variant(qid: str, seed: int, assignment: str | None, as_json: bool) -> None:
    """A per-student variant of a numeric question (same form, other numbers) with its key.
    QID is a numeric question id, e.g. q1."""
    _show(qid, assignment, as_json, seed)


def _emit(question: str, reading: Any, as_json: bool) -> None:
    """Prints a solver reading; with --json, an object of theory_answer.schema.json whose
    'command' is the verb (the first word of ``question``)."""
    from theory.questions import reading_json

    if as_json:
        _print_json({"command": question.split(":", 1)[0], "question": question,
                     **reading_json(reading)})
        return
    from rich.text import Text

    from theory.render import render_reading

    console = _console()
    console.print(Text(question, style="bold magenta"))
    render_reading(reading, "Answer", console)


def conv(input_: str, filters: list[str], padding: str, stride: str, dilation: str,
         depthwise: bool, as_json: bool) -> None:
    """Convolve your own numbers, with each output cell's sum written out.

    Example: grader theory conv -i "ones:4x4|fill:2:4x4|rows:1,2,3,4" -f ones:3x3 -p same
    """
    from theory import calculator

    reading = _guard(calculator.conv, input_, filters, padding, stride, dilation, depthwise)
    _emit(f"conv: input {input_}; filters {', '.join(filters)}; padding {padding}; stride "
          f"{stride}; dilation {dilation}", reading, as_json)


def pool(input_: str, size: str, stride: str | None, padding: str, kind: str,
         as_json: bool) -> None:
    """Max or average pooling of your own numbers, window by window.

    Example: grader theory pool -i "range:4x4" --size 2
    """
    from theory import calculator

    reading = _guard(calculator.pool, input_, size, stride, padding, kind)
    _emit(f"pool: input {input_}; {kind} {size}; stride {stride or size}; padding {padding}",
          reading, as_json)


def shape(input_shape: str, kernel: str, filters: int | None, padding: str, stride: str,
          dilation: str, as_json: bool) -> None:
    """Output size by floor((N + 2P - D(F-1) - 1)/S) + 1, with the numbers substituted.
    INPUT is N, HxW or HxWxC (e.g. 128x128x32), KERNEL is F or FHxFW (e.g. 3x3).

    Example: grader theory shape 128x128x32 3x3 --filters 16 --stride 2
    """
    from theory import calculator

    reading = _guard(calculator.shape, input_shape, kernel, filters, padding, stride, dilation)
    _emit(f"shape: input {input_shape}, kernel {kernel}, padding {padding}, stride {stride}, "
          f"dilation {dilation}", reading, as_json)


LAYERS_HELP = (
    "LAYERS is a layer list, e.g. 'input:28x28x1, conv:16:7x7:same, maxpool:2, flatten, "
    "dense:10'. Layers: input:HxWxC, conv:FILTERS:KxK (options same, valid, s2, d2, nobias), "
    "dwconv:KxK (m2 = multiplier), sepconv:FILTERS:KxK, maxpool:P, avgpool:P, gap, bn, "
    "flatten, dropout, dense:UNITS.")


def params(layers: str, as_json: bool) -> None:
    """Parameter counts (trainable and not) per layer, output shapes and receptive fields.

    Example: grader theory params "input:28x28x1, flatten, dense:74, dense:50, dense:10"
    """
    from theory import calculator

    reading = _guard(calculator.params, layers)
    _emit(f"params: {layers}", reading, as_json)


def _load_answers(path: Path) -> tuple[dict, dict[str, str]]:
    """Reads and validates an answers file; every problem with the file becomes one
    ``GradeError`` that names it. Answers that cannot be answers (nested too deep, too
    large, inf or NaN) are returned as ``{key: reason}`` instead: they score 0 and the
    rest of the file is still graded."""
    from theory.answer import GradeError
    from theory.grade import MAX_ANSWERS_BYTES, answer_problem, decode_answers

    if not path.is_file():
        raise GradeError(f"{path}: no such file (give the student's answers JSON)")
    with path.open("rb") as handle:     # read no more than the cap, however large the file
        raw = handle.read(MAX_ANSWERS_BYTES + 1)
    if len(raw) > MAX_ANSWERS_BYTES:
        raise GradeError(f"{path}: larger than {MAX_ANSWERS_BYTES:,} bytes, the limit for an "
                         "answers file (theory.grade.MAX_ANSWERS_BYTES); answers are a few "
                         "numbers per question")
    try:
        data, invalid = decode_answers(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise GradeError(f"{path}: not a UTF-8 text file; save the answers as JSON") from None
    except json.JSONDecodeError as exc:
        raise GradeError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column "
                         f"{exc.colno}") from None
    except GradeError as exc:
        raise GradeError(f"{path}: {exc}") from None
    except ValueError as exc:      # e.g. an integer longer than Python converts
        raise GradeError(f"{path}: a value cannot be read: {exc}") from None
    import jsonschema


    checked = data
    if isinstance(data, dict) and isinstance(data.get("answers"), dict):
        # The schema validator recurses; a refused answer is validated as null instead.
        for key, value in data["answers"].items():
            problem = invalid.get(key) or answer_problem(value)
            if problem:
                invalid[key] = problem
        if invalid:
            checked = {**data, "answers": {k: None if k in invalid else v
                                           for k, v in data["answers"].items()}}
    schema = json.loads((SCHEMAS / "theory_answers_file.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    # The first error only: the validator yields lazily and checks the file's keys (their
    # count too) before it descends into the answers, so 100,000 keys are refused at once.
    first = next(validator.iter_errors(checked), None)
    if first is not None:
        first = jsonschema.exceptions.best_match([first])    # inside an anyOf: the branch
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        message = first.message
        shown = repr(first.instance)     # the message quotes the value, perhaps thousands long
        if len(shown) > 80:
            message = message.replace(shown, shown[:60] + "...")
        if first.validator in ("maxItems", "maxLength", "maxProperties"):
            message += f" (at most {first.validator_value})"
        if first.validator == "additionalProperties" and not first.absolute_path:
            message += "; the file holds 'answers' and optionally 'assignment', 'student', 'seed'"
        raise GradeError(f"{path}: {where}: {message} (schema: "
                         f"grader/schemas/theory_answers_file.schema.json)")
    for key, reason in invalid.items():
        sys.stderr.write(f"warning: {path}: answer {key!r} {reason}; it scores 0\n")
    return data, invalid


def grade(answers: Path, assignment: str | None, json_out: Path | None, rel_tol: float) -> None:
    """Grade a student's numeric answers, per question, with partial credit by cell.

    Answers are JSON numbers and lists, or text as `grader theory QID` prints them: a
    shape as 63x63x16, 63 x 63 x 16, (63, 63, 16) or [63, 63, 16]; a matrix in rows,
    45,45;54,54 (channels separated by '|'), or nested, [[45, 45], [54, 54]]; a number as
    1199882, 1,199,882, 3.5 or 7/2. Scores are shown and saved rounded to two decimals.

    null or [] is no answer (0 points). A reading with no valid output (cs577 q3 without
    padding) is answered with one of the strings "none", "no output", "empty", "undefined",
    "n/a" or "0x0".

    Exit 0 when every numeric answer is right, 1 when some are not, 2 when the file
    cannot be graded (with --json, its results still say why, with a score of 0).
    """
    from theory.questions import load_assignment

    if not 0 <= rel_tol < 1:     # also false for nan; inf is not below 1
        raise _fail(f"--rel-tol must be a finite number in [0, 1), e.g. 0.001; got {rel_tol}")
    if assignment is not None:
        _guard(load_assignment, assignment)
    if answers.is_dir():
        _grade_folder(answers, assignment, json_out, rel_tol)
    results, problem = grade_answers_file(answers, assignment, rel_tol)
    if problem:
        failure = _fail(problem)     # said first, even if the results cannot be written
        if json_out is not None:     # a batch must not lose the student: results say why
            _write_atomic(json_out, results)
        raise failure from None
    if json_out is not None:
        _write_atomic(json_out, results)
    _print_results(results)
    raise SystemExit(results["grader"]["exit_code"])


def grade_answers_file(answers: Path, assignment: str | None, rel_tol: float = 1e-3
                       ) -> tuple[dict, str | None]:
    """The results of one answers file, and the reason when it cannot be graded (its
    results then score 0 and say why). ASSIGNMENT None: the file's own, else the default."""
    from theory.answer import GradeError
    from theory.grade import Tolerance, failed_results, grade_answers
    from theory.questions import UnknownQuestion, default_assignment, load_assignment

    chosen = assignment or default_assignment()
    try:
        data, invalid = _load_answers(answers)
        named = assignment or data.get("assignment") or chosen
        try:
            load_assignment(named)
        except UnknownQuestion as exc:  # the file names an assignment no spec folder holds
            raise GradeError(f"{answers}: assignment: {exc}") from None
        chosen = named
        return grade_answers(data, chosen, Tolerance(rel=rel_tol), str(answers), invalid), None
    except GradeError as exc:
        return failed_results(chosen, str(answers), str(exc)), str(exc)


def _grade_folder(folder: Path, assignment: str | None, json_out: Path | None,
                  rel_tol: float) -> NoReturn:
    """A class's answers: FOLDER/<student>.json each graded, results to OUT/<student>.json
    (what `grader collect --theory OUT` merges); one line per student. Exit 2 when some
    file cannot be graded, else 1 when some answer is wrong, else 0."""
    from rich.table import Table

    from theory.grade import points_text

    files = sorted(p for p in folder.glob("*.json") if p.is_file())
    if not files:
        raise _fail(f"{folder}: is a folder with no answers files in it (*.json, one per "
                    "student, named by student id)")
    if json_out is not None:
        if json_out.exists() and not json_out.is_dir():
            raise _fail(f"--json {json_out}: is a file; with a folder of answers, name a "
                        "folder for the results (one file per student)")
        json_out.mkdir(parents=True, exist_ok=True)
    table = Table(title=f"{len(files)} answers files in {folder}", title_justify="left")
    for col in ("student", "score", "status"):
        table.add_column(col, overflow="fold")
    worst = 0
    for path in files:
        results, problem = grade_answers_file(path, assignment, rel_tol)
        if json_out is not None:
            _write_atomic(json_out / f"{path.stem}.json", results)
        code = results["grader"]["exit_code"]
        worst = max(worst, code)
        status = f"not graded: {problem}" if problem else ("all correct" if code == 0 else
                                                             "some answers wrong")
        table.add_row(path.stem, f"{points_text(results['score'])}/"
                      f"{points_text(results['max_score'])}", status)
    _console().print(table)
    if json_out is not None:
        _console().print(f"results written to {json_out}/ (grader collect RUN --theory "
                         f"{json_out})", highlight=False)
    raise SystemExit(worst)


def _write_atomic(path: Path, obj: Any) -> None:
    from grader.files import write_json_atomic

    try:
        write_json_atomic(path, obj)
    except OSError as exc:
        raise _fail(f"--json {path}: cannot write the results: {exc.strerror}") from None


def _print_results(results: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    from theory.grade import points_text

    table = Table(title=results["output"], title_justify="left")
    for col in ("question", "score", "status", "details"):
        table.add_column(col, overflow="fold")
    for test in results["tests"]:
        state = test["grader"]["state"]
        style = {"passed": "green", "failed": "red", "manual": "yellow"}[state]
        score = (f"{points_text(test['score'])}/{points_text(test['max_score'])}"
                 if state != "manual" else "-")
        table.add_row(Text(test["name"]), score, Text(state, style=style), Text(test["output"]))
    _console().print(table)


# --- the click group --------------------------------------------------------------------------

class _QuestionGroup(click.Group):
    """Lets `grader theory QID` stand for `grader theory show QID`: a first word that is
    not a sub-command is a question id. Help lists the sub-commands in the order added;
    without arguments it goes to stdout with exit 2, as `grader` itself does (click's own
    no_args_is_help would print it to stderr)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:
            click.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(2)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "show", self.commands["show"], args
        return super().resolve_command(ctx, args)


def _window_options() -> list[Any]:
    """--padding, --stride and --dilation, as conv and shape both take them."""
    return [click.Option(["--padding", "-p"], default="valid", show_default=True,
                         help=PADDING_HELP),
            click.Option(["--stride", "-s"], default="1", show_default=True,
                         help="S or SHxSW."),
            click.Option(["--dilation", "-d"], default="1", show_default=True,
                         help="D or DHxDW.")]


def _command(group: click.Group, name: str, fn: Any, *params: click.Parameter,
             epilog: str | None = None) -> None:
    """Adds ``fn`` as sub-command ``name``; its docstring is the help, and click passes
    the parameters by name (the functions' argument names)."""
    first = " ".join(fn.__doc__.split("\n\n")[0].split())     # the first sentence
    short = first.split(". ")[0].rstrip(".") + "."
    group.add_command(click.Command(name, params=list(params), callback=fn, help=fn.__doc__,
                                    short_help=short, epilog=epilog))


def build() -> click.Group:
    """The `grader theory` group, with help that names the assignments found now (after
    `--assignments-dir`)."""
    from theory.questions import assignment_ids, default_assignment

    ids = assignment_ids()
    default = default_assignment()
    which = (f"An assignment id ({', '.join(ids)}) or the path of a spec .json; its theory "
             "questions are the spec's 'theory' section.")

    def assignment(default_: str | None, help_: str) -> click.Option:
        return click.Option(["--assignment", "-a", "assignment"], default=default_,
                            show_default=default_ is not None, help=help_)

    json_flag = click.Option(["--json", "as_json"], is_flag=True,
                             help="Print the answer as JSON instead of worked steps.")
    matrix = click.Option(["--input", "-i", "input_"], required=True,
                          help="The input tensor. " + MATRIX_HELP)
    # Help as wide as the terminal, as typer's was (click caps it at 80 columns by default).
    group = _QuestionGroup("theory", help=HELP, context_settings={"max_content_width": 1000})
    _command(group, "list", list_questions,
             assignment(None, "Only this assignment (default: all). " + which), json_flag)
    _command(group, "show", show, click.Argument(["qid"]), assignment(default, which), json_flag)
    _command(group, "variant", variant, click.Argument(["qid"]),
             click.Option(["--seed", "-s"], type=int, required=True,
                          help="The student's seed; same seed, same numbers."),
             assignment(default, which), json_flag)
    _command(group, "conv", conv, matrix,
             click.Option(["--filter", "-f", "filters"], multiple=True, required=True, help=(
                 "A filter: one 2-D matrix (repeated over every input channel) or one per "
                 "channel separated by '|'. Repeat --filter for several output channels.")),
             *_window_options(),
             click.Option(["--depthwise"], is_flag=True, help=(
                 "Apply the filter to each channel separately, without summing over channels.")),
             json_flag)
    _command(group, "pool", pool, matrix,
             click.Option(["--size"], default="2", show_default=True, help="Window, P or PHxPW."),
             click.Option(["--stride", "-s"], default=None,
                          help="S or SHxSW (default: the window)."),
             click.Option(["--padding", "-p"], default="valid", show_default=True,
                          help="valid or same."),
             click.Option(["--kind", "-k"], default="max", show_default=True,
                          help="max or avg."),
             json_flag)
    _command(group, "shape", shape, click.Argument(["input_shape"], metavar="INPUT"),
             click.Argument(["kernel"], metavar="KERNEL"),
             click.Option(["--filters", "-n"], type=int, default=None, help=(
                 "Number of filters (output channels); default keeps the input depth.")),
             *_window_options(),
             json_flag)
    _command(group, "params", params, click.Argument(["layers"], metavar="LAYERS"), json_flag,
             epilog=LAYERS_HELP)
    _command(group, "grade", grade,
             click.Argument(["answers"], type=click.Path(path_type=Path), metavar="ANSWERS"),
             assignment(None, which + f" Default: the file's 'assignment', else {default}."),
             click.Option(["--json", "json_out"], type=click.Path(path_type=Path), default=None,
                          help="Write the results JSON here (Gradescope-compatible, "
                               "grader/schemas/results.schema.json)."),
             click.Option(["--rel-tol"], type=float, default=1e-3, show_default=True, help=(
                 "Relative tolerance for non-integer answers, in [0, 1); integers (counts, "
                 "sizes) are exact.")),
             epilog="ANSWERS is the student's answers JSON "
                    "(grader/schemas/theory_answers_file.schema.json), or a folder of them, "
                    "one per student named by student id: then --json names a folder, "
                    "which gets one results file per student.")
    return group


def run(args: list[str], prog_name: str = "grader theory") -> NoReturn:
    """Runs `grader theory ARGS` and exits with its code (0, 1 or 2; click's usage errors
    are 2)."""
    group = _guard(build)
    group.main(args=args, prog_name=prog_name, standalone_mode=True)
    raise SystemExit(0)    # standalone mode always exits; this line keeps the type honest
