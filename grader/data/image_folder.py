"""Class-per-folder image directories (``SPLIT/CLASS/*.jpg``), the layout of
cats vs dogs after `grader data prepare` and of the Kaggle chest X-ray set, and
the JPEG screening both prepare steps share.

Pillow decodes the images; it is imported inside the functions that need it.
"""

from __future__ import annotations

import io
import random
import warnings
from pathlib import Path

import numpy as np

from grader.data.dataset import DatasetCorrupt

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
JPEG_MAGIC = b"\xff\xd8\xff"


def classify_jpeg(name: str, data: bytes) -> str:
    """``"ok"``, ``"non-jpeg"`` (not a JPEG by name or by content: Thumbs.db,
    a PNG or BMP renamed ``.jpg``) or ``"corrupt"`` (claims to be a JPEG but
    Pillow cannot decode it: empty, truncated or damaged files)."""
    suffix = Path(name).suffix.lower()
    if suffix not in {".jpg", ".jpeg"}:
        return "non-jpeg"
    if len(data) == 0:
        return "corrupt"
    if not data.startswith(JPEG_MAGIC):
        return "non-jpeg"
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bad EXIF is harmless; undecodable pixels are not
            with Image.open(io.BytesIO(data)) as img:
                if img.format != "JPEG":
                    return "non-jpeg"
                # draft() decodes at 1/8 scale: every byte is still parsed, far faster.
                img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))
                img.load()
    except Exception:  # Pillow raises OSError, SyntaxError, ValueError... for bad data
        return "corrupt"
    return "ok"


def list_split(split_dir: Path, class_names: list[str]) -> list[tuple[Path, int]]:
    """Every image file of a split as (path, class index), in a stable order."""
    items = []
    for index, cls in enumerate(class_names):
        folder = split_dir / cls
        if not folder.is_dir():
            raise DatasetCorrupt(f"{split_dir}: has no class folder {cls!r}")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        items.extend((p, index) for p in files)
    return items


def read_split(split_dir: Path, class_names: list[str], image_size: tuple[int, int],
               color_mode: str = "rgb", limit: int | None = None,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Decodes a split into ``(N, H, W, C)`` uint8 images and N labels.

    ``image_size`` is (height, width); images are resized with bilinear
    filtering, as Keras' ``image_dataset_from_directory`` does. ``limit`` keeps
    a seeded random subset of that many images (for quick checks).
    """
    from PIL import Image

    items = list_split(split_dir, class_names)
    if limit is not None and limit < len(items):
        items = sorted(random.Random(seed).sample(items, limit), key=lambda t: (t[1], t[0].name))
    mode = {"rgb": "RGB", "grayscale": "L"}[color_mode]
    height, width = image_size
    x = np.empty((len(items), height, width, 3 if mode == "RGB" else 1), dtype=np.uint8)
    y = np.empty(len(items), dtype=np.int64)
    for i, (path, label) in enumerate(items):
        try:
            with Image.open(path) as img:
                img.draft(mode, (width, height))
                pixels = img.convert(mode).resize((width, height), Image.Resampling.BILINEAR)
        except Exception as err:
            raise DatasetCorrupt(f"{path}: cannot decode image ({err})") from err
        x[i] = np.asarray(pixels, dtype=np.uint8).reshape(height, width, -1)
        y[i] = label
    return x, y
