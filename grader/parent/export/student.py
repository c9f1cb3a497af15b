"""`grader export student ID`: what students start from, and can check themselves with.

The zip holds ``template/`` (the assignment's submissions_template folder, marker
file included), the assignment text when the spec names one that exists, ``spec/ID.json``
(the student spec, below) and a README on self-checking.

The student spec is the spec less what students must not see: tasks whose
visibility is "hidden" go entirely; every remaining task loses any ``hidden`` detail
of its checks and where its thresholds come from (``derived_from`` cites the
reference's results); the theory section goes (manual questions carry the model
answers, numeric ones their readings). The contract the template states (files,
functions, layers, parameter counts, the thresholds of the visible tasks) stays, so
the student spec grades a submission as the course's does, less the hidden tasks.
Nothing is read from reference/.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.parent.export import (
    ExportError,
    ZipWriter,
    assignment_text,
    template_folder,
    tree_files,
)
from grader.parent.spec import MARKER_FILE, Spec, validation_problems

TEMPLATE_DIR = "template"
SPEC_DIR = "spec"
#: Keys removed wherever they occur in a task's checks.
_PRIVATE_KEYS = ("hidden", "derived_from")


@dataclass
class Bundle:
    path: Path
    tasks: list[str]
    hidden: list[str]
    text: str | None


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _PRIVATE_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def student_spec(spec: Spec, text_name: str | None) -> dict[str, Any]:
    """The spec a student may see; raises ExportError when no task is left or the result
    would not validate."""
    data = copy.deepcopy(spec.data)
    data.pop("$schema", None)  # a relative path that means nothing in the bundle
    data.pop("theory", None)
    if text_name:
        data["source"] = text_name
    else:
        data.pop("source", None)
    tasks = []
    for task in data["tasks"]:
        if task.get("visibility") == "hidden":
            continue
        task["checks"] = _strip(task["checks"])
        tasks.append(task)
    if not tasks:
        raise ExportError(f"{spec.id}: every task is hidden; a student spec needs one")
    data["tasks"] = tasks
    problems = validation_problems(data, "assignment")
    if problems:  # a spec whose hidden parts others depend on; say where
        raise ExportError(f"{spec.id}: the student spec does not validate: "
                          + "; ".join(problems[:5]))
    return data


def readme(spec: Spec, text_name: str | None, datasets: list[str]) -> str:
    spec_path = f"{SPEC_DIR}/{spec.id}.json"
    text_line = f"- `{text_name}`: the assignment text.\n" if text_name else ""
    data_part = ""
    if datasets:
        data_part = f"""
The accuracy checks train your models on {', '.join(datasets)}. With the data on your
machine (`grader data status` says where it is looked for and how to prepare it):

```bash
cd {TEMPLATE_DIR}
grader --assignments-dir ../{SPEC_DIR} check . --data-dir /path/to/data
```

Training takes minutes on a laptop CPU; `--task TASK` checks one task.
"""
    return f"""# {spec.data['title']}

- `{TEMPLATE_DIR}/`: your starting point. Write your code here, keeping the file and
  function names, and hand in this folder's files.
{text_line}- `{spec_path}`: what the autograder checks, for `grader check`.

## Checking your work

With the grader installed (your course says how), from this folder:

```bash
cd {TEMPLATE_DIR}
grader --assignments-dir ../{SPEC_DIR} check . --static
```

`--static` checks everything that needs no training (layers, parameter counts, common
mistakes, your functions' outputs) in a minute or so; the template itself scores 0.
{data_part}
Your course's autograder may also run checks that are not listed here, so a full score
here does not promise one there.
"""


def build(spec: Spec, out: Path, template: Path | None = None) -> Bundle:
    """Writes the student bundle of ``spec`` to ``out``."""
    from grader.parent.export.gradescope import needed_data

    folder = template_folder(spec, template)
    marker = folder / MARKER_FILE
    if not marker.is_file():
        raise ExportError(f"{folder}: no {MARKER_FILE}; `grader check` on the template "
                          "would not know its assignment")
    text = assignment_text(spec)
    text_name = text.name if text is not None else None
    data = student_spec(spec, text_name)
    hidden = [t["id"] for t in spec.tasks if t.get("visibility") == "hidden"]
    student = Spec(data=data, path=Path(f"{SPEC_DIR}/{spec.id}.json"))
    datasets, _ = needed_data(student)
    zipped = ZipWriter(out)
    try:
        zipped.text("README.md", readme(spec, text_name, datasets))
        if text is not None:
            zipped.file(text_name, text)
        zipped.text(f"{SPEC_DIR}/{spec.id}.json", json.dumps(data, indent=2) + "\n")
        for file in tree_files(folder):
            zipped.file(f"{TEMPLATE_DIR}/{file.relative_to(folder).as_posix()}", file)
    except BaseException:
        zipped.abort()
        raise
    zipped.close()
    return Bundle(path=out, tasks=[t["id"] for t in data["tasks"]], hidden=hidden,
                  text=text_name)
