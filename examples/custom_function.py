"""Extending pygrad: write your own autograd.Function, check its backward with gradcheck, use it.

Every op in pygrad is a ``pygrad.autograd.Function``: a static ``forward`` that computes the result
(autograd is switched off inside it) and a static ``backward`` that turns the gradient of the
output into gradients of the inputs.  ``ctx`` carries what backward needs: tensors through
``ctx.save_for_backward`` / ``ctx.saved_tensors`` (version-checked against in-place changes),
anything else as plain attributes.  This script writes two of them:

* ``MyLeakyReLU``: the exact derivative.  ``gradcheck`` compares it to finite differences and passes.
* ``SignSTE``: sign(x) with a "straight-through" gradient.  The true derivative of sign is 0
  almost everywhere, which would stop all learning, so backward pretends it was hardtanh.  The
  gradient is deliberately wrong, and gradcheck says so: that is the point of checking.

Then ``MyLeakyReLU`` is wrapped in an nn.Module and trains a small MLP on two concentric rings.

Stated result: gradcheck passes for MyLeakyReLU (and flags SignSTE), MyLeakyReLU matches
nn.LeakyReLU in value and gradient, and the MLP using it reaches >= 95% accuracy on the rings.

Run: ``python examples/custom_function.py [--epochs 100] [--device cpu|opencl]``.
"""
import argparse
import math

import pygrad as torch
import pygrad.nn as nn
from pygrad import optim
from pygrad.autograd import Function, gradcheck


class MyLeakyReLU(Function):
    """y = x if x > 0 else slope * x;  dy/dx = 1 if x > 0 else slope."""

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        ctx.save_for_backward(x)              # a tensor backward needs: saved (and version-checked)
        ctx.negative_slope = negative_slope   # a plain number: just an attribute
        return torch.where(x > 0, x, x * negative_slope)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        grad_input = torch.where(x > 0, grad_output, grad_output * ctx.negative_slope)
        return grad_input, None               # one gradient per forward input; None for the slope


class SignSTE(Function):
    """Forward: sign(x).  Backward: the straight-through estimator, d/dx hardtanh(x) = 1 on [-1, 1]."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sign(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * (x.abs() <= 1).to(grad_output.dtype)


class LeakyReLULayer(nn.Module):
    """A Module around the Function, so it can go into nn.Sequential like any built-in layer."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return MyLeakyReLU.apply(x, self.negative_slope)


def check_functions(verbose=False):
    """gradcheck both Functions and compare MyLeakyReLU with the built-in; returns True if all is as stated."""
    # gradcheck uses finite differences, so: float64, and keep the inputs away from the kink at 0
    x = torch.randn(20, dtype=torch.float64)
    x = (x + 0.1 * torch.sign(x)).requires_grad_()
    leaky_ok = gradcheck(lambda t: MyLeakyReLU.apply(t, 0.1), (x,))
    ste_ok = gradcheck(SignSTE.apply, (x,), raise_exception=False)  # expected: False

    # The same values and gradients as the built-in layer
    a = torch.randn(5, 7, requires_grad=True)
    b = a.detach().clone().requires_grad_()
    MyLeakyReLU.apply(a, 0.2).sum().backward()
    nn.LeakyReLU(0.2)(b).sum().backward()
    same = torch.allclose(MyLeakyReLU.apply(a, 0.2), nn.LeakyReLU(0.2)(b)) and torch.allclose(a.grad, b.grad)
    if verbose:
        print(f"gradcheck(MyLeakyReLU): {leaky_ok}   gradcheck(SignSTE): {ste_ok} (a deliberately biased gradient)")
        print(f"MyLeakyReLU matches nn.LeakyReLU in value and gradient: {same}")
        print(f"the graph node it records: {type(MyLeakyReLU.apply(a, 0.2).grad_fn).__name__}")
    return leaky_ok and not ste_ok and same


def rings(n):
    """n 2-D points on two noisy rings (radius 1: class 0, radius 2: class 1)."""
    labels = torch.arange(n) % 2
    angle = torch.rand(n) * 2 * math.pi
    radius = 1.0 + labels.float() + 0.15 * torch.randn(n)
    points = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    return points, labels


def main(epochs=100, device="cpu", seed=0, verbose=False):
    """Check the Functions, then train an MLP that uses MyLeakyReLU; return its test accuracy."""
    torch.manual_seed(seed)
    assert check_functions(verbose), "the custom Functions do not behave as stated"

    x_train, y_train = rings(400)
    x_test, y_test = rings(400)
    x_train, y_train, x_test, y_test = (t.to(device) for t in (x_train, y_train, x_test, y_test))
    model = nn.Sequential(nn.Linear(2, 32), LeakyReLULayer(0.1), nn.Linear(32, 32), LeakyReLULayer(0.1),
                          nn.Linear(32, 2)).to(device)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(epochs):
        loss = loss_fn(model(x_train), y_train)   # backward runs through MyLeakyReLU.backward
        opt.zero_grad()
        loss.backward()
        opt.step()
        if verbose and (epoch % 20 == 0 or epoch == epochs - 1):
            print(f"epoch {epoch:3d}  loss {loss.item():.4f}")
    with torch.no_grad():
        accuracy = (model(x_test).argmax(dim=1) == y_test).float().mean().item()
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--device", choices=["cpu", "opencl"], default="cpu")
    args = parser.parse_args()
    acc = main(args.epochs, args.device, verbose=True)
    print(f"result: gradcheck passed; ring accuracy with MyLeakyReLU {acc:.2%} (target >= 95%)")
