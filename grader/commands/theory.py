"""`grader theory`: worked answers to the numeric theory questions, the same solver on
the user's own numbers, per-student variants and grading of students' answers.

Start-up matters here (a student runs this on a laptop, often): only typer and
the standard library are imported at module level; the solver (pure Python),
rich and jsonschema are imported inside the commands. TensorFlow is never
imported on this path; a test checks `sys.modules`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

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
SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def _plain_coercion(command: Any) -> None:
    """Gives this verb's str/int/float/Path parameters a plain coercion.

    typer 0.29 coerces every parameter value through a pydantic TypeAdapter,
    and importing pydantic costs about 0.25 s: more than all of NumPy, and over
    the start-up budget of `grader theory` (benchmarks/theory_startup.py). Our
    parameters are plain types that need no validation beyond int()/Path().
    This uses typer internals, so anything unexpected leaves typer's own path.
    """
    try:
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
    except ImportError:
        return

    class PlainParam(RuntimeParam):
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            kind = self.annotation
            if isinstance(value, (list, tuple)):
                return [self._coerce_value(v, param, ctx) for v in value]
            try:
                return value if kind is str else kind(value)
            except (TypeError, ValueError):
                raise BadParameter(f"{value!r} is not a valid {kind.__name__}", ctx=ctx,
                                   param=param) from None

    plain = {str: str, int: int, float: float, Path: Path, list[str]: str}
    for param in getattr(command, "params", []):
        descriptor = getattr(param, "type_descriptor", None)
        if getattr(param, "_runtime_param", "absent") is not None or descriptor is None:
            continue
        kind = plain.get(descriptor.annotation)
        if kind is None or descriptor.file_annotation is not None:
            continue
        param._runtime_param = PlainParam(parameter_info=descriptor.parameter_info,
                                          annotation=kind)


class _QuestionGroup(TyperGroup):
    """Lets `grader theory QID` stand for `grader theory show QID`: a first word that is
    not a sub-command is a question id."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            name, command, rest = "show", self.commands["show"], args
        else:
            name, command, rest = super().resolve_command(ctx, args)
        _plain_coercion(command)
        return name, command, rest


app = typer.Typer(
    cls=_QuestionGroup,
    help=("Worked answers to the numeric theory questions: `grader theory QID` (e.g. q1), "
          "`grader theory list`, the solver on your own numbers (conv, pool, shape, params), "
          "per-student variants and grading. " + MATRIX_HELP),
    no_args_is_help=True,
)

AssignmentOption = typer.Option("cs577-a4", "--assignment", "-a",
                                help="cs577-a4, ds-ag-021 or practical2.")
JsonFlag = typer.Option(False, "--json", help="Print the answer as JSON instead of worked steps.")
FilterOption = typer.Option(..., "--filter", "-f", help=(
    "A filter: one 2-D matrix (repeated over every input channel) or one per channel "
    "separated by '|'. Repeat --filter for several output channels."))
AnswersArgument = typer.Argument(..., help="The student's answers JSON "
                                 "(grader/schemas/theory_answers_file.schema.json).")
ResultsOption = typer.Option(None, "--json", help="Write the results JSON here "
                             "(Gradescope-compatible, grader/schemas/results.schema.json).")


def _fail(message: str, code: int = 2) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Runs a solver call and turns its errors into a one-line message and exit 2: a
    user's typo must never end in a traceback."""
    from theory.answer import GradeError
    from theory.questions import UnknownQuestion
    from theory.shapes import ShapeError

    try:
        return fn(*args, **kwargs)
    except (ShapeError, UnknownQuestion, GradeError) as exc:
        raise _fail(str(exc)) from None
    except (ValueError, TypeError, ZeroDivisionError, IndexError, KeyError) as exc:
        raise _fail(f"cannot work this out: {exc} ({type(exc).__name__})") from None


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, emoji=False)


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def _pair(text: str, what: str) -> tuple[int, int]:
    from theory.parse import parse_pair

    return parse_pair(text, what)


@app.command("list")
def list_questions(
    assignment: str = typer.Option(None, "--assignment", "-a",
                                   help="Only this assignment (default: all)."),
    as_json: bool = JsonFlag,
) -> None:
    """Every theory question id per assignment, numeric (solved) or manual (a person grades)."""
    from theory.questions import ASSIGNMENTS, BANK

    if assignment is not None and assignment not in BANK:
        raise _fail(f"unknown assignment {assignment!r}; the assignments are "
                    f"{', '.join(ASSIGNMENTS)}")
    chosen = [assignment] if assignment else list(ASSIGNMENTS)
    if as_json:
        _print_json({a: [{"id": q.qid, "kind": q.kind, "title": q.title}
                         for q in BANK[a].values()] for a in chosen})
        return
    from theory.render import render_question_list

    rows = [(a, q.qid, q.kind, q.title) for a in chosen for q in BANK[a].values()]
    console = _console()
    render_question_list(rows, console)
    empty = [a for a in chosen if not BANK[a]]
    for a in empty:
        console.print(f"{a}: no theory questions (its grade comes from the programming tasks)")


def _show(qid: str, assignment: str, as_json: bool, seed: int | None) -> None:
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


@app.command("show")
def show(
    qid: str = typer.Argument(..., help="Question id, e.g. q1 (see `grader theory list`)."),
    assignment: str = AssignmentOption,
    as_json: bool = JsonFlag,
) -> None:
    """The worked answer to one question (also `grader theory QID`)."""
    _show(qid, assignment, as_json, None)


@app.command("variant")
def variant(
    qid: str = typer.Argument(..., help="A numeric question id, e.g. q1."),
    seed: int = typer.Option(..., "--seed", "-s", help="The student's seed; same seed, same "
                             "numbers."),
    assignment: str = AssignmentOption,
    as_json: bool = JsonFlag,
) -> None:
    """A per-student variant of a numeric question (same form, other numbers) with its key."""
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


def _padding(text: str) -> Any:
    """'valid', 'same', 'P', 'V,H' or 'T,B,L,R'."""
    from theory.shapes import ShapeError

    value = text.strip().lower()
    if value in ("valid", "same"):
        return value
    try:
        numbers = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise ShapeError(f"--padding must be {PADDING_HELP.rstrip('.')}; got {text!r}") from None
    return numbers[0] if len(numbers) == 1 else numbers


@app.command("conv")
def conv(
    input_: str = typer.Option(..., "--input", "-i", help="The input tensor. " + MATRIX_HELP),
    filters: list[str] = FilterOption,
    padding: str = typer.Option("valid", "--padding", "-p", help=PADDING_HELP),
    stride: str = typer.Option("1", "--stride", "-s", help="S or SHxSW."),
    dilation: str = typer.Option("1", "--dilation", "-d", help="D or DHxDW."),
    depthwise: bool = typer.Option(False, "--depthwise", help=(
        "Apply the filter to each channel separately, without summing over channels.")),
    as_json: bool = JsonFlag,
) -> None:
    """Convolve your own numbers, with each output cell's sum written out.

    Example: grader theory conv -i "ones:4x4|fill:2:4x4|rows:1,2,3,4" -f ones:3x3 -p same
    """
    from theory.ops import concat_filters, filters_from_2d, stack_channels
    from theory.parse import parse_channels
    from theory.worked import conv_reading

    def run() -> Any:
        channels = parse_channels(input_)
        image = stack_channels(channels)
        kernels = [filters_from_2d(parse_channels(f), len(channels)) for f in filters]
        if depthwise and len(kernels) != 1:
            raise ValueError("--depthwise takes exactly one --filter")
        kernel = concat_filters(kernels)
        label = ("depthwise: each channel convolved on its own" if depthwise
                 else f"{len(kernels)} filter(s), each summing over all {len(channels)} channels")
        return conv_reading(label, image, kernel, _pair(stride, "--stride"), _padding(padding),
                            _pair(dilation, "--dilation"), depthwise=depthwise)

    reading = _guard(run)
    _emit(f"conv: input {input_}; filters {', '.join(filters)}; padding {padding}; stride "
          f"{stride}; dilation {dilation}", reading, as_json)


@app.command("pool")
def pool(
    input_: str = typer.Option(..., "--input", "-i", help="The input tensor. " + MATRIX_HELP),
    size: str = typer.Option("2", "--size", help="Window, P or PHxPW."),
    stride: str = typer.Option(None, "--stride", "-s", help="S or SHxSW (default: the window)."),
    padding: str = typer.Option("valid", "--padding", "-p", help="valid or same."),
    kind: str = typer.Option("max", "--kind", "-k", help="max or avg."),
    as_json: bool = JsonFlag,
) -> None:
    """Max or average pooling of your own numbers, window by window.

    Example: grader theory pool -i "range:4x4" --size 2
    """
    from theory.ops import stack_channels
    from theory.parse import parse_channels
    from theory.worked import pool_reading

    def run() -> Any:
        image = stack_channels(parse_channels(input_))
        window = _pair(size, "--size")
        step = _pair(stride, "--stride") if stride else None
        return pool_reading(f"{kind} pooling", image, window, step, padding.lower(),
                            kind.lower())

    reading = _guard(run)
    _emit(f"pool: input {input_}; {kind} {size}; stride {stride or size}; padding {padding}",
          reading, as_json)


@app.command("shape")
def shape(
    input_shape: str = typer.Argument(..., metavar="INPUT", help="N, HxW or HxWxC, e.g. "
                                      "128x128x32."),
    kernel: str = typer.Argument(..., help="F or FHxFW, e.g. 3x3."),
    filters: int = typer.Option(None, "--filters", "-n", help="Number of filters (output "
                                "channels); default keeps the input depth."),
    padding: str = typer.Option("valid", "--padding", "-p", help=PADDING_HELP),
    stride: str = typer.Option("1", "--stride", "-s", help="S or SHxSW."),
    dilation: str = typer.Option("1", "--dilation", "-d", help="D or DHxDW."),
    as_json: bool = JsonFlag,
) -> None:
    """Output size by floor((N + 2P - D(F-1) - 1)/S) + 1, with the numbers substituted.

    Example: grader theory shape 128x128x32 3x3 --filters 16 --stride 2
    """
    from theory.shapes import ShapeError
    from theory.worked import shape_reading

    def run() -> Any:
        parts = input_shape.lower().split("x")
        if not all(p.strip().isdigit() and int(p) > 0 for p in parts) or len(parts) > 3:
            raise ShapeError(f"INPUT must be N, HxW or HxWxC with positive sizes, got "
                             f"{input_shape!r}")
        dims = [int(p) for p in parts]
        h, w = (dims[0], dims[0]) if len(dims) == 1 else (dims[0], dims[1])
        c = dims[2] if len(dims) == 3 else 1
        if filters is not None and filters < 1:
            raise ShapeError(f"--filters must be positive, got {filters}")
        k = filters or c
        kh, kw = _pair_any(kernel, "KERNEL")
        return shape_reading(f"{k} filters of {kh}x{kw}x{c}", (h, w, c), (kh, kw), k,
                             _pair_any(stride, "--stride"), _padding(padding),
                             _pair_any(dilation, "--dilation"))

    reading = _guard(run)
    _emit(f"shape: input {input_shape}, kernel {kernel}, padding {padding}, stride {stride}, "
          f"dilation {dilation}", reading, as_json)


def _pair_any(text: str, what: str) -> tuple[int, int]:
    """Like the matrix sizes, but without their 64 cap: shapes may be large."""
    import re

    from theory.shapes import ShapeError

    match = re.fullmatch(r"\s*(\d+)\s*(?:x\s*(\d+))?\s*", text.lower())
    if not match or int(match.group(1)) < 1 or (match.group(2) and int(match.group(2)) < 1):
        raise ShapeError(f"{what} must look like 3 or 3x3 with positive sizes, got {text!r}")
    first = int(match.group(1))
    return first, int(match.group(2)) if match.group(2) else first


@app.command("params")
def params(
    layers: str = typer.Argument(..., help=(
        "A layer list, e.g. 'input:28x28x1, conv:16:7x7:same, maxpool:2, flatten, dense:10'. "
        "Layers: input:HxWxC, conv:FILTERS:KxK (options same, valid, s2, d2, nobias), "
        "dwconv:KxK (m2 = multiplier), sepconv:FILTERS:KxK, maxpool:P, avgpool:P, gap, bn, "
        "flatten, dropout, dense:UNITS.")),
    as_json: bool = JsonFlag,
) -> None:
    """Parameter counts (trainable and not) per layer, output shapes and receptive fields.

    Example: grader theory params "input:28x28x1, flatten, dense:74, dense:50, dense:10"
    """
    from theory.worked import params_reading

    reading = _guard(params_reading, "the layers as listed", layers)
    _emit(f"params: {layers}", reading, as_json)


def _load_answers(path: Path) -> tuple[dict, dict[str, str]]:
    """Reads and validates an answers file; every problem with the file becomes one
    ``GradeError`` that names it. Answers that cannot be answers (nested too deep, too
    large, inf or NaN) are returned as ``{key: reason}`` instead: they score 0 and the
    rest of the file is still graded."""
    from theory.answer import GradeError
    from theory.grade import MAX_ANSWERS_BYTES, answer_problem, decode_answers

    if path.is_dir():
        raise GradeError(f"{path}: is a folder; give the student's answers JSON file")
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


@app.command("grade")
def grade(
    answers: Path = AnswersArgument,
    assignment: str = typer.Option(None, "--assignment", "-a", help=(
        "cs577-a4, ds-ag-021 or practical2 (default: the file's 'assignment', else cs577-a4).")),
    json_out: Path = ResultsOption,
    rel_tol: float = typer.Option(1e-3, "--rel-tol", help="Relative tolerance for non-integer "
                                  "answers, in [0, 1); integers (counts, sizes) are exact."),
) -> None:
    """Grade a student's numeric answers, per question, with partial credit by cell.

    null or [] is no answer (0 points). A reading with no valid output (cs577 q3 without
    padding) is answered with one of the strings "none", "no output", "empty", "undefined",
    "n/a" or "0x0".

    Exit 0 when every numeric answer is right, 1 when some are not, 2 when the file
    cannot be graded (with --json, its results still say why, with a score of 0).
    """
    from theory.answer import GradeError
    from theory.grade import Tolerance, failed_results, grade_answers
    from theory.questions import ASSIGNMENTS

    if not 0 <= rel_tol < 1:     # also false for nan; inf is not below 1
        raise _fail(f"--rel-tol must be a finite number in [0, 1), e.g. 0.001; got {rel_tol}")
    if assignment is not None and assignment not in ASSIGNMENTS:
        raise _fail(f"unknown assignment {assignment!r}; the assignments are "
                    f"{', '.join(ASSIGNMENTS)}")
    chosen = assignment or "cs577-a4"
    try:
        data, invalid = _load_answers(answers)
        chosen = assignment or data.get("assignment") or chosen
        results = grade_answers(data, chosen, Tolerance(rel=rel_tol), str(answers), invalid)
    except GradeError as exc:
        failure = _fail(str(exc))    # said first, even if the results cannot be written
        if json_out is not None:     # a batch must not lose the student: results say why
            _write_atomic(json_out, failed_results(chosen, str(answers), str(exc)))
        raise failure from None
    if json_out is not None:
        _write_atomic(json_out, results)
    _print_results(results)
    raise typer.Exit(results["grader"]["exit_code"])


def _write_atomic(path: Path, obj: Any) -> None:
    import os
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(obj, handle, indent=2)
        os.replace(tmp, path)
    except OSError as exc:
        raise _fail(f"--json {path}: cannot write the results: {exc.strerror}") from None


def _print_results(results: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=results["output"], title_justify="left")
    for col in ("question", "score", "status", "details"):
        table.add_column(col, overflow="fold")
    for test in results["tests"]:
        state = test["grader"]["state"]
        style = {"passed": "green", "failed": "red", "manual": "yellow"}[state]
        score = (f"{test['score']:g}/{test['max_score']:g}" if state != "manual" else "-")
        table.add_row(Text(test["name"]), score, Text(state, style=style), Text(test["output"]))
    _console().print(table)
