"""Rewrites README.md's per-assignment tables (task, the text it grades, what is
checked, why) from the shipped specs. Run after editing a spec; tests/assignment/
test_readme_tables.py fails while README.md and the specs disagree."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.parent.spec_table import markdown  # noqa: E402

BEGIN = "<!-- spec tables: scripts/update_readme_tables.py -->"
END = "<!-- end of spec tables -->"


def tables() -> str:
    parts = [BEGIN]
    for path in sorted((REPO / "grader" / "assignments").glob("*.json")):
        spec = json.loads(path.read_text())
        parts.append(f"\n#### `{spec['id']}`: {spec['title']}\n")
        parts.append(markdown(spec))
    parts.append(END)
    return "\n".join(parts)


def updated(readme: str) -> str:
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    return readme[:start] + tables() + readme[end:]


if __name__ == "__main__":
    path = REPO / "README.md"
    path.write_text(updated(path.read_text()))
