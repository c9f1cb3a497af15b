"""Warm workers: the parent's side of grader/forkserver.py.

`WarmPool` (held by `grader batch run`) starts one forkserver per worker kind and
hands each student's `grader check` a channel to both, as inherited descriptors named
in ``$GRADER_WARM`` (never a path: nothing else can reach a server). `from_env()`
turns that into `Launcher`s, and sandbox.Supervisor asks a launcher for a worker
where it would otherwise start Python; a launcher that cannot serve (no server, a
server that died) makes the supervisor start the worker itself, as `grader check`
alone always does. A spawned worker is handled like a Popen: its pid is a real pid
of this machine, signalled as a group; its exit status comes from the server.

Build workers come warm only where the namespaces of grader/data/hiding.py can be
built (then each child is PID 1 of its own PID namespace and takes its strays with
it); elsewhere they are started fresh, as before.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.forkserver import Unavailable, receive, send

ENV = "GRADER_WARM"
SPAWN_TIMEOUT_S = 180.0  # a server still importing TensorFlow answers late, not never
KINDS = {"build": ["-P", "-m", "grader.build_worker.warm", "--namespaces"],
         "verify": ["-I", "-m", "grader.verify_worker.warm"]}


class WarmProcess:
    """A worker forked by a server, with the parts of Popen the supervisor uses."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        # The server went away first: the worker died with it, through no fault of
        # the job it was running (the supervisor runs that job again).
        self.lost = False
        self._ended = threading.Event()

    def _end(self, returncode: int) -> None:
        if self.returncode is None:
            self.returncode = returncode
            self._ended.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired("warm worker", timeout)
        return self.returncode  # type: ignore[return-value]


class Launcher:
    """One channel to a forkserver; thread-safe (the verify and trainer supervisors
    share the verify channel)."""

    def __init__(self, fd: int):
        self._sock = socket.socket(fileno=fd)
        self._lock = threading.Lock()
        self._replies: dict[int, dict[str, Any]] = {}
        self._arrived = threading.Condition(self._lock)
        self._procs: dict[int, WarmProcess] = {}
        self._next = 0
        self._closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message, fds = receive(self._sock)
            except (OSError, ValueError):
                message, fds = None, []
            for fd in fds:
                os.close(fd)
            with self._lock:
                if message is None:
                    # The server is gone, and its workers with it (they die with it).
                    self._closed = True
                    for proc in self._procs.values():
                        proc.lost = True
                        proc._end(-9)
                    self._arrived.notify_all()
                    return
                if message.get("op") == "exited":
                    proc = self._procs.pop(int(message["pid"]), None)
                    if proc is not None:
                        proc._end(int(message["returncode"]))
                elif message.get("op") in ("spawned", "refused"):
                    if message.get("op") == "spawned":
                        message["proc"] = WarmProcess(int(message["pid"]))
                        self._procs[int(message["pid"])] = message["proc"]
                    self._replies[int(message.get("id", -1))] = message
                    self._arrived.notify_all()

    def spawn(self, args: list[str], cwd: Path, env: dict[str, str], memory_mb: int | None,
              fds: tuple[int, int, int], hide: dict[str, list[str]] | None = None
              ) -> WarmProcess:
        """A worker running ``main(args + --jobs-fd --events-fd)`` with ``fds`` (jobs read
        end, events write end, output file). Raises Unavailable."""
        with self._lock:
            if self._closed:
                raise Unavailable("the warm server has stopped")
            self._next += 1
            request_id = self._next
            try:
                send(self._sock, {"op": "spawn", "id": request_id, "args": args,
                                  "cwd": str(cwd), "env": env, "memory_mb": memory_mb,
                                  "hide": hide}, fds)
            except OSError as exc:
                raise Unavailable(f"the warm server did not take the request: {exc}") from exc
            deadline = time.monotonic() + SPAWN_TIMEOUT_S
            while request_id not in self._replies and not self._closed:
                if not self._arrived.wait(max(0.0, deadline - time.monotonic())):
                    # Hang up: the server kills whatever it forks for this channel later,
                    # so no late worker can read the pipes the caller now gives another.
                    self._closed = True
                    self._sock.shutdown(socket.SHUT_RDWR)
                    raise Unavailable("the warm server did not answer")
            reply = self._replies.pop(request_id, None)
            if reply is None or reply.get("op") != "spawned":
                raise Unavailable((reply or {}).get("message", "the warm server has stopped"))
            return reply["proc"]


@dataclass(frozen=True)
class Launchers:
    build: Launcher | None
    verify: Launcher | None


_FROM_ENV: Launchers | None = None


def from_env() -> Launchers:
    """The launchers ``$GRADER_WARM`` names (once per process: one reader per channel),
    or none."""
    global _FROM_ENV
    if _FROM_ENV is None:
        named = _inherited()
        _FROM_ENV = Launchers(**{kind: Launcher(named[kind]) if kind in named else None
                                 for kind in KINDS})
    return _FROM_ENV


def inherited_fds() -> tuple[int, ...]:
    """The descriptors ``$GRADER_WARM`` names that are open here (to pass on to a child)."""
    return tuple(_inherited().values())


def _inherited() -> dict[str, int]:
    """Worker kind -> the open descriptor ``$GRADER_WARM`` names for it."""
    try:
        named = json.loads(os.environ.get(ENV) or "{}")
    except ValueError:
        return {}
    out = {}
    for kind in KINDS:
        try:
            fd = int(named[kind])
            os.fstat(fd)
        except (KeyError, TypeError, ValueError, OSError):
            continue
        out[kind] = fd
    return out


class WarmPool:
    """The forkservers of one `grader batch run`; a context manager."""

    def __init__(self, log_dir: Path | None = None, kinds: tuple[str, ...] = tuple(KINDS)):
        from grader.parent.sandbox import scrubbed_env

        self._home = Path(tempfile.mkdtemp(prefix="grader-warm-"))
        self._servers: dict[str, tuple[subprocess.Popen, socket.socket]] = {}
        for kind in kinds:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            home = self._home / kind
            (home / ".keras").mkdir(parents=True)
            # What a worker's environment fixes at import (Keras's home, the malloc
            # arenas) is the server's; each child gets its request's environment after.
            env = scrubbed_env(home, {"MALLOC_ARENA_MAX": "4", "CUDA_VISIBLE_DEVICES": ""})
            log = (log_dir / f"warm-{kind}.out").open("ab") if log_dir else subprocess.DEVNULL
            proc = subprocess.Popen(
                [sys.executable, *KINDS[kind], "--control-fd", str(theirs.fileno())],
                cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, pass_fds=(theirs.fileno(),), start_new_session=True)
            theirs.close()
            if log is not subprocess.DEVNULL:
                log.close()
            self._servers[kind] = (proc, ours)

    def channels(self) -> tuple[list[int], dict[str, str]]:
        """For one student's `grader check`: descriptors to pass on, and the environment
        that names them. The caller closes the descriptors once the child has them."""
        named: dict[str, int] = {}
        for kind, (proc, control) in self._servers.items():
            if proc.poll() is not None:
                continue
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                send(control, {"op": "channel"}, [theirs.fileno()])
            except OSError:
                ours.close()
                continue
            finally:
                theirs.close()
            named[kind] = ours.detach()
        return list(named.values()), {ENV: json.dumps(named)}

    def pid(self, kind: str) -> int:
        """The server of ``kind`` ("build", "verify")."""
        return self._servers[kind][0].pid

    def close(self) -> None:
        for _proc, control in self._servers.values():
            control.close()  # the server ends, and kills what it still runs
        for proc, _ in self._servers.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        import shutil

        shutil.rmtree(self._home, ignore_errors=True)

    def __enter__(self) -> WarmPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
