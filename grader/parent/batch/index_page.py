"""The class index page (`grader collect RUN --html DIR` writes DIR/index.html): one
row per student with the score, the checks passed, failed and not run, the late
penalty, why a person should look, and a link to the student's page.

For the instructor (it shows the whole class). On a phone each row becomes a block
(the report pages' own style does that to every table), so nothing runs off the
right edge.
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote

from grader.files import write_atomic
from grader.parent.batch.classbook import Row

INDEX = "index.html"

# On a phone the header row is hidden (the report style): each cell says what it is.
_INDEX_STYLE = """
td.why { overflow-wrap: anywhere; }
@media (max-width: 40em) {
  td[data-l]:not(:empty)::before { content: attr(data-l) ": "; color: #656d76; }
}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _points(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def page(rows: list[Row], title: str, out_of: float, pages: set[str],
         similarity: str | None = None) -> str:
    """The index; PAGES are the students whose page exists (STUDENT.html beside it)."""
    from grader.parent.report_html import STYLE, public

    graded = [r for r in rows if r.final is not None]
    mean = sum(r.final for r in graded) / len(graded) if graded else None
    review = sum(1 for r in rows if r.reasons)
    parts = ["<!doctype html><html lang=en><meta charset=utf-8>",
             '<meta name=viewport content="width=device-width, initial-scale=1">',
             f"<title>{_e(title)}</title><style>{STYLE}{_INDEX_STYLE}</style>",
             f"<h1>{_e(title)}</h1>",
             f"<p class=meta>{len(rows)} students, {len(graded)} with a score"
             + (f", mean {mean:.2f} of {out_of:g}" if mean is not None else "")
             + f"; {review} need review</p>"]
    if similarity:
        parts.append(f"<p><a href='{_e(quote(similarity))}'>similar submissions</a></p>")
    parts.append("<table><tr><th>student<th>score<th>checks<th>late<th>needs review")
    for r in rows:
        name = _e(r.label)
        if r.student in pages:
            name = f"<a href='{_e(quote(r.student + '.html'))}'>{name}</a>"
        score = (f"{_points(r.final)} / {out_of:g}" if r.final is not None else "")
        checks = ", ".join(f"{n} {k}" for k, n in r.counts.items() if n) or r.state
        if r.counts and r.state != "done":
            checks += f" ({r.state})"
        lt = r.lateness
        late = (f"{lt.days} d, −{lt.penalty:g} ({lt.percent:g}%)" if lt and lt.days else
                ("on time" if lt and lt.submitted else ""))
        if r.canvas_late and not (lt and lt.days):
            late = (late + "; " if late else "") + "Canvas: LATE"
        parts.append(f"<tr><td>{name}<td class=points data-l=score>{_e(score)}"
                     f"<td data-l=checks>{_e(checks)}<td data-l=late>{_e(late)}"
                     f"<td class=why data-l='needs review'>{_e(public(r.reasons))}</td></tr>")
    parts.append("</table></html>\n")
    return "\n".join(parts)


def write(folder: Path, rows: list[Row], title: str, out_of: float,
          similarity: str | None = None) -> Path:
    pages = {p.stem for p in folder.glob("*.html")}
    return write_atomic(folder / INDEX, page(rows, title, out_of, pages, similarity))
