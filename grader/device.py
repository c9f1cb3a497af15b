"""Which device trains, and failing fast when a GPU was required but is absent.

Two levels, because the parent `grader` process must not import TensorFlow:

* `gpu_hint()` looks for a GPU without TensorFlow (device nodes,
  ``CUDA_VISIBLE_DEVICES``), cheap enough for `grader check --require-gpu` to
  refuse at once on a node without one, which is the usual Slurm mistake
  (a job submitted without ``--gres=gpu:1``).
* `describe()` asks TensorFlow, in the worker that trains: the authoritative
  answer, because a GPU that TensorFlow cannot use (missing CUDA libraries)
  is as good as none.
"""

from __future__ import annotations

import glob
import os
import platform
from dataclasses import asdict, dataclass


class GpuRequired(RuntimeError):
    """`--require-gpu` was given and no usable GPU is there."""


@dataclass
class Device:
    kind: str  # "GPU" or "CPU"
    name: str  # e.g. "NVIDIA H100 80GB HBM3" or the CPU model name
    count: int  # GPUs TensorFlow sees (0 on CPU)

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}" + (f" (x{self.count})" if self.count > 1 else "")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def gpu_hint() -> str | None:
    """A reason to believe there is no GPU, without importing TensorFlow; None
    when one may be there (the worker then asks TensorFlow)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU"
    if not glob.glob("/dev/nvidia[0-9]*") and not glob.glob("/dev/dri/renderD*"):
        return "no GPU device node (/dev/nvidia0) on this machine"
    return None


def require_gpu_problem() -> str | None:
    """Why `--require-gpu` must refuse to start here, or None; imports no
    TensorFlow, so `grader check --require-gpu` fails in well under a second."""
    hint = gpu_hint()
    if hint is None:
        return None
    return (f"--require-gpu: {hint}. On Slurm, request one with `#SBATCH --gres=gpu:1` and run "
            "the container with `apptainer exec --nv`; drop --require-gpu to grade on CPU.")


def describe() -> Device:
    """The device TensorFlow will train on. Imports TensorFlow."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return Device("CPU", cpu_name(), 0)
    try:
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    except (ValueError, RuntimeError):
        name = gpus[0].name
    return Device("GPU", name, len(gpus))


def require_gpu(device: Device | None = None) -> Device:
    """Raises `GpuRequired` with the likely fix unless TensorFlow sees a GPU."""
    device = device or describe()
    if device.kind != "GPU":
        hint = gpu_hint() or "TensorFlow sees no GPU (are the CUDA libraries in the image?)"
        raise GpuRequired(
            f"--require-gpu: {hint}. On Slurm, request one with `#SBATCH --gres=gpu:1` "
            "and run the container with `apptainer exec --nv`; drop --require-gpu to grade on CPU."
        )
    return device
