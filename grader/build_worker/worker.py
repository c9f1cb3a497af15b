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
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from grader.build_worker.student_errors import call_repr, describe_exception
from grader.parent.probes import probe
from grader.protocol import FILTERED_SUFFIX, EventWriter, read_jobs


def _import(path: str, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _resolve(module: Any, dotted: str) -> Any:
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


BUILD_HOOKS: dict[str, str] = {
    "visual": "grader.build_worker.visual:produce",
    "accuracy": "grader.build_worker.training:student_training_hook",
}
"""Work a check needs done where student code may run, by spec check name, as
"module:function". Each is called after the model is saved as
``hook(model, check_spec, load_function, out_dir, task_id)`` and returns a JSON-able
record; the verify worker's check finds it in ``ctx.notes[check_name]``. Nothing in
it is trusted: the verify side recomputes what scores."""


def _hook(name: str) -> Any:
    module_name, _, attr = BUILD_HOOKS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return getattr(module, attr, None)


def _function_loader(job: dict[str, Any], check: dict[str, Any], modules: dict[str, Any]):
    """``load_function(name)`` for a hook: the name from the check's file (default: the
    task's entry file), imported once in this worker like the entry file."""

    def load_function(name: str) -> Any:
        path = check.get("file") or job["module_path"]
        filtered = path[: -len(".py")] + FILTERED_SUFFIX if path.endswith(".py") else ""
        if not os.path.exists(path) and filtered and os.path.exists(filtered):
            # The spec names the .py form; the student handed in the notebook form,
            # which submission.prepare() filtered into this module.
            path = filtered
        if path not in modules:
            modules[path] = _import(path, "student_" + Path(path).stem.replace("-", "_"))
        return _resolve(modules[path], name)

    # The file as the submission names it, for a hook's message when the name is missing.
    load_function.file = check.get("file") or job["file"]
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

    from grader.verify_worker.facts import model_facts

    sys.path.insert(0, os.getcwd())  # student helper modules next to the entry file
    modules: dict[str, Any] = {}
    import_errors: dict[str, dict] = {}
    events.send("ready", pid=os.getpid())
    for job in read_jobs(args.jobs_fd):
        job_id = job["id"]
        path = job["module_path"]
        if job.get("kind") == "function" and hasattr(probe(job["probe"]), "run"):
            # A script (a Streamlit app) runs when imported: its probe runs it instead.
            events.send("start", job=job_id, phase="call")
            events.send("done", job=job_id, result=_run_script(job, out_dir))
            continue
        if path not in modules and path not in import_errors:
            events.send("start", job=job_id, phase="import")
            try:
                modules[path] = _import(path, "student_" + Path(path).stem.replace("-", "_"))
            except BaseException as exc:  # SystemExit and friends fail this file, not us
                if isinstance(exc, KeyboardInterrupt):
                    raise
                import_errors[path] = describe_exception(exc, job, f"importing {job['file']}")
        if path in import_errors:
            events.send("done", job=job_id, result=import_errors[path])
            continue
        events.send("start", job=job_id, phase="call")
        if job.get("kind") == "function":
            result = _call_function(job, modules[path], out_dir)
        else:
            result = _build_one(job, modules[path], out_dir, model_facts, modules)
        events.send("done", job=job_id, result=result)
    return 0


def _arguments(job: dict[str, Any]) -> tuple[tuple[list, dict], dict | None]:
    """The call's arguments with their markers read back (grader/parent/probes), or the failed
    result when that fails: a fixture file or a grader factory at fault is the grader's
    problem, and must not read as the student's error."""
    from grader.parent.probes import resolve

    try:
        return ([resolve(a) for a in job["args"]],
                {k: resolve(v) for k, v in job["kwargs"].items()}), None
    except Exception as exc:
        return ([], {}), {"state": "error", "message": f"{job['file']}: the grader could not "
                          f"prepare the arguments of {call_repr(job)} ({type(exc).__name__}: "
                          f"{exc}); this is not your code's fault: report it to the course staff"}


def _call_builder(job: dict[str, Any], module: Any, what: str) -> tuple[Any, dict | None]:
    """Calls the task's builder in the student's module: (model, None), or (None, the
    failed result) when it is missing, raises or returns None. ``what`` names the
    object the builder should return, for the messages."""
    call = call_repr(job)
    function_task = job.get("kind") == "function"
    # A model is "the keras.Model"; a function's return is named by its probe in full.
    what = what if function_task else f"the {what}"
    try:
        builder = _resolve(module, job["function"])
    except AttributeError:
        return None, {"state": "not_implemented" if job.get("template_hint") else "error",
                      "message": f"{job['file']}: no function {job['function']!r}; define "
                                 f"{job['function']}() as the template does"}
    for name, value in job.get("globals", {}).items():
        setattr(module, name, value)
    _seed(job.get("seed", 0))
    arguments, failed = _arguments(job)
    if failed is not None:
        return None, failed
    try:
        model = builder(*arguments[0], **arguments[1])
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None, describe_exception(exc, job, call, what)
    if model is None:
        example = "" if function_task else " you built (for example `return model`)"
        return None, {"state": "not_implemented",
                      "message": f"{job['file']}: {call} returned None; return {what}{example}"}
    return model, None


def _seed(seed: int) -> None:
    """The same start for every call: a model's initial weights, and with them what a
    student's training or visual function makes of it, come out the same at a regrade."""
    import keras

    keras.utils.set_random_seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def _call_function(job: dict[str, Any], module: Any, out_dir: Path) -> dict:
    """A task that is not a model builder (grader/parent/probes): calls the function once per
    call the probe prepared and saves what its capture makes of the returns."""
    from grader.parent.probes import ProbeMismatch, raised_record, save_outputs

    returned, raised = [], {}
    for index, call in enumerate(job["calls"]):
        one = {**job, "args": call["args"], "kwargs": call["kwargs"]}
        if call.get("raises"):
            # The contract says this call raises (never the first call, which found the
            # function): what it raised, or that it returned, goes to the parent's judge.
            arguments, failed = _arguments(one)
            if failed is not None:
                return failed
            try:
                _resolve(module, job["function"])(*arguments[0], **arguments[1])
                raised[f"raised_{index}"] = raised_record(None)
            except (NotImplementedError, SystemExit, MemoryError) as exc:
                return describe_exception(exc, one, call_repr(one), job["returns"])
            except Exception as exc:
                raised[f"raised_{index}"] = raised_record(exc)
            continue
        value, failed = _call_builder(one, module, job["returns"])
        if failed is not None:
            return failed
        returned.append(value)
        last = one  # the messages below name a call that returned
    target = out_dir / f"{job['id']}.outputs.npz"
    try:
        save_outputs(target, {**probe(job["probe"]).capture(returned, job["probe_params"]),
                              **raised})
    except ProbeMismatch as exc:
        # The capture judges the returns together: with several calls, which one was
        # off is not known here, so the message names the function, not a call.
        said = call_repr(last) if len(returned) == 1 else job["function"]
        return {"state": "failed", "message": f"{job['file']}: {said} {exc}"}
    except Exception as exc:  # iterating a student's dataset runs student code
        return describe_exception(exc, last, f"reading what {call_repr(last)} returned",
                                  job["returns"])
    return {"state": "called", "outputs_path": str(target.resolve())}


def _run_script(job: dict[str, Any], out_dir: Path) -> dict:
    """A function task whose entry file is a script: the probe's ``run(script, calls,
    params, scratch)`` runs it once per call (the calls' kwargs, markers read back) and
    returns one record per call, which its capture turns into the outputs."""
    from grader.parent.probes import ProbeMismatch, save_outputs

    module = probe(job["probe"])
    calls = []
    for call in job["calls"]:
        (_, kwargs), failed = _arguments({**job, **call})
        if failed is not None:
            return failed
        calls.append(kwargs)
    target = out_dir / f"{job['id']}.outputs.npz"
    try:
        pages = module.run(job["module_path"], calls, job["probe_params"],
                           out_dir / f"{job['id']}.run")
        save_outputs(target, module.capture(pages, job["probe_params"]))
    except ProbeMismatch as exc:
        return {"state": "failed", "message": f"{job['file']}: {exc}"}
    except BaseException as exc:  # student code runs inside the script
        if isinstance(exc, KeyboardInterrupt):
            raise
        return describe_exception(exc, job, f"running {job['file']}", job["returns"])
    return {"state": "called", "outputs_path": str(target.resolve())}


def _build_torch(job: dict[str, Any], model: Any, out_dir: Path) -> dict:
    """A PyTorch model: saved with torch.export (a graph and weights, no Python
    classes), which the verify worker loads without the student's code."""
    import torch

    from grader.verify_worker.facts import torch_module_facts

    call = call_repr(job)
    if not isinstance(model, torch.nn.Module):
        return {"state": "error", "message": f"{job['file']}: {call} returned "
                f"{type(model).__name__}, not a torch.nn.Module; return the model object"}
    example = torch.zeros(1, *(job.get("input_shape") or []))
    try:
        with torch.no_grad():
            output = model.eval()(example)
        shape = [int(d) for d in output.shape]
    except Exception as exc:
        return {"state": "error", "message": f"{job['file']}: the model from {call} fails on "
                f"an input of shape {tuple(example.shape)} ({type(exc).__name__}: {exc}); "
                "check the layer sizes"}
    facts = torch_module_facts(model, shape)
    target = out_dir / f"{job['id']}.pt2"
    try:
        torch.export.save(torch.export.export(model, (example,)), str(target))
    except Exception as exc:
        return {"state": "built", "model_path": None, "facts": facts,
                "unexportable": f"torch.export failed ({type(exc).__name__}: {exc})"[:500]}
    return {"state": "built", "model_path": str(target.resolve()), "facts": facts}


def _build_one(job: dict[str, Any], module: Any, out_dir: Path, model_facts: Any,
               modules: dict[str, Any]) -> dict:
    torch_task = job.get("framework") == "torch"
    model, failed = _call_builder(job, module, "torch.nn.Module" if torch_task else "keras.Model")
    if failed is not None:
        return failed
    if torch_task:
        return _build_torch(job, model, out_dir)
    import keras

    call = call_repr(job)
    if not isinstance(model, keras.Model):
        return {"state": "error",
                "message": f"{job['file']}: {call} returned {type(model).__name__}, not a "
                           "keras.Model; return the model object itself"}
    try:
        if not model.built and job.get("input_shape"):
            # An unbuilt Sequential has no weights yet; give it the spec's input shape.
            model.build((None, *job["input_shape"]))
        facts = model_facts(model)
    except Exception as exc:
        return {"state": "error", "message": f"{job['file']}: the model from {call} cannot "
                f"be inspected ({type(exc).__name__}: {exc}); give it an Input layer"}
    target = out_dir / f"{job['id']}.keras"
    try:
        model.save(target)
    except Exception as exc:
        return {"state": "error", "message": f"{job['file']}: the model from {call} cannot be "
                f"saved as .keras ({type(exc).__name__}: {exc}); build it from Keras layers "
                "and give it an Input layer", "facts": facts}
    notes: dict[str, Any] = {}
    for name, check in job.get("checks", {}).items():
        hook = _hook(name) if name in BUILD_HOOKS else None
        if hook is None:
            continue
        try:
            notes[name] = hook(model, check, _function_loader(job, check, modules), str(out_dir),
                               job["id"])
        except BaseException as exc:  # student code ran inside the hook
            if isinstance(exc, KeyboardInterrupt):
                raise
            notes[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return {"state": "built", "model_path": str(target.resolve()), "facts": facts,
            "notes": notes}


if __name__ == "__main__":
    sys.exit(main())
