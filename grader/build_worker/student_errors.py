"""What a student sees when their code raises in the build worker: the file and
line (or notebook cell) it came from, what happened in plain words, and the fix.

Used by the build worker for imports and builder calls, and by its hooks (visual
functions, student training) for the functions they call, so every failure of
student code reads the same way."""

from __future__ import annotations

import os
import traceback
from typing import Any

from grader.protocol import CELL_MARKER, FILTERED_SUFFIX


def call_repr(job: dict[str, Any]) -> str:
    from grader.probe_contract import label  # markers for arrays and bytes read as their labels

    parts = [label(a) for a in job["args"]] + [f"{k}={label(v)}" for k, v in job["kwargs"].items()]
    return f"{job['function']}({', '.join(parts)})"


def _notebook_cell(path: str, lineno: int) -> str | None:
    """The notebook cell a line of a filtered notebook came from (see submission.py)."""
    cell = None
    try:
        with open(path) as fh:
            for number, line in enumerate(fh, 1):
                if number > lineno:
                    break
                if line.startswith(CELL_MARKER):
                    cell = line[len(CELL_MARKER):].split()[0]
    except OSError:
        return None
    return cell


def _student_frame(tb: Any) -> str:
    """`file line N` (or `notebook.ipynb code cell N`) of the deepest frame in the submission."""
    where = ""
    for frame, lineno in traceback.walk_tb(tb):
        path = frame.f_code.co_filename
        name = _submission_name(path)
        if name is None:
            continue
        if name.endswith(".ipynb"):
            cell = _notebook_cell(path, lineno)
            where = name + (f" code cell {cell}" if cell else "")
        else:
            where = f"{name} line {lineno}"
    return where


def _submission_name(path: str) -> str | None:
    """A file of the submission (the working directory) as the student names it:
    ``nb.ipynb`` for the module a notebook was filtered into; None outside it."""
    if not path or not os.path.abspath(path).startswith(os.getcwd()):
        return None
    name = os.path.relpath(path, os.getcwd())
    return name[: -len(FILTERED_SUFFIX)] + ".ipynb" if name.endswith(FILTERED_SUFFIX) else name


# Libraries a student may import, by import name, as the grader names them. Only those
# importable here are listed in the "missing import" message, so it stays true in any
# installation (the container, a laptop without PyTorch).
def _is_network_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a failed download.

    Keras' ``get_file`` re-raises a URLError as a bare Exception("URL fetch failure
    ..."), so the chain and the message are both looked at.
    """
    import socket
    import urllib.error

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (urllib.error.URLError, socket.gaierror, socket.timeout,
                                ConnectionError)):
            return True
        if str(current).startswith("URL fetch failure"):
            return True
        current = current.__cause__ or current.__context__
    return False


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def describe_exception(exc: BaseException, job: dict[str, Any], during: str,
                       returns: str = "the model", role: str | None = None) -> dict:
    """A failed task's result for an exception raised by student code: where in the
    submission (file and line, or notebook cell), what happened, and the fix.

    ``job`` needs ``file``, ``function``, ``args`` and ``kwargs`` (``memory_mb`` for
    the out-of-memory line); ``returns`` names what the function should return.
    ``role`` names a function that is not a builder (``"the training function"``),
    for the fixes that would otherwise speak of a builder."""
    where = _student_frame(exc.__traceback__)
    if where.startswith(job["file"]):
        origin = where
    else:
        origin = job["file"] + (f" ({where})" if where else "")
    if isinstance(exc, NotImplementedError):
        return {"state": "not_implemented",
                "message": f"{origin}: {call_repr(job)} is not implemented yet "
                           f"(it raises NotImplementedError); write it so it returns {returns}"}
    if isinstance(exc, SystemExit):
        return {"state": "error",
                "message": f"{origin}: {during} called sys.exit({exc.code!r}); "
                           + ("a builder must return the model" if role is None
                              else f"{role} must return {returns}")
                           + ", never end the program"}
    if isinstance(exc, MemoryError):
        return {"state": "error",
                "message": f"{origin}: {during} ran out of memory (the limit is "
                           f"{job.get('memory_mb', '?')} MiB); "
                           + ("build a smaller model or drop data loading from the builder"
                              if role is None else "use smaller batches and fewer copies of "
                              "the arrays")}
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    importing = during.startswith("importing ")
    if _is_network_failure(exc):
        # The build worker has no network by design; say so, instead of sending the
        # student to rerun code that works on their laptop.
        if importing:
            fix = ("the grader has no network, and importing a file must not download or "
                   "train: move data loading and training under "
                   "`if __name__ == \"__main__\":`")
        elif "weights" in job.get("kwargs", {}):
            fix = ("the grader has no network and passes "
                   f"weights={job['kwargs']['weights']!r}: take the pretrained weights "
                   "from the function's `weights` argument (e.g. VGG16(weights=weights)) "
                   "instead of naming \"imagenet\" in the function")
        else:
            fix = (f"the grader has no network: {role or 'a builder'} must not download "
                   "data or weights; load data outside the function, under "
                   "`if __name__ == \"__main__\":`")
        return {"state": "error", "message": f"{origin}: {during} tried to download "
                f"({_first_line(text)}); {fix}", "traceback": traceback.format_exc()[-4000:]}
    if isinstance(exc, EOFError):
        return {"state": "error", "message": f"{origin}: {during} called input(), but "
                "there is no keyboard (stdin) when grading; remove the input() call or "
                "move it under `if __name__ == \"__main__\":`",
                "traceback": traceback.format_exc()[-4000:]}
    fix = {ImportError: "fix the import"}.get(type(exc), "run the function yourself and fix "
                                                        "the error")
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        from grader.build_worker.compat import describe_missing_import

        fix = describe_missing_import(exc.name)
    if isinstance(exc, NameError) and job["file"].endswith(".ipynb"):
        fix = ("from a notebook the grader runs only imports, functions, classes and "
               "constant assignments; compute that value inside the function")
    return {"state": "error", "message": f"{origin}: {during} raised {text}; {fix}",
            "traceback": traceback.format_exc()[-4000:]}


# --------------------------------------------------------------------------- build hooks


class Named:
    """An argument written by its name in a call (``train(model, x_train, ...)``): what
    a hook passes (a model, image arrays) is too large to print."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


def source_file(function: Any) -> str | None:
    """The submission file a student function was defined in, as the student names it
    (``nb.ipynb`` for a filtered notebook); None when it is not in the submission."""
    return _submission_name(getattr(getattr(function, "__code__", None), "co_filename", ""))


def hook_failure(exc: BaseException, job: dict[str, Any], function: Any, returns: str,
                 role: str) -> dict[str, Any]:
    """What a build hook (visual functions, student training) records when student code
    raised: ``error``, the message `describe_exception` writes for a builder, and
    ``not_implemented``. ``job`` is the call as made (``file`` as the spec names it, or
    None); ``function`` is the student's function, or None when loading it failed."""
    if isinstance(exc, KeyboardInterrupt):
        raise exc
    # The function's own file is what the student handed in (a notebook, say, where the
    # spec names the .py form).
    job = {**job, "file": source_file(function) or job.get("file") or "the submission"}
    if function is None:
        if isinstance(exc, AttributeError) and not _student_frame(exc.__traceback__):
            return {"error": f"{job['file']}: no function {job['function']!r}; define "
                             f"{job['function']}() as the template does",
                    "not_implemented": False}
        during = f"importing {job['file']}"
    else:
        during = call_repr(job)
    described = describe_exception(exc, job, during, returns, role)
    return {"error": described["message"],
            "not_implemented": described["state"] == "not_implemented"}
