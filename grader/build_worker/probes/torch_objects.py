"""Factories for ``$make`` markers: the PyTorch objects the torch probes pass to a
student's training and evaluation functions (a model, a DataLoader, an optimizer);
grader.probe_contract.TORCH_OBJECTS.

Build-worker side only (this module imports torch); the parent names these functions
in markers and never imports them. Every object is made from arrays the parent drew,
so the parent knows the model's weights and predictions without running torch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset


class LinearLogSoftmax(nn.Module):
    """flatten -> linear -> log_softmax: a classifier whose every output the parent can
    recompute in NumPy from ``linear``'s weight and bias."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray) -> None:
        super().__init__()
        self.linear = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.linear.weight.copy_(torch.from_numpy(np.asarray(weight, np.float32)))
            self.linear.bias.copy_(torch.from_numpy(np.asarray(bias, np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.linear(torch.flatten(x, 1)), dim=1)


def linear_model(weight: np.ndarray, bias: np.ndarray) -> LinearLogSoftmax:
    return LinearLogSoftmax(weight, bias)


def tensor_loader(images: np.ndarray, labels: np.ndarray, batch_size: int) -> DataLoader:
    """Batches of (float32 images, int64 labels) in the arrays' order."""
    dataset = TensorDataset(torch.from_numpy(np.asarray(images, np.float32)),
                            torch.from_numpy(np.asarray(labels, np.int64)))
    return DataLoader(dataset, batch_size=batch_size, shuffle=False)


def sgd(model: nn.Module, lr: float) -> torch.optim.SGD:
    """Plain SGD (no momentum), so the parent can replay the epoch in NumPy."""
    return torch.optim.SGD(model.parameters(), lr=lr)


def weights(model: nn.Module) -> dict[str, np.ndarray]:
    """The linear layer's weight and bias as float arrays, for a capture."""
    return {"weight": model.linear.weight.detach().cpu().numpy().astype(np.float64),
            "bias": model.linear.bias.detach().cpu().numpy().astype(np.float64)}
