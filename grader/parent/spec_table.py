"""What each task of a spec grades, as a Markdown table: the task, the sentence of the
text it grades, what is checked, and why (the task's notes). README.md holds the
shipped specs' tables (scripts/update_readme_tables.py writes them; a test keeps them
in step with the specs)."""

from __future__ import annotations

from typing import Any

from grader.parent.checks.params import render_count


def _types(value: str | list[str]) -> str:
    return "/".join([value] if isinstance(value, str) else value)


def _property(prop: dict[str, Any]) -> str:
    star = "*" if prop.get("essential") else ""
    if "count" in prop:
        lo, hi = prop.get("at_least"), prop.get("at_most")
        if hi == 0:
            return f"no {_types(prop['count'])}{star}"
        if lo is not None and hi is not None:
            span = str(lo) if lo == hi else f"{lo}-{hi}"
        else:
            span = f"≥{lo}" if lo is not None else f"≤{hi}"
        return f"{span} {_types(prop['count'])}{star}"
    if "order" in prop:
        return " → ".join(_types(g) for g in prop["order"]) + star
    return "a correct output head" + star


def _check(name: str, spec: dict[str, Any]) -> str:
    points = f"{spec.get('points', 0):g} pt"
    if name == "architecture":
        what = []
        if spec.get("layers"):
            mode = "in order, others between" if spec.get("match") == "contains" else "exactly"
            what.append(f"{len(spec['layers'])} layers {mode}")
        what += [_property(p) for p in spec.get("properties", [])]
        return f"architecture ({'; '.join(what)}) {points}"
    if name == "params":
        counts = ", ".join(f"{k} {render_count(v)}" for k, v in spec.items() if k != "points")
        return f"params ({counts}) {points}"
    if name == "graph":
        return f"graph ({', '.join(spec['require'])}) {points}"
    if name == "lints":
        return f"lints ({', '.join(spec.get('rules', []))}) {points}"
    if name == "accuracy":
        return (f"accuracy ({spec.get('metric', 'accuracy')} ≥ {spec.get('threshold')} on "
                f"{spec.get('dataset')}) {points}")
    if name == "visual":
        return f"visual ({spec.get('kind')}) {points}"
    if name == "outputs":
        return f"outputs ({spec.get('probe')} probe) {points}"
    return f"{name} {points}"


def _cell(text: str, limit: int | None = None) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    if limit and len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return text


def markdown(spec: dict[str, Any]) -> str:
    rows = ["| task | the text it grades | what is checked | why |", "|---|---|---|---|"]
    for task in spec["tasks"]:
        quote = " ".join(f"“{q}”" for q in task.get("text", [])) or "(no sentence of the text)"
        checks = "; ".join(_check(name, c) for name, c in task["checks"].items())
        why = task.get("notes", "").split(". ")[0]
        rows.append(f"| `{task['id']}` | {_cell(quote, 220)} | {_cell(checks)} | "
                    f"{_cell(why, 220)} |")
    return "\n".join(rows) + "\n"
