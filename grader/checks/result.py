"""The one shape every check returns, so the report treats them all alike."""

from __future__ import annotations

from typing import Any

CheckResult = dict[str, Any]
"""{"state": passed|failed|skipped|error|unverified|not_implemented, "message": str,
"hints": [str], "details": {...}, "fraction": optional partial credit 0..1}"""


def passed(message: str, details: dict | None = None) -> CheckResult:
    return {"state": "passed", "message": message, "hints": [], "details": details or {}}


def failed(message: str, hints: list[str] | None = None,
           details: dict | None = None) -> CheckResult:
    return {"state": "failed", "message": message, "hints": hints or [],
            "details": details or {}}


def skipped(message: str) -> CheckResult:
    return {"state": "skipped", "message": message, "hints": [], "details": {}}
