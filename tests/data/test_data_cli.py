"""`grader data status` answers from file headers and digests, never TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys


def test_status_lists_every_dataset_and_finds_debian_fashion_mnist(grader, tmp_path):
    result = grader("data", "status", "--json", env={"GRADER_DATA": "",
                                                     "KERAS_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    rows = {r["dataset"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {"fashion-mnist", "mnist", "cifar10", "cats-dogs", "chest-xray"}
    fashion = rows["fashion-mnist"]
    assert fashion["path"] == "/usr/share/datasets/fashion-mnist"
    assert fashion["checksum"] == "verified"
    assert fashion["samples"] == {"train": 60000, "test": 10000}
    for row in rows.values():
        assert row["found"] or row["prepare"], row["dataset"]


def test_status_does_not_import_tensorflow():
    code = (
        "import sys, runpy\n"
        "sys.argv = ['grader', 'data', 'status', '--no-verify']\n"
        "try:\n    runpy.run_module('grader', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('TF-LOADED' if 'tensorflow' in sys.modules else 'TF-ABSENT')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "TF-ABSENT" in out.stdout, out.stdout + out.stderr


def test_prepare_cifar10_from_a_tarball_then_status_finds_it(grader, tmp_path):
    from dataset_files import tar_folder, write_cifar_folder

    write_cifar_folder(tmp_path / "build" / "cifar-10-batches-py")
    tar = tar_folder(tmp_path / "build" / "cifar-10-batches-py",
                     tmp_path / "cifar-10-python.tar.gz")
    env = {"GRADER_DATA": "", "KERAS_HOME": str(tmp_path / "kh")}
    out = tmp_path / "data"
    result = grader("data", "prepare", "cifar10", "--tar", str(tar), "--data-dir", str(out),
                    env=env)
    assert result.returncode == 0, result.stderr
    assert "does NOT match the official release" in result.stdout  # a home-made tarball
    status = grader("data", "status", "--json", "--data-dir", str(out), env=env)
    rows = {r["dataset"]: r for r in json.loads(status.stdout)}
    assert rows["cifar10"]["path"] == str(out / "cifar-10-batches-py")
    assert rows["cifar10"]["samples"] == {"train": 20, "test": 4}  # counted, not assumed
