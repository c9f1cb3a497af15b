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
with the folders and files its request names (the data roots, the training cache):
covered, no network, locked by a nested user namespace, and a PID namespace of its
own where the worker is PID 1 and sees no other process, the server and other
students' workers included. The server is not dumpable, so nothing can read or trace
its memory. Keras fixed its home folder when the server imported it; each child binds
its own HOME/.keras over that folder, so no student reads another's files there.

Wire (a SOCK_SEQPACKET socket per client, one JSON message per packet, descriptors
passed with SCM_RIGHTS):
  control: {"op": "channel"} + [socket]       a new client channel (from the owner)
  client:  {"op": "spawn", "id", "args", "cwd", "env", "memory_mb", "home",
            "hide": {"folders": [...], "files": [...]}}
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
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
MAX_MESSAGE = 1 << 20
CHILD_FDS = 3  # jobs, events, output

_libc = ctypes.CDLL(None, use_errno=True)


class Unavailable(Exception):
    """A client cannot get a worker from its server; it starts the worker itself."""


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _prctl(option: int, value: int) -> None:
    _check(_libc.prctl(option, value, 0, 0, 0), f"prctl({option})")


def _mount(source: str | None, target: str, fstype: str | None, flags: int) -> None:
    enc = [None if s is None else s.encode() for s in (source, target, fstype)]
    _check(_libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), None),
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


def _own_namespaces(hide: dict[str, list[str]], home: str, keras_home: str) -> None:
    """In the child: the namespaces grader/data/hiding.py's prefix builds with unshare(1),
    built here with the same system calls. Returns in the worker (PID 1 of its own PID
    namespace); the child itself only holds it, and ends as it ended.

    1. user + mount + network namespace: each data root covered by an empty read-only
       tmpfs, each data file by /dev/null, no network; this student's ~/.keras bound
       over the folder Keras fixed when the server imported it;
    2. a nested user + mount + PID namespace, so the covers are locked (a mount made
       in a more privileged namespace cannot be undone from a less privileged one)."""
    uid, gid = os.geteuid(), os.getegid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET), "unshare")
    _map_root(uid, gid)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    for folder in hide.get("folders", []):
        _check(_libc.mount(b"grader-hidden", folder.encode(), b"tmpfs",
                           ctypes.c_ulong(MS_RDONLY), b"size=4k,mode=0555"),
               f"mount tmpfs on {folder}")
    for file in hide.get("files", []):
        _mount("/dev/null", file, None, MS_BIND)
    own = Path(home) / ".keras"
    own.mkdir(parents=True, exist_ok=True)
    if keras_home and os.path.isdir(keras_home):
        _mount(str(own), keras_home, None, MS_BIND)
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID), "unshare")
    _map_root(0, 0)
    pid = os.fork()
    if pid == 0:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # --kill-child: dies with its holder
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        return
    while True:  # the holder: end as the worker ended, killed by the same signal
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _become_worker(request: dict[str, Any], fds: list[int], server_fds: list[int],
                   main: Callable[[list[str]], int], namespaces: bool,
                   keras_home: str) -> None:
    """The forked child: sets up as sandbox.py's _preexec and Popen would, then runs the
    worker's main() and exits with its code. Never returns."""
    code = 70
    try:
        for fd in server_fds:
            os.close(fd)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
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
            _own_namespaces(request.get("hide") or {}, request["home"], keras_home)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        args = [*request["args"], "--jobs-fd", str(jobs), "--events-fd", str(events)]
        sys.argv = [sys.argv[0], *args]
        code = main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code if isinstance(code, int) else 1)


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
                if owner in clients:
                    try:
                        send(clients[owner], {"op": "exited", "pid": pid,
                                              "returncode": os.waitstatus_to_exitcode(status)})
                    except OSError:
                        pass
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
                send(client, {"op": "refused", "id": message.get("id"),
                              "message": "a spawn request carries three descriptors"})
                continue
            server_fds = [control.fileno(), wake_r, wake_w, *clients]
            pid = os.fork()
            if pid == 0:
                _become_worker(message, fds, server_fds, main, namespaces, keras_home)
            for f in fds:
                os.close(f)
            owner_of[pid] = fd
            send(client, {"op": "spawned", "id": message.get("id"), "pid": pid})


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
