"""Keeping the datasets, and above all their test labels, out of the build
worker's reach.

The scrubbed environment already drops ``$GRADER_DATA`` and gives the worker
its own HOME, but the files are still on disk: Debian installs Fashion-MNIST
world-readable under ``/usr/share/datasets``. `hide_prefix` returns a command
prefix that starts the worker

1. in a user + mount + network + PID namespace (no network at all: nothing to
   download, nowhere to send; a /proc that shows only the worker's own processes,
   so the verify worker's memory, which holds the test set, is out of sight) where
   every data root (``--data-dir``, ``$GRADER_DATA``, the real Keras cache, the
   system locations) is covered by an empty, read-only tmpfs, and every file system
   is read-only but the worker's scratch folder (the worker runs as the grader's
   user: it must not write the run's results or another student's files), and then
2. in a nested user + mount namespace, so those mounts are locked: a process
   there cannot unmount a cover, /proc or make a mount writable again, even as
   its namespace's root.

Unprivileged user namespaces make this work without root; where the kernel or
a container forbids them, `hide_prefix` returns None and the caller says that
the data could not be hidden.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from grader.data.locations import search_roots

# Run by `sh -c` inside the outer namespaces (user, mount, network and PID, with its
# own /proc). Arguments: folders the worker may write, folders to cover, files to
# cover, each list ended by "--", then the worker's argv. The writable folders are
# bound onto themselves first (so they keep their own, writable mount), the covers go
# on top, then every other mount turns read-only (/sys and /dev too; /proc's kernel
# settings are bound read-only: where the grader runs as root, the namespace's root is
# the host's); the nested user namespace of the last line locks all of it.
_SCRIPT = r"""
set -e
keep=""
while [ "$1" != "--" ]; do mount --bind "$1" "$1"; keep="$keep|$1"; shift; done
shift
while [ "$1" != "--" ]; do mount -t tmpfs -o ro,size=4k,mode=0555 grader-hidden "$1"; shift; done
shift
while [ "$1" != "--" ]; do mount --bind /dev/null "$1"; shift; done
shift
mount -t tmpfs -o size=64m,mode=1777 grader-shm /dev/shm
awk '{print $5}' /proc/self/mountinfo | while read -r point; do
  point=$(printf '%b' "$point")
  case "$point" in /proc|/proc/*|/dev/shm) continue ;; esac
  case "$keep|" in *"|$point|"*) continue ;; esac
  mount -o remount,bind,ro "$point"
done
for setting in /proc/sys /proc/sysrq-trigger; do
  if [ -e "$setting" ]; then
    mount --bind "$setting" "$setting"
    mount -o remount,bind,ro,nosuid,nodev,noexec "$setting"
  fi
done
exec unshare --user --map-root-user --mount "$@"
"""

# Where package managers keep downloaded packages: Debian's dataset-fashion-mnist .deb
# holds the same files as /usr/share/datasets until `apt-get clean`.
PACKAGE_CACHES = ("/var/cache/apt/archives",)

# Entries a data root may hold, for roots that cannot be covered whole
# because they also hold the grader's own scratch space (e.g. GRADER_DATA=/tmp).
_DATASET_ENTRIES = ("fashion-mnist", "fashion_mnist", "mnist", "mnist.npz", "cifar-10-batches-py",
                    "cifar-10-batches-py-target", "cifar-10-python.tar.gz", "cifar10",
                    "cats-dogs", "chest_xray", "chest-xray")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def paths_to_hide(data_dir: str | os.PathLike | None,
                  keep: list[Path]) -> tuple[list[Path], list[Path]]:
    """(folders, files) to cover: each existing data root, or, when a root
    contains a folder in ``keep`` (the worker's scratch space), the dataset
    entries inside it."""
    folders: list[Path] = []
    files: list[Path] = []
    for root in search_roots(data_dir):
        if not root.exists():
            continue
        if any(_inside(k, root) for k in keep) or root.resolve() == Path("/"):
            for name in _DATASET_ENTRIES:
                entry = root / name
                if entry.is_dir():
                    folders.append(entry.resolve())
                elif entry.is_file():
                    files.append(entry.resolve())
        elif root.is_dir():
            folders.append(root.resolve())
    unique_folders = sorted(set(folders))
    # A folder inside another covered folder is already hidden (and its mount point would be too).
    folders = [f for f in unique_folders
               if not any(f != o and _inside(f, o) for o in unique_folders)]
    files = [f for f in sorted(set(files)) if not any(_inside(f, o) for o in folders)]
    return folders, files


@functools.lru_cache(maxsize=1)
def namespaces_available() -> bool:
    """Whether this machine lets us build the namespaces (probed once, ~10 ms)."""
    if shutil.which("unshare") is None:
        return False
    probe = ["unshare", "--user", "--map-root-user", "--mount", "--net", "--ipc", "--uts",
             "--pid", "--fork", "--mount-proc", "sh", "-c",
             "mount -t tmpfs none /mnt 2>/dev/null || mount -t tmpfs none /tmp && "
             "mount -o remount,bind,ro / && exec unshare --user --map-root-user --mount true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _runtime() -> list[Path]:
    """What the worker needs to run: Python, its packages and the grader itself."""
    return [Path(sys.prefix), Path(sys.base_prefix),
            *(Path(p) for p in sys.path if p and os.path.isabs(p) and os.path.isdir(p))]


def can_cover(folder: str | os.PathLike, keep: list[Path]) -> bool:
    """Whether ``folder`` (an existing folder: the training cache) can be covered whole
    in the build worker: it must hold neither a folder in ``keep`` nor the runtime."""
    path = Path(folder)
    return path.is_dir() and path.resolve() != Path("/") and not any(
        _inside(k, path) for k in [*keep, *_runtime()])


def hidden_paths(data_dir: str | os.PathLike | None, keep: list[Path],
                 cover: list[Path] | tuple[Path, ...] = ()) -> dict[str, list[str]]:
    """What the build worker's namespaces cover: {"folders": [...], "files": [...]}.
    ``cover``: more folders to hide whole (the training cache, which student code must
    not write); check them with `can_cover` first."""
    # A data root that holds the runtime (GRADER_DATA=$HOME, say) is hidden entry by entry.
    folders, files = paths_to_hide(data_dir, [*keep, *_runtime()])
    # The package cache can hold the datasets' own .deb files (test labels and all).
    cover = [*cover, *(Path(p) for p in PACKAGE_CACHES)]
    if cover:
        every = sorted({*folders, *(Path(c).resolve() for c in cover if Path(c).is_dir())})
        folders = [f for f in every if not any(f != o and _inside(f, o) for o in every)]
        files = [f for f in files if not any(_inside(f, o) for o in folders)]
    # Only these stay writable: the scratch space, not the run's results or the other
    # students' scratch folders (the worker runs as the grader's own user).
    writable = sorted({str(Path(k).resolve()) for k in keep if Path(k).is_dir()})
    return {"folders": [str(f) for f in folders], "files": [str(f) for f in files],
            "writable": writable}


def hide_prefix(data_dir: str | os.PathLike | None, keep: list[Path],
                cover: list[Path] | tuple[Path, ...] = ()) -> list[str] | None:
    """The argv prefix that starts a command with `hidden_paths` covered, or None when
    namespaces are unavailable here."""
    return prefix_for(hidden_paths(data_dir, keep, cover))


def prefix_for(hidden: dict[str, list[str]]) -> list[str] | None:
    """The argv prefix for what `hidden_paths` returned, or None when namespaces are
    unavailable here. (A warm build worker builds the same namespaces itself, from the
    same dict: grader/forkserver.py.)"""
    if not namespaces_available():
        return None
    # --net: a network namespace of its own with no interfaces up, so student code
    # can neither download (data, weights) nor send anything out while it runs.
    # --pid with --mount-proc here, not in the nested namespace: that /proc is then
    # locked like the covers (a worker that could unmount it would see the host's).
    # --ipc and --uts: System V objects and the host name are its own too.
    return ["unshare", "--user", "--map-root-user", "--mount", "--net", "--ipc", "--uts",
            "--pid", "--fork", "--mount-proc", "--kill-child", "--propagation", "private",
            "sh", "-c", _SCRIPT,
            "grader-hide", *hidden["writable"], "--", *hidden["folders"], "--",
            *hidden["files"], "--"]
