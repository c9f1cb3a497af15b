"""The late policy: when a hand-in was due, how late it came, and what that costs.

A policy comes from the spec's `late_policy` (grader/schemas/assignment.schema.json)
or from `grader collect --due --grace --late-penalty --late-cap`, which override
the spec's fields one by one. A hand-in later than due + grace loses
`penalty_per_day` percent of its raw score for every day or part of a day past
the due time, at most `max_penalty` percent. The penalty is in points, rounded to
two decimals, and never more than the raw score.

Submission times, first found wins: a `submitted_at` column of the --times CSV or
the roster; the LMS's own time (Gradescope's created_at); the newest modification
time of the files handed in (a Canvas download keeps no time in its names, only
its LATE marker, so the files' times are what is left; they say when the files
were last written, which an unzip or a copy may have changed).
"""

from __future__ import annotations

import csv
import math
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path


@dataclass(frozen=True)
class Policy:
    due: datetime
    grace: timedelta = timedelta(0)
    per_day: float = 0.0       # percent of the raw score per day or part of a day
    cap: float = 100.0         # percent at most

    def describe(self) -> str:
        grace = f", {_span(self.grace)} grace" if self.grace else ""
        return (f"due {self.due.isoformat(timespec='minutes')}{grace}, {self.per_day:g}% per "
                f"day late, at most {self.cap:g}%")


@dataclass(frozen=True)
class Lateness:
    submitted: datetime | None
    source: str           # where the time came from
    days: int             # days or part days past due (0: on time or within grace)
    percent: float        # of the raw score
    penalty: float        # points


def parse_time(text: str, what: str) -> datetime:
    """An ISO 8601 time; without a zone it is this machine's local time."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} {text!r}: not a time; write it as ISO 8601, e.g. "
                         "2024-10-01T23:59 or 2024-10-01T23:59:00-04:00") from None
    return when if when.tzinfo else when.astimezone()


def parse_span(text: str, what: str) -> timedelta:
    """`15` (minutes), `15m`, `2h`, `1d` as a timedelta."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhd]?)\s*", str(text))
    if not m:
        raise ValueError(f"{what} {text!r}: write minutes (15), or 15m, 2h or 1d")
    unit = {"": 60, "m": 60, "h": 3600, "d": 86400}[m[2]]
    return timedelta(seconds=float(m[1]) * unit)


def _span(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes / 60:g} h" if minutes >= 60 else f"{minutes:g} min"


def policy(spec_policy: dict | None, due: str | None = None, grace: str | None = None,
           per_day: float | None = None, cap: float | None = None) -> Policy | None:
    """The policy of the spec with the command line's fields over it; None when no due time."""
    spec_policy = spec_policy or {}
    due_text = due or spec_policy.get("due")
    if not due_text:
        if any(v is not None for v in (grace, per_day, cap)):
            raise ValueError("--grace, --late-penalty and --late-cap need a due time: --due "
                             "or the spec's late_policy.due")
        return None
    grace_value = grace if grace is not None else spec_policy.get("grace_minutes", 0)
    chosen = Policy(
        due=parse_time(str(due_text), "--due" if due else "late_policy.due"),
        grace=parse_span(str(grace_value), "--grace" if grace is not None else
                         "late_policy.grace_minutes"),
        per_day=float(per_day if per_day is not None else spec_policy.get("penalty_per_day", 0)),
        cap=float(cap if cap is not None else spec_policy.get("max_penalty", 100)))
    if not 0 <= chosen.per_day <= 100 or not 0 <= chosen.cap <= 100:
        raise ValueError("--late-penalty and --late-cap are percentages, from 0 to 100")
    return chosen


def assess(chosen: Policy, submitted: datetime | None, source: str, raw: float) -> Lateness:
    if submitted is None:
        return Lateness(None, source, 0, 0.0, 0.0)
    past = submitted - chosen.due
    if past <= chosen.grace:
        return Lateness(submitted, source, 0, 0.0, 0.0)
    days = math.ceil(past / timedelta(days=1))
    percent = min(chosen.cap, chosen.per_day * days)
    penalty = min(raw, round(raw * percent / 100, 2)) if raw > 0 else 0.0
    return Lateness(submitted, source, days, percent, penalty)


def read_times(path: Path) -> dict[str, str]:
    """{student or roster id: submitted_at} from a CSV with columns id (or student) and
    submitted_at."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"--times {path}: cannot read it ({exc})") from None
    times = {}
    for row in rows:
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        who = row.get("student") or row.get("id")
        if who and row.get("submitted_at"):
            times[who] = row["submitted_at"]
    if rows and not times:
        raise ValueError(f"--times {path}: needs the columns 'student' (or 'id') and "
                         "'submitted_at'")
    return times


def file_time(path: Path) -> datetime | None:
    """The newest modification time of the files handed in at PATH (a folder, a
    notebook, or a zip's members)."""
    try:
        if path.is_dir():
            stamps = [p.stat().st_mtime for p in path.rglob("*") if p.is_file()]
            return datetime.fromtimestamp(max(stamps)).astimezone() if stamps else None
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as zf:
                members = [datetime(*i.date_time) for i in zf.infolist() if not i.is_dir()]
            if members:
                return max(members).astimezone()
        return datetime.fromtimestamp(path.stat().st_mtime).astimezone()
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
