"""The Kaggle chest X-ray layout, read as it unpacks (class-per-folder JPEGs)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from grader.data import load_dataset, locate


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADER_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))


def grey_jpeg(seed: int, size=(40, 32)) -> bytes:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, size=size[::-1], dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format="JPEG")
    return buf.getvalue()


def unpack(root, nested: bool, counts=None):
    counts = counts or {"train": 3, "val": 1, "test": 2}
    base = root / "chest_xray" / ("chest_xray" if nested else "")
    seed = 0
    for split, n in counts.items():
        for cls in ("NORMAL", "PNEUMONIA"):
            folder = base / split / cls
            folder.mkdir(parents=True)
            for _ in range(n):
                seed += 1
                (folder / f"person{seed}_{cls.lower()}.jpeg").write_bytes(grey_jpeg(seed))
    return base


@pytest.mark.parametrize("nested", [False, True])
def test_chest_xray_folders_load_resized_as_rgb_with_their_val_split(tmp_path, nested):
    base = unpack(tmp_path, nested)
    assert locate("chest-xray", tmp_path).path == base
    data = load_dataset("chest-xray", tmp_path, image_size=(16, 20))
    assert data.x_train.shape == (6, 16, 20, 3) and data.x_train.dtype == np.uint8
    assert data.x_val.shape == (2, 16, 20, 3) and data.x_test.shape == (4, 16, 20, 3)
    assert data.y_train.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.class_names == ["NORMAL", "PNEUMONIA"]
    # Grey X-rays are repeated into three equal channels.
    assert np.array_equal(data.x_test[..., 0], data.x_test[..., 2])


def test_chest_xray_default_size_is_the_apps_224(tmp_path):
    unpack(tmp_path, nested=False, counts={"train": 1, "test": 1})
    data = load_dataset("chest-xray", tmp_path)
    assert data.x_train.shape[1:] == (224, 224, 3) and data.x_val is None
