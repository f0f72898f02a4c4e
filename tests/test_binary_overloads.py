"""Overloads of binary ops that PyTorch records under node names of their own (literals from PyTorch 2.13),
empty integer divisions, and the bool cases PyTorch refuses."""
import numpy as np
import pytest

import pygrad as torch


def _x(device):
    return torch.tensor([1.5, 2.0], device=device, requires_grad=True)


@pytest.mark.parametrize("expr, node, grad", [
    (lambda x: torch.pow(2.0, x), "PowBackward2", [1.9605, 2.7726]),
    (lambda x: 2 ** x, "PowBackward2", [1.9605, 2.7726]),
    (lambda x: x ** x, "PowBackward1", [2.582, 6.7726]),
    (lambda x: x ** 2, "PowBackward0", [3.0, 4.0]),
    (lambda x: torch.div(x, 2, rounding_mode="floor"), "DivBackward2", [0.0, 0.0]),
    (lambda x: torch.div(x, 2, rounding_mode="trunc"), "DivBackward2", [0.0, 0.0]),
    (lambda x: x % x, "RemainderBackward1", [0.0, 0.0]),
    (lambda x: x % 2, "RemainderBackward0", [1.0, 1.0]),
    (lambda x: x.fmod(x), "FmodBackward1", [0.0, 0.0]),
    (lambda x: x.fmod(2), "FmodBackward0", [1.0, 1.0]),
], ids=["pow_number_tensor", "rpow", "pow_tensor_tensor", "pow_tensor_number", "div_floor", "div_trunc",
        "remainder_tt", "remainder_ts", "fmod_tt", "fmod_ts"])
def test_overload_node_names_and_gradients(device, expr, node, grad):
    x = _x(device)
    y = expr(x)
    assert type(y.grad_fn).__name__ == node
    y.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), grad, atol=1e-4)


@pytest.mark.parametrize("expr, aten, want", [(lambda x: x // 2, "floor_divide", [0.0, 1.0]),
                                              (lambda x: 2 // x, "floor_divide", [1.0, 1.0]),
                                              (lambda x: torch.floor_divide(x, x), "floor_divide", [1.0, 1.0]),
                                              (lambda x: 3 % x, "remainder", [0.0, 1.0])])
def test_overloads_without_derivative(device, expr, aten, want):
    """PyTorch records these as ``NotImplemented``: the forward runs, backward through it fails."""
    x = _x(device)
    y = expr(x)
    assert type(y.grad_fn).__name__ == "NotImplemented"
    with pytest.raises(RuntimeError, match=f"derivative for aten::{aten} is not implemented"):
        y.sum().backward()
    with torch.no_grad():
        np.testing.assert_allclose(expr(x).cpu().numpy(), want)


@pytest.mark.parametrize("op", ["floor_divide", "fmod", "remainder"])
def test_empty_integer_division_is_not_a_division_by_zero(device, op):
    a = torch.zeros(0, 3, dtype=torch.int32, device=device)
    b = torch.tensor([1, 0, 2], device=device)
    y = getattr(torch, op)(a, b)
    assert y.shape == (0, 3) and y.dtype == torch.int64
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        getattr(torch, op)(torch.tensor([5, 3], device=device), torch.tensor([0, 2], device=device))


@pytest.mark.parametrize("op, name", [("floor_divide", "div_floor_cpu"), ("fmod", "fmod_cpu"),
                                      ("remainder", "remainder_cpu"), ("pow", "pow")])
def test_bool_bool_refused_as_pytorch(device, op, name):
    t = torch.tensor([True], device=device)
    with pytest.raises(NotImplementedError, match=f"\"{name}\" not implemented for 'Bool'"):
        getattr(torch, op)(t, t)
    assert getattr(torch, op)(t, torch.tensor([2], device=device)).dtype == torch.int64
    if op == "pow":  # a Python bool exponent is accepted
        assert (t ** True).dtype == torch.bool
    else:
        with pytest.raises(NotImplementedError):
            getattr(torch, op)(t, True)


def test_pow_number_first_type_check():
    with pytest.raises(TypeError, match="pow"):
        torch.pow("a", torch.ones(1))


@pytest.mark.parametrize("expr, node", [(lambda x: x.log1p(), "Log1PBackward0"), (lambda x: x.square(), "PowBackward0"),
                                        (lambda x: x.prod(1), "ProdBackward1"), (lambda x: x.prod(), "ProdBackward0")])
def test_unary_and_reduction_node_names(device, expr, node):
    x = torch.tensor([[1.5, 2.0], [0.5, 3.0]], device=device, requires_grad=True)
    assert type(expr(x).grad_fn).__name__ == node


def test_bitwise_not_of_bool_is_logical_not(device):
    """On OpenCL a bool is a byte: ``~1`` is 254, which read back as True (found by a fuzz against PyTorch)."""
    t = torch.tensor([True, False, True], device=device)
    assert torch.bitwise_not(t).tolist() == [False, True, False]
    assert (~t).tolist() == [False, True, False]
    assert t.bitwise_not().dtype == torch.bool


@pytest.mark.parametrize("shape, dim", [((4,), 0), ((2, 3), 1), ((2, 3, 4), 0), ((2, 3, 4, 5), 1)])
def test_softmax_implicit_dim_as_pytorch(shape, dim):
    """``F.softmax(x)`` without ``dim`` picks PyTorch's (deprecated) dim: 0 for 1-d and 3-d inputs, else 1,
    with PyTorch's warning."""
    import pygrad.nn.functional as F

    x = torch.randn(*shape)
    for name, want in (("softmax", x.softmax(dim)), ("log_softmax", x.log_softmax(dim)),
                       ("softmin", (-x).softmax(dim))):
        with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name} has been deprecated"):
            got = getattr(F, name)(x)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
