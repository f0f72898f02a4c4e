"""End-to-end training: models built from pygrad.nn learn what they should, deterministically.

Each test seeds pygrad (``manual_seed``) and NumPy, and finishes in a few seconds on 2 cores.
"""
import numpy as np
import pytest

import pygrad as torch
import pygrad.nn as nn
import pygrad.nn.functional as F
from pygrad import optim


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's bundled 8x8 digits (1797 images, no download), scaled to [0, 1], shuffled."""
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    perm = np.random.default_rng(0).permutation(len(d.target))
    return (d.images[perm] / 16.0).astype(np.float32), d.target[perm].astype(np.int64)


def test_linear_regression_by_sgd_recovers_the_weights():
    torch.manual_seed(0)
    true_w, true_b = torch.tensor([[2.0, -3.4]]), 4.2
    X = torch.randn(200, 2)
    y = X @ true_w.T + true_b + 0.01 * torch.randn(200, 1)
    model = nn.Linear(2, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    for _ in range(100):
        loss = F.mse_loss(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(model.weight.detach().cpu().numpy(), [[2.0, -3.4]], atol=0.01)
    np.testing.assert_allclose(model.bias.detach().cpu().numpy(), [4.2], atol=0.01)
    assert loss.item() < 2e-4  # the noise variance is 1e-4


def test_xor_with_a_two_layer_mlp():
    torch.manual_seed(0)
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])
    mlp = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = optim.Adam(mlp.parameters(), lr=0.05)
    for _ in range(200):
        loss = F.binary_cross_entropy_with_logits(mlp(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.01
    assert ((mlp(X) > 0).float() == y).all().item()  # 100% accuracy


class LeNet(nn.Module):
    """LeNet-style CNN sized for 8x8 digits: two conv/pool stages, then two linear layers."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 8 x 4 x 4
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16 x 2 x 2
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


@pytest.mark.slow
def test_lenet_on_digits_reaches_95_percent(digits):
    images, labels = digits
    x, y = torch.tensor(images[:, None]), torch.tensor(labels)
    x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]
    torch.manual_seed(0)
    model = LeNet()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(10):
        model.train()
        perm = torch.randperm(len(y_train))
        for start in range(0, len(y_train), 64):
            batch = perm[start:start + 64]
            loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    assert accuracy > 0.95, f"test accuracy {accuracy:.3f}"


@pytest.mark.slow
def test_autoencoder_on_digits_reconstructs(digits):
    images, _ = digits
    data = torch.tensor(images.reshape(-1, 64))
    baseline = ((data - data.mean(0)) ** 2).mean().item()  # predicting the mean image: about 0.073
    torch.manual_seed(0)
    autoencoder = nn.Sequential(
        nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16),  # encoder: 64 pixels -> 16 numbers
        nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 64),  # decoder
    )
    opt = optim.Adam(autoencoder.parameters(), lr=5e-3)
    for epoch in range(6):
        perm = torch.randperm(len(data))
        for start in range(0, len(data), 64):
            batch = data[perm[start:start + 64]]
            loss = F.mse_loss(autoencoder(batch), batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        mse = F.mse_loss(autoencoder(data), data).item()
    assert mse < 0.03 and mse < 0.5 * baseline, f"reconstruction MSE {mse:.4f} (baseline {baseline:.4f})"
