"""Similar submissions in a run, for a person to look at: it flags, it never deducts.

Code: every submission's Python (files, notebook code cells, zip members) is read
with Python's own tokenizer; comments and blank lines go, identifiers become one
token (`V`) and strings another (`S`), keywords, operators and numbers stay. So
renaming variables and rewriting comments changes nothing. Fingerprints are the
winnowed hashes of every K consecutive tokens (Schleimer, Wilkerson and Aiken's
winnowing, as MOSS uses it). Fingerprints of the assignment's template
(submissions_template/<id>/) are dropped, as are those more than half the class
shares: code everyone was given or everyone writes is no evidence. A pair's score
is the share of the smaller side's fingerprints found in the other.

Own code rather than a library (copydetect): it tokenizes with pygments and reads
files only, where submissions here are notebooks and zips too, and Python's
tokenizer is exact for the one language graded.

Architecture: the layer lists the architecture checks record (results' tests
[...]["grader"]["details"]["got"]). Two students with the same layer list for a
task are flagged when few share it (at most RARE of the class, and never more
than a handful) and it is not what the spec prescribes (the check passed: every
student following the text builds exactly that). Open designs' checks record
properties, not layers, and are not compared.
"""

from __future__ import annotations

import html
import io
import json
import keyword
import tokenize
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path

from grader.files import write_atomic, write_json_atomic
from grader.parent.source_reading import notebook_cells

SIMILARITY_JSON = "similarity.json"
SIMILARITY_HTML = "similarity.html"
K = 12          # tokens per k-gram: about one line of Keras code
WINDOW = 6      # winnowing window: any shared run of K + WINDOW - 1 tokens is seen
MIN_FINGERPRINTS = 8   # less of a student's own code than this is not compared
THRESHOLD = 0.6
RARE = 0.05     # at most this share of the class (and at least 2) for an "uncommon" layer list


@dataclass
class Source:
    name: str        # the file, within the submission (a notebook's cells: NAME#cell)
    lines: list[str]


@dataclass
class Code:
    sources: list[Source]
    # hash -> (source index, first line, last line) of each selected k-gram
    prints: dict[int, tuple[int, int, int]] = field(default_factory=dict)


@dataclass
class Pair:
    a: str
    b: str
    code: float | None                      # share of fingerprints, None: not compared
    evidence: dict[str, list[dict]] = field(default_factory=dict)  # student -> spans
    architecture: list[dict] = field(default_factory=list)         # {task, layers, shared_by}

    def flag_for(self, other: str) -> str:
        parts = []
        if self.code is not None and self.code >= 0:
            parts.append(f"code {self.code:.0%} shared")
        parts += [f"same uncommon {a['task']} layers" for a in self.architecture]
        return f"similar to {other}: " + ", ".join(parts) + f" (see {SIMILARITY_HTML})"


def _add(sources: list[Source], name: str, text: str) -> None:
    if name.lower().endswith(".ipynb"):
        code = "\n".join(notebook_cells(text))
    elif name.lower().endswith(".py"):
        code = text
    else:
        return
    sources.append(Source(name, code.splitlines()))


def read_sources(path: Path) -> list[Source]:
    """The Python a submission holds (a folder, a notebook or a zip), file by file."""
    sources: list[Source] = []
    try:
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and not any(p.startswith(".") for p in file.parts[-3:]):
                    _add(sources, str(file.relative_to(path)),
                         file.read_text(encoding="utf-8", errors="replace"))
        elif path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if not info.is_dir() and info.file_size < 2 << 20 \
                            and "__MACOSX" not in info.filename:
                        _add(sources, info.filename,
                             zf.read(info).decode("utf-8", errors="replace"))
        elif path.is_file():
            _add(sources, path.name, path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, zipfile.BadZipFile):
        pass  # what cannot be read is compared as empty
    return sources


def tokens(lines: list[str]) -> list[tuple[str, int]]:
    """(normalised token, line number) of Python code; stops quietly at what the
    tokenizer cannot read (a notebook's `%magic`, broken indentation)."""
    text = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in lines) + "\n"
    out: list[tuple[str, int]] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            kind, value, line = tok.type, tok.string, tok.start[0]
            if kind in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER):
                continue
            if kind == tokenize.NAME:
                value = value if keyword.iskeyword(value) else "V"
            elif kind == tokenize.STRING or kind == getattr(tokenize, "FSTRING_START", -1):
                value = "S"
            elif kind in (getattr(tokenize, "FSTRING_MIDDLE", -1),
                          getattr(tokenize, "FSTRING_END", -1)):
                continue
            elif kind == tokenize.NEWLINE:
                value = ";"
            elif kind == tokenize.INDENT:
                value = "{"
            elif kind == tokenize.DEDENT:
                value = "}"
            out.append((value, line))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def _grams(toks: list[tuple[str, int]]) -> list[tuple[int, int, int]]:
    """(hash, first line, last line) of every K tokens in a row."""
    return [(zlib.crc32(" ".join(t for t, _ in toks[i:i + K]).encode()), toks[i][1],
             toks[i + K - 1][1]) for i in range(len(toks) - K + 1)]


def fingerprint(sources: list[Source], exclude: set[int] = frozenset()) -> Code:
    """The winnowed fingerprints of SOURCES, less those in EXCLUDE (the template's)."""
    code = Code(sources)
    for index, source in enumerate(sources):
        grams = _grams(tokens(source.lines))
        for start in range(max(1, len(grams) - WINDOW + 1)):
            window = grams[start:start + WINDOW]
            if not window:
                break
            h, first, last = min(window, key=lambda g: g[0])
            if h not in exclude:
                code.prints.setdefault(h, (index, first, last))
    return code


def all_grams(sources: list[Source]) -> set[int]:
    return {h for s in sources for h, _, _ in _grams(tokens(s.lines))}


def _spans(code: Code, shared: set[int]) -> list[dict]:
    """The lines of CODE's fingerprints in SHARED, merged into runs per file."""
    by_source: dict[int, list[tuple[int, int]]] = {}
    for h in shared:
        index, first, last = code.prints[h]
        by_source.setdefault(index, []).append((first, last))
    spans = []
    for index, ranges in sorted(by_source.items()):
        ranges.sort()
        merged = [list(ranges[0])]
        for first, last in ranges[1:]:
            if first <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        source = code.sources[index]
        spans += [{"file": source.name, "first": a, "last": b,
                   "text": "\n".join(source.lines[a - 1:b])} for a, b in merged]
    return spans


def compare_code(codes: dict[str, Code], threshold: float) -> list[Pair]:
    """Pairs whose shared fingerprints reach THRESHOLD of the smaller side's."""
    students = sorted(codes)
    counts: dict[int, int] = {}
    for s in students:
        for h in codes[s].prints:
            counts[h] = counts.get(h, 0) + 1
    common = {h for h, n in counts.items() if n > max(2, len(students) / 2)}
    own = {s: set(codes[s].prints) - common for s in students}
    pairs = []
    for a, b in combinations(students, 2):
        smaller = min(len(own[a]), len(own[b]))
        if smaller < MIN_FINGERPRINTS:
            continue
        shared = own[a] & own[b]
        score = len(shared) / smaller
        if score >= threshold:
            pairs.append(Pair(a, b, round(score, 3), {a: _spans(codes[a], shared),
                                                     b: _spans(codes[b], shared)}))
    return pairs


def layer_lists(results: dict[str, dict]) -> dict[str, dict[str, tuple[list[str], bool]]]:
    """{task: {student: (layers got, prescribed)}} from the architecture checks' details."""
    found: dict[str, dict[str, tuple[list[str], bool]]] = {}
    for student, data in results.items():
        for test in data.get("tests", []):
            grader = test.get("grader") or {}
            details = grader.get("details") or {}
            if grader.get("check") != "architecture" or not isinstance(details.get("got"), list):
                continue
            task = (test.get("tags") or ["?"])[0]
            prescribed = bool(details.get("expected")) and grader.get("state") == "passed"
            found.setdefault(task, {})[student] = ([str(x) for x in details["got"]], prescribed)
    return found


def compare_architectures(results: dict[str, dict], rare: float = RARE) -> list[Pair]:
    pairs: dict[tuple[str, str], Pair] = {}
    for task, by_student in sorted(layer_lists(results).items()):
        groups: dict[tuple[str, ...], list[str]] = {}
        for student, (layers, prescribed) in by_student.items():
            if layers and not prescribed:
                groups.setdefault(tuple(layers), []).append(student)
        most = max(2, int(rare * len(by_student)))
        for layers, students in groups.items():
            if not 2 <= len(students) <= most:
                continue
            for a, b in combinations(sorted(students), 2):
                pair = pairs.setdefault((a, b), Pair(a, b, None))
                pair.architecture.append({"task": task, "layers": list(layers),
                                          "shared_by": len(students)})
    return list(pairs.values())


@dataclass
class Report:
    pairs: list[Pair]
    compared: int
    template: str     # the template folder whose code was left out, or why none
    threshold: float


def find(submissions: dict[str, Path], results: dict[str, dict], template: Path | None,
         threshold: float = THRESHOLD, template_note: str = "") -> Report:
    exclude = all_grams(read_sources(template)) if template else set()
    codes = {s: fingerprint(read_sources(p), exclude) for s, p in submissions.items()}
    merged = {(p.a, p.b): p for p in compare_code(codes, threshold)}
    for pair in compare_architectures(results):
        if (pair.a, pair.b) in merged:
            merged[(pair.a, pair.b)].architecture = pair.architecture
        else:
            merged[(pair.a, pair.b)] = pair
    pairs = sorted(merged.values(), key=lambda p: (-(p.code or 0), p.a, p.b))
    return Report(pairs, len(codes), str(template) if template else template_note, threshold)


def flags(report: Report) -> dict[str, list[str]]:
    """{student: [flag]} for review.needs_review's extra flags."""
    out: dict[str, list[str]] = {}
    for p in report.pairs:
        out.setdefault(p.a, []).append(p.flag_for(p.b))
        out.setdefault(p.b, []).append(p.flag_for(p.a))
    return out


def save(run: Path, report: Report) -> Path:
    return write_json_atomic(run / SIMILARITY_JSON, {
        "compared": report.compared, "template": report.template,
        "threshold": report.threshold, "pairs": [asdict(p) for p in report.pairs]})


def load_flags(run: Path) -> dict[str, list[str]]:
    """The flags of the last `grader collect --similarity` of RUN ({} when none)."""
    try:
        data = json.loads((run / SIMILARITY_JSON).read_text(encoding="utf-8"))
        pairs = [Pair(**p) for p in data["pairs"]]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return flags(Report(pairs, 0, "", 0.0))


# --- the instructor's page ---------------------------------------------------------------

_PAGE_STYLE = """
.pair { border-top: 1px solid #d0d7de; margin-top: 1.5em; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.sides > div { min-width: 0; }
.sides pre { background: #f6f8fa; padding: .4em; overflow-wrap: anywhere; }
@media (max-width: 40em) { .sides { grid-template-columns: 1fr; } }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def page(report: Report, title: str) -> str:
    """RUN/similarity.html: each flagged pair with its evidence side by side."""
    from grader.parent.report_html import STYLE, public

    parts = ["<!doctype html><html lang=en><meta charset=utf-8>",
             '<meta name=viewport content="width=device-width, initial-scale=1">',
             f"<title>{_e(title)}</title><style>{STYLE}{_PAGE_STYLE}</style>",
             f"<h1>{_e(title)}</h1>",
             f"<p class=meta>{report.compared} submissions compared; {len(report.pairs)} pairs "
             f"flagged (code: {report.threshold:.0%} of the smaller side's fingerprints shared, "
             "identifiers and comments ignored; architecture: the same layer list few share "
             "and the spec does not prescribe). Template left out: "
             f"{_e(public(report.template) or 'none')}. A flag asks a person to look; it "
             "deducts nothing.</p>"]
    if not report.pairs:
        parts.append("<p>No pair reaches the threshold.</p>")
    for p in report.pairs:
        what = []
        if p.code is not None:
            what.append(f"{p.code:.0%} of code fingerprints shared")
        what += [f"same {a['task']} layers (shared by {a['shared_by']})" for a in p.architecture]
        parts.append(f"<section class=pair id='{_e(p.a)}--{_e(p.b)}'><h2>{_e(p.a)} and "
                     f"{_e(p.b)}</h2><p>{_e('; '.join(what))}</p>")
        if p.evidence:
            parts.append("<div class=sides>")
            for student in (p.a, p.b):
                parts.append(f"<div><h3>{_e(student)}</h3>")
                for span in p.evidence.get(student, []):
                    parts.append(f"<p class=meta>{_e(span['file'])}, lines {span['first']}-"
                                 f"{span['last']}</p><pre>{_e(span['text'])}</pre>")
                parts.append("</div>")
            parts.append("</div>")
        for arch in p.architecture:
            parts.append(f"<h3>{_e(arch['task'])}: the layers both built</h3><div class=sides>"
                         + "".join(f"<div><p class=meta>{_e(s)}</p><pre>"
                                   f"{_e(chr(10).join(arch['layers']))}</pre></div>"
                                   for s in (p.a, p.b)) + "</div>")
        parts.append("</section>")
    parts.append("</html>\n")
    return "\n".join(parts)


def write_page(path: Path, report: Report, title: str) -> Path:
    return write_atomic(path, page(report, title))
