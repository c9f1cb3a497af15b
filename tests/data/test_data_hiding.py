"""The build worker's view of the disk: every data root covered, locked, and
no other process in sight."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.data.hiding import hide_prefix, namespaces_available, paths_to_hide

LOOK = r"""
import json, os, subprocess, sys
mount_point, scratch, outside, paths = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
seen = {p: os.path.exists(p) for p in paths}
umount = subprocess.run(["umount", mount_point], capture_output=True)
after = {p: os.path.exists(p) for p in paths}
proc = subprocess.run(["umount", "/proc"], capture_output=True)
rw = subprocess.run(["mount", "-o", "remount,bind,rw", "/"], capture_output=True)
pids = [p for p in os.listdir("/proc") if p.isdigit()]
wrote = {}
for path in (os.path.join(scratch, "mine.txt"), outside):
    try:
        with open(path, "w") as fh:
            fh.write("written by the worker")
        wrote[path] = True
    except OSError:
        wrote[path] = False
apt = "/var/cache/apt/archives"
packages = os.listdir(apt) if os.path.isdir(apt) else []
print(json.dumps({"seen": seen, "umount_rc": umount.returncode, "after": after,
                  "packages": packages,
                  "proc_umount_rc": proc.returncode, "remount_rc": rw.returncode,
                  "pids": len(pids), "wrote": wrote}))
"""


def test_roots_that_hold_the_scratch_space_are_hidden_entry_by_entry(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADER_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    (tmp_path / "fashion-mnist").mkdir()
    (tmp_path / "mnist.npz").write_bytes(b"")
    (tmp_path / "notes").mkdir()
    scratch = tmp_path / "grader-scratch"
    scratch.mkdir()
    folders, files = paths_to_hide(tmp_path, keep=[scratch])
    assert tmp_path.resolve() / "fashion-mnist" in folders
    assert tmp_path.resolve() / "mnist.npz" in files
    assert tmp_path.resolve() not in folders  # covering it would hide the scratch space
    other = tmp_path / "elsewhere"
    other.mkdir()
    folders, _ = paths_to_hide(other, keep=[scratch])
    assert other.resolve() in folders  # a root apart from the scratch space goes whole


@pytest.mark.skipif(not namespaces_available(), reason="no user namespaces on this machine")
def test_hidden_worker_sees_no_data_cannot_unmount_and_sees_no_other_process(tmp_path,
                                                                             monkeypatch):
    monkeypatch.delenv("GRADER_DATA", raising=False)
    data = tmp_path / "data"
    (data / "fashion-mnist").mkdir(parents=True)
    labels = data / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(b"secret")
    system = Path("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
    scratch, outside = tmp_path / "scratch", tmp_path / "results.json"
    scratch.mkdir()
    outside.write_text("the grader's")
    prefix = hide_prefix(data, keep=[scratch])
    out = subprocess.run([*prefix, sys.executable, "-c", LOOK, str(data), str(scratch),
                          str(outside), str(labels), str(system)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["seen"] == {str(labels): False, str(system): False}
    assert report["umount_rc"] != 0 and report["after"] == report["seen"]
    # Its own PID namespace, whose /proc it cannot take away to see the host's.
    assert report["proc_umount_rc"] != 0 and report["pids"] <= 3
    # It writes its scratch folder and nothing else of the grader's user.
    assert report["remount_rc"] != 0
    assert report["wrote"] == {str(scratch / "mine.txt"): True, str(outside): False}
    assert report["packages"] == []  # a dataset's .deb in apt's cache holds its labels too
    assert outside.read_text() == "the grader's"
    assert labels.read_bytes() == b"secret"  # outside, nothing changed


def test_a_data_root_that_holds_the_python_installation_is_hidden_entry_by_entry(
        tmp_path, monkeypatch):
    """GRADER_DATA=$HOME with the virtual environment under $HOME must not hide
    Python from the worker."""
    monkeypatch.delenv("GRADER_DATA", raising=False)
    if not namespaces_available():
        pytest.skip("no user namespaces on this machine")
    venv_home = Path(sys.prefix).resolve().parent
    prefix = hide_prefix(venv_home, keep=[tmp_path])
    covered = prefix[prefix.index("grader-hide") + 1:]
    assert str(venv_home) not in covered
    out = subprocess.run([*prefix, sys.executable, "-c", "import numpy; print('ok')"],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


CONNECT = r"""
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5).close()
    print("connected")
except OSError as exc:
    print(f"refused: {exc}")
"""


@pytest.mark.skipif(not namespaces_available(), reason="no user namespaces on this machine")
def test_hidden_worker_has_no_network_not_even_the_graders_loopback(tmp_path):
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = str(listener.getsockname()[1])
        direct = subprocess.run([sys.executable, "-c", CONNECT, port],
                                capture_output=True, text=True, timeout=30)
        assert direct.stdout.startswith("connected")  # the listener is reachable from here
        prefix = hide_prefix(tmp_path / "data", keep=[tmp_path / "scratch"])
        hidden = subprocess.run([*prefix, sys.executable, "-c", CONNECT, port],
                                capture_output=True, text=True, timeout=30)
    assert hidden.returncode == 0, hidden.stderr
    assert hidden.stdout.startswith("refused"), hidden.stdout
