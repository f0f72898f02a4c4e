"""Autograd with in-place ops and views (version counter, CopySlices), custom Functions, anomaly detection.

The rest of the engine is tested in ``test_autograd.py``.  Expected values are those PyTorch gives for
the same code.
"""
import math

import pytest

import pygrad as torch
from pygrad.autograd import Function, gradcheck, gradgradcheck


def leaf(values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype, requires_grad=True)


def name(t):
    return t.grad_fn.name()


# ---------------------------------------------------------------------------------------------
# in-place ops, the version counter and views
# ---------------------------------------------------------------------------------------------
def test_inplace_on_non_leaf():
    x = leaf([1.0, 2.0])
    y = x * 1
    y.add_(1)
    assert y.tolist() == [2.0, 3.0] and name(y) == "AddBackward0"
    y.mul_(x)
    (y * 1).sum().backward()  # y = (x + 1) * x
    assert x.grad.tolist() == [3.0, 5.0]
    z = x * 1
    z.mul_(z)  # mul saved z, which the write then changed (PyTorch raises too)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_inplace_on_leaf_requiring_grad_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[0] = 5.0
    with pytest.raises(RuntimeError, match="a view of a leaf Variable"):
        x[0:1].mul_(2)
    with torch.no_grad():
        x.sub_(1)  # an optimizer step
        x[1] = 7.0
    assert x.tolist() == [0.0, 7.0] and x.is_leaf and x.requires_grad


def test_modifying_a_saved_tensor_raises_at_backward():
    x = leaf([1.0, 2.0])
    y = x.exp()  # exp saves its result
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    a = x * 2
    b = a * a  # saves a
    a.mul_(2)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0"):
        b.sum().backward()


def test_inplace_allowed_when_nothing_saved_reads_it():
    x = leaf([1.0, 2.0])
    a = x * 2
    b = a + 1  # add saves nothing
    c = a.exp()  # exp saves its output, not a
    d = a * 3  # multiplying by a number does not need a
    a.mul_(10)
    (b + c + d).sum().backward()
    assert torch.allclose(x.grad, 2 + 2 * (x * 2).exp().detach() + 6)


def test_version_counter():
    a = torch.zeros(3)
    v = a[1:]
    assert a._version == 0
    a.add_(1)
    a[0] = 2.0
    assert a._version == 2 and v._version == 2  # shared with views
    v.mul_(2)
    assert a._version == 3
    b = a + 1
    assert b._version == 0


def test_views_propagate_gradients_to_base():
    x = leaf([1.0, 2.0, 3.0, 4.0])
    x[0:2].sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 0.0, 0.0]
    x.grad = None
    (x.view(2, 2) * torch.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0, 4.0]
    x.grad = None
    m = x.view(2, 2)
    (m.t() * torch.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert x.grad.tolist() == [1.0, 3.0, 2.0, 4.0]
    x.grad = None
    (x[::2] * 2 + x[1]).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0, 0.0]


def test_setitem_on_non_leaf():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1
    y[0] = 0
    y.sum().backward()
    assert y.tolist() == [0.0, 2.0, 3.0] and x.grad.tolist() == [0.0, 1.0, 1.0]
    v = leaf(5.0)
    z = torch.zeros(3)
    z[1] = v * 2  # a tensor that needs no grad starts requiring it
    (z * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert z.requires_grad and v.grad.item() == 4.0
    m = leaf([[1.0, 2.0], [3.0, 4.0]])
    n = m * 1
    n[:, 1] = n[:, 0] * 5
    n.sum().backward()
    assert m.grad.tolist() == [[6.0, 0.0], [6.0, 0.0]]


def test_inplace_on_view_of_non_leaf():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1
    v = y[0:2]
    v.mul_(2)
    assert y.tolist() == [2.0, 4.0, 3.0]
    assert name(y) == "CopySlices" and name(v) == "AsStridedBackward0"
    (y * torch.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [2.0, 20.0, 100.0]

    x.grad = None
    y = (x * 1).view(3, 1)
    y[1:, 0].exp_()  # a view of a view: the history goes to their common base
    y.t_()
    (y * torch.tensor([[1.0, 1.0, 2.0]])).sum().backward()
    assert y.shape == (1, 3) and torch.allclose(x.grad, torch.tensor([1.0, math.exp(2), 2 * math.exp(3)]))

    w = leaf(3.0)
    z = torch.zeros(2, 2)
    z[1].add_(w)
    z.sum().backward()
    assert z.requires_grad and name(z) == "CopySlices" and w.grad.item() == 2.0


def test_views_see_inplace_changes_of_their_base():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1
    v = y[0]
    w = y[1:]
    y.mul_(2)
    v.backward()
    assert x.grad.tolist() == [2.0, 0.0, 0.0]
    x.grad = None
    y[0:2].mul_(10)  # w overlaps the changed part
    w.sum().backward()
    assert x.grad.tolist() == [0.0, 20.0, 2.0]


def test_inplace_on_overlapping_view_raises():
    y = leaf([1.0, 2.0]) * 1
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        y.expand(3, 2).mul_(2)


# ---------------------------------------------------------------------------------------------
# custom Functions
# ---------------------------------------------------------------------------------------------
class MyExp(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


class ClampStraightThrough(Function):
    """Clamp in forward, identity gradient in backward (a straight-through estimator)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.seen = ctx.needs_input_grad
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None


class MulAdd(Function):
    @staticmethod
    def forward(ctx, a, b, c):
        ctx.save_for_backward(a, b)
        return a * b + c

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return (grad * b if ctx.needs_input_grad[0] else None,
                grad * a if ctx.needs_input_grad[1] else None, grad)


def test_custom_function():
    x = leaf([0.0, 1.0], torch.float64)
    y = MyExp.apply(x)
    assert repr(y).endswith("grad_fn=<MyExpBackward>)")
    assert y.grad_fn.next_functions[0][0].name() == "AccumulateGrad"
    y.sum().backward()
    assert torch.allclose(x.grad, x.detach().exp())
    assert gradcheck(MyExp.apply, (x,)) and gradgradcheck(MyExp.apply, (x,))
    with torch.no_grad():
        assert MyExp.apply(x).grad_fn is None


def test_custom_function_straight_through_and_needs_input_grad():
    x = leaf([-2.0, 0.5, 3.0])
    y = ClampStraightThrough.apply(x * 1, -1.0, 1.0)
    assert y.tolist() == [-1.0, 0.5, 1.0] and y.grad_fn.seen == (True, False, False)
    (y * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0]
    a, b = leaf([2.0], torch.float64), torch.tensor([3.0], dtype=torch.float64)
    out = MulAdd.apply(a, b, torch.ones(1, dtype=torch.float64, requires_grad=True))
    assert out.grad_fn.needs_input_grad == (True, False, True)
    out.backward()
    assert a.grad.tolist() == [3.0]
    assert gradcheck(MulAdd.apply, (a, leaf([3.0], torch.float64), leaf([1.0], torch.float64)))


def test_custom_function_wrong_number_of_gradients():
    class Bad(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(RuntimeError, match="returned an incorrect number of gradients"):
        Bad.apply(leaf([1.0]), leaf([2.0])).backward()


def test_custom_function_non_differentiable_output():
    class SortWithIndex(Function):
        @staticmethod
        def forward(ctx, x):
            values, idx = x.sort()
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            return values, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            (idx,) = ctx.saved_tensors
            return torch.zeros_like(g).scatter(0, idx, g)

    x = leaf([3.0, 1.0, 2.0])
    v, i = SortWithIndex.apply(x)
    assert v.requires_grad and not i.requires_grad
    (v * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [3.0, 1.0, 2.0]


# ---------------------------------------------------------------------------------------------
# anomaly detection
# ---------------------------------------------------------------------------------------------
def test_detect_anomaly_names_the_op():
    x = leaf([0.0, 1.0])
    with torch.autograd.detect_anomaly():
        assert torch.autograd.is_anomaly_enabled()
        with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan values in its 0th output"):
            (x.sqrt() * 0).sum().backward()
    assert not torch.autograd.is_anomaly_enabled()
    (x.sqrt() * 0).sum().backward()  # outside the block: nan flows silently, as in PyTorch
    assert x.grad.isnan().tolist() == [True, False]


def test_detect_anomaly_ignores_unneeded_gradients():
    x = leaf([1.0, 2.0])
    with torch.autograd.detect_anomaly():
        (x / torch.tensor([0.0, 1.0])).sum().backward()  # the divisor's (unneeded) gradient would be nan
    assert x.grad.tolist() == [float("inf"), 1.0]


# ---------------------------------------------------------------------------------------------
# every backend: backward formulas are tensor ops, so they run wherever the tensors live
# ---------------------------------------------------------------------------------------------
def _loss(x):
    y = x * 1
    y[0:2].mul_(2)
    w = torch.tensor([1.0, 10.0, 100.0], device=x.device)
    return (y.softmax(0) * w).sum() + x[[0, 0, 2]].sum() + x.prod() + (x.exp() * x).mean()


def test_backward_on_device(device):
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    _loss(x).backward()
    assert gradcheck(_loss, (x,))
    xd = torch.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    _loss(xd).backward()
    assert xd.grad.device == xd.device
    assert torch.allclose(xd.grad.cpu(), x.grad.float(), rtol=1e-5)
