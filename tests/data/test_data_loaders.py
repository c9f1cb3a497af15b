"""Loaders read tiny files written in each dataset's real on-disk format."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from dataset_files import (
    full_disk_after,
    idx_bytes,
    tar_folder,
    write_cifar_folder,
    write_idx_dataset,
)

from grader.data import (
    SOURCES,
    DatasetCorrupt,
    DatasetMissing,
    load_dataset,
    locate,
    search_roots,
)
from grader.data.cifar10 import prepare_cifar10
from grader.data.idx import parse_idx, read_idx


@pytest.fixture(autouse=True)
def isolated_roots(tmp_path, monkeypatch):
    """Only the test's own folders are searched: no $GRADER_DATA, an empty Keras cache."""
    monkeypatch.delenv("GRADER_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))


def tiny_mnist(seed: int = 0, n_train: int = 6, n_test: int = 3):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, n_train, dtype=np.uint8),
            rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, n_test, dtype=np.uint8))


def test_idx_gz_files_load_as_channels_last_uint8_with_int64_labels(tmp_path):
    x_train, y_train, x_test, y_test = tiny_mnist()
    write_idx_dataset(tmp_path / "fashion-mnist", x_train, y_train, x_test, y_test)
    data = load_dataset("fashion-mnist", data_dir=tmp_path)
    assert data.x_train.shape == (6, 28, 28, 1) and data.x_train.dtype == np.uint8
    assert data.y_train.dtype == np.int64
    np.testing.assert_array_equal(data.x_train[..., 0], x_train)
    np.testing.assert_array_equal(data.y_test, y_test)
    assert data.class_names[0] == "T-shirt/top" and len(data.class_names) == 10
    assert data.x_val is None  # Fashion-MNIST ships no validation split


def test_uncompressed_idx_files_load_too(tmp_path):
    arrays = tiny_mnist(1)
    write_idx_dataset(tmp_path / "mnist", *arrays, gz=False)
    data = load_dataset("mnist", data_dir=tmp_path)
    np.testing.assert_array_equal(data.x_test[..., 0], arrays[2])


def test_truncated_idx_file_is_reported_with_its_path(tmp_path):
    raw = idx_bytes(np.zeros((5, 28, 28), np.uint8))[:-10]
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(raw))
    with pytest.raises(DatasetCorrupt, match="train-images-idx3-ubyte.gz.*truncated"):
        read_idx(bad)


def test_idx_magic_number_is_checked():
    with pytest.raises(DatasetCorrupt, match="not an IDX file"):
        parse_idx(b"PK\x03\x04 a zip, not IDX")


def test_keras_mnist_npz_loads(tmp_path):
    x_train, y_train, x_test, y_test = tiny_mnist(2)
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train,
             x_test=x_test, y_test=y_test)
    found = locate("mnist", data_dir=tmp_path)
    assert found.layout == "npz"
    data = load_dataset("mnist", data_dir=tmp_path)
    np.testing.assert_array_equal(data.x_train[..., 0], x_train)
    np.testing.assert_array_equal(data.y_train, y_train)


def test_npz_with_pickled_objects_is_refused(tmp_path):
    # allow_pickle=False: an object array in an .npz would otherwise run code on load.
    np.savez(tmp_path / "mnist.npz", x_train=np.array([object()], dtype=object),
             y_train=np.zeros(1), x_test=np.zeros(1), y_test=np.zeros(1))
    with pytest.raises(DatasetCorrupt, match="mnist.npz"):
        load_dataset("mnist", data_dir=tmp_path)


def test_cifar10_pickle_batches_decode_planes_to_channels_last(tmp_path):
    written = write_cifar_folder(tmp_path / "cifar-10-batches-py")
    data = load_dataset("cifar10", data_dir=tmp_path)
    assert data.x_train.shape == (20, 32, 32, 3) and data.x_test.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(data.x_train, written["x_train"])
    np.testing.assert_array_equal(data.y_test, written["y_test"])
    assert data.class_names[3] == "cat"


def test_cifar10_is_read_straight_from_the_tarball(tmp_path):
    written = write_cifar_folder(tmp_path / "build" / "cifar-10-batches-py", seed=5)
    tar_folder(tmp_path / "build" / "cifar-10-batches-py", tmp_path / "cifar-10-python.tar.gz")
    assert locate("cifar10", data_dir=tmp_path).layout == "tarball"
    data = load_dataset("cifar10", data_dir=tmp_path)
    np.testing.assert_array_equal(data.x_test, written["x_test"])


def test_prepare_cifar10_extracts_batches_and_writes_a_manifest(tmp_path):
    written = write_cifar_folder(tmp_path / "build" / "cifar-10-batches-py", seed=7)
    tar = tar_folder(tmp_path / "build" / "cifar-10-batches-py", tmp_path / "c10.tar.gz")
    out = tmp_path / "data"
    manifest = prepare_cifar10(tar, out)
    assert manifest["source_verified"] is False  # not the official tarball's digest
    assert set(manifest["files"]) >= {"data_batch_1", "test_batch", "batches.meta"}
    found = locate("cifar10", data_dir=out)
    assert found.layout == "pickles" and found.path == out / "cifar-10-batches-py"
    np.testing.assert_array_equal(load_dataset("cifar10", data_dir=out).y_train,
                                  written["y_train"])


def test_cifar_pickle_that_would_run_code_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_folder(folder)

    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": Exploit(), b"labels": []}))
    with pytest.raises(DatasetCorrupt, match="data_batch_3.*refusing builtins.print"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_search_order_is_data_dir_then_env_then_keras_cache_then_system(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    roots = search_roots(tmp_path / "explicit")
    assert roots[:3] == [tmp_path / "explicit", tmp_path / "env", tmp_path / "kh" / "datasets"]
    assert Path("/usr/share/datasets") in roots[3:]


def test_explicit_data_dir_wins_over_grader_data(tmp_path, monkeypatch):
    a, b = tiny_mnist(10), tiny_mnist(11)
    write_idx_dataset(tmp_path / "explicit" / "mnist", *a)
    write_idx_dataset(tmp_path / "env" / "mnist", *b)
    monkeypatch.setenv("GRADER_DATA", str(tmp_path / "env"))
    np.testing.assert_array_equal(load_dataset("mnist", tmp_path / "explicit").y_train, a[1])
    np.testing.assert_array_equal(load_dataset("mnist").y_train, b[1])


def test_keras_cache_layout_is_found(tmp_path, monkeypatch):
    arrays = tiny_mnist(4)
    write_idx_dataset(tmp_path / "kh" / "datasets" / "fashion-mnist", *arrays)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    found = locate("fashion-mnist")
    assert found.path == tmp_path / "kh" / "datasets" / "fashion-mnist"


def test_missing_dataset_names_the_prepare_command(tmp_path, monkeypatch):
    monkeypatch.setattr("grader.data.locations.SYSTEM_ROOTS", ())
    with pytest.raises(DatasetMissing) as err:
        load_dataset("cats-dogs", data_dir=tmp_path)
    assert "grader data prepare cats-dogs --zip kagglecatsanddogs_3367a.zip" in str(err.value)
    assert str(tmp_path) in str(err.value)
    with pytest.raises(DatasetMissing, match="grader data prepare cifar10 --tar"):
        load_dataset("cifar10", data_dir=tmp_path)
    with pytest.raises(DatasetMissing, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", data_dir=tmp_path)


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: fashion-mnist, mnist, cifar10"):
        load_dataset("imagenet")


def test_real_debian_fashion_mnist_loads_and_verifies():
    """Debian's dataset-fashion-mnist, installed by scripts/setup.sh."""
    from grader.data import SOURCES

    found = locate("fashion-mnist", data_dir="/usr/share/datasets")
    assert SOURCES["fashion-mnist"].verify(found).state == "verified"
    data = load_dataset("fashion-mnist", data_dir="/usr/share/datasets")
    assert data.sizes() == {"train": 60000, "test": 10000}
    assert data.y_train[:5].tolist() == [9, 0, 0, 3, 0]
    assert np.bincount(data.y_test).tolist() == [1000] * 10


def test_changed_fashion_mnist_file_is_a_checksum_mismatch(tmp_path):
    from grader.data import SOURCES

    write_idx_dataset(tmp_path / "fashion-mnist", *tiny_mnist())
    verdict = SOURCES["fashion-mnist"].verify(locate("fashion-mnist", tmp_path))
    assert verdict.state == "mismatch" and "train-images-idx3-ubyte.gz" in verdict.detail


def test_cifar_manifest_detects_a_changed_batch(tmp_path):
    from grader.data import SOURCES

    write_cifar_folder(tmp_path / "build" / "cifar-10-batches-py")
    tar = tar_folder(tmp_path / "build" / "cifar-10-batches-py", tmp_path / "c.tar.gz")
    prepare_cifar10(tar, tmp_path / "data")
    found = locate("cifar10", tmp_path / "data")
    assert SOURCES["cifar10"].verify(found).state == "unchecked"  # unofficial source tarball
    batch = found.path / "data_batch_2"
    batch.write_bytes(batch.read_bytes()[:-1] + b"\x00")
    verdict = SOURCES["cifar10"].verify(found)
    assert verdict.state == "mismatch" and "data_batch_2" in verdict.detail
    json.loads((found.path / "grader-manifest.json").read_text())  # still valid JSON


def test_damaged_cifar_batch_is_named_when_counted_and_loaded(tmp_path):
    from grader.data import SOURCES

    write_cifar_folder(tmp_path / "cifar-10-batches-py")
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:100])
    # `grader data status` counts; training loads: both must say which batch is damaged.
    with pytest.raises(DatasetCorrupt, match="data_batch_3: not a CIFAR-10 python batch"):
        SOURCES["cifar10"].counts(locate("cifar10", tmp_path))
    with pytest.raises(DatasetCorrupt, match="data_batch_3: not a CIFAR-10 python batch"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_damaged_idx_and_npz_files_are_named_by_status_counts_and_verify(tmp_path):
    write_idx_dataset(tmp_path / "fashion-mnist", *tiny_mnist())
    fashion = SOURCES["fashion-mnist"]
    labels = tmp_path / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(b"\0\0\x08\x01\0\0"))  # header cut inside a dimension
    with pytest.raises(DatasetCorrupt, match="t10k-labels-idx1-ubyte.gz: cannot read"):
        fashion.counts(locate("fashion-mnist", tmp_path))
    labels.write_bytes(gzip.compress(idx_bytes(np.zeros(3, np.uint8)))[:-12])  # gzip cut short
    with pytest.raises(DatasetCorrupt, match="t10k-labels-idx1-ubyte.gz: cannot read"):
        fashion.verify(locate("fashion-mnist", tmp_path))
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros(1), y_train=np.array([object()]),
             x_test=np.zeros(1), y_test=np.zeros(1))
    with pytest.raises(DatasetCorrupt, match="mnist.npz: not a Keras mnist.npz"):
        SOURCES["mnist"].counts(locate("mnist", tmp_path))


def test_a_failed_write_leaves_no_partial_cifar_folder_and_stays_an_oserror(
        tmp_path, monkeypatch):
    write_cifar_folder(tmp_path / "build" / "cifar-10-batches-py")
    tar = tar_folder(tmp_path / "build" / "cifar-10-batches-py", tmp_path / "c10.tar.gz")
    (tmp_path / "data").mkdir()
    full_disk_after(monkeypatch, 2)
    # The tarball is fine: a write error must not be reported as a damaged archive.
    with pytest.raises(OSError, match="No space left"):
        prepare_cifar10(tar, tmp_path / "data")
    assert list((tmp_path / "data").iterdir()) == []
