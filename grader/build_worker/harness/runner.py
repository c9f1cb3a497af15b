"""``run_source``: one run of a script or notebook under the stand-ins (see __init__)."""

from __future__ import annotations
import __future__

import ast
import builtins
import importlib
import linecache
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from grader.build_worker.harness import datasets, image_folders, pretrained
from grader.build_worker.harness.capture import Hook, Recorder
from grader.build_worker.harness.data_facts import Provenance
from grader.build_worker.harness.environment import Environment
from grader.build_worker.harness.keras_training import KerasTraining
from grader.build_worker.harness.location import Location, StudentFiles
from grader.build_worker.harness.magics import Skipped, plan_cell, strip_line_magics
from grader.build_worker.harness.notes import Notes
from grader.build_worker.harness.output import BoundedText
from grader.build_worker.harness.patches import Patches
from grader.build_worker.harness.report import Failure, RunReport
from grader.build_worker.harness.rewrite import HOOK, rewrite
from grader.build_worker.harness.source import Cell, Source
from grader.build_worker.harness.statements import Statement, bound_names, split

OUTPUT_LIMIT = 65_536  # characters kept of each of stdout and stderr (head and tail)
MAX_MODELS = 100  # models captured in one run; each is held alive until the report goes
TRACEBACK_LIMIT = 4_000  # characters of a failure's traceback kept (its end)
MESSAGE_LIMIT = 500

_MISSING = object()
_active = threading.Lock()


class StatementTimeout(BaseException):
    """Raised into a statement that ran past the time limit. A BaseException, so the
    student's ``except Exception`` does not swallow it; the timer also fires again
    every half second until the statement gives up."""


def _is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (either way round)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    sides = [test.left, *test.comparators]
    return len(sides) == 2 and isinstance(test.ops[0], ast.Eq) \
        and any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides) \
        and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)


def module_name_for(shown_as: str) -> str:
    """The ``__name__`` a run's code sees: ``student_cnn`` for cnn.py, as when the
    build worker imports a file; never ``__main__``."""
    stem = Path(shown_as).stem
    return "student_" + (re.sub(r"\W", "_", stem) or "code")


def run_source(source: Source, overrides: dict[str, Any] | None = None, *, scratch: Path,
               statement_timeout_s: float | None = None, output_limit: int = OUTPUT_LIMIT,
               max_models: int = MAX_MODELS) -> RunReport:
    """Runs ``source`` one top-level statement at a time under the stand-ins and returns
    what it built. See the package docstring for the rules."""
    if not _active.acquire(blocking=False):
        raise RuntimeError("run_source() is already running in this process; runs do not "
                           "nest (the stand-ins are process-wide)")
    try:
        scratch = Path(scratch)
        scratch.mkdir(parents=True, exist_ok=True)
        return _Run(source, dict(overrides or {}), scratch, statement_timeout_s,
                    output_limit, max_models).execute()
    finally:
        _active.release()


class _Run:
    def __init__(self, source: Source, overrides: dict[str, Any], scratch: Path,
                 statement_timeout_s: float | None, output_limit: int, max_models: int
                 ) -> None:
        self.source = source
        self.overrides = overrides
        self.override_names = frozenset(overrides)
        self.scratch = scratch
        self.limit = statement_timeout_s if statement_timeout_s and statement_timeout_s > 0 \
            else None
        self.notes = Notes()
        self.files = StudentFiles([str(source.path.resolve().parent), os.getcwd()])
        self.module_name = module_name_for(source.shown_as)
        settings = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        self.run_label = f"{source.shown_as} run" + (f" with {settings}" if settings else "")
        self.recorder = Recorder(self.files, self.notes, self.module_name, self.run_label,
                                 overrides, max_models)
        self.hook = Hook(overrides, self.recorder, self.notes, self.files)
        self.provenance = Provenance()
        self.environment = Environment(self.notes, self._writefile)
        self.stdout = BoundedText(output_limit, "<stdout>")
        self.stderr = BoundedText(output_limit, "<stderr>")
        self.failures: list[Failure] = []
        self.unbound: dict[str, Location] = {}  # names failed statements would have bound
        self.statements = 0
        self.future_flags = 0
        self.module = ModuleType(self.module_name)
        self.namespace: dict[str, Any] = self.module.__dict__

    # ------------------------------------------------------------------------ the run

    def execute(self) -> RunReport:
        started = time.monotonic()
        ns = self.namespace
        ns["__builtins__"] = builtins
        if self.source.kind == "script":
            ns["__file__"] = str(self.source.path.resolve())
        ns[HOOK] = self.hook
        jupyter = self.environment.notebook_globals()
        # A script may be an export that still calls get_ipython(); only a notebook
        # expects Jupyter's display() without importing it.
        ns.update(jupyter if self.source.kind == "notebook"
                  else {"get_ipython": jupyter["get_ipython"]})
        ns.update(self.overrides)

        patches = Patches()
        saved_streams = (sys.stdout, sys.stderr)
        saved_argv = sys.argv
        saved_cwd = os.getcwd()
        added_paths = [p for p in dict.fromkeys([str(self.source.path.resolve().parent),
                                                 saved_cwd]) if p not in sys.path]
        try:
            self._install(patches)
            patches.set_module(self.module_name, self.module)
            sys.path.extend(added_paths)  # at the end: a student's keras.py shadows nothing
            sys.argv = [self.source.shown_as]
            sys.stdout, sys.stderr = self.stdout, self.stderr
            for cell in self.source.cells:
                self._run_cell(cell)
        finally:
            sys.stdout, sys.stderr = saved_streams
            sys.argv = saved_argv
            for path in added_paths:
                if path in sys.path:
                    sys.path.remove(path)
            try:
                os.chdir(saved_cwd)
            except OSError:
                pass
            pyplot = sys.modules.get("matplotlib.pyplot")
            if pyplot is not None:
                pyplot.close("all")
            patches.restore()
            self.hook.detach()
        self.recorder.finish(ns)
        return RunReport(
            source=self.source.shown_as, overrides=dict(self.overrides),
            models=list(self.recorder.models), failures=self.failures,
            notes=self.notes.render(), namespace=ns, stdout=self.stdout.getvalue(),
            stderr=self.stderr.getvalue(),
            printed={"stdout": self.stdout.total, "stderr": self.stderr.total},
            statements=self.statements, seconds=round(time.monotonic() - started, 3))

    def _install(self, patches: Patches) -> None:
        self.environment.install(patches)
        try:
            import keras
        except ImportError:
            self.notes.add("no keras", "Keras is not installed here; Keras models cannot be "
                           "captured")
            return
        try:
            import tensorflow  # noqa: F401 - its tf.keras modules are stood in for too
        except ImportError:
            pass
        KerasTraining(self.recorder, self.notes, self.files, self.provenance).install(
            patches, keras)
        datasets.install(patches, keras, self.notes)
        pretrained.install(patches, keras, self.notes)
        image_folders.install(patches, keras, self.notes,
                              image_folders.SyntheticFolders(self.scratch, self.notes),
                              self.provenance)

    # ---------------------------------------------------------------------- the cells

    def _cell_filename(self, cell: Cell) -> str:
        if cell.number is None:
            return str(self.source.path.resolve())
        return f"{self.source.shown_as} code cell {cell.number}"

    def _note_skipped(self, cell: Cell, skipped: list[Skipped]) -> None:
        for item in skipped:
            where = Location(self.source.shown_as, item.line, cell.number)
            if item.kind == "shell command":
                text = ("shell commands did not run (the grader installs and runs "
                        f"nothing): `{item.text[:80]}`")
            elif item.kind.startswith("cell magic"):
                text = f"{item.kind}: cell skipped (not Python): `{item.text[:80]}`"
            else:
                text = f"{item.kind} did not run (IPython only): `{item.text[:80]}`"
            self.notes.add(f"skipped {item.kind}", text, where)

    def _run_cell(self, cell: Cell) -> None:
        filename = self._cell_filename(cell)
        self.files.register(filename, self.source.shown_as, cell.number)
        if cell.number is not None:
            # Tracebacks and inspect.getsource() read a cell's lines from here.
            linecache.cache[filename] = (len(cell.text), None,
                                         cell.text.splitlines(keepends=True), filename)
            plan = plan_cell(cell.text)
            self._note_skipped(cell, plan.skipped)
            if plan.writefile is not None:
                name, body, append = plan.writefile
                self._writefile(name, body, append, Location(self.source.shown_as, 1,
                                                             cell.number))
            if plan.run_body_of:
                self.notes.add(f"cell magic {plan.run_body_of}",
                               f"cell magic %%{plan.run_body_of}: its body ran once, as Python",
                               Location(self.source.shown_as, None, cell.number))
            python = plan.python
        else:
            python, skipped = strip_line_magics(cell.text)  # a .py exported from Colab
            self._note_skipped(cell, skipped)
        if python is None:
            return
        for statement in split(python, filename, self.source.shown_as, cell.number):
            self._run_statement(statement)
        if cell.number is not None and "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")  # as Jupyter's inline backend does

    def _writefile(self, name: str, body: str, append: bool, where: Any) -> None:
        """``%%writefile NAME``: the body goes to NAME under the working directory (a
        path outside it is written there under its last part)."""
        target = Path(name)
        if target.is_absolute() or ".." in target.parts:
            target = Path(target.name)
            self.notes.add(f"writefile outside {name}", f"%%writefile {name}: written as "
                           f"{target} in the working directory instead", where)
        path = Path.cwd() / target
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a" if append else "w", encoding="utf-8") as fh:
                fh.write(body)
        except OSError as exc:
            self.notes.add(f"writefile {name}", f"%%writefile {name}: could not write it "
                           f"({exc.strerror or exc})", where)
            return
        importlib.invalidate_caches()
        stale = sys.modules.get(target.stem)
        if stale is not None and getattr(stale, "__file__", None) == str(path):
            del sys.modules[target.stem]  # imported before: the next import reads the new text
        self.notes.add(f"writefile {name}", f"%%writefile {name}: the cell's body was "
                       f"written to {target} (it did not run)", where)

    # ----------------------------------------------------------------- the statements

    def _run_statement(self, statement: Statement) -> None:
        self.statements += 1
        self.recorder.statement = statement.where
        self.recorder.statement_index += 1
        try:
            if statement.node is None:
                assert statement.syntax_error is not None
                raise statement.syntax_error
            body = rewrite(statement.node, self.override_names)
            code = compile(ast.Module(body=body, type_ignores=[]), statement.filename,
                           "exec", flags=self.future_flags, dont_inherit=True)
        except SyntaxError as exc:
            self._fail(statement, exc, "syntax")
            return
        node = statement.node
        if _is_main_guard(node):
            self.notes.add("main guard", "the `if __name__ == \"__main__\":` block did not "
                           f"run (the file runs as module {self.module_name}, not as a "
                           "program)", statement.where)
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                feature = getattr(__future__, alias.name, None)
                self.future_flags |= getattr(feature, "compiler_flag", 0)
        try:
            with self._time_limit():
                exec(code, self.namespace)
        except KeyboardInterrupt:
            raise
        except StatementTimeout as exc:
            self._fail(statement, exc, "timeout",
                       f"still running after {self.limit:g} s; stopped (the statement time "
                       "limit)")
        except SystemExit as exc:
            self._fail(statement, exc, "exit", f"called sys.exit({exc.code!r})")
        except BaseException as exc:
            self._fail(statement, exc, "error")
        finally:
            self._after_statement(statement)

    def _after_statement(self, statement: Statement) -> None:
        try:
            self.recorder.scan(self.namespace)
        except Exception:
            pass
        for name, value in self.overrides.items():
            current = self.namespace.get(name, _MISSING)
            if current is value:
                continue
            try:
                same = bool(current == value)
            except Exception:
                same = False
            self.namespace[name] = value
            if not same:
                self.notes.add(f"override {name}", f"{name} = {value!r} is this run's setting; "
                               "it replaced the file's own assignment", statement.where)

    @contextmanager
    def _time_limit(self) -> Iterator[None]:
        if self.limit is None or threading.current_thread() is not threading.main_thread():
            yield
            return

        def expired(signum: int, frame: Any) -> None:
            raise StatementTimeout()

        outer_left, _ = signal.getitimer(signal.ITIMER_REAL)  # a timer of the worker's own
        previous = signal.signal(signal.SIGALRM, expired)
        started = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, self.limit, 0.5)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if outer_left > 0:
                left = outer_left - (time.monotonic() - started)
                signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))

    # -------------------------------------------------------------------- the failures

    def _student_traceback(self, tb: TracebackType | None) -> TracebackType | None:
        while tb is not None and not self.files.is_student(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        return tb

    def _fail(self, statement: Statement, exc: BaseException, kind: str,
              message: str | None = None) -> None:
        tb = self._student_traceback(exc.__traceback__)
        raised_at = self.files.deepest_in_traceback(tb)
        if kind == "syntax" and isinstance(exc, SyntaxError) and exc.lineno:
            raised_at = Location(self.source.shown_as, exc.lineno, statement.where.cell)
        try:
            text = "".join(traceback.format_exception(type(exc), exc, tb))
        except Exception:
            text = f"{type(exc).__name__}"
        if message is None:
            try:
                message = str(exc.msg if isinstance(exc, SyntaxError) else exc)
            except Exception:
                message = "(the exception could not be printed)"
        if len(message) > MESSAGE_LIMIT:
            message = message[: MESSAGE_LIMIT - 3] + "..."
        follows = None
        if isinstance(exc, NameError) and getattr(exc, "name", None) in self.unbound:
            follows = self.unbound[exc.name]
        self.failures.append(Failure(
            where=statement.where, statement=statement.first_line[:120], kind=kind,
            error=type(exc).__name__, message=message, raised_at=raised_at,
            traceback=text[-TRACEBACK_LIMIT:], follows=follows))
        if statement.node is not None:
            for name in bound_names(statement.node):
                if name not in self.namespace:
                    self.unbound.setdefault(name, statement.where)
