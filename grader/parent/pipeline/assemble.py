"""Step 6 of grading: assemble each task's check results from what the workers
returned. Checks over model facts are computed here, in the parent, from the facts
the verify worker read from the saved file; a function task's outputs are judged
here against the truth its probe kept."""

from __future__ import annotations

from typing import Any

from grader import registry
from grader.parent import sandbox
from grader.parent.checks.source_facts import with_source_facts
from grader.parent.pipeline.jobs import Plan
from grader.parent.pipeline.outcome import STOPPED, Grading, RunOptions, TaskOutcome, fail_all
from grader.parent.spec import Spec
from grader.protocol import (
    FAILED_STATES,
    BuildJob,
    BuildResult,
    BuildState,
    State,
    VerifyResult,
    VerifyState,
    error,
    normalised,
    not_run,
    skipped,
)


def assemble(spec: Spec, plan: Plan, build: sandbox.Outcome, verify: sandbox.Outcome,
             outcomes: dict[str, TaskOutcome], result: Grading, run: RunOptions) -> None:
    unverified_policy = {t["id"]: spec.limits(t)["unverified"] for t in spec.tasks}
    for job in plan.jobs:
        out = outcomes[job.id]
        task = out.task
        if result.stopped and not _finished(job.id, out.build, build, verify):
            out.checks = fail_all(task, "error", STOPPED)
            continue
        if job.id in build.failures:
            failure = build.failures[job.id]
            if failure.kind == "start":
                result.fatal, result.complete = True, False
                if f"build worker: {failure.message}" not in result.errors:
                    result.errors.append(f"build worker: {failure.message}")
            if failure.kind == "budget":  # not the task's fault: say only why
                out.checks = fail_all(task, "error", failure.message)
                continue
            call = f"{job.function}({', '.join(map(repr, job.args))})"
            out.build = BuildResult(BuildState.ERROR, f"{job.file}: {call}: {failure.message}")
        built = out.build or BuildResult(BuildState.ERROR, "the build worker returned nothing")
        if built.state == BuildState.CALLED:
            out.checks = {"outputs": _judge_outputs(task, job, built, plan.truths[job.id])}
            continue
        if built.state != BuildState.BUILT:
            state = State(built.state) if built.state in FAILED_STATES else State.ERROR
            out.checks = fail_all(task, state, built.message or "the build failed")
            continue
        if job.id in verify.failures:
            failure = verify.failures[job.id]
            if failure.kind == "start":
                result.fatal, result.complete = True, False
                result.errors.append(f"verify worker: {failure.message}")
            out.checks = fail_all(task, "error", failure.message if failure.kind == "budget"
                                  else f"verifying the saved model failed: {failure.message}")
            continue
        if built.unexportable:
            out.verified = False
            own_facts = with_source_facts(built.facts, task, result.submission,
                                           out.entry_file)
            out.checks = _unverified(task, own_facts, built.unexportable, run,
                                     unverified_policy[job.id],
                                     "the PyTorch model could not be saved with torch.export "
                                     "for checking apart from your code")
            continue
        raw = verify.results.get(job.id)
        verified = (VerifyResult.from_wire(raw) if raw else
                    VerifyResult(VerifyState.ERROR, message="no result from the verify worker"))
        if verified.state == VerifyState.VERIFIED:
            out.verified = True
            facts = with_source_facts(verified.facts or {}, task, result.submission,
                                       out.entry_file)
            out.checks = _run_checks(task, facts, verified.checks, run)
        elif verified.state == VerifyState.UNVERIFIED:
            out.verified = False
            own_facts = with_source_facts(built.facts, task, result.submission,
                                           out.entry_file)
            out.checks = _unverified(task, own_facts, verified.message, run,
                                     unverified_policy[job.id])
        else:
            out.checks = fail_all(task, "error", "the saved model could not be loaded: "
                                  + verified.message)


def _finished(job_id: str, built: BuildResult | None, build: sandbox.Outcome,
              verify: sandbox.Outcome) -> bool:
    """Whether every result a task needs was in when grading was stopped."""
    if job_id in build.failures or job_id in verify.results or job_id in verify.failures:
        return True
    # A build that ends the task: a failure, a function's outputs, an unexportable model.
    return built is not None and job_id in build.results and (
        built.state != BuildState.BUILT or bool(built.unexportable))


def _judge_outputs(task: dict[str, Any], job: BuildJob, built: BuildResult,
                   truth: Any) -> dict[str, Any]:
    """The outputs check of a function task, from what the build worker captured."""
    from grader.parent import probes

    check = task["checks"]["outputs"]
    where = f"{job.file}: {job.function}"
    try:
        outputs = probes.load_outputs(built.outputs_path or "")
        result = probes.probe(check["probe"]).judge(outputs, truth, check.get("params", {}),
                                                    where)
    except (OSError, ValueError, KeyError) as exc:
        return error(f"{where}: what the function returned could not be read back "
                     f"({type(exc).__name__}: {exc})")
    return normalised(result)


def align_skipped_checks(outcomes: list[TaskOutcome], run: RunOptions) -> None:
    """Skips, for every student alike, the checks that could not have run here.

    A task whose build failed has every check failed, but a check that `--static`
    or a missing dataset would have skipped anyway must be skipped for this student
    too: otherwise its points count in one student's max_score and not in another's."""
    from grader.data import DatasetMissing, locate

    for out in outcomes:
        for name, res in out.checks.items():
            if registry.CHECKS[name].scored_in != "verify" or \
                    res.get("state") in ("skipped", "not_run"):
                continue
            if (why := run.skip_reason(name)) is not None:
                out.checks[name] = skipped(f"skipped: {why}")
                continue
            dataset = out.task["checks"][name].get("dataset")
            if dataset:
                try:
                    locate(dataset, run.data_dir)
                except DatasetMissing as exc:
                    out.checks[name] = not_run(f"not run: {exc}")


def _run_checks(task: dict[str, Any], facts: dict[str, Any], worker_checks: dict[str, Any],
                run: RunOptions) -> dict[str, dict[str, Any]]:
    """Every check of a verified model: those over facts computed here, the verify
    worker's as it returned them (read back as the protocol's shape)."""
    out = {}
    for name, check_spec in task["checks"].items():
        kind = registry.CHECKS[name]
        if (why := run.skip_reason(name)) is not None:
            out[name] = skipped(f"skipped: {why}")
        elif kind.scored_in == "parent":
            out[name] = registry.load(kind.target)(facts, check_spec, task)
        elif name in worker_checks:
            out[name] = normalised(worker_checks[name])
        else:
            out[name] = skipped(f"skipped: no {name} check available")
    return out


def _unverified_cause(why: str, what: str) -> tuple[str, str]:
    """What kept the model from being verified, in one sentence, and the fix.

    Keras' own safe_mode error is long and ends in advice for whoever loads the file
    (pass safe_mode=False), which is the wrong advice here; say it in the student's terms.
    """
    if "Lambda" in why:
        return ("the model has a Lambda layer, which the grader cannot load without running "
                "your code (Keras safe_mode)",
                "replace the Lambda layer with built-in Keras layers (e.g. "
                "layers.Rescaling(2.0) for `lambda x: x * 2`) so the checks can be scored")
    if what.startswith("the saved model") and any(
            k in why for k in ("Could not locate", "custom", "register", "Unknown layer")):
        return ("the model has a layer class of your own, which the grader cannot load "
                "without running your code (Keras safe_mode)",
                "use only built-in Keras layers so the grader can load your model with "
                "safe_mode=True")
    first = why.strip().splitlines()[0] if why.strip() else ""
    sentence = first.split(". ")[0][:300]
    fix = ("make the model exportable with torch.export (no data-dependent Python control "
           "flow in forward)" if "torch.export" in what else
           "use only built-in Keras layers so the grader can load your model with "
           "safe_mode=True")
    return f"{what} ({sentence})", fix


def _unverified(task: dict[str, Any], facts: dict[str, Any] | None, why: str, run: RunOptions,
                policy: str, what: str = "the saved model could not be loaded with safe_mode"
                ) -> dict[str, dict[str, Any]]:
    """Checks of a model the verify worker could not load without the student's code."""
    cause, fix = _unverified_cause(why, what)
    if facts is None:
        checks = fail_all(task, "unverified", f"unverified: {cause}")
        for res in checks.values():
            res["hints"] = [fix]
        return checks
    checks = _run_checks(task, facts, {}, run)
    for res in checks.values():
        if res["state"] == "skipped":
            continue
        first = res["message"].splitlines()[0] if res["message"] else ""
        said = f"your code's own result, not trusted: {res['state']}: {first}"
        if policy == "trust":
            res["message"] = f"{res['message']} (unverified: {cause})"
            res["unverified"] = True
        else:
            res.update(state="unverified", fraction=0.0, message=f"unverified, 0 points "
                       f"until a person reviews it: {cause}; {said}")
            # The check's own hints and details describe a model nobody verified; one
            # instruction replaces them.
            res["hints"] = [fix]
            # The terminal report says cause and fix once per task, from these.
            res["details"] = {"unverified": {"cause": cause, "fix": fix, "own_result": said}}
    return checks

