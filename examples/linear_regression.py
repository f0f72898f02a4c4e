"""Linear regression: learn y = 3x - 2 from noisy samples with nn.Linear, MSELoss and SGD.

This is the smallest complete training loop: a model (one nn.Linear), a loss (nn.MSELoss), an
optimizer (optim.SGD) and the four lines every loop repeats (forward, zero_grad, backward, step).

Stated result: the learned weight and bias are within 0.05 of the true 3 and -2.

Run: ``python examples/linear_regression.py [--epochs 200] [--device cpu|opencl]``.
"""
import argparse

import pygrad as torch
import pygrad.nn as nn
from pygrad import optim

TRUE_W, TRUE_B = 3.0, -2.0


def make_data(n=256, noise=0.1):
    """n points x in [-1, 1] with y = 3x - 2 + Gaussian noise (std ``noise``), as column vectors."""
    x = torch.rand(n, 1) * 2 - 1
    y = TRUE_W * x + TRUE_B + noise * torch.randn(n, 1)
    return x, y


def main(epochs=200, device="cpu", seed=0, verbose=False):
    """Fit the line and return the largest error of (weight, bias), which should be < 0.05."""
    torch.manual_seed(seed)  # same data, same initial weights, same result every run
    x, y = make_data()
    x, y = x.to(device), y.to(device)

    model = nn.Linear(1, 1).to(device)          # y_hat = w * x + b, w and b start random
    loss_fn = nn.MSELoss()                      # mean of (y_hat - y) ** 2
    opt = optim.SGD(model.parameters(), lr=0.1)

    for epoch in range(epochs):                 # full-batch gradient descent: one step per epoch
        loss = loss_fn(model(x), y)             # 1. forward
        opt.zero_grad()                         # 2. clear old gradients (they accumulate otherwise)
        loss.backward()                         # 3. d loss / d w and d loss / d b into .grad
        opt.step()                              # 4. w -= lr * w.grad, b -= lr * b.grad
        if verbose and (epoch % 50 == 0 or epoch == epochs - 1):
            print(f"epoch {epoch:4d}  loss {loss.item():.5f}")

    w, b = model.weight.item(), model.bias.item()
    error = max(abs(w - TRUE_W), abs(b - TRUE_B))
    if verbose:
        print(f"learned y = {w:.3f}x {b:+.3f}   (true y = 3x - 2), max error {error:.4f}")
    return error


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--device", choices=["cpu", "opencl"], default="cpu")
    args = parser.parse_args()
    err = main(args.epochs, args.device, verbose=True)
    print(f"result: max |error| = {err:.4f} ({'within' if err < 0.05 else 'NOT within'} 0.05)")
