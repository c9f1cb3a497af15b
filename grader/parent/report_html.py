"""The HTML report: one self-contained page per graded submission, for a student
to open or a course to attach in its LMS.

Built from the results object alone (what the JSON holds), so a results file
can be turned into a page later. The visual checks' PNGs are embedded as data
URIs: the page has no files beside it to lose. Every text is escaped; student
output never becomes markup.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any

#: An image larger than this is linked by path, not embedded.
MAX_EMBEDDED_BYTES = 2 << 20

_COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#cf222e",
            "not_implemented": "#9a6700", "unverified": "#8250df", "skipped": "#6e7781",
            "not_run": "#9a6700", "manual": "#0969da"}

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #1f2328;
       padding: 0 1em; }
.first { border-left: 4px solid #cf222e; padding: .3em .8em; background: #fff8f8; }
.first.ok { border-color: #1a7f37; background: #f6fff8; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
table { border-collapse: collapse; width: 100%; }
td, th { border-bottom: 1px solid #d0d7de; padding: .35em .6em; text-align: left;
         vertical-align: top; }
td.points { text-align: right; white-space: nowrap; }
pre { white-space: pre-wrap; margin: 0; font-size: .9em; }
.state { font-weight: 600; white-space: nowrap; }
.meta { color: #656d76; }
figure { display: inline-block; margin: .5em 1em .5em 0; }
figure img { max-width: 18em; image-rendering: pixelated; border: 1px solid #d0d7de; }
.panel figure img { width: 9em; }
.panel h3 { font-size: 1em; margin: 1em 0 0; }
/* A phone: each row of a table becomes a block, so nothing runs off the right edge. */
@media (max-width: 40em) {
  table, tbody, tr, td, th { display: block; width: auto; }
  tr:first-child { display: none; }
  tr { border-bottom: 1px solid #d0d7de; padding: .3em 0; }
  td, th { border: 0; padding: .1em 0; }
  td.points { text-align: left; }
  figure img { max-width: 100%; }
}
"""

# Absolute paths of the machine that graded (scratch space, installs, home folders):
# a student's page shows their last parts only.
_MACHINE_PATH = re.compile(r"(?<![\w:/.])/(?:tmp|var|usr|home|root|work|opt|srv|scratch|mnt)"
                           r"(?:/[^\s/'\"(),;:]+)+")


def public(text: str) -> str:
    """``text`` without the grading machine's absolute paths (`.../model.keras`)."""
    return _MACHINE_PATH.sub(lambda m: ".../" + "/".join(m.group(0).split("/")[-1:]), text)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _image(path: str, caption: str | None = None) -> str:
    file = Path(path)
    caption = file.name if caption is None else caption
    try:
        data = file.read_bytes() if file.stat().st_size <= MAX_EMBEDDED_BYTES else None
    except OSError:
        missing = (f"{file.name} (missing)" if caption == file.name
                   else f"{caption} ({file.name} missing)")
        return f"<figure><figcaption>{_e(missing)}</figcaption></figure>"
    if data is None:  # too large to embed: named, not linked (its path is the grader's)
        return (f"<figure><figcaption>{_e(caption)} ({_e(file.name)}, too large to show "
                "here)</figcaption></figure>")
    encoded = base64.b64encode(data).decode("ascii")
    return (f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _panels(test: dict[str, Any]) -> tuple[list[str], set[str]]:
    """A Grad-CAM check's labelled rows: per class, the input, the student's map and
    the reference map side by side, captioned with the class name and the
    correlation. Returns the HTML and the image names it showed (or replaces)."""
    details = test["grader"].get("details") or {}
    panels = details.get("panels")
    if test["grader"]["check"] != "visual" or not isinstance(panels, list) or not panels:
        return [], set()
    # The details name files; the paths are in "images" (moved when they were kept).
    paths = {Path(p).name: p for p in visual_images(test)}
    parts, shown = ["<div class=panel>"], set()
    if details.get("model"):
        parts.append(f"<p class=meta>{_e(details['model'])}</p>")
    for panel in panels:
        if not isinstance(panel, dict):
            continue
        label = f"class {panel.get('class')}"
        if panel.get("name"):
            label = f"{panel['name']} ({label})"
        r = panel.get("correlation")
        agreement = f"r = {r:.3f}" if isinstance(r, (int, float)) else "not scored"
        parts.append(f"<h3>{_e(label)}: {_e(agreement)}</h3>")
        for key, caption in (("input", f"input: {label}"), ("student", "submitted Grad-CAM"),
                             ("reference", f"reference Grad-CAM ({agreement})")):
            name = panel.get(key)
            if isinstance(name, str) and name in paths:
                parts.append(_image(paths[name], caption))
                shown.add(name)
        combined = panel.get("combined")
        if isinstance(combined, str) and combined in paths:
            # The same three in one file (as kept beside the page), folded away.
            parts.append(f"<details><summary class=meta>as one image ({_e(combined)})"
                         f"</summary>{_image(paths[combined])}</details>")
            shown.add(combined)
    parts.append("</div>")
    return parts, shown


def visual_images(test: dict[str, Any]) -> list[str]:
    """The image files a visual check kept (other checks may use the key for a count)."""
    if test["grader"]["check"] != "visual":
        return []
    images = (test["grader"].get("details") or {}).get("images") or []
    return [path for path in images if isinstance(path, str)]


def _test_row(test: dict[str, Any], shown: str) -> str:
    state = test["grader"]["state"]
    points = (f"{test['score']:g} / {test['max_score']:g}" if test["max_score"]
              else f"- / {test['grader'].get('points', 0):g}")
    colour = _COLOURS.get(state, "#1f2328")
    return (f"<tr><td>{_e(test['grader']['check'])}</td><td class=points>{points}</td>"
            f'<td class=state style="color:{colour}">{_e(state.replace("_", " "))}</td>'
            f"<td><pre>{_e(shown)}</pre></td></tr>")


def _first_to_fix(tests: list[dict[str, Any]]) -> str:
    """One line at the top: the first check that lost points, and what it said."""
    lost = [t for t in tests
            if t["grader"]["state"] not in ("passed", "skipped", "manual", "not_run")]
    if not lost:
        not_run = [t for t in tests if t["grader"]["state"] == "not_run"]
        if not_run:
            return ("<p class='first ok'>every check that ran passed; "
                    f"{len(not_run)} could not run on the grading machine</p>")
        return "<p class='first ok'>every check passed</p>"
    first = lost[0]
    said = public(first["output"]).splitlines()[0] if first["output"] else ""
    more = f" ({len(lost) - 1} more below)" if len(lost) > 1 else ""
    return (f"<p class=first><b>fix this first</b>: {_e(first['name'])}: {_e(said)}"
            f"{_e(more)}</p>")


def _student(info: dict[str, Any]) -> str:
    """The student's id (a batch run sets it), else the submission's own name, never
    the grader's path."""
    if info.get("student"):
        return str(info["student"])
    name = Path(str(info.get("submission", "") or "?")).name
    return name.removesuffix(".zip") or "?"


def html_report(data: dict[str, Any]) -> str:
    """The page for a results object (grader/schemas/results.schema.json)."""
    info = data["grader"]
    by_task: dict[str, list[dict[str, Any]]] = {}
    for test in data["tests"]:
        by_task.setdefault(test["tags"][0], []).append(test)
    student = _student(info)
    assignment = str(info.get("assignment") or "?")
    if assignment.endswith(".json"):  # a spec given by its path: its name, not the path
        assignment = Path(assignment).stem
    title = f"{student}: {assignment}: {data['score']:g} / {data['max_score']:g}"
    when = str(info.get("graded_at") or "")[:16].replace("T", " ")
    parts = ["<!doctype html><html lang=en><meta charset=utf-8>",
             '<meta name=viewport content="width=device-width, initial-scale=1">',
             f"<title>{_e(title)}</title><style>{STYLE}</style><h1>{_e(title)}</h1>",
             f"<p class=meta>{_e(student)}" + (f" · graded {_e(when)} UTC" if when else "")
             + f" in {data['execution_time']:.1f} s · grader {_e(info.get('version', '?'))}"
             "</p>"]
    parts += [f"<p style='color:#cf222e'>error: {_e(public(error))}</p>"
              for error in info.get("errors", [])]
    parts.append(_first_to_fix(data["tests"]))
    said_where: dict[str, str] = {}  # a message already shown -> the check it was shown for
    # Results from a grader that stopped early may lack the task list: use the tests'.
    tasks = info.get("tasks") or {task_id: {} for task_id in by_task}
    for task_id, task in tasks.items():
        where = f" ({task['entry_file']})" if task.get("entry_file") else ""
        heading = f"{task_id}: {task['title']}" if task.get("title") else task_id
        parts.append(f"<h2>{_e(heading)}{_e(where)}</h2>")
        tests = by_task.get(task_id, [])
        quotes = task.get("text") or []
        parts += [f"<p class=meta>the text: \u201c{_e(q)}\u201d</p>" for q in quotes]
        if tests:
            parts.append("<table><tr><th>check<th>points<th>status<th>what the grader found")
            for test in tests:
                text = public(test["output"])
                # A message met before (a build failure repeats on every check) is
                # shown once; later checks point at it.
                if len(text) > 60 and text in said_where:
                    shown = f"(the same as {said_where[text]})"
                else:
                    said_where.setdefault(text, test["name"])
                    shown = text
                parts.append(_test_row(test, shown))
            parts.append("</table>")
        parts += [f"<p class=meta>note: {_e(public(note))}</p>" for note in task.get("notes", [])]
        for cell in task.get("skipped_cells", []):
            parts.append(f"<p class=meta>notebook code cell {_e(cell['index'])} not run "
                         f"({_e(cell['reason'])}): <code>{_e(cell['first_line'])}</code></p>")
        for test in tests:
            panels, shown = _panels(test)
            parts += panels
            parts += [_image(path) for path in visual_images(test)
                      if Path(path).name not in shown]
    parts.append("</html>\n")
    return "\n".join(parts)


def write_html(data: dict[str, Any], path: Path) -> None:
    """The page for ``data``, written atomically at ``path``."""
    from grader.files import write_atomic

    write_atomic(path, html_report(data))
