"""XOR: a single-layer perceptron cannot learn it, a two-layer MLP can.

XOR's four points are not linearly separable, so any model that draws one straight line (a single
nn.Linear followed by a threshold) gets at most 3 of 4 right.  One hidden layer with a non-linearity
bends the decision boundary and solves it.

Stated result: the perceptron stays at <= 75% accuracy; the MLP reaches 100% accuracy.

Run: ``python examples/mlp_xor.py [--epochs 500] [--device cpu|opencl]``.
"""
import argparse

import pygrad as torch
import pygrad.nn as nn
from pygrad import optim

X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
Y = [[0.0], [1.0], [1.0], [0.0]]  # x1 XOR x2


def train(model, x, y, epochs, lr=0.05):
    """Full-batch Adam on binary cross-entropy; returns the accuracy of the thresholded logits."""
    loss_fn = nn.BCEWithLogitsLoss()  # sigmoid + binary cross-entropy in one stable op
    opt = optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        predictions = (model(x) > 0).float()  # logit > 0  <=>  probability > 0.5
    return (predictions == y).float().mean().item(), loss.item()


def main(epochs=500, device="cpu", seed=0, verbose=False):
    """Train both models and return the MLP's accuracy (1.0 means 100%)."""
    torch.manual_seed(seed)
    x, y = torch.tensor(X, device=device), torch.tensor(Y, device=device)

    # A perceptron: one linear layer, i.e. one straight line through the plane.
    perceptron = nn.Linear(2, 1).to(device)
    acc_p, loss_p = train(perceptron, x, y, epochs)

    # An MLP: a hidden layer of 8 units with tanh, then a linear read-out.
    mlp = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).to(device)
    acc_m, loss_m = train(mlp, x, y, epochs)

    if verbose:
        print(f"perceptron: loss {loss_p:.4f}  accuracy {acc_p:.0%}  (a line cannot separate XOR)")
        print(f"MLP:        loss {loss_m:.4f}  accuracy {acc_m:.0%}")
        with torch.no_grad():
            probs = torch.sigmoid(mlp(x)).flatten().tolist()
        for point, p in zip(X, probs):
            print(f"  {point} -> P(1) = {p:.3f}")
    assert acc_p <= 0.75  # no line gets all four XOR points right
    return acc_m


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--device", choices=["cpu", "opencl"], default="cpu")
    args = parser.parse_args()
    acc = main(args.epochs, args.device, verbose=True)
    print(f"result: MLP accuracy {acc:.0%}")
