"""DS-AG-021 Question 8: a PyTorch CNN for MNIST with data loaders, training loop
and accuracy (your solution; needs `pip install torch`, the `[torch]` extra).

What is checked: SimpleCNN's output shape and parameter count; the loaders'
batches on small IDX files (shapes, dtypes, normalisation, every image once
with its label, the test order); that train_epoch, given a small model, loader
and optimizer, lowers the loss in one epoch and returns its mean loss; and that
evaluate returns the fraction of correct predictions.
No torchvision: read MNIST's IDX files yourself; nothing may download.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class SimpleCNN(nn.Module):
    """conv 3x3 (1 -> 32) -> ReLU -> conv 3x3 (32 -> 64) -> ReLU -> max-pool 2
    -> flatten -> linear (9216 -> 128) -> ReLU -> linear (128 -> 10) ->
    log_softmax. Input (N, 1, 28, 28); output (N, 10) log-probabilities.
    1,199,882 parameters."""

    def __init__(self) -> None:
        super().__init__()
        raise NotImplementedError("q8_torch_mnist.py: SimpleCNN is not implemented yet: define "
                                  "its layers in __init__ and its forward()")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("q8_torch_mnist.py: SimpleCNN.forward is not implemented yet")


def build_model() -> SimpleCNN:
    return SimpleCNN()


def read_idx(path: str | Path) -> np.ndarray:
    """Reads an IDX file (optionally .gz): magic 0x00 0x00 0x08 NDIM, NDIM
    big-endian uint32 sizes, then uint8 data. Returns the array of that shape."""
    raise NotImplementedError("q8_torch_mnist.py: read_idx is not implemented yet")


def mnist_loaders(data_dir: str | Path, batch_size: int = 128,
                  test_batch_size: int = 1000, seed: int = 0) -> tuple[DataLoader, DataLoader]:
    """(train_loader, test_loader) over train-images-idx3-ubyte[.gz] etc. in
    data_dir, with batch_size and test_batch_size examples per batch (the last
    batch may be shorter: keep it). Batches: (float32 images (B, 1, 28, 28),
    each pixel (byte / 255 - MNIST_MEAN) / MNIST_STD; int64 labels (B,)), each
    image with its own label. The training loader shuffles, seeded with
    torch.Generator().manual_seed(seed); the test loader keeps the files' order."""
    raise NotImplementedError("q8_torch_mnist.py: mnist_loaders is not implemented yet")


def train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                device: torch.device | str = "cpu") -> float:
    """One pass over loader, training model in place with the optimizer given:
    per batch, zero the gradients, F.nll_loss(model(images), labels) (images and
    labels moved to device), backward, optimizer.step(). Returns the mean of the
    batch losses, each taken before its step, as a Python float."""
    raise NotImplementedError("q8_torch_mnist.py: train_epoch is not implemented yet")


def evaluate(model: nn.Module, loader: DataLoader, device: torch.device | str = "cpu") -> float:
    """Fraction (a float in [0, 1], not a percentage) of the examples in loader
    whose arg-max prediction equals the label: the correct examples counted over
    all batches, divided by the number of examples (not a mean of per-batch
    accuracies: the last batch may be shorter)."""
    raise NotImplementedError("q8_torch_mnist.py: evaluate is not implemented yet")


if __name__ == "__main__":
    print("Write the functions above, then train for a few epochs here.")
