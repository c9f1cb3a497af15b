"""`grader data status` answers from file headers and digests, never TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


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


def test_status_warns_when_data_dir_does_not_exist(grader, tmp_path):
    env = {"GRADER_DATA": "", "KERAS_HOME": str(tmp_path)}
    for given, said in ((tmp_path / "nope", "does not exist"), (Path(__file__), "is not a folder")):
        result = grader("data", "status", "--json", "--no-verify", "--data-dir", str(given),
                        env=env)
        assert result.returncode == 0, result.stderr
        assert result.stderr.splitlines() == [
            f"warning: --data-dir {given} {said}; searching only $GRADER_DATA, the Keras cache "
            "and the system locations"]
        json.loads(result.stdout)  # the rows still come, from the other roots


def test_status_at_80_columns_keeps_paths_and_prepare_commands_whole(grader, tmp_path):
    from grader.data import SOURCES

    result = grader("data", "status", "--no-verify",
                    env={"GRADER_DATA": "", "KERAS_HOME": str(tmp_path), "COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines if line[:1] in "┏┃┡│└") <= 80
    # Copied and pasted: each on a line of its own, never broken inside a word.
    assert "fashion-mnist found at /usr/share/datasets/fashion-mnist" in lines
    for name, source in SOURCES.items():
        if name != "fashion-mnist":
            assert f"{name} missing; to prepare: {source.prepare}" in lines


def test_status_names_the_damaged_cifar_batch(grader, tmp_path):
    from dataset_files import write_cifar_folder

    write_cifar_folder(tmp_path / "cifar-10-batches-py")
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:100])
    result = grader("data", "status", "--json", "--data-dir", str(tmp_path),
                    env={"GRADER_DATA": "", "KERAS_HOME": str(tmp_path / "kh")})
    cifar = {r["dataset"]: r for r in json.loads(result.stdout)}["cifar10"]
    assert cifar["checksum"] == "error"
    assert f"{batch}: not a CIFAR-10 python batch" in cifar["checksum_detail"]


@pytest.mark.parametrize("dataset", ["cifar10", "cats-dogs"])
def test_prepare_into_a_file_says_so_in_one_line_and_writes_nothing(grader, tmp_path, dataset):
    from dataset_files import tar_folder, write_cifar_folder, write_petimages_zip

    if dataset == "cifar10":
        write_cifar_folder(tmp_path / "build" / "cifar-10-batches-py")
        archive = ["--tar", str(tar_folder(tmp_path / "build" / "cifar-10-batches-py",
                                           tmp_path / "c10.tar.gz"))]
    else:
        write_petimages_zip(tmp_path / "pets.zip", per_class=8)
        archive = ["--zip", str(tmp_path / "pets.zip"), "--split", "3,2,1"]
    target = tmp_path / "afile"
    target.write_text("not a folder\n")
    before = sorted(tmp_path.iterdir())
    result = grader("data", "prepare", dataset, *archive, "--data-dir", str(target),
                    env={"GRADER_DATA": "", "KERAS_HOME": str(tmp_path / "kh")})
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"grader data prepare {dataset}: cannot write {target}/"
        f"{'cifar-10-batches-py' if dataset == 'cifar10' else 'cats-dogs'}.partial "
        "(Not a directory); give --data-dir a folder you can write to"]
    assert sorted(tmp_path.iterdir()) == before and target.read_text() == "not a folder\n"
