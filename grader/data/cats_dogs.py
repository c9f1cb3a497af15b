"""Kaggle cats vs dogs (cs577-a4), prepared from Microsoft's
``kagglecatsanddogs_3367a.zip`` (``PetImages/Cat/*.jpg``, ``PetImages/Dog/*.jpg``).

The archive is known to hold empty and truncated JPEGs and a few files that are
not JPEGs at all (``Thumbs.db``). `prepare_cats_dogs` screens every image,
counts what it skips, samples 2000 cats and 2000 dogs with a fixed seed and
splits each class 1000 / 500 / 500 into train / validation / test (the
assignment's "subset of 2000 dogs and 2000 cats ... for training, validation
and testing"). The result, ``cats-dogs/``, holds ``SPLIT/{cats,dogs}/*.jpg``
(the original bytes, not re-encoded) and ``manifest.json`` with every file's
sha256, the seed and the skip counts.
"""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path, PurePosixPath

from grader.data.checksums import bytes_digest, file_digest
from grader.data.dataset import Dataset, DatasetCorrupt
from grader.data.image_folder import classify_jpeg, read_split
from grader.data.source import Found, Source, Verification
from grader.data.staging import staged

FOLDER = "cats-dogs"
CLASSES = ["cats", "dogs"]
ARCHIVE_CLASS = {"cat": "cats", "dog": "dogs"}
SPLITS = ("train", "validation", "test")
DEFAULT_SPLIT = (1000, 500, 500)
DEFAULT_SEED = 1337
MANIFEST = "manifest.json"


def _numeric_key(name: str) -> tuple[int, str]:
    stem = PurePosixPath(name).stem
    return (int(stem), name) if stem.isdigit() else (1 << 62, name)


def prepare_cats_dogs(zip_path: Path, out_root: Path, split: tuple[int, int, int] = DEFAULT_SPLIT,
                      seed: int = DEFAULT_SEED, progress=None) -> dict:
    """Screens, samples and splits the archive into ``OUT/cats-dogs/``.

    Returns the manifest (also written to ``manifest.json``). ``progress`` is an
    optional callable ``(done, total)`` for a progress bar.
    """
    if not zip_path.is_file():
        raise FileNotFoundError(f"{zip_path}: no such file (the Kaggle cats-and-dogs zip)")
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as err:
        raise DatasetCorrupt(f"{zip_path}: not a zip archive ({err})") from err
    folder = out_root / FOLDER
    with archive, staged(folder) as tmp:
        manifest = _sample(archive, zip_path, tmp, split, seed, progress)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return {**manifest, "path": str(folder)}


def _sample(archive: zipfile.ZipFile, zip_path: Path, tmp: Path, split: tuple[int, int, int],
            seed: int, progress) -> dict:
    """Screens the archive, writes the sampled images under ``tmp``, returns the manifest."""
    per_class = sum(split)
    members: dict[str, list[zipfile.ZipInfo]] = {c: [] for c in CLASSES}
    for info in archive.infolist():
        parts = PurePosixPath(info.filename).parts
        if info.is_dir() or len(parts) < 2 or "__MACOSX" in parts:
            continue
        cls = ARCHIVE_CLASS.get(parts[-2].lower())
        if cls:
            members[cls].append(info)
    total = sum(len(v) for v in members.values())
    if total == 0:
        raise DatasetCorrupt(
            f"{zip_path}: no PetImages/Cat/ or PetImages/Dog/ files; is this "
            "kagglecatsanddogs_3367a.zip?"
        )
    skipped = {"corrupt": [], "non-jpeg": []}
    valid: dict[str, list[zipfile.ZipInfo]] = {c: [] for c in CLASSES}
    done = 0
    for cls in CLASSES:
        for info in sorted(members[cls], key=lambda i: _numeric_key(i.filename)):
            verdict = classify_jpeg(info.filename, archive.read(info))
            if verdict == "ok":
                valid[cls].append(info)
            else:
                skipped[verdict].append(info.filename)
            done += 1
            if progress:
                progress(done, total)
    for cls in CLASSES:
        if len(valid[cls]) < per_class:
            raise DatasetCorrupt(
                f"{zip_path}: only {len(valid[cls])} readable {cls} images; "
                f"{per_class} are needed ({'/'.join(map(str, split))} train/validation/test)"
            )
    rng = random.Random(seed)
    files: dict[str, str] = {}
    for cls in CLASSES:
        chosen = rng.sample(valid[cls], per_class)
        bounds = (0, split[0], split[0] + split[1], per_class)
        for s, name in enumerate(SPLITS):
            target = tmp / name / cls
            target.mkdir(parents=True, exist_ok=True)
            for info in chosen[bounds[s]:bounds[s + 1]]:
                data = archive.read(info)
                rel = f"{name}/{cls}/{cls[:-1]}.{PurePosixPath(info.filename).name}"
                (tmp / rel).write_bytes(data)
                files[rel] = bytes_digest(data)
    return {
        "dataset": "cats-dogs",
        "source": zip_path.name,
        "source_sha256": file_digest(zip_path),
        "seed": seed,
        "classes": CLASSES,
        "split": dict(zip(SPLITS, split, strict=True)),
        "scanned": total,
        "skipped": {k: len(v) for k, v in skipped.items()},
        "skipped_files": {k: sorted(v) for k, v in skipped.items()},
        "files": dict(sorted(files.items())),
    }


class CatsDogs(Source):
    name = "cats-dogs"
    description = "Kaggle cats vs dogs, 2000+2000 sampled, colour (cs577-a4)"
    expected = f"{FOLDER}/{MANIFEST}"
    prepare = "grader data prepare cats-dogs --zip kagglecatsanddogs_3367a.zip"
    image_size = (150, 150)

    def find(self, roots: list[Path]) -> Found | None:
        for root in roots:
            folder = root / FOLDER
            if (folder / MANIFEST).is_file():
                return Found(folder, "image-folders", [folder / MANIFEST, *self._images(folder)])
        return None

    @staticmethod
    def _images(folder: Path) -> list[Path]:
        return sorted(p for s in SPLITS for p in (folder / s).rglob("*") if p.is_file())

    def verify(self, found: Found) -> Verification:
        recorded = json.loads((found.path / MANIFEST).read_text())["files"]
        present = {str(p.relative_to(found.path)) for p in found.files[1:]}
        missing = sorted(set(recorded) - present)
        changed = [r for r in recorded
                   if r in present and file_digest(found.path / r) != recorded[r]]
        if missing or changed:
            return Verification("mismatch", f"{len(missing)} missing, {len(changed)} changed "
                                            "since `grader data prepare`")
        return Verification("verified", f"{len(recorded)} files match the manifest")

    def counts(self, found: Found) -> dict[str, int]:
        split = json.loads((found.path / MANIFEST).read_text())["split"]
        return {s: n * len(CLASSES) for s, n in split.items()}

    def load(self, found: Found, image_size: tuple[int, int] | None = None,
             limit: int | None = None, **options: object) -> Dataset:
        size = tuple(image_size or self.image_size)
        arrays = {s: read_split(found.path / s, CLASSES, size, "rgb", limit) for s in SPLITS}
        return Dataset(
            name=self.name,
            x_train=arrays["train"][0], y_train=arrays["train"][1],
            x_val=arrays["validation"][0], y_val=arrays["validation"][1],
            x_test=arrays["test"][0], y_test=arrays["test"][1],
            class_names=list(CLASSES),
            source=str(found.path),
        )
