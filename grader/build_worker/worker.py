"""The build worker: the only process that runs student code.

Started by grader/parent/sandbox.py in a scratch copy of the submission, with a scrubbed
environment and an address-space limit. For each job it imports the entry file
(once per file), sets the spec's globals, calls the builder, and saves the returned
model as ``<out>/<task>.keras``. It also computes the model's facts here, but those
are only used when the verify worker cannot load the file (they are "unverified":
student code ran in this process and could have forged them).

Usage: python -m grader.build_worker.worker OUT_DIR --jobs-fd N --events-fd M
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from grader import registry
from grader.build_worker.probes import capture_module
from grader.build_worker.sources import Namespace, Sources, names_of
from grader.build_worker.student_errors import call_repr, describe_exception
from grader.protocol import (
    FILTERED_SUFFIX,
    BuildJob,
    BuildResult,
    BuildState,
    EventWriter,
    read_jobs,
)


def _resolve(module: Any, dotted: str) -> Any:
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _hook(name: str) -> Any:
    """The build hook of check ``name`` (grader/registry.py), or None. A hook is called
    after the model is saved as ``hook(model, check_spec, load_function, out_dir,
    task_id)`` and returns a JSON-able record, which the verify worker's check finds in
    ``ctx.notes[name]``. Nothing in it is trusted: the verify side recomputes what
    scores."""
    kind = registry.CHECKS.get(name)
    if kind is None or kind.build_hook is None:
        return None
    try:
        return registry.load(kind.build_hook)
    except (ImportError, AttributeError):
        return None


def _function_loader(job: BuildJob, check: dict[str, Any], sources: Sources):
    """``load_function(name)`` for a hook: the name from the check's file (default: the
    task's entry file), run once in this worker like the entry file."""

    def load_function(name: str) -> Any:
        path = check.get("file") or job.module_path
        filtered = path[: -len(".py")] + FILTERED_SUFFIX if path.endswith(".py") else ""
        if not os.path.exists(path) and filtered and os.path.exists(filtered):
            # The spec names the .py form; the student handed in the notebook form,
            # which submission.prepare() filtered into this module.
            path = filtered
        if path == job.module_path:
            return _resolve(sources.module(job), name)
        return _resolve(sources.file_module(path, check.get("file") or path), name)

    # The file as the submission names it, for a hook's message when the name is missing.
    load_function.file = check.get("file") or job.file
    return load_function


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--jobs-fd", type=int, required=True)
    parser.add_argument("--events-fd", type=int, required=True)
    args = parser.parse_args(argv)
    events = EventWriter(args.events_fd)
    out_dir = Path(args.out_dir)

    # Import the framework before any student code, so its start-up is not charged to
    # the student's time limit, and so a student patch of keras cannot precede it.
    import keras  # noqa: F401

    from grader.build_worker.compat import install
    from grader.verify_worker.facts import model_facts

    # Keras 2 spellings work, each said once as a note (a note is not a failure).
    compat = install()
    noted = 0

    sys.path.insert(0, os.getcwd())  # student helper modules next to the entry file
    sources = Sources(out_dir, out_dir.parent / "harness")
    modules: dict[tuple, Any] = {}
    import_errors: dict[tuple, BuildResult] = {}
    events.send("ready", pid=os.getpid())
    for raw in read_jobs(args.jobs_fd):
        job = BuildJob.from_wire(raw)
        # A file is run once per set of module settings (practical2's MODEL_NUMBER).
        path = (job.module_path, repr(sorted(job.globals.items())))
        if job.kind == "function" and hasattr(capture_module(job.probe), "run"):
            # A script (a Streamlit app) runs when imported: its probe runs it instead.
            events.send("start", job=job.id, phase="call")
            events.send("done", job=job.id, result=_run_script(job, out_dir).to_wire())
            continue
        if path not in modules and path not in import_errors:
            events.send("start", job=job.id, phase="import")
            try:
                modules[path] = sources.module(job)
            except BaseException as exc:  # SystemExit and friends fail this file, not us
                if isinstance(exc, KeyboardInterrupt):
                    raise
                import_errors[path] = _described(exc, job.call(), f"importing {job.file}")
        if path in import_errors:
            events.send("done", job=job.id, result=import_errors[path].to_wire())
            continue
        events.send("start", job=job.id, phase="call")
        if job.kind == "function":
            result = _call_function(job, modules[path], out_dir)
        else:
            result = _build_one(job, modules[path], out_dir, model_facts, sources)
        ran = job.source_path or job.module_path
        if result.state not in (BuildState.BUILT, BuildState.CALLED, BuildState.CAPTURED):
            # The task failed: what failed at the file's top level may be why.
            before = sources.failures(job, ran) or sources.failures(job, job.module_path)
            if before:
                result.message += f"; running the file first: {'; '.join(before[:3])}"
        result = sources.tell(job, job.module_path, sources.tell(job, ran, result))
        # The Keras 2 notes this job's code (its file's import, its call) gave rise to.
        seen = compat.notes()
        result.run_notes = [*seen[noted:], *result.run_notes]
        noted = len(seen)
        events.send("done", job=job.id, result=result.to_wire())
    return 0


def _described(exc: BaseException, call: dict[str, Any], during: str,
               what: str = "the model") -> BuildResult:
    """A failed build for an exception student code raised (grader/build_worker/
    student_errors.py says where, what and the fix)."""
    return BuildResult.from_wire(describe_exception(exc, call, during, what))


def _arguments(call: dict[str, Any]) -> tuple[tuple[list, dict], BuildResult | None]:
    """The call's arguments with their markers read back (grader/build_worker/probes),
    or the failed result when that fails: a fixture file or a grader factory at fault
    is the grader's problem, and must not read as the student's error."""
    from grader.build_worker.probes import resolve

    try:
        return ([resolve(a) for a in call["args"]],
                {k: resolve(v) for k, v in call["kwargs"].items()}), None
    except Exception as exc:
        return ([], {}), BuildResult(
            BuildState.ERROR, f"{call['file']}: the grader could not prepare the arguments "
            f"of {call_repr(call)} ({type(exc).__name__}: {exc}); this is not your code's "
            "fault: report it to the course staff")


def _call_builder(job: BuildJob, call: dict[str, Any], module: Any, what: str
                  ) -> tuple[Any, BuildResult | None]:
    """Calls the task's function as ``call`` describes (its args and kwargs) in the
    student's module: (what it returned, None), or (None, the failed result) when it is
    missing, raises or returns None. ``what`` names the object it should return."""
    said = call_repr(call)
    function_task = job.kind == "function"
    # A model is "the keras.Model"; a function's return is named by its probe in full.
    what = what if function_task else f"the {what}"
    try:
        builder = _resolve(module, job.function)
    except AttributeError:
        return None, BuildResult(BuildState.ERROR, f"{job.file}: no function {job.function!r}; "
                                 f"define {job.function}() as the template does")
    for name, value in job.globals.items():
        setattr(module, name, value)
    _seed(job.seed)
    arguments, failed = _arguments(call)
    if failed is not None:
        return None, failed
    try:
        model = builder(*arguments[0], **arguments[1])
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None, _described(exc, call, said, what)
    if model is None:
        example = "" if function_task else " you built (for example `return model`)"
        return None, BuildResult(BuildState.NOT_IMPLEMENTED,
                                 f"{job.file}: {said} returned None; return {what}{example}")
    return model, None


def _seed(seed: int) -> None:
    """The same start for every call: a model's initial weights, and with them what a
    student's training or visual function makes of it, come out the same at a regrade."""
    import keras

    keras.utils.set_random_seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def _call_function(job: BuildJob, module: Any, out_dir: Path) -> BuildResult:
    """A task that is not a model builder (grader/build_worker/probes): calls the
    function once per call the probe prepared and saves what its capture makes of the
    returns."""
    from grader.build_worker.probes import ProbeMismatch, raised_record, save_outputs

    renamed = None if _defines(module, job.function) else _renamed(module, job.function)
    if renamed is not None:
        # The same words in another order (f1_macro for macro_f1): plainly the function.
        job = BuildJob(**{**vars(job), "function": renamed})
    returned, raised = [], {}
    for index, planned in enumerate(job.calls):
        call = {**job.call(), "args": planned["args"], "kwargs": planned["kwargs"]}
        if planned.get("raises"):
            # The contract says this call raises (never the first call, which found the
            # function): what it raised, or that it returned, goes to the parent's judge.
            arguments, failed = _arguments(call)
            if failed is not None:
                return failed
            try:
                _resolve(module, job.function)(*arguments[0], **arguments[1])
                raised[f"raised_{index}"] = raised_record(None)
            except (NotImplementedError, SystemExit, MemoryError) as exc:
                return _described(exc, call, call_repr(call), job.returns)
            except Exception as exc:
                raised[f"raised_{index}"] = raised_record(exc)
            continue
        value, failed = _call_builder(job, call, module, job.returns)
        if failed is not None:
            return failed
        returned.append(value)
        last = call  # the messages below name a call that returned
    target = out_dir / f"{job.id}.outputs.npz"
    try:
        save_outputs(target, {**capture_module(job.probe).capture(returned, job.probe_params),
                              **raised})
    except ProbeMismatch as exc:
        # The capture judges the returns together: with several calls, which one was
        # off is not known here, so the message names the function, not a call.
        said = call_repr(last) if len(returned) == 1 else job.function
        return BuildResult(BuildState.FAILED, f"{job.file}: {said} {exc}")
    except Exception as exc:  # iterating a student's dataset runs student code
        return _described(exc, last, f"reading what {call_repr(last)} returned", job.returns)
    result = BuildResult(BuildState.CALLED, outputs_path=str(target.resolve()))
    if renamed is not None:
        result.run_notes.append(f"{job.file}: no function named as the template does; "
                                f"graded {renamed}(), the same words in another order")
    return result


def _renamed(module: Any, wanted: str) -> str | None:
    """The one function the student's file defines whose name has the same words as
    ``wanted`` in another order, or None."""
    import types

    names = names_of(module)
    own = names.get("__name__")
    words = sorted(w for w in wanted.lower().split("_") if w)
    found = [name for name, value in names.items()
             if isinstance(value, types.FunctionType) and value.__module__ == own
             and sorted(w for w in name.lower().split("_") if w) == words]
    return found[0] if len(found) == 1 else None


def _run_script(job: BuildJob, out_dir: Path) -> BuildResult:
    """A function task whose entry file is a script: the probe's ``run(script, calls,
    params, scratch)`` runs it once per call (the calls' kwargs, markers read back) and
    returns one record per call, which its capture turns into the outputs."""
    from grader.build_worker.probes import ProbeMismatch, save_outputs

    module = capture_module(job.probe)
    calls = []
    for planned in job.calls:
        (_, kwargs), failed = _arguments({**job.call(), **planned})
        if failed is not None:
            return failed
        calls.append(kwargs)
    target = out_dir / f"{job.id}.outputs.npz"
    try:
        pages = module.run(job.module_path, calls, job.probe_params, out_dir / f"{job.id}.run")
        save_outputs(target, module.capture(pages, job.probe_params))
    except ProbeMismatch as exc:
        return BuildResult(BuildState.FAILED, f"{job.file}: {exc}")
    except BaseException as exc:  # student code runs inside the script
        if isinstance(exc, KeyboardInterrupt):
            raise
        return _described(exc, job.call(), f"running {job.file}", job.returns)
    return BuildResult(BuildState.CALLED, outputs_path=str(target.resolve()))


def _build_torch(job: BuildJob, model: Any, out_dir: Path) -> BuildResult:
    """A PyTorch model: saved with torch.export (a graph and weights, no Python
    classes), which the verify worker loads without the student's code."""
    import torch

    from grader.verify_worker.torch_facts import program_facts, torch_module_facts

    said = call_repr(job.call())
    if not isinstance(model, torch.nn.Module):
        return BuildResult(BuildState.ERROR, f"{job.file}: {said} returned "
                           f"{type(model).__name__}, not a torch.nn.Module; return the model "
                           "object")
    example = torch.zeros(1, *(job.input_shape or []))
    try:
        with torch.no_grad():
            output = model.eval()(example)
        shape = [int(d) for d in output.shape]
    except Exception as exc:
        return BuildResult(BuildState.ERROR, f"{job.file}: the model from {said} fails on an "
                           f"input of shape {tuple(example.shape)} ({type(exc).__name__}: "
                           f"{exc}); check the layer sizes")
    target = out_dir / f"{job.id}.pt2"
    try:
        program = torch.export.export(model, (example,))
        torch.export.save(program, str(target))
    except Exception as exc:
        return BuildResult(BuildState.BUILT, facts=torch_module_facts(model, shape),
                           unexportable=(f"torch.export failed ({type(exc).__name__}: "
                                         f"{exc})"[:500]))
    try:
        # The same reading as the verify worker's; these facts are only shown where the
        # saved program cannot be verified, so a graph it cannot read falls back.
        facts = program_facts(program, list(example.shape), shape)
    except Exception:
        facts = torch_module_facts(model, shape)
    return BuildResult(BuildState.BUILT, model_path=str(target.resolve()), facts=facts)


def _build_one(job: BuildJob, module: Any, out_dir: Path, model_facts: Any,
               sources: Sources) -> BuildResult:
    torch_task = job.framework == "torch"
    if job.pin is not None:
        # A pinned name may be a model a notebook's cells make: run the file whole.
        whole = Namespace(sources.run(job, job.source_path or job.module_path,
                                      job.file).namespace)
        model, failed = _pinned(job, whole)
    elif job.capture and not _defines(module, job.function):
        # No builder to call: the file as handed in (a script, a notebook of cells) is
        # run whole and every model it built (Keras or PyTorch) goes to the parent to
        # match to tasks.
        return _captured(job, sources, model_facts)
    elif job.capture and (why := _other_signature(job, module)):
        # A builder of the template's name that takes other arguments (a notebook's
        # build_model(input_shape, num_classes)): the models the file built instead.
        result = _captured(job, sources, model_facts)
        result.run_notes.append(f"{job.file}: {job.function}{why}, not the template's "
                                f"{call_repr(job.call())}; graded the models the file built")
        return result
    else:
        model, failed = _call_builder(job, job.call(), module,
                                      "torch.nn.Module" if torch_task else "keras.Model")
    if failed is not None:
        return failed
    if torch_task:
        return _build_torch(job, model, out_dir)
    import keras

    said = call_repr(job.call())
    if not isinstance(model, keras.Model):
        return BuildResult(BuildState.ERROR, f"{job.file}: {said} returned "
                           f"{type(model).__name__}, not a keras.Model; return the model "
                           "object itself")
    try:
        if not model.built and job.input_shape:
            # An unbuilt Sequential has no weights yet; give it the spec's input shape.
            model.build((None, *job.input_shape))
        facts = model_facts(model)
    except Exception as exc:
        from grader.build_worker.compat import explain_unsaveable

        cause = explain_unsaveable(exc, model)
        why = (f": {cause}" if cause else f" ({type(exc).__name__}: {exc}); if it has no "
               "Input layer, give it one (keras.Input(shape)) so its layers are built")
        return BuildResult(BuildState.ERROR, f"{job.file}: the model from {said} cannot be "
                           f"inspected{why}")
    target = out_dir / f"{job.id}.keras"
    try:
        model.save(target)
    except Exception as exc:
        from grader.build_worker.compat import explain_unsaveable

        cause = explain_unsaveable(exc, model)
        why = f": {cause}" if cause else (f" ({type(exc).__name__}: {exc}); build it from "
                                          "Keras layers")
        return BuildResult(BuildState.ERROR, f"{job.file}: the model from {said} cannot be "
                           f"saved as .keras{why}", facts=facts)
    notes: dict[str, Any] = {}
    for name, check in job.checks.items():
        hook = _hook(name)
        if hook is None:
            continue
        try:
            notes[name] = hook(model, check, _function_loader(job, check, sources),
                               str(out_dir), job.id)
        except BaseException as exc:  # student code ran inside the hook
            if isinstance(exc, KeyboardInterrupt):
                raise
            notes[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return BuildResult(BuildState.BUILT, model_path=str(target.resolve()), facts=facts,
                       notes=notes)



def _defines(module: Any, dotted: str) -> bool:
    try:
        _resolve(module, dotted)
    except AttributeError:
        return False
    return True


def _other_signature(job: BuildJob, module: Any) -> str | None:
    """The builder's own signature when it cannot take the spec's arguments, else None."""
    import inspect

    try:
        function = _resolve(module, job.function)
        signature = inspect.signature(function)
    except (AttributeError, TypeError, ValueError):
        return None
    try:
        signature.bind(*job.args, **job.kwargs)
    except TypeError:
        return str(signature)
    return None


def _pinned(job: BuildJob, module: Any) -> tuple[Any, BuildResult | None]:
    """The model an instructor pinned with --map: a model the file's run left under
    that name, or a function of that name called with the task's arguments."""
    import keras

    try:
        target = _resolve(module, job.pin or "")
    except AttributeError:
        return None, BuildResult(BuildState.ERROR, f"{job.file}: --map names {job.pin!r}, "
                                 "which the file does not define (after running it whole)")
    if isinstance(target, keras.Model) or _is_torch(target):  # a module is callable too
        return target, None
    if not callable(target):
        return None, BuildResult(BuildState.ERROR, f"{job.file}: --map names {job.pin!r}, "
                                 f"a {type(target).__name__}, neither a model nor a function")
    pinned = BuildJob(**{**vars(job), "function": job.pin or ""})
    return _call_builder(pinned, pinned.call(), module, "keras.Model")


def _captured(job: BuildJob, sources: Sources, model_facts: Any) -> BuildResult:
    try:
        records, path = sources.captured(job, model_facts)
    except Exception as exc:  # the notebook cannot be read, say: the grader's message
        return BuildResult(BuildState.ERROR, f"{job.file}: no function {job.function!r} to "
                           f"call, and the file could not be run whole ({exc})")
    usable = [r for r in records if "model_path" in r]
    result = BuildResult(BuildState.CAPTURED, captured=usable,
                         message=f"{job.file}: no function {job.function!r}; graded the "
                                 "models running the file built")
    # A torch module that fails on this task's input is most likely another task's
    # model: said only when the task has nothing else to be graded on.
    result.run_notes += [f"{r['name']} built at {r['where']} could not be kept: "
                         f"{r['unusable']}" for r in records
                         if "unusable" in r and (not r.get("misfit") or not usable)]
    return sources.tell(job, path, result)


def _is_torch(value: Any) -> bool:
    torch = sys.modules.get("torch")  # never imported here for a Keras-only submission
    return torch is not None and isinstance(value, torch.nn.Module)


if __name__ == "__main__":
    sys.exit(main())
