"""A warm start for workers: a process that has imported TensorFlow once and forks a
fresh worker per request (the zygote pattern, as multiprocessing's forkserver does).

Why: a worker's start is almost all its TensorFlow import (4-5 CPU seconds), and a
class pays it twice per student. `grader batch run` starts one forkserver per worker
kind (grader/build_worker/warm.py, grader/verify_worker/warm.py); each `grader check`
it runs asks them for its workers instead of starting Python (grader/parent/warm.py).

Why a fork is as fresh as a new process for grading: the server imports modules and
runs nothing else, no student code and no model, so every child starts from the
same state a new process reaches after its imports; students never share a process,
and each child is killed as a group like a started worker. TensorFlow's runtime
starts its thread pools on the first operation, which happens in the child.

What a child gets before the worker's main() runs, in this order: its own session,
death with the server, core dumps off, the address-space limit, for a build worker
the namespaces below, then the request's folder, environment and output file.

Build workers: each child builds the namespaces of grader/data/hiding.py for itself,
with the folders and files its request names (the data roots, the training cache,
the verify side's folders): covered, no network, every mount read-only but the
check's scratch folder, all of it locked by a nested user namespace, and a PID
namespace of its own whose init runs no student code: the worker sees no other
process (the server, other students' workers), and when the init ends the kernel
ends everything the worker started, whatever process group or death signal it chose.
The server and the init are not dumpable, so nothing can read or trace their memory.
Keras fixed its home folder when the server imported it; each child gets an empty
tmpfs there, so no student reads another's files there (a bind of the student's own
HOME/.keras would follow a symlink earlier student code could plant).

Wire (a SOCK_SEQPACKET socket per client, one JSON message per packet, descriptors
passed with SCM_RIGHTS):
  control: {"op": "channel"} + [socket]       a new client channel (from the owner)
  client:  {"op": "spawn", "id", "args", "cwd", "env", "memory_mb",
            "hide": {"writable": [...], "folders": [...], "files": [...]}}
           + [jobs read end, events write end, output file]
  server:  {"op": "spawned", "id", "pid"} | {"op": "refused", "id", "message"}
           then {"op": "exited", "pid", "returncode"} (Popen's convention)
A client that hangs up has its children killed; the owner hanging up ends the server.

Usage (by the warm modules): python -m grader.build_worker.warm --control-fd N
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import select
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUTS = 0x04000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 0x1, 0x2, 0x4, 0x8, 0x20
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_RELATIME = 0x400, 0x800, 0x1000, 0x4000, 0x200000
MS_PRIVATE = 0x40000
# A mount's flags a remount must keep (statvfs's ST_* bits are the same numbers).
_KEPT_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME
# The init of a worker's PID namespace exits with this plus the signal that killed the
# worker; the holder turns it back into that signal (the worker's own exit codes are
# below it: a Python worker exits 0, 1 or 2).
INIT_SIGNALLED = 0x80
MAX_MESSAGE = 1 << 20
CHILD_FDS = 3  # jobs, events, output

_libc = ctypes.CDLL(None, use_errno=True)
# Taken before any student code runs: a worker that replaces os._exit still ends.
_exit = os._exit


class Unavailable(Exception):
    """A client cannot get a worker from its server; it starts the worker itself."""


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, value, 0, 0, 0), f"prctl({option})")


def _mount(source: str | None, target: str, fstype: str | None, flags: int,
           options: str | None = None) -> None:
    enc = [None if s is None else s.encode() for s in (source, target, fstype, options)]
    _check(_libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]),
           f"mount {target}")


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] = ()) -> None:
    socket.send_fds(sock, [json.dumps(message).encode()], list(fds))


def receive(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """The next message and its descriptors; (None, []) when the peer hung up."""
    data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, CHILD_FDS)
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    return json.loads(data), list(fds)


def _map_root(uid: int, gid: int) -> None:
    """In a user namespace just made: this process is its root, mapped to (uid, gid)."""
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")


def _mount_points() -> list[str]:
    """This mount namespace's mount points (/proc/self/mountinfo's fifth field)."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        field = line.split(" ")[4]
        # Spaces, tabs, newlines and backslashes come as octal escapes (\040).
        points.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field))
    return points


def _read_only_but(writable: list[str]) -> None:
    """Every mount read-only but ``writable``, /proc and /dev/shm, keeping each mount's
    other flags (a user namespace may not drop them)."""
    # /proc is mounted afresh after this (and its settings made read-only then); the
    # worker's private /dev/shm stays writable. /sys and /dev turn read-only too.
    for point in _mount_points():
        if point in writable or point == "/dev/shm" or point == "/proc" or \
                point.startswith("/proc/"):
            continue
        flags = os.statvfs(point).f_flag & _KEPT_FLAGS
        _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)


def _kernel_settings_read_only() -> None:
    """/proc/sys and /proc/sysrq-trigger read-only under the new /proc: where the grader
    runs as root, the namespace's root is the host's, and these act on the host."""
    for path in ("/proc/sys", "/proc/sysrq-trigger"):
        if os.path.exists(path):
            _mount(path, path, None, MS_BIND)
            _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
                   | MS_NOEXEC)


def _wait_for(pid: int) -> int:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue


def _end_as(status: int) -> None:
    """Ends this process as a child that ended with wait ``status`` did."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
    elif os.WIFEXITED(status) and os.WEXITSTATUS(status) > INIT_SIGNALLED:
        sig = os.WEXITSTATUS(status) - INIT_SIGNALLED  # from the namespace's init, below
    else:
        _exit(os.waitstatus_to_exitcode(status) & 0xFF)
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    _exit(INIT_SIGNALLED + sig)


def _own_namespaces(hide: dict[str, list[str]], keras_home: str) -> None:
    """In the child: the namespaces grader/data/hiding.py's prefix builds with unshare(1),
    built here with the same system calls. Returns in the worker; every other process
    made here runs no student code and only waits.

    1. The holder (this child): a user + mount + network namespace where the writable
       folders keep their own mounts, each data root is covered by an empty read-only
       tmpfs and each data file by /dev/null, the folder Keras fixed when the server
       imported it gets an empty tmpfs of its own, and every other mount turns
       read-only; then a PID namespace, whose first process is
    2. its init: PID 1 there, with its own /proc, not dumpable. When it ends, the kernel
       kills every process of the namespace, so a worker that leaves its process group
       or clears its death signal still cannot outlive it; it dies with the holder.
    3. The worker, PID 2: a nested user + mount namespace, so every mount above,
       /proc included, is locked (a less privileged namespace cannot undo them)."""
    uid, gid = os.geteuid(), os.getegid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC
                         | CLONE_NEWUTS), "unshare")
    _map_root(uid, gid)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    writable = list(hide.get("writable", []))
    for folder in writable:
        _mount(folder, folder, None, MS_BIND)
    for folder in hide.get("folders", []):
        _mount("grader-hidden", folder, "tmpfs", MS_RDONLY, "size=4k,mode=0555")
    for file in hide.get("files", []):
        _mount("/dev/null", file, None, MS_BIND)
    _mount("grader-shm", "/dev/shm", "tmpfs", 0, "size=64m,mode=1777")
    if keras_home and os.path.isdir(keras_home):
        # An empty folder of its own where Keras looks (never a bind of a path in the
        # scratch space, which earlier student code could have made a symlink).
        _mount("grader-keras", keras_home, "tmpfs", 0, "size=256m,mode=0755")
        writable.append(keras_home)
    _read_only_but(writable)
    _check(_libc.unshare(CLONE_NEWPID), "unshare")
    init = os.fork()
    if init:
        _end_as(_wait_for(init))  # the holder
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_DUMPABLE, 0)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _kernel_settings_read_only()
    # The worker's signals must not end the init early (it would end the worker's run).
    for sig in signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD}:
        try:
            signal.signal(sig, signal.SIG_IGN)
        except (OSError, ValueError):
            pass
    worker = os.fork()
    if worker:
        while True:  # the init: reaps what the worker leaves, ends when the worker ends
            pid, status = os.waitpid(-1, 0)
            if pid == worker:
                # PID 1 cannot kill itself by a signal: the holder does, from the number.
                code = (INIT_SIGNALLED + os.WTERMSIG(status) if os.WIFSIGNALED(status)
                        else os.waitstatus_to_exitcode(status) & 0x7F)
                _exit(code)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_DUMPABLE, 1)  # its own /proc files, for the maps below
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
    _map_root(0, 0)


def _become_worker(request: dict[str, Any], fds: list[int], server_fds: list[int],
                   main: Callable[[list[str]], int], namespaces: bool,
                   keras_home: str) -> None:
    """The forked child: sets up as sandbox.py's _preexec and Popen would, then runs the
    worker's main() and exits with its code. Never returns."""
    code = 70
    try:
        for fd in server_fds:
            os.close(fd)
        signal.set_wakeup_fd(-1)
        os.setsid()
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        # As a new process would be: its own /proc files are its own again (which the
        # user namespace's maps need); only the server stays out of reach.
        _prctl(PR_SET_DUMPABLE, 1)
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if request.get("memory_mb"):
            limit = int(request["memory_mb"]) * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        jobs, events, output = fds
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output, 1)  # from here a failure is in the worker's output, not ours
        os.dup2(output, 2)
        for fd in (null, output):
            os.close(fd)
        if namespaces:
            _own_namespaces(request.get("hide") or {}, keras_home)
        # The handlers a new Python process starts with (the server's, or for a build
        # worker its namespace init's, which ignores every signal, are not the worker's).
        for sig in signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}:
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        import tempfile

        tempfile.tempdir = None  # found again from this environment's TMPDIR
        args = [*request["args"], "--jobs-fd", str(jobs), "--events-fd", str(events)]
        sys.argv = [sys.argv[0], *args]
        code = main(args)
    except SystemExit as exc:  # as the interpreter treats it at exit
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        _exit(code if isinstance(code, int) else 1)


def _tell(client: socket.socket, message: dict[str, Any]) -> bool:
    """Sends to a client; False when it has hung up (it is then dropped)."""
    try:
        send(client, message)
        return True
    except OSError:
        return False


def serve(control_fd: int, main: Callable[[list[str]], int], namespaces: bool) -> int:
    """The server loop (after the caller has imported what its workers need)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_DUMPABLE, 0)
    keras_home = os.environ.get("KERAS_HOME", "")
    control = socket.socket(fileno=control_fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    clients: dict[int, socket.socket] = {}
    owner_of: dict[int, int] = {}  # child pid -> client fd
    print(json.dumps({"event": "ready", "pid": os.getpid()}), flush=True)

    def drop(client: int) -> None:
        for pid, owner in list(owner_of.items()):
            if owner == client:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        if client in clients:
            clients.pop(client).close()

    while True:
        readable, _, _ = select.select([control, wake_r, *clients.values()], [], [])
        if wake_r in readable:
            os.read(wake_r, 4096)
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                owner = owner_of.pop(pid, None)
                if owner in clients and not _tell(clients[owner], {
                        "op": "exited", "pid": pid,
                        "returncode": os.waitstatus_to_exitcode(status)}):
                    drop(owner)
        if control in readable:
            message, fds = receive(control)
            if message is None:
                for client in list(clients):
                    drop(client)
                return 0
            for fd in fds:
                clients[fd] = socket.socket(fileno=fd)
        for fd, client in list(clients.items()):
            if client not in readable:
                continue
            try:
                message, fds = receive(client)
            except (OSError, ValueError):
                message, fds = None, []
            if message is None:
                drop(fd)
                continue
            if message.get("op") != "spawn" or len(fds) != CHILD_FDS:
                for f in fds:
                    os.close(f)
                if not _tell(client, {"op": "refused", "id": message.get("id"),
                                      "message": "a spawn request carries three descriptors"}):
                    drop(fd)
                continue
            server_fds = [control.fileno(), wake_r, wake_w, *clients]
            try:
                pid = os.fork()
            except OSError as exc:  # out of memory or processes: the client starts its own
                pid = -1
                refusal = f"cannot fork: {exc}"
            if pid == 0:
                _become_worker(message, fds, server_fds, main, namespaces, keras_home)
            for f in fds:
                os.close(f)
            if pid > 0:
                owner_of[pid] = fd
                reply = {"op": "spawned", "id": message.get("id"), "pid": pid}
            else:
                reply = {"op": "refused", "id": message.get("id"), "message": refusal}
            if not _tell(client, reply):
                drop(fd)  # it hung up: what was forked for it goes too


def run(argv: list[str], preload: Callable[[], None],
        main: Callable[[list[str]], int], namespaces: bool) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--namespaces", action="store_true",
                        help="give each child its own user, mount and PID namespace")
    args = parser.parse_args(argv)
    preload()
    return serve(args.control_fd, main, namespaces and args.namespaces)
