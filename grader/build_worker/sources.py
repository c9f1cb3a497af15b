"""The build worker's view of a submission's files: each is run once per set of module
settings, and what a run leaves (its functions, the models it built) serves every task
that names that file.

A script runs under the execute-and-capture harness (grader/build_worker/harness):
one top-level statement at a time, nothing trained, nothing downloaded, a failing
statement reported while the rest go on. So a script that trains at top level, or
whose first line imports something the grader lacks, still yields the builder the
template asks for, and, when there is none, the models its top-level code built.
A notebook's functions come from the definitions the parent filtered out of it (run
the same way, so an import the grader lacks, `google.colab`, costs only its line);
only when a task's function is not among them is the whole notebook run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.protocol import BuildJob, BuildResult

# Of a job's time limit, what one top-level statement may take: the rest is for the
# statements after it (the worker restarts the whole file when the limit is spent).
STATEMENT_SHARE = 0.8
# A run that builds more models than this is a loop gone wild; the first are enough.
MAX_CAPTURED = 20


class Namespace:
    """A run's module namespace read as a module: ``getattr`` for a function, and a set
    attribute (the spec's module globals) lands where the file's functions read it."""

    def __init__(self, names: dict[str, Any]):
        object.__setattr__(self, "_names", names)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._names[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._names[name] = value


def names_of(module: Any) -> dict[str, Any]:
    """The names a module, or a run's Namespace, defines. (Not a method of Namespace:
    a student's function of that name must stay reachable as an attribute.)"""
    return module._names if isinstance(module, Namespace) else vars(module)


class Sources:
    def __init__(self, out_dir: Path, scratch: Path):
        self.out_dir = out_dir
        self.scratch = scratch
        self._runs: dict[tuple, Any] = {}  # (path, settings) -> RunReport
        self._saved: dict[tuple, list[dict[str, Any]]] = {}  # run key -> captured records
        # (model id, example shape) -> a torch module's record for that input
        self._exports: dict[tuple, dict[str, Any]] = {}
        self._told: set[tuple] = set()  # runs whose failures and notes a task has reported

    # ------------------------------------------------------------------ modules

    def module(self, job: BuildJob) -> Any:
        """What the task's function is looked up in: a filtered notebook's definitions
        (imported; an exception here fails the file's tasks), or the namespace a script's
        run under the harness left, with the task's module globals as its settings."""
        return Namespace(self.run(job, job.module_path, job.file).namespace)

    def file_module(self, path: str, shown_as: str) -> Any:
        """A file a check names (a Grad-CAM function's), with no module settings."""
        job = BuildJob(id="", file=shown_as, module_path=path, function="")
        return Namespace(self.run(job, path, shown_as).namespace)

    def run(self, job: BuildJob, path: str, shown_as: str) -> Any:
        """The harness run of ``path`` (a script, or a notebook as a whole) under the
        job's module globals, once per file and settings."""
        from grader.build_worker.harness import Source, run_source

        key = _key(path, job)
        if key not in self._runs:
            source = (Source.notebook(path, shown_as) if path.lower().endswith(".ipynb")
                      else Source.script(path, shown_as))
            self._runs[key] = run_source(
                source, dict(job.globals), scratch=self.scratch,
                statement_timeout_s=max(1.0, job.build_timeout_s * STATEMENT_SHARE),
                max_models=MAX_CAPTURED)
        return self._runs[key]

    def tell(self, job: BuildJob, path: str, result: BuildResult) -> BuildResult:
        """Adds what the run of ``path`` met (statements that raised, the stand-ins used)
        to the first result of a task that used it; the parent shows them per task."""
        key = _key(path, job)
        if key not in self._runs or key in self._told:
            return result
        self._told.add(key)
        report = self._runs[key]
        result.run_failures += [explained(f) for f in report.failures]
        result.run_notes += list(report.notes)
        return result

    def failures(self, job: BuildJob, path: str) -> list[str]:
        """What failed when the run of ``path`` the job used ran, explained."""
        report = self._runs.get(_key(path, job))
        return [explained(f) for f in report.failures] if report else []

    # ------------------------------------------------------------------ capture

    def captured(self, job: BuildJob, model_facts: Any) -> tuple[list[dict[str, Any]], str]:
        """Every model the run of the task's whole file built, saved for the parent to
        match and the verify worker to score, with where it came from; and the path of
        the file that was run. Keras models are saved as .keras once per run; a PyTorch
        module is exported per example input (the task's input shape), since one run
        serves tasks of several input shapes."""
        path = job.source_path or job.module_path
        report = self.run(job, path, job.file)
        key = _key(path, job)
        if key not in self._saved:
            run_index = len(self._saved)
            records = []
            for index, captured in enumerate(report.models):
                record = {"name": captured.name, "run": captured.run,
                          "where": _where(captured), "events": captured.event_kinds,
                          "framework": captured.framework,
                          # One module exported for two input shapes is still one model.
                          "model_id": f"run{run_index}-model{index}"}
                if captured.framework == "keras":
                    self._save_keras(captured, record, model_facts)
                records.append(record)
            self._saved[key] = records
        records = []
        for index, record in enumerate(self._saved[key]):
            if record["framework"] == "torch":
                record = self._torch_record(report.models[index].model, record,
                                            example_shapes(job))
            records.append(record)
        return records, path

    def _save_keras(self, captured: Any, record: dict[str, Any], model_facts: Any) -> None:
        target = self.out_dir / f"{record['model_id']}.keras"
        try:
            record["facts"] = model_facts(captured.model)
            captured.model.save(target)
        except Exception as exc:  # an unbuilt or unsaveable model: said, not used
            record["unusable"] = f"{type(exc).__name__}: {exc}"[:300]
            return
        record["model_path"] = str(target.resolve())

    def _torch_record(self, model: Any, base: dict[str, Any],
                      shapes: list[tuple[int, ...]]) -> dict[str, Any]:
        """The record of a captured torch module for the first example shape it runs
        on, exported once per shape (the same module may serve several tasks)."""
        misfits = []
        for shape in shapes:
            cache = (base["model_id"], shape)
            if cache not in self._exports:
                self._exports[cache] = _export_captured(model, base, shape, self.out_dir)
            record = self._exports[cache]
            if not record.get("misfit"):
                return record
            misfits.append(record["unusable"])
        return {**base, "misfit": True,
                "unusable": "it fails on this task's input: " + "; ".join(misfits)}


def example_shapes(job: BuildJob) -> list[tuple[int, ...]]:
    """The example inputs a torch module is exported on, batch of one: the task's input
    shape, and for a Keras task's image shape (written channels-last, as CS 577's
    [32, 32, 3], whose text allows PyTorch) the channels-first one PyTorch expects."""
    shape = tuple(int(d) for d in job.input_shape or [])
    shapes = [(1, *shape)]
    if job.framework != "torch" and len(shape) == 3:
        shapes.append((1, shape[2], shape[0], shape[1]))
    return shapes


def export_torch(model: Any, shape: tuple[int, ...], target: Path) -> dict[str, Any]:
    """Saves a torch module with torch.export on a zero example of ``shape`` and returns
    the facts read from the exported program (the verify worker's reading).

    The module is exported in eval mode (dropout off, batch norm on its running
    statistics), as it would be used to predict, then put back in the mode it was in.
    Raises ``Misfit`` when the module fails on the example; any other exception means
    torch.export could not capture it."""
    import torch

    from grader.verify_worker.torch_facts import program_facts, torch_module_facts

    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    example = torch.zeros(shape, device=device)
    training = model.training
    model.eval()
    try:
        try:
            with torch.no_grad():
                output = model(example)
        except Exception as exc:
            raise Misfit(f"{shape}: {type(exc).__name__}: {exc}"[:300]) from exc
        out_shape = [int(d) for d in output.shape] if hasattr(output, "shape") else None
        program = torch.export.export(model, (example,))
        torch.export.save(program, str(target))
        try:
            return program_facts(program, list(shape), out_shape)
        except Exception:  # only used to choose; the verify worker reads the file again
            return torch_module_facts(model, out_shape)
    finally:
        model.train(training)


class Misfit(Exception):
    """A torch module that fails on an example input: not this task's model."""


def _export_captured(model: Any, base: dict[str, Any], shape: tuple[int, ...],
                     out_dir: Path) -> dict[str, Any]:
    record = dict(base)
    target = out_dir / f"{base['model_id']}-{'x'.join(map(str, shape[1:]))}.pt2"
    try:
        record["facts"] = export_torch(model, shape, target)
    except Misfit as exc:
        record.update(misfit=True, unusable=str(exc))
        return record
    except Exception as exc:  # torch.export cannot capture it: said, not used
        record["unusable"] = (f"torch.export could not capture it on an input of shape "
                              f"{shape} ({type(exc).__name__}: {exc})")[:400]
        return record
    record["model_path"] = str(target.resolve())
    return record


def _where(captured: Any) -> str:
    return captured.built_at.describe() if captured.built_at else str(captured.first_seen)


def _key(path: str, job: BuildJob) -> tuple:
    """A run is one file under one set of module settings."""
    return path, tuple(sorted((name, repr(value)) for name, value in job.globals.items()))


def explained(failure: Any) -> str:
    """A top-level statement that failed, with what to do about it where the cause is
    the grader's setting (no network, a module it lacks, a time limit), not a bug."""
    text = failure.describe()
    if failure.kind == "timeout":
        return (f"{text}; long-running top-level code (training, loops over data) belongs "
                "under `if __name__ == \"__main__\":`, which the grader does not run")
    if failure.error == "ModuleNotFoundError":
        from grader.build_worker.compat import describe_missing_import

        name = failure.message.split("'")[1] if failure.message.count("'") >= 2 else ""
        return f"{text}; {describe_missing_import(name)}" if name else text
    if failure.error in ("NoNetwork", "ConnectionError", "URLError", "HTTPError"):
        return (f"{text}; the grader has no network: data and weights a task needs are "
                "given to it, so move downloads under `if __name__ == \"__main__\":`")
    return text
