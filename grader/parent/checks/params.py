"""Parameter counts: trainable, non-trainable and total, exact unless the spec gives a range.

The counts come from the model file as the verify worker loaded it, so a student who
patches ``count_params`` in their own process changes nothing here.
"""

from __future__ import annotations

from typing import Any

from grader.protocol import CheckResult, failed, passed

_KEYS = {"trainable": "trainable_params", "non_trainable": "non_trainable_params",
         "total": "total_params"}


def _fits(want: int | dict[str, int], have: int) -> bool:
    if isinstance(want, int):
        return have == want
    return want.get("min", 0) <= have <= want.get("max", have)


def render_count(want: int | dict[str, int]) -> str:
    """An expected count as a person reads it: 62,350; 10 to 2,000; at least 5."""
    if isinstance(want, int):
        return f"{want:,}"
    lo, hi = want.get("min"), want.get("max")
    if lo is not None and hi is not None:
        return f"{lo:,} to {hi:,}"
    return f"at least {lo:,}" if lo is not None else f"at most {hi:,}"


def check(facts: dict[str, Any], spec: dict[str, Any], task: dict[str, Any]) -> CheckResult:
    good, bad = [], []
    details = {}
    for key, fact in _KEYS.items():
        if key not in spec:
            continue
        have = int(facts[fact])
        details[key] = {"expected": spec[key], "got": have}
        label = key.replace("_", "-")
        if _fits(spec[key], have):
            good.append(f"{label} {have:,}")
        else:
            delta = f" ({have - spec[key]:+,})" if isinstance(spec[key], int) else ""
            bad.append(f"{label} parameters: expected {render_count(spec[key])}, "
                       f"got {have:,}{delta}")
    if not bad:
        return passed("; ".join(good), details=details)
    return failed("\n".join(bad), hints=[
        "parameter counts follow from the layers: fix the architecture differences first; "
        "model.summary() shows the count per layer"], details=details)
