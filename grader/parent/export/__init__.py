"""`grader export`: bundles made from an assignment for other places.

``gradescope.build`` writes the autograder zip Gradescope runs (grader source,
pinned dependencies installed by setup.sh, the data the spec's checks need);
``student.build`` writes what students start from (the template, the assignment
text, a student spec with only what they may see, a README on self-checking).

Both find the spec as every verb does (GRADER_ASSIGNMENTS / --assignments-dir
first, then the shipped ones), and the template and text beside it. Neither
imports TensorFlow: this runs in the parent.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

from grader.parent.spec import Spec

#: Members whose content is already compressed: deflating them again only costs time.
_STORED_SUFFIXES = (".gz", ".zip", ".png", ".jpg", ".jpeg", ".h5", ".npz", ".tar", ".whl")
#: How far above a spec's folder its template and text are looked for: a course folder
#: (DIR/ID.json beside DIR/submissions_template/) and this repository
#: (grader/assignments/ID.json, submissions_template/ two levels up, the texts in
#: ../shared/ three levels up).
_SEARCH_LEVELS = 4


class ExportError(Exception):
    """A bundle that cannot be made; the message names what is missing and the fix."""


def _ancestors(folder: Path) -> list[Path]:
    folder = folder.resolve()
    return [folder, *folder.parents][:_SEARCH_LEVELS]


def template_folder(spec: Spec, override: Path | None = None) -> Path:
    """The folder students start from: ``submissions_template/ID/`` beside the spec
    (an instructor's course folder, as `grader assignment new` lays it out) or above
    it (the shipped specs, in this repository); ``override`` when given."""
    if override is not None:
        if not override.is_dir():
            raise ExportError(f"--template {override}: no such folder")
        return override
    tried = [base / "submissions_template" / spec.id for base in _ancestors(spec.path.parent)]
    for folder in tried:
        if folder.is_dir():
            return folder
    raise ExportError(f"no template folder for {spec.id}: looked in "
                      f"{', '.join(map(str, tried))}; pass --template DIR")


def assignment_text(spec: Spec) -> Path | None:
    """The assignment text the spec's ``source`` names, looked for relative to the spec's
    folder and the folders above it; None when the spec names none or it is not there."""
    source = spec.data.get("source")
    if not source:
        return None
    if Path(source).is_absolute():
        return Path(source) if Path(source).is_file() else None
    for base in _ancestors(spec.path.parent):
        if (base / source).is_file():
            return base / source
    return None


def tree_files(folder: Path, skip_dirs: tuple[str, ...] = ()) -> list[Path]:
    """Every file under ``folder``, sorted, without caches and ``skip_dirs``."""
    skip = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints", *skip_dirs}
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in skip)
        out += [Path(dirpath) / f for f in sorted(filenames) if not f.endswith(".pyc")]
    return out


class ZipWriter:
    """A zip written member by member, with Unix modes kept (unzip restores them, so
    setup.sh and run_autograder stay executable) and fixed timestamps."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._zip = zipfile.ZipFile(self._tmp, "w")
        self.names: list[str] = []

    def _info(self, name: str, executable: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        mode = 0o755 if executable else 0o644
        info.external_attr = (stat.S_IFREG | mode) << 16
        info.compress_type = (zipfile.ZIP_STORED if name.lower().endswith(_STORED_SUFFIXES)
                              else zipfile.ZIP_DEFLATED)
        return info

    def text(self, name: str, content: str, executable: bool = False) -> None:
        self._zip.writestr(self._info(name, executable), content.encode("utf-8"))
        self.names.append(name)

    def file(self, name: str, source: Path, executable: bool = False) -> None:
        info = self._info(name, executable)
        # Streamed, not read whole: a dataset member can be hundreds of megabytes.
        with open(source, "rb") as src, self._zip.open(info, "w") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        self.names.append(name)

    def close(self) -> Path:
        self._zip.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        self._zip.close()
        self._tmp.unlink(missing_ok=True)
