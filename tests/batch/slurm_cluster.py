"""A real single-node Slurm cluster on localhost, for the batch tests (see conftest.py).

Everything the cluster needs lives in one temporary directory: its own munged
on a private socket, slurm.conf (found by every daemon and client through
SLURM_CONF, so /etc/slurm is never touched), state and spool directories, and
free TCP ports. Two test runs on one machine therefore get two clusters that
cannot see each other's jobs.

Measured on the 2-core test machine: ready about 1 s after start; a 4-task
array of short jobs done in about 6 s.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAEMONS = ("/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd")
CLIENTS = ("munge", "sbatch", "squeue", "scancel", "sinfo")


def why_slurm_cannot_run() -> str | None:
    """The reason this machine cannot host the test cluster, or None when it can."""
    missing = [p for p in DAEMONS if not os.access(p, os.X_OK)]
    missing += [c for c in CLIENTS if shutil.which(c) is None]
    if missing:
        return (f"Slurm test cluster: {', '.join(missing)} not installed; "
                "run scripts/setup.sh (Debian packages slurm-wlm and munge)")
    if os.geteuid() != 0:
        return "Slurm test cluster: needs root (munged runs as user munge, slurmd as root)"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "Slurm test cluster: no `munge` user; reinstall the munge package"
    if not os.path.exists("/etc/munge/munge.key"):
        return "Slurm test cluster: /etc/munge/munge.key missing; reinstall the munge package"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _real_memory_mb() -> int:
    """RealMemory as slurmd itself measures it (`slurmd -C`), so the node is not drained."""
    out = subprocess.run(["/usr/sbin/slurmd", "-C"], capture_output=True, text=True,
                         timeout=30).stdout
    for word in out.split():
        if word.startswith("RealMemory="):
            return int(word.split("=", 1)[1])
    raise RuntimeError(f"slurmd -C printed no RealMemory: {out!r}")


@dataclass
class SlurmCluster:
    """A running cluster: pass `env` to every Slurm client and `grader batch` call."""

    root: Path
    env: dict[str, str]
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True,
                              timeout=60, check=check)

    def grader(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Runs `python -m grader ARGS` as a user on the login node would, against this cluster."""
        return subprocess.run([sys.executable, "-m", "grader", *args], env=self.env,
                              cwd=REPO, capture_output=True, text=True, timeout=timeout)

    def active_tasks(self, job_id: str) -> dict[int, str]:
        """index -> state for the array tasks of JOB that squeue still lists."""
        out = self.run("squeue", "-h", "-r", "-j", job_id, "-o", "%K|%T", check=False).stdout
        tasks = {}
        for line in out.splitlines():
            index, _, state = line.strip().partition("|")
            if index.isdigit() and state not in ("COMPLETED", "CANCELLED", "FAILED",
                                                 "TIMEOUT", "NODE_FAIL"):
                tasks[int(index)] = state
        return tasks

    def wait_for_job(self, job_id: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.active_tasks(job_id):
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still has tasks {self.active_tasks(job_id)} "
                                   f"after {timeout:.0f} s; logs under {self.root}/log")
            time.sleep(0.5)

    def log(self, name: str) -> str:
        path = self.root / "log" / name
        return path.read_text(errors="replace") if path.exists() else ""


def _wait(predicate, timeout: float, what: str, cluster_root: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"Slurm test cluster: {what} not ready after {timeout:.0f} s; "
                               f"see the logs in {cluster_root}/log")
        time.sleep(0.1)


def start_cluster(root: Path) -> SlurmCluster:
    munge_dir = root / "munge"
    log_dir = root / "log"
    for d in ("state", "spool", "log"):
        (root / d).mkdir()
    # munged refuses a socket directory that is not its own, or that others
    # cannot traverse (it checks the execute bits of the whole path).
    munge_dir.mkdir(mode=0o755)
    munge = pwd.getpwnam("munge")
    os.chown(munge_dir, munge.pw_uid, munge.pw_gid)
    sock = munge_dir / "munge.socket"

    conf = root / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=gradertest",
        "SlurmctldHost=localhost",
        f"SlurmctldPort={_free_port()}",
        f"SlurmdPort={_free_port()}",
        "SlurmUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={sock}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        # Without cons_tres + CR_Core every task was given the whole node's
        # memory and the array ran one task at a time.
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core",
        "ReturnToService=2",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/none",
        "MpiDefault=none",
        # A cancelled task gets SIGTERM, then SIGKILL after KillWait seconds.
        "KillWait=5",
        f"StateSaveLocation={root / 'state'}",
        f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}",
        f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={log_dir / 'slurmctld.log'}",
        f"SlurmdLogFile={log_dir / 'slurmd.log'}",
        f"NodeName=localhost CPUs={os.cpu_count()} RealMemory={_real_memory_mb()} State=UNKNOWN",
        "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
        "",
    ]))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    # Clients must not inherit an outer job's settings when the suite itself runs under Slurm.
    for key in [k for k in env if k.startswith(("SLURM_", "SBATCH_")) and k != "SLURM_CONF"]:
        del env[key]
    cluster = SlurmCluster(root, env)

    def spawn(name: str, args: list[str]) -> None:
        out = open(log_dir / f"{name}.out", "wb")  # noqa: SIM115 - kept open for the daemon
        cluster.procs[name] = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL, cwd=root,
                                               start_new_session=True)

    try:
        _launch(cluster, spawn, sock)
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def _launch(cluster: SlurmCluster, spawn, sock: Path) -> None:
    root = cluster.root
    munge_dir = sock.parent
    spawn("munged", ["runuser", "-u", "munge", "--", "/usr/sbin/munged", "--foreground",
                     f"--socket={sock}", f"--pid-file={munge_dir / 'munged.pid'}",
                     f"--log-file={munge_dir / 'munged.log'}",
                     f"--seed-file={munge_dir / 'munged.seed'}"])
    _wait(lambda: cluster.run("munge", "-n", "-S", str(sock), check=False).returncode == 0,
          10, "munged", root)
    spawn("slurmctld", ["/usr/sbin/slurmctld", "-D"])
    spawn("slurmd", ["/usr/sbin/slurmd", "-D", "-N", "localhost"])
    _wait(lambda: "idle" in cluster.run("sinfo", "-h", "-o", "%T", check=False).stdout,
          30, "slurmd (node idle in sinfo)", root)


def stop_cluster(cluster: SlurmCluster) -> None:
    # Cancel what is left first: a task's slurmstepd outlives slurmd otherwise.
    if "slurmctld" in cluster.procs and cluster.procs["slurmctld"].poll() is None:
        cluster.run("scancel", "--full", "--user=root", check=False)
        deadline = time.monotonic() + 15
        while (cluster.run("squeue", "-h", check=False).stdout.strip()
               and time.monotonic() < deadline):
            time.sleep(0.3)
    for name in ("slurmd", "slurmctld", "munged"):
        proc = cluster.procs.get(name)
        if proc is None or proc.poll() is not None:
            continue
        # runuser stays the parent of munged; signal the whole session it leads.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
