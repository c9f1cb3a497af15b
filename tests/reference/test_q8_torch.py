"""DS-AG-021 Q8, the PyTorch reference: model, IDX loaders, training loop, accuracy.

Needs the optional `[torch]` extra; skipped cleanly without it.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.parent.probes.fixtures import write_idx

torch = pytest.importorskip("torch")


@pytest.fixture
def tiny_mnist(tmp_path):
    """Two easy classes in MNIST's real file format: dark images are 0, bright are 1."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 32)):
        labels = np.arange(n) % 2
        images = np.where(labels[:, None, None] == 1, 200, 20) + rng.integers(0, 30, (n, 28, 28))
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return tmp_path


def test_simple_cnn_maps_a_batch_to_ten_log_probabilities(reference):
    q8 = reference("ds-ag-021", "q8_torch_mnist.py")
    model = q8.build_model()
    out = model(torch.zeros(3, 1, 28, 28))
    assert out.shape == (3, 10)
    torch.testing.assert_close(out.exp().sum(dim=1), torch.ones(3))
    assert sum(p.numel() for p in model.parameters()) == 1_199_882


def test_loaders_read_idx_files_into_normalised_batches(reference, tiny_mnist):
    q8 = reference("ds-ag-021", "q8_torch_mnist.py")
    train, test = q8.mnist_loaders(tiny_mnist, batch_size=16, test_batch_size=32)
    images, labels = next(iter(test))
    assert images.shape == (32, 1, 28, 28) and images.dtype == torch.float32
    assert labels.dtype == torch.int64 and labels.tolist()[:4] == [0, 1, 0, 1]
    expected = (20 / 255 - q8.MNIST_MEAN) / q8.MNIST_STD
    assert images[0].min().item() == pytest.approx(expected, abs=1e-5)
    assert len(train.dataset) == 64


def test_training_lowers_the_loss_and_evaluate_counts_correct_predictions(reference, tiny_mnist):
    q8 = reference("ds-ag-021", "q8_torch_mnist.py")
    torch.manual_seed(0)
    train, test = q8.mnist_loaders(tiny_mnist, batch_size=16)
    model = q8.build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = [q8.train_epoch(model, train, optimizer) for _ in range(3)]
    assert losses[-1] < losses[0]
    assert q8.evaluate(model, test) == 1.0  # the two classes differ by brightness alone

    class Constant(torch.nn.Module):  # always predicts class 0: right on half of them
        def forward(self, x):
            out = torch.full((len(x), 10), -10.0)
            out[:, 0] = 0.0
            return out

    assert q8.evaluate(Constant(), test) == 0.5
