"""Issue 14: ``pygrad.bfloat16``: 16-bit storage, float32 arithmetic, round-to-nearest-even conversions.

Bit patterns and results are PyTorch 2.13's (``x.view(torch.int16)``), stored as literals.
"""
import numpy as np
import pytest

import pygrad as torch

VALUES = [0.1, 0.2, 1.7, -2.3, 1e30, 3.0e-39, float("nan"), 65504 * 4.0]
BITS = [15821, 15949, 16346, -16365, 29002, 33, 32704, 18560]  # PyTorch: same values in bfloat16, as int16


def _bits(t):
    return t.detach().cpu().numpy().view(np.int16).tolist()


def test_dtype_object():
    assert torch.bfloat16.itemsize == 2 and torch.bfloat16.is_floating_point
    assert repr(torch.bfloat16) == "torch.bfloat16"
    assert torch.promote_types(torch.bfloat16, torch.float16) is torch.float32
    assert torch.promote_types(torch.bfloat16, torch.float32) is torch.float32
    assert torch.promote_types(torch.bfloat16, torch.int64) is torch.bfloat16


def test_conversions_round_to_nearest_even(device):
    assert _bits(torch.tensor(VALUES, dtype=torch.bfloat16, device=device)) == BITS
    assert _bits(torch.tensor(VALUES, device=device).to(torch.bfloat16)) == BITS
    # a float64 value converts through float32, as PyTorch does: 1 + 2**-8 + 2**-30 -> 1.0 (not 1.0078125)
    x = 1 + 2 ** -8 + 2 ** -30
    assert torch.tensor([x], dtype=torch.bfloat16).item() == 1.0
    assert torch.tensor([x], dtype=torch.float64).to(torch.bfloat16).item() == 1.0
    assert torch.tensor([3.14159], dtype=torch.bfloat16).item() == 3.140625


def test_arithmetic_in_float32(device):
    a = torch.tensor([1.5, 2.25, 3.3], dtype=torch.bfloat16, device=device)
    b = torch.tensor([1.1, 0.7, 3.1], dtype=torch.bfloat16, device=device)
    assert (a * b).dtype is torch.bfloat16 and (a * b).tolist() == [1.65625, 1.5703125, 10.1875]
    assert a.sum().item() == 7.0625
    assert (a + 1).dtype is torch.bfloat16 and (a + torch.ones(3, device=device)).dtype is torch.float32
    assert (a + torch.ones(3, dtype=torch.int64, device=device)).dtype is torch.bfloat16
    assert torch.arange(100, dtype=torch.bfloat16, device=device).mean().item() == 49.5
    assert a.float().tolist() == [1.5, 2.25, 3.296875]


def test_cpu_ops_and_autograd():
    a = torch.tensor([1.5, 2.25, 3.3], dtype=torch.bfloat16)
    assert a.exp().tolist() == [4.46875, 9.5, 27.0]  # PyTorch's bfloat16 exp
    assert torch.arange(300.0).to(torch.bfloat16).sum().item() == 44800.0
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.bfloat16, requires_grad=True)
    (w * w).sum().backward()
    assert w.grad.dtype is torch.bfloat16 and w.grad.tolist() == [[2.0, 4.0], [6.0, 8.0]]
    lin = torch.nn.Linear(2, 2).to(torch.bfloat16)
    assert lin(torch.ones(2, dtype=torch.bfloat16)).dtype is torch.bfloat16


def test_printing():
    a = torch.tensor([1.0, 2.0], dtype=torch.bfloat16)
    assert repr(a) == "tensor([1., 2.], dtype=torch.bfloat16)"
    assert repr(a.exp()) == "tensor([2.7188, 7.3750], dtype=torch.bfloat16)"
    assert repr(torch.tensor(0.1, dtype=torch.bfloat16)) == "tensor(0.1001, dtype=torch.bfloat16)"
    assert repr(torch.tensor([1e-5, 300.0], dtype=torch.bfloat16)) == \
        "tensor([1.0014e-05, 3.0000e+02], dtype=torch.bfloat16)"
