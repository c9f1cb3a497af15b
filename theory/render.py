"""Worked answers in the terminal, with rich.

Only the rich pieces used here are imported (console, table, text), and only
when this module is imported, which the CLI does at print time.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from theory.answer import Reading, Solution, fmt, printed_answers

__all__ = ["render_solution", "render_reading", "render_question_list", "matrix_table"]


def matrix_table(matrix: list[list[Any]], title: str = "") -> Table:
    """A matrix as a grid of right-aligned cells."""
    table = Table(show_header=False, title=title or None, box=None, padding=(0, 1),
                  title_style="dim")
    for _ in range(len(matrix[0]) if matrix else 0):
        table.add_column(justify="right")
    for row in matrix:
        table.add_row(*(fmt(v) for v in row))
    return table


def tensor_group(value: list, channels: list[str], title: str, width: int = 80) -> Table:
    """An H x W x C tensor as its channels side by side, or one under another when
    side by side would not fit ``width`` (rich would otherwise squeeze cells away)."""
    outer = Table(show_header=False, box=None, title=title, title_justify="left",
                  title_style="bold", padding=(0, 2))
    if not value or not isinstance(value[0][0], list):
        outer.add_row(matrix_table(value))
        return outer
    c = len(value[0][0])
    cell = max(len(fmt(v)) for row in value for px in row for v in px) + 2
    needed = c * (len(value[0]) * cell + 4)
    grids = [matrix_table([[px[k] for px in row] for row in value],
                          channels[k] if k < len(channels) else f"c{k}") for k in range(c)]
    if needed <= width:
        for _ in grids:
            outer.add_column()
        outer.add_row(*grids)
    else:
        outer.add_column()
        for grid in grids:
            outer.add_row(grid)
    return outer


def _step(step: dict, width: int) -> Any:
    kind = step["kind"]
    if kind == "text":
        return Text(step["text"])
    if kind == "formula":
        return Text("  " + step["text"], style="cyan")
    if kind == "tensor":
        return tensor_group(step["value"], step.get("channels", []), step["title"], width)
    if kind == "sums":
        lines = [Text(step["title"], style="bold")]
        for line in step["lines"]:
            index = ",".join(str(v) for v in line["index"])
            lines.append(Text.assemble(("  [" + index + "] ", "bold"), line["expr"], " = ",
                                       (fmt(line["value"]), "green")))
        if step.get("omitted"):
            lines.append(Text(f"  ... {step['omitted']} more cells (see --json for the values)",
                              style="dim"))
        return Group(*lines)
    if kind == "table":
        table = Table(title=step.get("title"), title_justify="left", title_style="bold")
        for col in step["columns"]:
            table.add_column(col, justify="right" if col in ("trainable", "non-trainable")
                             else "left", overflow="fold")
        for row in step["rows"]:
            table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
        return table
    return Text(str(step))


def _answer_text(reading: Reading, width: int) -> Any:
    # The texts come from printed_answers, which the grader is tested to read back: what
    # a student copies from here is an answer it accepts.
    answer = reading.answer
    forms = printed_answers(reading)
    if reading.answer_type == "none":
        return Text(f"answer: {forms[0]}  ({reading.note or 'no valid answer'})",
                    style="yellow")
    if reading.answer_type == "tensor":
        names = (["R", "G", "B"] if isinstance(answer[0][0], list) and len(answer[0][0]) == 3
                 else [])
        return Group(tensor_group(answer, names, "answer", width),
                     Text(f"answer as text: {forms[0]}", style="green"))
    if reading.answer_type == "shape":
        return Text(f"answer: {forms[0]}  ({forms[1]})", style="green")
    if reading.answer_type == "record":
        table = Table(show_header=False, title="answer", title_justify="left", title_style="bold",
                      box=None)
        table.add_column(style="bold")
        table.add_column(justify="right", style="green")
        for key, shown in forms[0].items():
            table.add_row(key, shown)
        return table
    if reading.answer_type == "text":
        return Text(forms[0])
    return Text(f"answer: {forms[0]}", style="green")


def render_reading(reading: Reading, heading: str, console: Console) -> None:
    """One reading: its label, its steps, its answer."""
    console.rule(Text(heading, style="bold"), align="left")
    if reading.label:
        console.print(Text("Reading: ", style="bold") + Text(reading.label))
    for step in reading.steps:
        console.print(_step(step, console.width))
    console.print(_answer_text(reading, console.width))
    if reading.note and reading.answer_type != "none":
        console.print(Text(reading.note, style="yellow"))


def render_solution(header: str, question_text: str, solution: Solution, console: Console,
                    kind: str = "numeric") -> None:
    """The question, the reading taken, then each labelled alternative."""
    console.print(Text(header, style="bold magenta"))
    console.print(Text(question_text))
    title = "Model answer (graded by a person)" if kind == "manual" else "Answer"
    render_reading(solution.primary, title, console)
    for k, alt in enumerate(solution.alternatives, start=1):
        render_reading(alt, f"Alternative {k}", console)


def render_question_list(rows: list[tuple[str, str, str, str]], console: Console) -> None:
    """``(assignment, id, kind, title)`` rows as one table."""
    table = Table(title="theory questions")
    for col in ("assignment", "id", "kind", "question"):
        table.add_column(col)
    for assignment, qid, kind, title in rows:
        table.add_row(assignment, qid, Text(kind, style="green" if kind == "numeric" else "yellow"),
                      title)
    console.print(table)
