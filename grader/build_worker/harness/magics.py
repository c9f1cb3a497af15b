"""IPython syntax in notebook cells (and in scripts exported from Colab): what runs.

A cell is first parsed as it is; only a cell that is not Python is looked at line by
line, so a ``%`` that is Python's modulo is never mistaken for a magic.

- Line magics and shell lines (``%matplotlib inline``, ``!pip install x``,
  ``files = !ls``) are skipped with a note; the line stays (blank, ``pass`` when
  indented, ``NAME = []`` for an assignment), so line numbers still match the cell.
- ``%%writefile NAME`` (and ``%%file``, ``-a`` to append) writes the cell's body to
  NAME, since later cells may import it; the body does not run.
- ``%%time``, ``%%timeit``, ``%%capture`` and ``%%prun`` run their body once as Python.
- Any other cell magic (``%%bash``, ``%%html``, ...) skips the cell with a note.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass, field

RUN_BODY = {"time", "timeit", "capture", "prun"}
WRITE_FILE = {"writefile", "file"}

_LINE_MAGIC = re.compile(r"^(?P<indent>\s*)(?P<magic>[!%].*)$")
_ASSIGNED_MAGIC = re.compile(r"^(?P<indent>\s*)(?P<target>[A-Za-z_]\w*)\s*=\s*(?P<magic>[!%].*)$")
_HELP = re.compile(r"^(?P<indent>\s*)(\?{1,2}[\w.]+|[\w.]+\?{1,2})\s*$")


@dataclass
class Skipped:
    """A line (or a whole cell) that was not run, and its kind for the note."""

    line: int
    text: str
    kind: str  # "shell command", "line magic %matplotlib", "cell magic %%bash", ...


@dataclass
class CellPlan:
    """What to do with one cell: run ``python`` (None: nothing to run), and/or write
    ``writefile = (name, body, append)``; ``skipped`` says what was left out."""

    python: str | None
    writefile: tuple[str, str, bool] | None = None
    run_body_of: str | None = None  # the cell magic whose body ran, e.g. "time"
    skipped: list[Skipped] = field(default_factory=list)


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def _magic_name(magic: str) -> str:
    if magic.startswith("!"):
        return "shell command"
    word = magic.lstrip("%").split(maxsplit=1)
    return f"line magic %{word[0] if word else ''}"


def strip_line_magics(text: str, first_line: int = 1) -> tuple[str, list[Skipped]]:
    """``text`` with its magic and shell lines made harmless (see the module doc);
    lines keep their numbers. Unchanged when ``text`` already parses."""
    if _parses(text):
        return text, []
    out: list[str] = []
    skipped: list[Skipped] = []
    continued = False  # a `!cmd \` line carries on to the next line
    for number, line in enumerate(text.split("\n"), first_line):
        if continued:
            continued = line.rstrip().endswith("\\")
            out.append("")
            continue
        assigned = _ASSIGNED_MAGIC.match(line)
        plain = _LINE_MAGIC.match(line)
        helpline = _HELP.match(line)
        if assigned:
            magic = assigned["magic"]
            # IPython gives a list of output lines for `x = !cmd`; an empty one here.
            value = "[]" if magic.startswith("!") else "None"
            out.append(f"{assigned['indent']}{assigned['target']} = {value}")
        elif plain:
            magic = plain["magic"]
            out.append(f"{plain['indent']}pass" if plain["indent"] else "")
        elif helpline:
            magic = "?"
            out.append(f"{helpline['indent']}pass" if helpline["indent"] else "")
            skipped.append(Skipped(number, line.strip(), "help line (?)"))
            continue
        else:
            out.append(line)
            continue
        continued = line.rstrip().endswith("\\")
        skipped.append(Skipped(number, line.strip(), _magic_name(magic)))
    return "\n".join(out), skipped


def plan_cell(text: str) -> CellPlan:
    """How to run one notebook cell (see the module doc)."""
    lines = text.split("\n")
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        header = lines[first].strip()[2:]
        words = header.split(maxsplit=1)
        name = words[0] if words else ""
        args = words[1] if len(words) > 1 else ""
        body = "\n".join(lines[first + 1:])
        if name in WRITE_FILE:
            try:
                parts = shlex.split(args)
            except ValueError:
                parts = args.split()
            append = any(p in ("-a", "--append") for p in parts)
            names = [p for p in parts if not p.startswith("-")]
            if names:
                return CellPlan(None, writefile=(names[0], body + "\n", append))
            return CellPlan(None, skipped=[Skipped(first + 1, lines[first].strip(),
                                                   f"cell magic %%{name} without a file name")])
        if name in RUN_BODY:
            # Keep the header's line as a blank one: the body keeps its cell line numbers.
            python, skipped = strip_line_magics("\n" * (first + 1) + body)
            return CellPlan(python, run_body_of=name, skipped=skipped)
        return CellPlan(None, skipped=[Skipped(first + 1, lines[first].strip(),
                                               f"cell magic %%{name}")])
    python, skipped = strip_line_magics(text)
    return CellPlan(python, skipped=skipped)
