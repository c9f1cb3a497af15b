"""`grader data prepare cats-dogs` on a miniature of the Kaggle archive, with
the kinds of broken file the real one holds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dataset_files import full_disk_after, write_petimages_zip

from grader.data import SOURCES, load_dataset, locate
from grader.data.cats_dogs import prepare_cats_dogs
from grader.data.image_folder import classify_jpeg


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "kagglecatsanddogs_3367a.zip"
    expected_skips = write_petimages_zip(path, per_class=8)
    return path, expected_skips


def test_prepare_skips_corrupt_and_non_jpeg_files_and_counts_them(tmp_path, archive):
    path, expected = archive
    manifest = prepare_cats_dogs(path, tmp_path / "data", split=(3, 2, 1), seed=1)
    assert manifest["skipped"] == expected
    assert "PetImages/Cat/666.jpg" in manifest["skipped_files"]["corrupt"]
    assert "PetImages/Dog/9999.jpg" in manifest["skipped_files"]["non-jpeg"]
    assert manifest["scanned"] == 8 * 2 + 5
    folder = tmp_path / "data" / "cats-dogs"
    for split, n in (("train", 3), ("validation", 2), ("test", 1)):
        for cls in ("cats", "dogs"):
            assert len(list((folder / split / cls).iterdir())) == n, (split, cls)
    # The bad files never reach the prepared folders.
    names = {p.name for p in folder.rglob("*.jpg")}
    assert not names & {"cat.666.jpg", "dog.11702.jpg", "dog.9999.jpg"}


def test_same_seed_same_sample_and_splits_never_overlap(tmp_path, archive):
    path, _ = archive
    a = prepare_cats_dogs(path, tmp_path / "a", split=(3, 2, 1), seed=42)["files"]
    b = prepare_cats_dogs(path, tmp_path / "b", split=(3, 2, 1), seed=42)["files"]
    assert a == b
    stems = [name.split("/", 1)[1] for name in a]
    assert len(stems) == len(set(stems))  # no image in two splits


def test_prepared_folders_load_with_their_own_validation_split(tmp_path, archive):
    path, _ = archive
    prepare_cats_dogs(path, tmp_path / "data", split=(3, 2, 1))
    data = load_dataset("cats-dogs", data_dir=tmp_path / "data", image_size=(20, 24))
    assert data.x_train.shape == (6, 20, 24, 3) and data.x_train.dtype == np.uint8
    assert data.x_val.shape == (4, 20, 24, 3) and data.x_test.shape == (2, 20, 24, 3)
    assert data.y_train.tolist() == [0, 0, 0, 1, 1, 1] and data.class_names == ["cats", "dogs"]


def test_manifest_verifies_and_catches_a_replaced_image(tmp_path, archive):
    path, _ = archive
    prepare_cats_dogs(path, tmp_path / "data", split=(3, 2, 1))
    found = locate("cats-dogs", tmp_path / "data")
    assert SOURCES["cats-dogs"].verify(found).state == "verified"
    victim = sorted((found.path / "test" / "dogs").iterdir())[0]
    victim.write_bytes(sorted((found.path / "train" / "cats").iterdir())[0].read_bytes())
    assert SOURCES["cats-dogs"].verify(found).state == "mismatch"


def test_too_few_readable_images_is_a_clear_error(tmp_path, archive):
    from grader.data import DatasetCorrupt

    path, _ = archive
    with pytest.raises(DatasetCorrupt, match="only 8 readable cats images; 12 are needed"):
        prepare_cats_dogs(path, tmp_path / "data", split=(6, 3, 3))
    assert not (tmp_path / "data" / "cats-dogs").exists()  # nothing half-written


def test_classify_jpeg_tells_corrupt_from_non_jpeg():
    from dataset_files import jpeg_bytes, png_bytes

    good = jpeg_bytes(1)
    assert classify_jpeg("1.jpg", good) == "ok"
    assert classify_jpeg("1.jpg", b"") == "corrupt"
    assert classify_jpeg("1.jpg", good[:150]) == "corrupt"
    assert classify_jpeg("1.jpg", png_bytes(1)) == "non-jpeg"
    assert classify_jpeg("Thumbs.db", b"\xd0\xcf") == "non-jpeg"


def test_cli_prepare_reports_the_skips_and_status_shows_it_verified(grader, tmp_path, archive):
    path, _ = archive
    env = {"GRADER_DATA": "", "KERAS_HOME": str(tmp_path / "kh")}
    out = tmp_path / "data"
    result = grader("data", "prepare", "cats-dogs", "--zip", str(path), "--data-dir", str(out),
                    "--split", "3,2,1", env=env)
    assert result.returncode == 0, result.stderr
    assert "skipped 2 corrupt and 3 non-JPEG files" in result.stdout
    status = grader("data", "status", "--json", "--data-dir", str(out), env=env)
    assert status.returncode == 0, status.stderr
    rows = {r["dataset"]: r for r in json.loads(status.stdout)}
    assert rows["cats-dogs"]["found"] and rows["cats-dogs"]["checksum"] == "verified"
    assert rows["cats-dogs"]["samples"] == {"train": 6, "validation": 4, "test": 2}
    assert rows["cifar10"]["found"] is False
    assert rows["cifar10"]["prepare"] == "grader data prepare cifar10 --tar cifar-10-python.tar.gz"


def test_cli_prepare_without_the_archive_exits_2_naming_the_file(grader, tmp_path):
    result = grader("data", "prepare", "cats-dogs", "--zip", str(tmp_path / "nope.zip"),
                    "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "nope.zip: no such file" in result.stderr


def test_a_failed_write_leaves_no_partial_folder(tmp_path, archive, monkeypatch):
    path, _ = archive
    (tmp_path / "data").mkdir()
    full_disk_after(monkeypatch, 3)
    with pytest.raises(OSError, match="No space left"):
        prepare_cats_dogs(path, tmp_path / "data", split=(3, 2, 1))
    assert list((tmp_path / "data").iterdir()) == []
