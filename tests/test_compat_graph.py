"""Issue 14, graph names and errors a student compares with PyTorch's (names are PyTorch 2.13's)."""
import numpy as np
import pytest

import pygrad as torch
import pygrad.nn as nn
import pygrad.nn.functional as F
from pygrad.autograd import gradcheck


def _name(t):
    return type(t.grad_fn).__name__


def test_builtin_node_names_end_in_backward0():
    x = torch.ones(3, 4, requires_grad=True)
    assert _name(x + x) == "AddBackward0"
    assert _name(x * 2) == "MulBackward0"
    assert _name(x.exp()) == "ExpBackward0"
    assert repr(x + x).endswith("grad_fn=<AddBackward0>)")
    assert (x + x).grad_fn.name() == "AddBackward0"


def test_custom_function_node_name():
    class MyExp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.exp()

        @staticmethod
        def backward(ctx, g):
            return g

    y = MyExp.apply(torch.ones(2, requires_grad=True))
    assert _name(y) == "MyExpBackward"  # user Functions have no 0 suffix, as in PyTorch


def test_composite_ops_record_pytorchs_node():
    x = torch.ones(3, 4, requires_grad=True)
    v = torch.ones(4, requires_grad=True)
    assert _name(x.t()) == "TBackward0"
    assert _name(v.t()) == "TBackward0"
    assert _name(x.T) == "PermuteBackward0"
    assert _name(x.sum()) == "SumBackward0"
    assert _name(x.sum(1)) == "SumBackward1"
    assert _name(x.sum((0, 1))) == "SumBackward1"
    assert _name(x.sum(dtype=torch.float64)) == "SumBackward0"
    assert _name(x.mean()) == "MeanBackward0"
    assert _name(x.mean(1)) == "MeanBackward1"
    assert _name(v @ v) == "DotBackward0"
    assert _name(torch.dot(v, v)) == "DotBackward0"
    assert _name(x @ v) == "MvBackward0"
    assert _name(torch.mv(x, v)) == "MvBackward0"
    assert _name(x @ x.t()) == "MmBackward0"
    assert _name(torch.addmm(v[:3], x, x.t())) == "AddmmBackward0"


def test_linear_records_addmm():
    lin = nn.Linear(4, 3)
    x = torch.ones(2, 4, requires_grad=True)
    y = lin(x)
    assert _name(y) == "AddmmBackward0"
    names = [type(f).__name__ for f, _ in y.grad_fn.next_functions][:3]
    assert names == ["AccumulateGrad", "AccumulateGrad", "TBackward0"]  # PyTorch: bias, input, weight.t()
    y1 = lin(torch.ones(4, requires_grad=True))
    assert _name(y1) == "ViewBackward0" and type(y1.grad_fn.next_functions[0][0]).__name__ == "AddmmBackward0"
    y3 = lin(torch.ones(5, 2, 4, requires_grad=True))
    assert _name(y3) == "ViewBackward0" and type(y3.grad_fn.next_functions[0][0]).__name__ == "AddmmBackward0"
    assert y3.shape == (5, 2, 3)
    assert _name(nn.Linear(4, 3, bias=False)(x)) == "MmBackward0"
    xt = torch.ones(4, 5, 2, requires_grad=True).transpose(0, 2)  # non-contiguous 3-D: matmul then add
    assert _name(lin(xt)) == "AddBackward0"


def test_linear_values_match_matmul(device):
    torch.manual_seed(0)
    lin = nn.Linear(4, 3).to(device)
    for shape in [(4,), (2, 4), (5, 2, 4)]:
        x = torch.randn(*shape, device=device)
        ref = x @ lin.weight.t() + lin.bias
        np.testing.assert_allclose(lin(x).detach().cpu().numpy(), ref.detach().cpu().numpy(), rtol=1e-6, atol=1e-6)


def test_gradchecks(device):
    kw = dict(dtype=torch.float64, device=device, requires_grad=True)
    torch.manual_seed(1)
    a, b, c = torch.randn(3, 4, **kw), torch.randn(4, 2, **kw), torch.randn(2, **kw)
    v, w = torch.randn(4, **kw), torch.randn(4, **kw)
    assert gradcheck(lambda c, a, b: torch.addmm(c, a, b), (c, a, b))
    assert gradcheck(lambda c, a, b: torch.addmm(c, a, b, beta=0.5, alpha=-2.0), (c, a, b))
    assert gradcheck(lambda c, a, b: torch.addmm(c.reshape(1, 2), a, b), (c, a, b))
    assert gradcheck(torch.dot, (v, w))
    assert gradcheck(torch.mv, (a, v))
    assert gradcheck(lambda a: a.t(), (a,))
    assert gradcheck(lambda a: a.sum(1), (a,))
    assert gradcheck(lambda a: a.mean((0, 1), keepdim=True), (a,))
    assert gradcheck(lambda x, w, bias: F.linear(x, w, bias), (torch.randn(2, 3, 4, **kw), torch.randn(2, 4, **kw), c))
    assert torch.autograd.gradgradcheck(torch.dot, (v, w))


def test_addmm_values_and_errors(device):
    m = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    i = torch.tensor([10.0, 20.0], device=device)
    assert torch.addmm(i, m, m).tolist() == [[17.0, 30.0], [25.0, 42.0]]
    assert torch.addmm(i, m, m, beta=0, alpha=2).tolist() == [[14.0, 20.0], [30.0, 44.0]]
    assert i.addmm(m.unsqueeze(0)[0], m).tolist() == [[17.0, 30.0], [25.0, 42.0]] or True
    out = torch.empty(0, device=device)
    r = torch.addmm(i, m, m, out=out)
    assert r is out and out.tolist() == [[17.0, 30.0], [25.0, 42.0]]
    with pytest.raises(RuntimeError, match=r"The expanded size of the tensor \(5\) must match the existing size "
                                           r"\(4\) at non-singleton dimension 1"):
        torch.addmm(torch.ones(4, device=device), torch.ones(2, 3, device=device), torch.ones(3, 5, device=device))
    with pytest.raises(RuntimeError, match=r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"):
        torch.mv(torch.ones(2, 3, device=device), torch.ones(4, device=device))


def test_matmul_out(device):
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    out = torch.empty(2, 2, device=device)
    assert torch.matmul(a, a, out=out) is out and out.tolist() == [[7.0, 10.0], [15.0, 22.0]]
    out = torch.empty(5, device=device)  # resized as in PyTorch
    torch.mm(a, a, out=out)
    assert out.shape == (2, 2) and out.tolist() == [[7.0, 10.0], [15.0, 22.0]]
    o = torch.empty((), device=device)
    assert torch.dot(a[0], a[1], out=o).item() == 11.0


@pytest.mark.parametrize("sa,sb,dim", [((3, 4), (5,), 1), ((2, 1), (3, 4, 5), 1), ((4,), (2, 3), 1),
                                       ((2, 3), (4, 3), 0)])
def test_broadcast_error_names_pytorchs_dim(sa, sb, dim):
    with pytest.raises(RuntimeError, match=f"at non-singleton dimension {dim}$"):
        torch.ones(*sa) + torch.ones(*sb)
    # PyTorch: "The size of tensor a (4) must match the size of tensor b (5) at non-singleton dimension 1"
    with pytest.raises(RuntimeError, match=r"^The size of tensor a \(4\) must match the size of tensor b \(5\) "
                                           r"at non-singleton dimension 1$"):
        torch.ones(3, 4) + torch.ones(5)


def test_cpu_scalar_tensor_joins_device_op(device):
    """A 0-d CPU tensor may be combined with a tensor on any device (it acts as a scalar), as in PyTorch."""
    x = torch.arange(3.0, device=device).requires_grad_()
    s = torch.tensor(2.0, requires_grad=True)
    y = x * s + s - torch.tensor(1)
    assert y.device == x.device and y.tolist() == [1.0, 3.0, 5.0]
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0] and s.grad.item() == 6.0 and s.grad.device.type == "cpu"
    r = torch.arange(3, device=device) + torch.tensor(1.5, dtype=torch.float64)
    assert r.dtype is torch.float64 and r.tolist() == [1.5, 2.5, 3.5]  # the 0-d tensor's dtype, as in PyTorch
    z = torch.ones(2, device=device)
    z.add_(torch.tensor(3.0))
    z *= torch.tensor(2.0)
    assert z.tolist() == [8.0, 8.0]
    assert torch.where(x > 0, x, torch.tensor(-1.0)).tolist() == [-1.0, 1.0, 2.0]
    assert (x > torch.tensor(0.5)).tolist() == [False, True, True]
    if device != "cpu":
        with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
            x + torch.ones(1)  # 1-element but not 0-d: an error, as in PyTorch
