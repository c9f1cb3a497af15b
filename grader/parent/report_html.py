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
from pathlib import Path
from typing import Any

#: An image larger than this is linked by path, not embedded.
MAX_EMBEDDED_BYTES = 2 << 20

_COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#cf222e",
            "not_implemented": "#9a6700", "unverified": "#8250df", "skipped": "#6e7781",
            "not_run": "#9a6700", "manual": "#0969da"}

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #1f2328; }
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
"""


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
    if data is None:
        return (f'<figure><a href="{_e(file.as_uri())}">{_e(file.name)}</a>'
                f"<figcaption>{_e(caption)}</figcaption></figure>")
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


def _test_row(test: dict[str, Any]) -> str:
    state = test["grader"]["state"]
    points = (f"{test['score']:g} / {test['max_score']:g}" if test["max_score"]
              else f"- / {test['grader'].get('points', 0):g}")
    colour = _COLOURS.get(state, "#1f2328")
    return (f"<tr><td>{_e(test['grader']['check'])}</td><td class=points>{points}</td>"
            f'<td class=state style="color:{colour}">{_e(state.replace("_", " "))}</td>'
            f"<td><pre>{_e(test['output'])}</pre></td></tr>")


def html_report(data: dict[str, Any]) -> str:
    """The page for a results object (grader/schemas/results.schema.json)."""
    info = data["grader"]
    by_task: dict[str, list[dict[str, Any]]] = {}
    for test in data["tests"]:
        by_task.setdefault(test["tags"][0], []).append(test)
    title = f"{info.get('assignment') or '?'}: {data['score']:g} / {data['max_score']:g}"
    parts = [f"<!doctype html><html lang=en><meta charset=utf-8><title>{_e(title)}</title>",
             f"<style>{_STYLE}</style><h1>{_e(title)}</h1>",
             f"<p class=meta>{_e(info.get('submission', ''))} · graded in "
             f"{data['execution_time']:.1f} s · grader {_e(info.get('version', '?'))}</p>"]
    parts += [f"<p style='color:#cf222e'>error: {_e(error)}</p>"
              for error in info.get("errors", [])]
    # Results from a grader that stopped early may lack the task list: use the tests'.
    tasks = info.get("tasks") or {task_id: {} for task_id in by_task}
    for task_id, task in tasks.items():
        where = f" ({task['entry_file']})" if task.get("entry_file") else ""
        heading = f"{task_id}: {task['title']}" if task.get("title") else task_id
        parts.append(f"<h2>{_e(heading)}{_e(where)}</h2>")
        tests = by_task.get(task_id, [])
        if tests:
            parts.append("<table><tr><th>check<th>points<th>status<th>what the grader found")
            parts += [_test_row(test) for test in tests]
            parts.append("</table>")
        parts += [f"<p class=meta>note: {_e(note)}</p>" for note in task.get("notes", [])]
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
