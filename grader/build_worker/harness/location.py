"""Where in a submission something happened, as the student would look for it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

# The grader package itself is never student code, wherever the submission lies.
_GRADER = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass(frozen=True)
class Location:
    """A line of the submission: ``cnn.py line 21``, ``hw4-2.ipynb code cell 3 line 2``.

    ``cell`` is the notebook's code cell, 1-based among its code cells (markdown cells
    are not counted), as the rest of the grader numbers them. ``function`` is the
    qualified name of the student function the line is in, None at top level.
    """

    file: str
    line: int | None
    cell: int | None = None
    function: str | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.cell is not None:
            parts.append(f"code cell {self.cell}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        return " ".join(parts)

    def describe(self) -> str:
        """``str(self)``, with the function when there is one: ``cnn.py line 21 in
        build_model()``."""
        return str(self) + (f" in {self.function}()" if self.function else "")

    def at_top_level(self) -> Location:
        return Location(self.file, self.line, self.cell)


class StudentFiles:
    """Which code objects are the student's, by the file name they were compiled with.

    The harness compiles a script under its real path and each notebook cell under a
    made-up name (``hw4-2.ipynb code cell 3``); both are registered here with the name
    the student knows. Any other file under the submission's folder (a module the
    student imports, one written by ``%%writefile``) is the student's too.
    """

    def __init__(self, roots: list[str]) -> None:
        self._compiled: dict[str, tuple[str, int | None]] = {}
        self._roots = [os.path.abspath(r) for r in roots]

    def register(self, filename: str, shown_as: str, cell: int | None) -> None:
        self._compiled[filename] = (shown_as, cell)

    def locate(self, filename: str, line: int | None, function: str | None = None
               ) -> Location | None:
        """The student's name for a code location, or None outside the submission."""
        known = self._compiled.get(filename)
        if function in ("<module>", None):
            function = None
        if known is not None:
            return Location(known[0], line, known[1], function)
        if not filename or filename.startswith("<"):
            return None
        path = os.path.abspath(filename)
        if ("site-packages" in path or path.startswith(sys.prefix + os.sep)
                or path.startswith(_GRADER + os.sep)):
            return None  # a library or the grader, even when it sits inside the folder
        for root in self._roots:
            if path.startswith(root + os.sep):
                return Location(os.path.relpath(path, root), line, None, function)
        return None

    def frame_location(self, frame: FrameType) -> Location | None:
        code = frame.f_code
        return self.locate(code.co_filename, frame.f_lineno,
                           getattr(code, "co_qualname", code.co_name))

    def innermost(self, frame: FrameType | None, skip_self: Any = None) -> Location | None:
        """The innermost student line on the stack from ``frame`` outwards. Frames of
        methods running on ``skip_self`` are passed over, so a model subclass's
        ``__init__`` reports the line that called ``Net()``, not ``super().__init__()``."""
        while frame is not None:
            if skip_self is None or frame.f_locals.get("self") is not skip_self:
                where = self.frame_location(frame)
                if where is not None:
                    return where
            frame = frame.f_back
        return None

    def deepest_in_traceback(self, tb: TracebackType | None) -> Location | None:
        """The last student line a traceback passes through: where the student's code
        raised, or called the library that did."""
        found = None
        while tb is not None:
            code = tb.tb_frame.f_code
            where = self.locate(code.co_filename, tb.tb_lineno,
                                getattr(code, "co_qualname", code.co_name))
            if where is not None:
                found = where
            tb = tb.tb_next
        return found

    def is_student(self, filename: str) -> bool:
        return self.locate(filename, None) is not None
