"""Issue 14, tutorial gaps: scatter_ / value= / 0-d index, NumPy axis= / keepdims= aliases, range indices,
einsum, addmm, out=, multinomial without warnings.  Expected values are PyTorch 2.13's (literals)."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

import pygrad as torch
from pygrad.autograd import gradcheck


def test_scatter_forms(device):
    z = torch.zeros(5, device=device)
    assert z.scatter_(0, torch.tensor(2, device=device), 1.0) is z and z.tolist() == [0, 0, 1, 0, 0]
    z.scatter_(0, torch.tensor(4, device=device), torch.tensor(7.0, device=device))
    assert z.tolist() == [0, 0, 1, 0, 7]
    # the "Learn the Basics" one-hot target transform
    onehot = torch.zeros(10, dtype=torch.float, device=device).scatter_(0, torch.tensor(3, device=device), value=1)
    assert onehot.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    m = torch.zeros(2, 3, device=device)
    assert m.scatter(1, torch.tensor([[0], [2]], device=device), value=5.0).tolist() == [[5, 0, 0], [0, 0, 5]]
    assert torch.zeros(4, device=device).scatter(0, torch.tensor(1, device=device), value=3.0).tolist() == [0, 3, 0, 0]
    r = torch.zeros(2, 3, device=device).scatter_(1, torch.tensor([[0, 0], [2, 1]], device=device), 2.0, reduce="add")
    assert r.tolist() == [[4.0, 0.0, 0.0], [0.0, 2.0, 2.0]]
    r = torch.full((2, 3), 3.0, device=device).scatter_(1, torch.tensor([[0, 0], [2, 1]], device=device), 2.0,
                                                           reduce="multiply")
    assert r.tolist() == [[12.0, 3.0, 3.0], [3.0, 6.0, 6.0]]
    a = torch.zeros(3, device=device)
    a.scatter_add_(0, torch.tensor([0, 0, 2], device=device), torch.tensor([1.0, 2.0, 3.0], device=device))
    assert a.tolist() == [3.0, 0.0, 3.0]
    with pytest.raises(RuntimeError, match="reduce argument must be either add or multiply"):
        torch.zeros(3, device=device).scatter(0, torch.tensor([0], device=device), 1.0, reduce="max")


def test_scatter_inplace_autograd():
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = w * 1
    y.scatter_(0, torch.tensor([1]), torch.tensor([10.0]))
    y.sum().backward()
    assert w.grad.tolist() == [1.0, 0.0, 1.0]


def test_numpy_axis_aliases(device):
    x = torch.arange(12.0, device=device).reshape(3, 4)
    assert x.sum(axis=1).tolist() == [6.0, 22.0, 38.0]
    assert x.sum(axis=1, keepdims=True).tolist() == [[6.0], [22.0], [38.0]]
    assert torch.sum(x, axis=0, keepdims=True).tolist() == [[12.0, 15.0, 18.0, 21.0]]
    assert x.mean(axis=0).tolist() == [4.0, 5.0, 6.0, 7.0]
    assert x.max(axis=1).values.tolist() == [3.0, 7.0, 11.0]
    assert x.amax(axis=1).tolist() == [3.0, 7.0, 11.0]
    assert x.argmax(axis=1).tolist() == [3, 3, 3]
    assert torch.argmin(x, axis=1, keepdims=True).tolist() == [[0], [0], [0]]
    assert x.cumsum(axis=1)[2].tolist() == [8.0, 17.0, 27.0, 38.0]
    assert torch.cumsum(x, axis=0)[2].tolist() == [12.0, 15.0, 18.0, 21.0]
    assert x.prod(axis=1).tolist() == [0.0, 840.0, 7920.0]
    assert (x > 0).all(axis=1).tolist() == [False, True, True]
    np.testing.assert_allclose(x.std(axis=1).cpu().numpy(), [1.29099440574646] * 3, rtol=1e-6)
    np.testing.assert_allclose(x.var(axis=1, keepdims=True).cpu().numpy(), [[1.6666666269302368]] * 3, rtol=1e-6)
    with pytest.raises(TypeError, match="both 'dim' and its alias 'axis'"):
        x.sum(dim=0, axis=0)


def test_range_indices(device):
    x = torch.arange(12.0, device=device).reshape(3, 4)
    assert x[range(2)].tolist() == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]
    assert x[range(3), range(3)].tolist() == [0.0, 5.0, 10.0]
    assert x[range(0, 3, 2), 1].tolist() == [1.0, 9.0]
    y = x.clone()
    y[range(2)] = 0.0
    assert y.sum().item() == 38.0


def test_einsum(device):
    x = torch.arange(12.0, device=device).reshape(3, 4)
    assert torch.einsum("ij,jk->ik", x, x.t()).tolist() == [[14.0, 38.0, 62.0], [38.0, 126.0, 214.0],
                                                          [62.0, 214.0, 366.0]]
    assert torch.einsum("ii", x[:, :3]).item() == 15.0
    assert torch.einsum("ii->i", x[:, :3]).tolist() == [0.0, 5.0, 10.0]
    assert torch.einsum("i,j->ij", [torch.ones(2, device=device), torch.arange(3.0, device=device)]).tolist() == \
        [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]
    assert torch.einsum("bij,bjk->bik", x.reshape(1, 3, 4), x.t().reshape(1, 4, 3)).shape == (1, 3, 3)
    assert torch.einsum("...ij->...ji", x).tolist() == x.t().tolist()
    assert torch.einsum("ij->", x).item() == 66.0
    assert torch.einsum("ij", x).tolist() == x.tolist()  # implicit output: labels used once, sorted
    assert torch.einsum("ji", x).tolist() == x.t().tolist()
    with pytest.raises(RuntimeError, match="does not match the number of dimensions"):
        torch.einsum("ijk", x)


def test_einsum_gradcheck(device):
    kw = dict(dtype=torch.float64, device=device, requires_grad=True)
    a, b = torch.randn(2, 3, **kw), torch.randn(3, 4, **kw)
    assert gradcheck(lambda a, b: torch.einsum("ij,jk->ik", a, b), (a, b))
    s = torch.randn(3, 3, **kw)
    assert gradcheck(lambda s: torch.einsum("ii->i", s), (s,))
    assert gradcheck(lambda a, s: torch.einsum("bi,ij,bj->b", a, s, a), (a, s))


def test_out_on_function_forms(device):
    x = torch.arange(6.0, device=device).reshape(2, 3)
    out = torch.empty(2, 3, device=device)
    assert torch.add(x, 1, out=out) is out and out.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    o = torch.empty(2, 2, device=device)
    assert torch.matmul(x, x.t(), out=o) is o and o.tolist() == [[5.0, 14.0], [14.0, 50.0]]
    o2 = torch.empty(0, device=device)
    torch.addmm(torch.zeros(2, device=device), x, x.t(), out=o2)
    assert o2.tolist() == [[5.0, 14.0], [14.0, 50.0]]
    b = torch.empty(1, 2, 2, device=device)
    torch.bmm(x.reshape(1, 2, 3), x.t().reshape(1, 3, 2), out=b)
    assert b.tolist() == [[[5.0, 14.0], [14.0, 50.0]]]


def test_multinomial_zero_probabilities_print_nothing():
    code = ("import pygrad as torch\n"
            "torch.manual_seed(0)\n"
            "print(torch.multinomial(torch.tensor([0., 1., 0.]), 2, replacement=True).tolist())\n"
            "print(torch.multinomial(torch.tensor([[0., 0., 1.], [1., 1., 0.]]), 1).tolist()[0])\n"
            "print(torch.multinomial(torch.tensor([0., 3., 0., 1.]), 2).sort().values.tolist())\n")
    r = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout.splitlines() == ["[1, 1]", "[2]", "[1, 3]"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.multinomial(torch.tensor([0.0, 0.5, 0.5]), 2)


def test_where_out(device):
    x = torch.arange(4.0, device=device)
    o = torch.empty(4, device=device)
    assert torch.where(x > 1, x, torch.zeros(4, device=device), out=o) is o
    assert o.tolist() == [0.0, 0.0, 2.0, 3.0]
