"""The verify worker's part of a student-trained accuracy check: each model the
build worker saved after the student's training (grader/build_worker/training.py)
is loaded with ``safe_mode`` and scored on the test split, which the build worker
never had.
"""

from __future__ import annotations

import os
from typing import Any

from grader.data.training_data import AccuracySpec
from grader.verify_worker.training import TrainResult, evaluate_saved_model


def _args_label(args: list) -> str:
    return ", ".join(f"{a:g}" if isinstance(a, float) else repr(a) for a in args)


def score_training(record: dict[str, Any], spec: AccuracySpec,
                   data_dir: str | os.PathLike | None = None,
                   require_gpu: bool = False) -> dict[str, Any]:
    """The accuracy check's result for what the build worker's hook recorded:
    each saved model scored on the test split. A sweep passes when every run
    trained and the best meets the threshold; its ``details`` list every run."""
    if record.get("skipped"):
        return {"state": "skipped", "message": f"skipped: {record['skipped']}"}
    if record.get("grader_error"):
        return {"state": "error", "message": record["grader_error"]}
    runs = record.get("runs")
    if runs is None:
        if not record.get("trained_model_path"):
            state = "not_implemented" if record.get("not_implemented") else "failed"
            return {"state": state, "fraction": 0.0, "message": record.get("error")
                    or "the build worker saved no trained model for this task"}
        result = evaluate_saved_model(record["trained_model_path"], spec, data_dir,
                                      require_gpu=require_gpu)
        result.train_seconds = float(record.get("seconds") or 0.0)
        return _verdict(result, [])
    rows, best = [], None
    for run in runs:
        row: dict[str, Any] = {"args": run["args"]}
        if run.get("trained_model_path"):
            result = evaluate_saved_model(run["trained_model_path"], spec, data_dir,
                                          require_gpu=require_gpu)
            row.update(accuracy=result.accuracy, macro_f1=result.macro_f1, value=result.value,
                       seconds=run.get("seconds"))
            if best is None or result.value > best[1].value:
                best = (run["args"], result)
        else:
            row["error"] = run.get("error") or "no trained model was saved"
        rows.append(row)
    failed = [r for r in rows if "error" in r]
    if failed and len(failed) == len(rows) and all(r.get("not_implemented") for r in runs):
        return {"state": "not_implemented", "fraction": 0.0, "message": failed[0]["error"]}
    if best is None or failed:
        first = failed[0]
        return {"state": "failed", "fraction": 0.0, "details": {"sweep": rows},
                "message": f"the sweep is incomplete: the run with ({_args_label(first['args'])}) "
                           f"failed: {first['error']}"}
    args, result = best
    table = "; ".join(f"({_args_label(r['args'])}) {r['value']:.4f}" for r in rows)
    return _verdict(result, rows, f"best of {len(rows)} runs, ({_args_label(args)}); "
                                  f"{spec.metric} per run: {table}")


def _verdict(result: TrainResult, rows: list, prefix: str = "") -> dict[str, Any]:
    details = result.as_dict()
    if rows:
        details["sweep"] = rows
    message = result.summary()
    return {"state": "passed" if result.passed else "failed",
            "fraction": 1.0 if result.passed else 0.0,
            "message": f"{prefix}: {message}" if prefix else message,
            "hints": [] if result.passed else [
                "the score comes from the weights the training function leaves, measured "
                "on a test split it never sees: check that it trains the model it is given "
                "(or returns the one it trained) and that its loop runs"],
            "details": details}
