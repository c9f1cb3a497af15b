"""A cell's (or a script's) top-level statements, each to be compiled and run alone.

A syntax error costs only the top-level block it is in: the code before and after it
is parsed again on its own, so a Python 2 ``print "x"`` on line 40 does not stop the
imports and the model on lines 1-39 (Python itself would run none of the file).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from grader.build_worker.harness.location import Location

# A line that can start a top-level statement: code at column 0 that does not carry on
# the one before (a closing bracket, `else:`, `except`, a decorator's function).
_CONTINUES = re.compile(r"^(\)|\]|\}|else\b|elif\b|except\b|finally\b|case\b)")


@dataclass
class Statement:
    """One top-level statement: its tree (None when its lines do not parse), the file
    name it is compiled under, where it starts, and its first line for messages."""

    node: ast.stmt | None
    filename: str
    where: Location
    first_line: str
    syntax_error: SyntaxError | None = None


def bound_names(node: ast.stmt) -> set[str]:
    """The module-level names a top-level statement binds (not those its functions
    bind inside themselves)."""
    found: set[str] = set()
    todo: list[ast.AST] = [node]
    while todo:
        item = todo.pop()
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(item.name)
            continue  # their bodies bind locals (or class attributes)
        if isinstance(item, ast.Lambda):
            continue
        if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Store):
            found.add(item.id)
        elif isinstance(item, (ast.Import, ast.ImportFrom)):
            found.update((a.asname or a.name).split(".")[0] for a in item.names
                         if a.name != "*")
        todo.extend(ast.iter_child_nodes(item))
    return found


def _starts_block(line: str) -> bool:
    return bool(line) and not line[0].isspace() and not line.startswith("#") \
        and not _CONTINUES.match(line)


def split(text: str, filename: str, shown_as: str, cell: int | None) -> list[Statement]:
    """The top-level statements of ``text`` in order, with unparsable blocks as
    statements whose ``syntax_error`` is set."""
    lines = text.split("\n")

    def first_line(lineno: int) -> str:
        return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""

    def parse(start: int, end: int) -> list[Statement]:
        """Lines ``start..end-1`` (0-based) as statements; line numbers stay the file's."""
        if start >= end:
            return []
        chunk = "\n" * start + "\n".join(lines[start:end])
        try:
            tree = ast.parse(chunk, filename)
        except (SyntaxError, ValueError) as exc:
            error = exc if isinstance(exc, SyntaxError) else SyntaxError(str(exc))
            bad = min(max((getattr(error, "lineno", None) or end) - 1, start), end - 1)
            block_start = bad
            while block_start > start and not _starts_block(lines[block_start]):
                block_start -= 1
            while block_start > start and lines[block_start - 1].startswith("@"):
                block_start -= 1  # a decorator belongs to the def it decorates
            block_end = bad + 1
            while block_end < end and not _starts_block(lines[block_end]):
                block_end += 1
            where = Location(shown_as, block_start + 1, cell)
            failed = Statement(None, filename, where, first_line(block_start + 1), error)
            return parse(start, block_start) + [failed] + parse(block_end, end)
        return [Statement(node, filename, Location(shown_as, node.lineno, cell),
                          first_line(node.lineno)) for node in tree.body]

    return parse(0, len(lines))
