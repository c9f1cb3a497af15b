"""Planning a batch: the run directory, its manifest and its sbatch script.

The plan is written once to `RUN/plan.json` and read by every array task, so
what a task does (which assignment, which `grader check` options) is decided
on the login node, in one place, and can be read back later.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from grader.files import write_atomic, write_json_atomic
from grader.parent.batch import manifest, roster

PLAN = "plan.json"
SCRIPT = "grade.sbatch"
SPEC = "assignment.json"  # the run's frozen copy of a course's own spec file
TEMPLATE = Path(__file__).resolve().parents[3] / "slurm" / "grade.sbatch"

_FIELD = re.compile(r"\{\{(\w+)\}\}")
# Slurm's time formats: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
_TIME = re.compile(r"^(\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d+|\d+-\d+:\d{2}|\d+-\d+:\d{2}:\d{2})$")
_MEM = re.compile(r"^\d+[KMGT]?$")


@dataclass
class Plan:
    """Everything `grader batch plan` decided; stored as RUN/plan.json."""

    assignment: str
    submissions: str
    run: str
    partition: str | None = None
    time: str = "00:30:00"
    mem: str = "8G"
    cpus: int = 4
    gpus: int = 1
    concurrency: int | None = None
    container: str | None = None
    grader: list[str] = field(default_factory=list)
    static: bool = False
    check_args: list[str] = field(default_factory=list)
    sbatch_options: list[str] = field(default_factory=list)
    binds: list[str] = field(default_factory=list)
    job_name: str = ""

    def save(self, run: Path) -> Path:
        return write_json_atomic(run / PLAN, asdict(self))


def load_plan(run: Path) -> Plan:
    path = run / PLAN
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no plan; run `grader batch plan SUBMISSIONS_DIR --assignment ID "
            f"--out {run}` first")
    fix = (f"run `grader batch plan SUBMISSIONS_DIR --assignment ID --out {run}` again with "
           "the options you planned with: it rewrites plan.json and keeps the manifest's indices")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise manifest.RunFileError(f"{path}: not valid JSON, perhaps cut short ({exc}); "
                                    f"{fix}") from None
    if not isinstance(data, dict):
        raise manifest.RunFileError(f"{path}: not a JSON object; {fix}")
    try:
        return Plan(**data)
    except TypeError as exc:  # a field missing or unknown
        raise manifest.RunFileError(f"{path}: {exc}; {fix}") from None


def validate(plan: Plan) -> None:
    """Raises ValueError naming the option and the fix for values sbatch would reject."""
    if not _TIME.match(plan.time):
        raise ValueError(f"--time {plan.time!r}: use Slurm's format, e.g. 30, 00:30:00 or 1-00:00")
    if not _MEM.match(plan.mem):
        raise ValueError(f"--mem {plan.mem!r}: use Slurm's format, e.g. 8G or 16000M")
    if plan.cpus < 1:
        raise ValueError(f"--cpus {plan.cpus}: needs at least 1")
    if plan.gpus < 0:
        raise ValueError(f"--gpus {plan.gpus}: use 0 for CPU-only nodes")
    if plan.concurrency is not None and plan.concurrency < 1:
        raise ValueError(f"--concurrency {plan.concurrency}: needs at least 1 (or leave it out)")
    if any(c.isspace() for c in plan.run):
        # #SBATCH --output cannot quote a path: Slurm would cut it at the space.
        raise ValueError(f"--out {plan.run!r}: Slurm cannot write logs to a path with spaces; "
                         "choose a run directory without them")
    for opt in plan.sbatch_options:
        if not opt.startswith("--"):
            raise ValueError(f"--sbatch-option {opt!r}: give a long option, e.g. --account=cs577")


def default_grader(container: str | None) -> list[str]:
    """How an array task starts grader: the image's `grader` in a container, else
    this very interpreter, so tasks (which run as whoever submitted, often with a
    bare PATH) find the same installation that planned them."""
    return ["grader"] if container else [sys.executable, "-m", "grader"]


def render(plan: Plan, template: Path = TEMPLATE) -> str:
    """Fills the {{...}} fields of the sbatch template; unknown or unfilled fields are errors."""
    if not template.is_file():
        raise FileNotFoundError(
            f"{template}: the sbatch template is missing; pass --template PATH (the project's "
            f"slurm/grade.sbatch) when grader is installed without its source tree")
    binds = [plan.run, plan.submissions, *plan.binds]
    values = {
        "job_name": plan.job_name,
        "partition": (f"#SBATCH --partition={plan.partition}" if plan.partition
                      else "# --partition not set: the cluster's default partition"),
        "time": plan.time,
        "mem": plan.mem,
        "cpus": str(plan.cpus),
        "gres": (f"#SBATCH --gres=gpu:{plan.gpus}" if plan.gpus
                 else "# --gres not set: CPU only (planned with --gpus 0)"),
        "run": plan.run,
        "extra": "\n".join(f"#SBATCH {opt}" for opt in plan.sbatch_options)
                 or "# no extra sbatch options",
        "run_quoted": shlex.quote(plan.run),
        "container_quoted": shlex.quote(plan.container or ""),
        "binds_quoted": shlex.quote(",".join(binds)),
        "grader": shlex.join(plan.grader),
    }
    text = template.read_text()
    unknown = sorted(set(_FIELD.findall(text)) - set(values))
    if unknown:
        raise ValueError(f"{template}: unknown template fields {unknown}; "
                         f"known ones are {sorted(values)}")
    return _FIELD.sub(lambda m: values[m.group(1)], text)


class NothingToGrade(ValueError):
    """The submissions folder holds no gradable entry: nothing is written."""

    def __init__(self, submissions: Path, rejected: list[manifest.Rejected]) -> None:
        self.rejected = rejected
        what = (f"all {len(rejected)} entries were rejected (listed below)" if rejected
                else "it is empty (OS litter such as __MACOSX or .DS_Store is ignored)")
        super().__init__(f"{submissions}: nothing to grade: {what}; point at the folder that "
                         "holds one folder, .ipynb or .zip per student; nothing was written")


@dataclass
class Planned:
    entries: list[manifest.Entry]
    added: list[manifest.Entry]
    rejected: list[manifest.Rejected]
    script: Path


def make_plan(plan: Plan, template: Path = TEMPLATE) -> Planned:
    """Writes RUN/plan.json, RUN/manifest.tsv, RUN/rejected.tsv and RUN/grade.sbatch."""
    validate(plan)
    run = Path(plan.run)
    nearest = next(p for p in (run, *run.parents) if p.exists())
    if not nearest.is_dir():
        raise ValueError(f"--out must be a folder (new, or an earlier run): {nearest} is a "
                         "file; choose another path")
    submissions = Path(plan.submissions)
    if not submissions.is_dir():
        raise FileNotFoundError(f"{submissions}: not a folder of submissions "
                                "(one folder, .ipynb or .zip per student)")
    # LMS downloads: Canvas's loose files become a folder per student, Moodle's folders
    # get ids without spaces, Gradescope's metadata is read; RUN/lms.json keeps it all.
    lms: dict[str, roster.LmsInfo] = {}
    renamed: dict[str, str] = {}
    metadata = roster.gradescope_metadata(submissions)
    for path in submissions.iterdir():
        if path.is_dir() and (moodle := roster.moodle_folder(path.name)):
            renamed[path.name] = moodle[0]
            lms[moodle[0]] = moodle[1]
        elif path.is_dir() and (info := roster.gradescope_info(path, metadata)):
            lms[path.name] = info
    canvas_files = {p.name for p in submissions.iterdir()
                    if p.is_file() and roster.canvas_name(p.name)}
    found, rejected = manifest.discover(submissions, canvas_files, renamed)
    if not found and not canvas_files:
        raise NothingToGrade(submissions, rejected)
    spec_bytes = None
    if Path(plan.assignment).suffix == ".json":
        # Tasks grade with RUN's copy of a course's own spec: RUN is bound into the
        # container (the course's folder may not be), and an edit to the course's file
        # after planning cannot change how the rest of the class is graded.
        spec_bytes = Path(plan.assignment).read_bytes()
        frozen = run / SPEC
        if frozen.is_file() and frozen.read_bytes() != spec_bytes:
            raise ValueError(
                f"--assignment {plan.assignment}: differs from {frozen}, the copy this run "
                "was planned (and its finished students graded) with; plan into a new --out "
                f"to grade with the edited spec, or delete {frozen} and submit with --regrade "
                "so the whole class is graded with it")
        plan = replace(plan, assignment=str(frozen))
    run.mkdir(parents=True, exist_ok=True)
    for sub in ("results", "failed", "attempts", "logs"):
        (run / sub).mkdir(exist_ok=True)
    if canvas_files:
        _, folders, infos = roster.stage_canvas(submissions, run)
        lms.update(infos)
        found = sorted([*found, *((s, f, "folder") for s, f in folders.items())])
    if lms:
        roster.save_lms(run, lms)
    existing = manifest.read_manifest(run) if (run / manifest.MANIFEST).exists() else []
    known = {e.student for e in existing}
    entries = manifest.merge(existing, found)
    script_text = render(plan, template)
    manifest.write_manifest(run, entries)
    manifest.write_rejected(run, rejected)
    if spec_bytes is not None:
        write_atomic(run / SPEC, spec_bytes)
    plan.save(run)
    script = run / SCRIPT
    script.write_text(script_text)
    script.chmod(0o755)
    return Planned(entries, [e for e in entries if e.student not in known], rejected, script)
