"""Finds a task's entry point in a submission and prepares the files the build worker imports.

Runs in the parent process: it parses source with ``ast`` and never executes it.
Notebooks are reduced to their definitions (imports, functions, classes, constant
assignments) so that top-level training code in a cell never runs when grading.
"""

from __future__ import annotations

import ast
import builtins
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.protocol import CELL_MARKER, FILTERED_SUFFIX

# Files in a submission that the build worker never needs and that can be huge.
_SKIP_COPY = shutil.ignore_patterns(
    "__pycache__", ".git", ".ipynb_checkpoints", "*.keras", "*.h5", "*.npz", "*.npy",
    "*.gz", "*.zip", "*.tar", "data", "datasets",
)
"""A notebook ``nb.ipynb`` is imported from ``nb__grader_defs.py`` in the scratch copy."""


@dataclass
class SkippedCell:
    index: int  # 1-based among the notebook's code cells; the report says "code cell N"
    reason: str
    first_line: str


@dataclass
class SourceFile:
    """One entry file of a submission, as the build worker will import it."""

    relpath: str  # as named in the spec (the candidate that exists)
    module_path: str  # relative to the scratch copy: the file to import
    syntax_error: str | None = None
    skipped_cells: list[SkippedCell] = field(default_factory=list)
    notebook: bool = False
    # The file to run whole when the task's function is not there: the script itself,
    # or the notebook (module_path is then only its definitions).
    source_path: str | None = None


def resolve_entry_file(submission: Path, entry: dict[str, Any]) -> str | None:
    """The first candidate of ``entry.file`` that exists in the submission, or None."""
    candidates = entry["file"] if isinstance(entry["file"], list) else [entry["file"]]
    for name in candidates:
        if (submission / name).is_file():
            return name
    return None


def near_misses(submission: Path, candidates: list[str], limit: int = 3) -> list[str]:
    """Files that are probably the missing entry file under another name or place:
    one folder down (`practical2/cnn.py`), a browser's copy suffix (`cnn (1).py`,
    `cnn-2.py`, `cnn_final.py`), or other capitalisation (`CNN.py`).

    Only the top level and one folder down are looked at: a submission is small.
    """
    found: list[str] = []
    wanted = [(Path(c).stem.lower(), Path(c).suffix.lower()) for c in candidates]
    try:
        paths = [p for p in submission.iterdir()]
        paths += [q for p in paths if p.is_dir() and not p.name.startswith(".")
                  for q in p.iterdir()]
    except OSError:
        return []
    for path in sorted(paths):
        if not path.is_file():
            continue
        stem, suffix = path.stem.lower(), path.suffix.lower()
        for want_stem, want_suffix in wanted:
            if suffix != want_suffix:
                continue
            nested = path.parent != submission
            if (stem == want_stem and (nested or path.name not in candidates)) or \
                    re.fullmatch(re.escape(want_stem) + r"[\s_\-(]+.*", stem):
                found.append(path.relative_to(submission).as_posix())
                break
    return found[:limit]


CODE_SUFFIXES = (".py", ".ipynb")


def code_files(submission: Path) -> list[str]:
    """The .py and .ipynb files of a submission, top level and one folder down, as
    relative paths (the grader's own filtered modules and checkpoints left out)."""
    found = []
    for path in sorted(submission.rglob("*")):
        rel = path.relative_to(submission)
        if len(rel.parts) > 2 or any(p.startswith(".") for p in rel.parts) \
                or "__pycache__" in rel.parts:
            continue
        if path.is_file() and path.suffix.lower() in CODE_SUFFIXES \
                and not path.name.endswith(FILTERED_SUFFIX):
            found.append(rel.as_posix())
    return found


def stand_in_entry(submission: Path, candidates: list[str], lone: bool = True
                   ) -> tuple[str | None, list[str]]:
    """The file to grade in place of a missing entry file, and the other files that
    could have been it: a near miss of its name (`cnn (1).py`, `CNN.py`, one folder
    down), else the only notebook (or only script) when the spec takes that kind, else
    the only code file there is. (None, []) when no file is plainly it. ``lone``: whether
    a file of another name may stand in because it is the only one of its kind."""
    near = near_misses(submission, candidates)
    if near:
        return near[0], near[1:]
    if not lone:
        return None, []
    present = code_files(submission)
    kinds = {Path(c).suffix.lower() for c in candidates}
    for kind in (".ipynb", ".py"):
        of_kind = [p for p in present if p.lower().endswith(kind)]
        if kind in kinds and len(of_kind) == 1:
            return of_kind[0], []
    if len(present) == 1:
        return present[0], []
    return None, []


def entry_candidates(entry: dict[str, Any]) -> list[str]:
    return entry["file"] if isinstance(entry["file"], list) else [entry["file"]]


def _is_constant_expr(node: ast.AST) -> bool:
    """Literals and expressions built only from literals and names: safe to evaluate."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_constant_expr(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is None or _is_constant_expr(k) for k in node.keys) and all(
            _is_constant_expr(v) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return _is_constant_expr(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_constant_expr(node.left) and _is_constant_expr(node.right)
    # Names and attribute chains (`layers = keras.layers`) only alias what exists;
    # _Definitions checks that it does.
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute):
        return _is_constant_expr(node.value)
    return False


def _reads(*nodes: ast.AST | None) -> set[str]:
    return {n.id for node in nodes if node is not None for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _target_names(target: ast.expr) -> set[str] | None:
    """The names a plain assignment target binds; None for `a.b = ...` or `a[0] = ...`."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)):
        names = [_target_names(e) for e in target.elts]
        return None if None in names else set().union(*names)
    return None


# What the filtered module has before any statement of it runs.
_PREDEFINED = set(dir(builtins)) | {"__name__", "__file__", "__doc__", "__spec__",
                                    "__loader__", "__package__", "__builtins__"}


class _Definitions:
    """Decides which top-level statements to keep, in notebook order.

    Imports, functions and classes are kept; an assignment only if its value is
    constant and every name it reads is bound by then, by a kept statement or as a
    builtin. Otherwise `x_train = x_train / 255.0` would be kept while the
    `load_data()` line that binds x_train is not, and importing the filtered
    notebook would raise NameError before any builder could be called.
    """

    def __init__(self) -> None:
        self.defined = set(_PREDEFINED)

    def keep(self, stmt: ast.stmt) -> bool:
        bound = self._binds(stmt)
        if bound is None:
            return False
        self.defined |= bound
        return True

    def _binds(self, stmt: ast.stmt) -> set[str] | None:
        """The names ``stmt`` binds if it is kept, else None."""
        if isinstance(stmt, ast.Import):
            return {(a.asname or a.name).split(".")[0] for a in stmt.names}
        if isinstance(stmt, ast.ImportFrom):
            return {a.asname or a.name for a in stmt.names}
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # Decorators and defaults run when the def does: `def f(epochs=EPOCHS)` after
            # a dropped `EPOCHS = ...` would fail the whole import, not just f.
            args = stmt.args
            names, reads = {stmt.name}, _reads(*stmt.decorator_list, *args.defaults,
                                               *[d for d in args.kw_defaults if d is not None])
        elif isinstance(stmt, ast.ClassDef):
            names = {stmt.name}
            reads = _reads(*stmt.decorator_list, *stmt.bases,
                           *[k.value for k in stmt.keywords])
        elif isinstance(stmt, ast.Assign):
            targets = [_target_names(t) for t in stmt.targets]
            if None in targets or not _is_constant_expr(stmt.value):
                return None
            names, reads = set().union(*targets), _reads(stmt.value)
        elif isinstance(stmt, ast.AnnAssign):
            names = _target_names(stmt.target)
            if names is None or (stmt.value is not None and not _is_constant_expr(stmt.value)):
                return None
            # The annotation is evaluated too, at module level.
            reads = _reads(stmt.value, stmt.annotation)
        else:
            return None
        return names if reads <= self.defined else None


def _is_docstring(stmt: ast.stmt) -> bool:
    """A bare string: a docstring or a comment in quotes, neither kept nor reported."""
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and \
        isinstance(stmt.value.value, str)


_MAGIC = re.compile(r"^\s*[%!]")


def _cell_source(cell: Any) -> str:
    # IPython magics and shell escapes are not Python; blank them so the rest parses
    # and line numbers still match the cell.
    return "\n".join("" if _MAGIC.match(line) else line for line in cell.source.splitlines())


def filter_notebook(path: Path) -> tuple[str, list[SkippedCell]]:
    """Python source holding only the definitions of a notebook's code cells.

    Returns the source and the cells (wholly or partly) left out, each with a reason.
    """
    import nbformat  # deferred: only notebooks need it

    nb = nbformat.read(str(path), as_version=4)
    kept: list[str] = []
    skipped: list[SkippedCell] = []
    definitions = _Definitions()
    code_index = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code_index += 1
        source = _cell_source(cell)
        first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            skipped.append(SkippedCell(code_index, f"syntax error on line {exc.lineno}: "
                                                   f"{exc.msg}", first))
            continue
        keep: list[ast.stmt] = []
        dropped: list[ast.stmt] = []
        for stmt in tree.body:
            if not _is_docstring(stmt):
                (keep if definitions.keep(stmt) else dropped).append(stmt)
        if dropped:
            lines = source.splitlines()
            what = lines[dropped[0].lineno - 1].strip() if dropped[0].lineno <= len(lines) else ""
            reason = ("top-level code not run" if not keep
                      else f"{len(dropped)} top-level statement(s) not run")
            skipped.append(SkippedCell(code_index, reason, what[:80]))
        if keep:
            kept.append(f"{CELL_MARKER}{code_index} ---\n"
                        + ast.unparse(ast.Module(body=keep, type_ignores=[])))
    return "\n\n".join(kept) + "\n", skipped


def prepare(submission: Path, scratch: Path, entry_files: list[str]) -> dict[str, SourceFile]:
    """Copies the submission into ``scratch`` and readies each entry file for import.

    Syntax errors are found here, by parsing, so they are reported with file and line
    without starting a worker.
    """
    shutil.copytree(submission, scratch, ignore=_SKIP_COPY, dirs_exist_ok=True)
    prepared: dict[str, SourceFile] = {}
    for rel in entry_files:
        src = submission / rel
        if rel.endswith(".ipynb"):
            try:
                code, skipped = filter_notebook(src)
            except Exception as exc:  # nbformat raises several kinds for broken JSON
                detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
                stem = rel[: -len(".ipynb")]
                prepared[rel] = SourceFile(
                    rel, rel, notebook=True,
                    syntax_error=f"{rel}: corrupt notebook, not valid notebook JSON "
                                 f"({type(exc).__name__}: {detail}); open it in Jupyter and "
                                 f"save it again (or File > Download as .ipynb), or submit "
                                 f"the code as {stem}.py")
                continue
            module_rel = rel[: -len(".ipynb")] + FILTERED_SUFFIX
            (scratch / module_rel).write_text(code)
            prepared[rel] = SourceFile(rel, module_rel, skipped_cells=skipped, notebook=True,
                                       source_path=rel)
        else:
            error = None
            try:
                ast.parse(src.read_bytes(), filename=rel)
            except SyntaxError as exc:
                error = (f"{rel} line {exc.lineno}: SyntaxError: {exc.msg}; fix it so that "
                         f"`python {rel}` starts")
            prepared[rel] = SourceFile(rel, rel, syntax_error=error, source_path=rel)
    return prepared

# A zip bigger than this unpacked is refused rather than filling a node's disk.
MAX_UNZIPPED_BYTES = 2 * 1024**3


def unpack_zip(zip_path: Path, into: Path) -> Path:
    """Extracts a student's zip safely and returns the folder to grade."""
    with zipfile.ZipFile(zip_path) as zf:
        total = 0
        for info in zf.infolist():
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts:
                raise ValueError(f"{zip_path.name}: member {info.filename!r} points outside "
                                 "the zip; re-zip the submission folder itself")
            total += info.file_size
        if total > MAX_UNZIPPED_BYTES:
            raise ValueError(f"{zip_path.name}: unpacks to {total / 1024**3:.1f} GiB, over the "
                             f"{MAX_UNZIPPED_BYTES / 1024**3:.0f} GiB limit")
        zf.extractall(into)
    # A zip of a folder holds one top-level folder (plus macOS's __MACOSX
    # litter); grade inside it so cnn.py sits where the spec expects it.
    top = [p for p in into.iterdir() if p.name != "__MACOSX" and not p.name.startswith(".")]
    if len(top) == 1 and top[0].is_dir():
        return top[0]
    return into


def place_notebook(notebook: Path, folder: Path, name: str | None) -> Path:
    """A lone notebook as a submission folder: copied into ``folder`` under ``name``
    (the notebook name the spec expects, e.g. cnn.ipynb), or its own name."""
    folder.mkdir()
    shutil.copy2(notebook, folder / (name or notebook.name))
    return folder


def spec_notebook_name(assignment: str) -> str | None:
    """The one .ipynb entry file the assignment's spec names, if exactly one."""
    from grader.parent.spec import SpecError, load_spec

    try:
        spec = load_spec(assignment)
    except SpecError:
        return None  # grader check will say what is wrong with the spec
    names = set()
    for task in spec.tasks:
        files = task["entry"]["file"]
        names.update(f for f in ([files] if isinstance(files, str) else files)
                     if f.endswith(".ipynb"))
    return names.pop() if len(names) == 1 else None
