"""Warm workers (grader/forkserver.py, grader/parent/warm.py): forked from a server that
imported TensorFlow once, and as closed as a worker started afresh. The student code
here looks for what a fresh build worker cannot reach: the data, the network, other
processes (the server among them), what the student before it left behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import SMALL, run_check, task, write_spec

from grader.data.hiding import namespaces_available
from grader.parent.warm import WarmPool

pytestmark = pytest.mark.skipif(not namespaces_available(),
                                reason="no user namespaces here: build workers start fresh")

PROBE = textwrap.dedent('''
    import json, os, signal, socket, subprocess
    import keras
    from keras import layers
    from keras.src.backend.config import keras_home  # where Keras keeps its files


    def build():
        seen = {{"pid": os.getpid(),
                 "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
                 "data": os.path.exists({labels!r})}}
        seen["umount"] = subprocess.run(["umount", {data!r}], capture_output=True).returncode
        seen["data_after"] = os.path.exists({labels!r})
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
            seen["net"] = True
        except OSError:
            seen["net"] = False
        seen["proc_umount"] = subprocess.run(["umount", "/proc"], capture_output=True).returncode
        seen["remount_rw"] = subprocess.run(["mount", "-o", "remount,bind,rw", "/"],
                                            capture_output=True).returncode
        seen["pids_after"] = len([p for p in os.listdir("/proc") if p.isdigit()])
        try:
            with open({outside!r}, "w") as fh:
                fh.write("overwritten by a student")
            seen["wrote_outside"] = True
        except OSError:
            seen["wrote_outside"] = False
        for name, path in (("kernel_settings", "/proc/sys/kernel/core_pattern"),
                           ("device_folder", "/dev/planted-by-a-student")):
            try:  # opened for writing only: nothing is written
                with open(path, "a"):
                    pass
                seen[name] = True
            except OSError:
                seen[name] = False
        try:  # the verify workers' folder beside its own, in the scratch space
            with open(os.path.join("..", "verify", "planted"), "w") as fh:
                fh.write("a dataset of my own")
            seen["wrote_verify"] = True
        except OSError:
            seen["wrote_verify"] = False
        home = keras_home()
        seen["keras_home"] = sorted(os.listdir(home)) if os.path.isdir(home) else []
        with open(os.path.join(home, "left-by-{mark}"), "w") as fh:
            fh.write("a file for the next student to find")
        seen["home"] = os.environ["HOME"]
        seen["signals"] = {{s.name: str(signal.getsignal(s)) for s in signal.valid_signals()
                           if signal.getsignal(s) not in (signal.SIG_DFL, None)}}
        print("PROBE " + json.dumps(seen))
        return keras.Sequential([keras.Input((8, 8, 1)),
                                 layers.Conv2D(4, 3, padding="same", activation="relu"),
                                 layers.MaxPooling2D(2), layers.Flatten(),
                                 layers.Dense(3, activation="softmax")])
''')


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    with WarmPool(tmp_path_factory.mktemp("warm-logs")) as warm:
        yield warm


@pytest.fixture(scope="module")
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def probe_run(root: Path, pool: WarmPool | None, port: int, mark: str):
    data = root / "data"
    labels = data / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    labels.parent.mkdir(parents=True)
    labels.write_bytes(b"the test labels")
    sub = root / "submission"
    sub.mkdir()
    outside = root / "results-of-others.json"
    outside.write_text("graded")
    (sub / "probe.py").write_text(PROBE.format(labels=str(labels), data=str(data), port=port,
                                               mark=mark, outside=str(outside)))
    spec = write_spec(root / "probe.json", [task("probe", "build", SMALL, file="probe.py")])
    run = run_check(str(sub), "--assignment", str(spec), "--static", "--data-dir", str(data),
                    json_path=root / "results.json", warm=pool, fresh=pool is None)
    line = next(x for x in run.results["grader"]["student_output"].splitlines()
                if x.startswith("PROBE "))
    return run, json.loads(line[len("PROBE "):])


def test_a_warm_build_worker_is_as_closed_as_a_fresh_one(pool, listener, tmp_path):
    first, seen = probe_run(tmp_path / "a", pool, listener, "a")
    assert first.results["grader"]["workers_started"]["warm"] == 2, first.results["grader"]
    assert first.state("probe", "architecture") == "passed"
    assert first.state("probe", "params") == "passed"
    # Its own PID namespace: the namespace's init (PID 1, which runs no student code)
    # and itself; no server, no other student, no grader.
    assert seen["pid"] == 2 and len(seen["pids"]) <= 3, seen
    assert seen["data"] is False and seen["umount"] != 0 and seen["data_after"] is False
    assert seen["net"] is False
    # /proc cannot be taken away to see the host's, nor the disk made writable again:
    # nothing outside the scratch space (another student's results) can be written.
    assert seen["proc_umount"] != 0 and seen["pids_after"] <= 3, seen
    assert seen["remount_rw"] != 0 and seen["wrote_outside"] is False
    assert (tmp_path / "a" / "results-of-others.json").read_text() == "graded"
    assert seen["wrote_verify"] is False
    # A worker started afresh, as a lone `grader check` starts it, is held the same.
    fresh, seen_fresh = probe_run(tmp_path / "c", None, listener, "c")
    assert fresh.results["grader"]["workers_started"]["warm"] == 0
    assert seen_fresh["pid"] == 1 and len(seen_fresh["pids"]) <= 3, seen_fresh
    # The signal handlers a new Python process starts with, not its server's or init's.
    # (A fresh worker also inherits what the grader's own parent ignored: SIGHUP under
    # nohup, say; those are the grader's environment, not Python's start.)
    python = {"SIGINT": str(signal.default_int_handler), "SIGPIPE": "1", "SIGXFSZ": "1"}
    assert seen["signals"] == python, seen["signals"]
    assert python.items() <= seen_fresh["signals"].items(), seen_fresh["signals"]
    assert seen["kernel_settings"] is False and seen["device_folder"] is False
    for key in ("data", "data_after", "net", "wrote_outside", "wrote_verify", "kernel_settings",
                "device_folder"):
        assert seen_fresh[key] is False, key
    for key in ("umount", "proc_umount", "remount_rw"):
        assert seen_fresh[key] != 0, key
    # The next student finds none of what this one left in Keras's folder.
    second, seen_next = probe_run(tmp_path / "b", pool, listener, "b")
    assert second.state("probe", "params") == "passed"
    assert seen["keras_home"] == [] or "left-by-a" not in seen_next["keras_home"]
    assert not any(name.startswith("left-by") for name in seen_next["keras_home"])
    assert seen_next["home"] != seen["home"]


def test_a_warm_worker_dies_with_the_check_that_asked_for_it(pool, tmp_path):
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "slow.py").write_text("import time\n\n\ndef build():\n    time.sleep(600)\n")
    spec = write_spec(tmp_path / "slow.json", [task("slow", "build", SMALL, file="slow.py")])
    fds, env = pool.channels()
    check = subprocess.Popen([sys.executable, "-m", "grader", "check", str(sub),
                              "--assignment", str(spec), "--static"],
                             pass_fds=fds, env={**os.environ, **env},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for fd in fds:
        os.close(fd)
    server = pool.pid("build")
    deadline = time.monotonic() + 120
    while not _children(server):
        assert time.monotonic() < deadline, "no warm worker was forked"
        time.sleep(0.2)
    check.send_signal(signal.SIGKILL)
    check.wait()
    deadline = time.monotonic() + 30
    while _children(server):
        assert time.monotonic() < deadline, "the worker outlived its `grader check`"
        time.sleep(0.2)


def test_a_check_whose_servers_died_starts_its_workers_itself(tmp_path):
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "ok.py").write_text(textwrap.dedent('''
        import keras
        from keras import layers


        def build():
            return keras.Sequential([keras.Input((8, 8, 1)),
                                     layers.Conv2D(4, 3, padding="same", activation="relu"),
                                     layers.MaxPooling2D(2), layers.Flatten(),
                                     layers.Dense(3, activation="softmax")])
    '''))
    spec = write_spec(tmp_path / "ok.json", [task("ok", "build", SMALL, file="ok.py")])
    with WarmPool() as dead:
        fds, env = dead.channels()  # handed out while the servers lived
        for kind in ("build", "verify"):
            os.kill(dead.pid(kind), signal.SIGKILL)
        check = subprocess.run([sys.executable, "-m", "grader", "check", str(sub),
                                "--assignment", str(spec), "--static", "--json",
                                str(tmp_path / "r.json")], pass_fds=fds,
                               env={**os.environ, **env}, capture_output=True, text=True,
                               timeout=300)
        for fd in fds:
            os.close(fd)
    assert check.returncode == 0, check.stdout + check.stderr
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["grader"]["workers_started"] == {"build": 1, "verify": 1, "warm": 0}


ESCAPE = textwrap.dedent('''
    import ctypes, os, subprocess, threading, time
    import keras
    from keras import layers


    def build():
        os.setsid()  # out of the worker's process group
        ctypes.CDLL(None).prctl(1, 0, 0, 0, 0)  # and no death signal
        os._exit = lambda code: None  # and no way to end
        subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
        threading.Thread(target=time.sleep, args=(600,)).start()
        return keras.Sequential([keras.Input((8, 8, 1)),
                                 layers.Conv2D(4, 3, padding="same", activation="relu"),
                                 layers.MaxPooling2D(2), layers.Flatten(),
                                 layers.Dense(3, activation="softmax")])
''')


def test_a_worker_that_leaves_its_group_and_death_signal_still_ends_with_grading(
        pool, tmp_path):
    marker = f"301.{os.getpid()}"  # a sleep whose command line names this test
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "escape.py").write_text(ESCAPE.format(marker=marker))
    spec = write_spec(tmp_path / "escape.json", [task("escape", "build", SMALL,
                                                      file="escape.py")])
    run = run_check(str(sub), "--assignment", str(spec), "--static",
                    json_path=tmp_path / "r.json", warm=pool)
    assert run.state("escape", "params") == "passed", run.stdout
    deadline = time.monotonic() + 20
    while _running(marker):
        assert time.monotonic() < deadline, "the student's processes outlived grading"
        time.sleep(0.2)


def _running(marker: str) -> list[Path]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(entry)
        except OSError:
            continue
    return found


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
            if int(stat[stat.rindex(b")") + 2:].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found
