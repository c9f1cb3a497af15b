"""The Kaggle pediatric chest X-ray set (ds-ag-021 Q10), as it unpacks:
``chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg``. The archive nests
a second copy under ``chest_xray/chest_xray/``; either folder is accepted.
Images are resized to 224 x 224 and read as RGB by default, as the app does.
"""

from __future__ import annotations

from pathlib import Path

from grader.data.dataset import Dataset
from grader.data.image_folder import list_split, read_split
from grader.data.source import Found, Source

CLASSES = ["NORMAL", "PNEUMONIA"]
SPLIT_DIRS = {"train": "train", "validation": "val", "test": "test"}


def _is_layout(folder: Path) -> bool:
    return all((folder / s / c).is_dir() for s in ("train", "test") for c in CLASSES)


class ChestXray(Source):
    name = "chest-xray"
    description = "Kaggle pediatric chest X-rays, NORMAL vs PNEUMONIA (ds-ag-021)"
    expected = "chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/"
    prepare = ("unzip Kaggle's chest-xray-pneumonia archive into $GRADER_DATA/ so that "
               "$GRADER_DATA/chest_xray/train/NORMAL/ exists")
    image_size = (224, 224)

    def find(self, roots: list[Path]) -> Found | None:
        for root in roots:
            for name in ("chest_xray", "chest-xray"):
                for folder in (root / name, root / name / name):
                    if _is_layout(folder):
                        files = [p for s in SPLIT_DIRS.values() if (folder / s).is_dir()
                                 for p, _ in list_split(folder / s, CLASSES)]
                        return Found(folder, "image-folders", files)
        return None

    def counts(self, found: Found) -> dict[str, int]:
        return {split: len(list_split(found.path / d, CLASSES))
                for split, d in SPLIT_DIRS.items() if (found.path / d).is_dir()}

    def load(self, found: Found, image_size: tuple[int, int] | None = None,
             limit: int | None = None, color_mode: str = "rgb", **options: object) -> Dataset:
        size = tuple(image_size or self.image_size)
        arrays = {split: read_split(found.path / d, CLASSES, size, color_mode, limit)
                  for split, d in SPLIT_DIRS.items() if (found.path / d).is_dir()}
        val = arrays.get("validation")
        return Dataset(
            name=self.name,
            x_train=arrays["train"][0], y_train=arrays["train"][1],
            x_test=arrays["test"][0], y_test=arrays["test"][1],
            x_val=val[0] if val else None, y_val=val[1] if val else None,
            class_names=list(CLASSES),
            source=str(found.path),
        )
