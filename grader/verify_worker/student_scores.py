"""The verify worker's part of a student-trained accuracy check: each model the
build worker saved after the student's training (grader/build_worker/training.py)
is loaded with ``safe_mode`` and scored on the test split, which the build worker
never had.
"""

from __future__ import annotations

import os
from typing import Any

from grader.data.training_data import AccuracySpec
from grader.protocol import CheckResult, State, error, failed, not_run, passed, result
from grader.verify_worker.training import TrainResult, evaluate_saved_model


def _args_label(args: list) -> str:
    return ", ".join(f"{a:g}" if isinstance(a, float) else repr(a) for a in args)


def score_training(record: dict[str, Any], spec: AccuracySpec,
                   data_dir: str | os.PathLike | None = None,
                   require_gpu: bool = False) -> CheckResult:
    """The accuracy check's result for what the build worker's hook recorded:
    each saved model scored on the test split. A sweep passes when every run
    trained and the best meets the threshold; its ``details`` list every run."""
    if record.get("skipped"):
        return not_run(f"not run: {record['skipped']}")
    if record.get("grader_error"):
        return error(record["grader_error"])
    runs = record.get("runs")
    if runs is None:
        if not record.get("trained_model_path"):
            state = State.NOT_IMPLEMENTED if record.get("not_implemented") else State.FAILED
            return result(state, record.get("error")
                          or "the build worker saved no trained model for this task", fraction=0.0)
        scored = evaluate_saved_model(record["trained_model_path"], spec, data_dir,
                                      require_gpu=require_gpu)
        scored.train_seconds = float(record.get("seconds") or 0.0)
        return _verdict(scored, [])
    rows, best = [], None
    for run in runs:
        row: dict[str, Any] = {"args": run["args"]}
        if run.get("trained_model_path"):
            scored = evaluate_saved_model(run["trained_model_path"], spec, data_dir,
                                          require_gpu=require_gpu)
            row.update(accuracy=scored.accuracy, macro_f1=scored.macro_f1, value=scored.value,
                       seconds=run.get("seconds"))
            if best is None or scored.value > best[1].value:
                best = (run["args"], scored)
        else:
            row["error"] = run.get("error") or "no trained model was saved"
        rows.append(row)
    broken = [r for r in rows if "error" in r]
    if broken and len(broken) == len(rows) and all(r.get("not_implemented") for r in runs):
        return result(State.NOT_IMPLEMENTED, broken[0]["error"], fraction=0.0)
    if best is None or broken:
        first = broken[0]
        return failed(f"the sweep is incomplete: the run with ({_args_label(first['args'])}) "
                      f"failed: {first['error']}", details={"sweep": rows}, fraction=0.0)
    args, scored = best
    table = "; ".join(f"({_args_label(r['args'])}) {r['value']:.4f}" for r in rows)
    return _verdict(scored, rows, f"best of {len(rows)} runs, ({_args_label(args)}); "
                                  f"{spec.metric} per run: {table}")


def _verdict(trained: TrainResult, rows: list, prefix: str = "") -> CheckResult:
    details = trained.as_dict()
    if rows:
        details["sweep"] = rows
    message = trained.summary()
    message = f"{prefix}: {message}" if prefix else message
    if trained.passed:
        return passed(message, details, fraction=1.0)
    return failed(message, ["the score comes from the weights the training function leaves, "
                            "measured on a test split it never sees: check that it trains the "
                            "model it is given (or returns the one it trained) and that its "
                            "loop runs"], details, fraction=0.0)
