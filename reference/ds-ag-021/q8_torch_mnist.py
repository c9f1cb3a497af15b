"""DS-AG-021 Question 8: a PyTorch CNN for MNIST with its data loaders, training
loop and accuracy evaluation (reference solution; needs the `[torch]` extra).

The loaders read MNIST's IDX files directly (torchvision is not needed, and
nothing is downloaded). `python q8_torch_mnist.py DATA_DIR [EPOCHS]` trains and
prints the test accuracy after each epoch. Importing this file trains nothing.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

# MNIST's pixel mean and standard deviation over the training set, on [0, 1].
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class SimpleCNN(nn.Module):
    """conv 3x3 (32) -> ReLU -> conv 3x3 (64) -> ReLU -> max-pool 2 -> flatten
    -> linear 128 -> ReLU -> linear 10, returning log-probabilities.
    Input (N, 1, 28, 28) normalised floats; output (N, 10) log-softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(64 * 12 * 12, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return F.log_softmax(self.fc2(x), dim=1)


def build_model() -> SimpleCNN:
    return SimpleCNN()


def read_idx(path: str | Path) -> np.ndarray:
    """Reads an IDX file (optionally gzip-compressed) into a NumPy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * data[3]).reshape(dims)


def _idx(root: Path, stem: str) -> np.ndarray:
    for candidate in (root / f"{stem}.gz", root / stem):
        if candidate.exists():
            return read_idx(candidate)
    raise FileNotFoundError(f"q8_torch_mnist.py: {root / stem}[.gz] is missing")


def to_dataset(images: np.ndarray, labels: np.ndarray) -> TensorDataset:
    """uint8 (N, 28, 28) images -> normalised float (N, 1, 28, 28); labels int64 (N,)."""
    x = torch.from_numpy(images.astype("float32") / 255.0).unsqueeze(1)
    x = (x - MNIST_MEAN) / MNIST_STD
    return TensorDataset(x, torch.from_numpy(labels.astype("int64")))


def mnist_loaders(data_dir: str | Path, batch_size: int = 128,
                  test_batch_size: int = 1000, seed: int = 0) -> tuple[DataLoader, DataLoader]:
    """Training loader (shuffled, seeded) and test loader over the IDX files in data_dir.
    Each batch is (images float32 (B, 1, 28, 28), labels int64 (B,))."""
    root = Path(data_dir)
    train = to_dataset(_idx(root, "train-images-idx3-ubyte"), _idx(root, "train-labels-idx1-ubyte"))
    test = to_dataset(_idx(root, "t10k-images-idx3-ubyte"), _idx(root, "t10k-labels-idx1-ubyte"))
    generator = torch.Generator().manual_seed(seed)
    return (DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator),
            DataLoader(test, batch_size=test_batch_size, shuffle=False))


def train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                device: torch.device | str = "cpu") -> float:
    """One pass over `loader` minimising the negative log-likelihood; returns the mean loss."""
    model.train()
    total, count = 0.0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(images), labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(labels)
        count += len(labels)
    return total / max(count, 1)


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, device: torch.device | str = "cpu") -> float:
    """Fraction of examples in `loader` whose arg-max prediction equals the label."""
    model.eval()
    correct, count = 0, 0
    for images, labels in loader:
        predicted = model(images.to(device)).argmax(dim=1)
        correct += (predicted == labels.to(device)).sum().item()
        count += len(labels)
    return correct / max(count, 1)


def main(argv: list[str]) -> None:
    data_dir = argv[1] if len(argv) > 1 else "mnist"
    epochs = int(argv[2]) if len(argv) > 2 else 5
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_loader, test_loader = mnist_loaders(data_dir)
    model = build_model().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, epochs + 1):
        loss = train_epoch(model, train_loader, optimizer, device)
        accuracy = evaluate(model, test_loader, device)
        print(f"epoch {epoch}: loss {loss:.4f}, test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main(sys.argv)
